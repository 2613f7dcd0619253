// Survey pages: a bar chart per choice question of the results, drawn with Apache ECharts from the JSON the
// page embeds (json_script); without it the tables stand alone. And the builder's Print button.
(function () {
  "use strict";

  function barChart(element, question) {
    if (!window.echarts) return;
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    element.hidden = false; // hidden until drawn
    const chart = window.echarts.init(element);
    chart.setOption({
      animation: !reduceMotion,
      color: ["#0b57a4"],
      // richText draws the tooltip on the canvas: the HTML tooltip would need inline styles, which CSP refuses.
      tooltip: { trigger: "axis", renderMode: "richText" },
      grid: { left: 16, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: question.labels, inverse: true },
      // A suppressed count (null) draws no bar; the table says "<5".
      series: [{ type: "bar", data: question.counts, barMaxWidth: 24 }],
    });
    window.addEventListener("resize", () => chart.resize());
  }

  document.addEventListener("DOMContentLoaded", () => {
    const source = document.getElementById("survey-chart-data");
    if (source) {
      const byKey = new Map(JSON.parse(source.textContent).map((question) => [question.key, question]));
      document.querySelectorAll(".survey-chart[data-chart-key]").forEach((element) => {
        const question = byKey.get(element.dataset.chartKey);
        if (question) barChart(element, question);
      });
    }
    document.querySelectorAll("[data-print]").forEach((button) => {
      button.addEventListener("click", () => window.print());
    });
  });
})();
