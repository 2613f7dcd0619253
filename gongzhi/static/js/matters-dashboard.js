// The matters dashboard: shows only the period fields the chosen kind uses, and draws the monthly trend
// with Apache ECharts from the JSON the page embeds (json_script). Without it the form and the table work.
(function () {
  "use strict";

  function periodFields(form) {
    const kind = form.querySelector("select[name=period]");
    if (!kind) return;
    const update = () => {
      form.querySelectorAll("[data-period-kinds]").forEach((input) => {
        const shown = input.dataset.periodKinds.split(" ").includes(kind.value);
        const field = input.closest(".field") || input;
        field.hidden = !shown;
        // A hidden field is not sent, so the server's default stands in for it.
        input.disabled = !shown;
      });
    };
    kind.addEventListener("change", update);
    update();
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : value + "%";
  }

  function trendChart(element) {
    const source = document.getElementById(element.dataset.chartSource);
    if (!window.echarts || !source) return;
    const trend = JSON.parse(source.textContent);
    const series = trend.series;
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const rateLine = (key) => ({
      type: "line",
      name: series[key].name,
      data: series[key].data,
      yAxisIndex: 1,
      symbolSize: 7,
      tooltip: { valueFormatter: percent },
    });
    element.hidden = false; // hidden until drawn: without the script the table below stands alone
    const chart = window.echarts.init(element);
    chart.setOption({
      animation: !reduceMotion,
      // Palette with enough contrast on white; the bars stay quiet behind the rates.
      color: ["#9fb3c8", "#0b57a4", "#1a7f37", "#b42318"],
      // richText draws the tooltip on the canvas: the HTML tooltip would need inline styles, which CSP refuses.
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 16, right: 16, top: 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: trend.months },
      yAxis: [
        { type: "value", name: trend.axes.count, minInterval: 1 },
        { type: "value", name: trend.axes.rate, min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      ],
      series: [
        { type: "bar", name: series.received.name, data: series.received.data, yAxisIndex: 0, barMaxWidth: 24 },
        rateLine("response"),
        rateLine("resolution"),
        rateLine("satisfaction"),
      ],
    });
    window.addEventListener("resize", () => chart.resize());
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-period-form]").forEach(periodFields);
    document.querySelectorAll("[data-chart-source]").forEach(trendChart);
  });
})();
