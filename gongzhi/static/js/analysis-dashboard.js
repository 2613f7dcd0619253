// The needs dashboard: draws this year's needs against last year's with Apache ECharts from the JSON the page
// embeds (json_script). Without it the table below stands alone. A suppressed count (under 5) is null: no bar.
(function () {
  "use strict";

  function needsChart(element) {
    const source = document.getElementById(element.dataset.chartSource);
    if (!window.echarts || !source) return;
    const data = JSON.parse(source.textContent);
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    element.hidden = false;
    const chart = window.echarts.init(element);
    chart.setOption({
      animation: !reduceMotion,
      color: ["#0b57a4", "#9fb3c8"],
      // richText draws the tooltip on the canvas: the HTML tooltip would need inline styles, which CSP refuses.
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 16, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: data.axis, minInterval: 1 },
      yAxis: { type: "category", data: data.categories, inverse: true },
      series: data.series.map((series) => ({ type: "bar", name: series.name, data: series.data, barMaxWidth: 18 })),
    });
    window.addEventListener("resize", () => chart.resize());
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart-source]").forEach(needsChart);
  });
})();
