// Draws every chart of a report page from the JSON the server rendered (same data as the API).
(function () {
  const node = document.getElementById("report-charts");
  if (!node) return;
  const charts = JSON.parse(node.textContent);
  const colours = ["#2f5bd3", "#ea580c", "#ca8a04", "#15803d", "#6b7280", "#b91c1c"];
  const levels = {L1: "#b91c1c", L2: "#ea580c", L3: "#ca8a04", L4: "#2563eb"};  // static/css/app.css --sevN
  charts.forEach(function (chart) {
    const canvas = document.getElementById("chart-" + chart.key);
    if (!canvas) return;
    new Chart(canvas, {
      type: chart.kind,
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s, i) {
          const colour = levels[s.label] || colours[i % colours.length];
          return {label: s.label, data: s.values, backgroundColor: colour, borderColor: colour, spanGaps: true};
        }),
      },
      // Bars of levels stack: the bar's height is the period's incidents.
      options: {animation: false, maintainAspectRatio: false, scales: {
        x: {stacked: chart.key === "opened_by_level"}, y: {beginAtZero: true, stacked: chart.key === "opened_by_level"}}},
    });
  });
})();
