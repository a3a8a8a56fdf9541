// Draws every chart of a report page from the JSON the server rendered (same data as the API).
(function () {
  const node = document.getElementById("report-charts");
  if (!node) return;
  const charts = JSON.parse(node.textContent);
  const colours = ["#2f5bd3", "#ea580c", "#ca8a04", "#15803d", "#6b7280", "#b91c1c"];
  charts.forEach(function (chart) {
    const canvas = document.getElementById("chart-" + chart.key);
    if (!canvas) return;
    new Chart(canvas, {
      type: chart.kind,
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s, i) {
          return {label: s.label, data: s.values, backgroundColor: colours[i % colours.length],
                  borderColor: colours[i % colours.length], spanGaps: true};
        }),
      },
      options: {animation: false, maintainAspectRatio: false, scales: {y: {beginAtZero: true}}},
    });
  });
})();
