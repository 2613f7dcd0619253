// The community profile's population pyramid and the participation ladder's steps, drawn with Apache ECharts
// from the JSON each page embeds (json_script). Without them the tables stand alone. A suppressed count (under
// 5) is null: no bar.
(function () {
  "use strict";

  // richText draws tooltips on the canvas: the HTML tooltip would need inline styles, which CSP refuses.
  const tooltip = { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" };

  function pyramidOption(data) {
    // Men to the left of the axis as negative bars; labels and tooltips show them as positive numbers.
    const absolute = (value) => Math.abs(value);
    return {
      color: ["#0b57a4", "#c2410c"],
      tooltip: { ...tooltip, valueFormatter: (value) => (value === null ? "<5" : absolute(value)) },
      legend: { top: 0 },
      grid: { left: 16, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: data.axis, minInterval: 1, axisLabel: { formatter: absolute } },
      yAxis: { type: "category", data: data.bands, axisTick: { show: false } },
      series: [
        {
          type: "bar",
          name: data.names.male,
          stack: "people",
          barCategoryGap: "10%",
          data: data.male.map((value) => (value === null ? null : -value)),
        },
        { type: "bar", name: data.names.female, stack: "people", data: data.female },
      ],
    };
  }

  function ladderOption(data) {
    return {
      color: ["#0b57a4", "#9fb3c8"],
      tooltip: { ...tooltip, valueFormatter: (value) => (value === null ? "<5" : value) },
      legend: { top: 0 },
      grid: { left: 16, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: data.axis, minInterval: 1 },
      yAxis: { type: "category", data: data.steps, inverse: true },
      series: data.series.map((series) => ({ type: "bar", name: series.name, data: series.data, barMaxWidth: 18 })),
    };
  }

  const OPTIONS = { pyramid: pyramidOption, ladder: ladderOption };

  function draw(element) {
    const source = document.getElementById(element.dataset.chartSource);
    const option = OPTIONS[element.dataset.chart];
    if (!window.echarts || !source || !option) return;
    const data = JSON.parse(source.textContent);
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    element.hidden = false;
    const chart = window.echarts.init(element);
    chart.setOption({ animation: !reduceMotion, ...option(data) });
    window.addEventListener("resize", () => chart.resize());
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart][data-chart-source]").forEach(draw);
  });
})();
