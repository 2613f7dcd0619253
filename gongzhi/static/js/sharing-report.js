// The sharing contribution report: draws hours opened against hours booked, by month and by kind of
// resource, with Apache ECharts from the JSON the page embeds (json_script). Without it the tables stand alone.
(function () {
  "use strict";

  function barChart(element) {
    const source = document.getElementById(element.dataset.chartSource);
    if (!window.echarts || !source) return;
    const data = JSON.parse(source.textContent);
    const axis = element.dataset.chartAxis; // "months" or "kinds"
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const bars = (key) => ({ type: "bar", name: data[key].name, data: data[key][axis], barMaxWidth: 24 });
    element.hidden = false; // hidden until drawn
    const chart = window.echarts.init(element);
    chart.setOption({
      animation: !reduceMotion,
      color: ["#9fb3c8", "#0b57a4"],
      // richText draws the tooltip on the canvas: the HTML tooltip would need inline styles, which CSP refuses.
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 16, right: 16, top: 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data[axis] },
      yAxis: { type: "value", name: data.axis },
      series: [bars("opened"), bars("booked")],
    });
    window.addEventListener("resize", () => chart.resize());
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".report-chart[data-chart-source]").forEach(barChart);
  });
})();
