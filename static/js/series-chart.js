// Moved out of the page so the Content-Security-Policy needs no inline scripts.
(function () {
  const d = JSON.parse(document.getElementById("series-data").textContent);
  const pts = (ys) => d.t.map((t, i) => ({x: t, y: ys[i]}));
  const datasets = [
      {label: "band (lower)", data: pts(d.lower), borderWidth: 0, pointRadius: 0, fill: false},
      {label: "expected band", data: pts(d.upper), borderWidth: 0, pointRadius: 0, fill: "-1",
       backgroundColor: "rgba(47,91,211,0.12)"},
      {label: "expected", data: pts(d.expected), borderColor: "rgba(47,91,211,0.6)", borderDash: [4, 3],
       borderWidth: 1, pointRadius: 0},
      {label: "value", data: pts(d.mean), borderColor: "#1d2330", borderWidth: 1.5, pointRadius: 0},
      {label: "anomaly", type: "scatter", data: d.anomalies, backgroundColor: "#b91c1c", pointRadius: 4},
  ];
  const p = d.projection;  // capacity series: the trend projected to the limit, with its upper bound
  if (p && p.t.length) {
    const line = (ys) => p.t.map((t, i) => ({x: t, y: ys[i]}));
    datasets.push(
      {label: "projected", data: line(p.mean), borderColor: "#ca8a04", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0},
      {label: "projected (upper)", data: line(p.upper), borderColor: "rgba(202,138,4,0.5)", borderDash: [2, 3],
       borderWidth: 1, pointRadius: 0},
      {label: "limit", data: [{x: Math.min(d.t[0] || p.t[0], p.t[0]), y: p.limit}, {x: p.t[p.t.length - 1], y: p.limit}],
       borderColor: "#b91c1c", borderWidth: 1, pointRadius: 0},
    );
  }
  new Chart(document.getElementById("series-chart"), {
    type: "line",
    data: {datasets: datasets},
    options: {
      animation: false, maintainAspectRatio: false, parsing: true, spanGaps: false,
      scales: {x: {type: "time"}, y: {title: {display: !!d.unit, text: d.unit}}},
      plugins: {legend: {labels: {filter: (item) => item.text !== "band (lower)"}}},
    },
  });
})();
