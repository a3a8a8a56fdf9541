// Moved out of the page so the Content-Security-Policy needs no inline scripts.
// Draws every series chart on the page: the series page's (#series-chart with #series-data) and any
// canvas[data-series="<id of its JSON>"] (the incident page's anomalies panel). Safe to include twice.
(function () {
  function draw(canvas, d) {
    if (!canvas || !window.Chart || Chart.getChart(canvas)) return;
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
        {label: "projected", data: line(p.mean), borderColor: "#ca8a04", borderDash: [6, 4], borderWidth: 1.5,
         pointRadius: 0},
        {label: "projected (upper)", data: line(p.upper), borderColor: "rgba(202,138,4,0.5)", borderDash: [2, 3],
         borderWidth: 1, pointRadius: 0},
        {label: "limit", data: [{x: Math.min(d.t[0] || p.t[0], p.t[0]), y: p.limit},
                                {x: p.t[p.t.length - 1], y: p.limit}],
         borderColor: "#b91c1c", borderWidth: 1, pointRadius: 0},
      );
    }
    new Chart(canvas, {
      type: "line",
      data: {datasets: datasets},
      options: {
        animation: false, maintainAspectRatio: false, parsing: true, spanGaps: false,
        // One date format on every page: 24-hour times, ISO days (the page's own dates read the same).
        scales: {x: {type: "time", ticks: {maxRotation: 0, autoSkip: true},
                     time: {displayFormats: {minute: "HH:mm", hour: "MM-dd HH:mm", day: "yyyy-MM-dd"}}},
                 y: {title: {display: !!d.unit, text: d.unit}}},
        plugins: {legend: {labels: {filter: (item) => item.text !== "band (lower)"}}},
      },
    });
  }
  function drawAll() {
    const legacy = document.getElementById("series-data");
    if (legacy) draw(document.getElementById("series-chart"), JSON.parse(legacy.textContent));
    document.querySelectorAll("canvas[data-series]").forEach((canvas) => {
      const source = document.getElementById(canvas.dataset.series);
      if (source) draw(canvas, JSON.parse(source.textContent));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
