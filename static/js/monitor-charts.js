// Moved out of the page so the Content-Security-Policy needs no inline scripts.
// spanGaps false and no curve smoothing: a week never measured (null) is drawn as a gap, not a guess.
// Chart.js is loaded at the end of the page (scripts block): draw once the document is parsed.
document.addEventListener("DOMContentLoaded", function () {
  var data = JSON.parse(document.getElementById("monitor-series").textContent);
  var palette = ["#2f5bd3", "#b91c1c", "#15803d", "#ca8a04", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f",
                 "#9a3412", "#1e3a8a", "#065f46", "#6b21a8", "#0f766e", "#a16207", "#334155"];
  var labels = data.periods.map(function (p, i) { return p.slice(0, 10) + (data.versions[i] ? " (v" + data.versions[i] + ")" : ""); });
  var perf = [], i = 0;
  Object.keys(data.performance).forEach(function (k) {
    var share = k.indexOf("share") >= 0 || k.indexOf("recall") >= 0 || k.indexOf("precision") >= 0;
    perf.push({label: k, data: data.performance[k], yAxisID: share ? "y1" : "y", borderColor: palette[i % 15],
               backgroundColor: palette[i++ % 15], borderDash: share ? [4, 3] : [], spanGaps: false, tension: 0});
  });
  var perfScales = {y1: {position: "right", min: 0, max: 1, title: {display: true, text: "share"}}};
  if (data.performance.mae) perfScales.y = {position: "left", title: {display: true, text: "MAE (min)"}};
  else perf.forEach(function (d) { d.yAxisID = "y1"; });
  new Chart(document.getElementById("monitor-performance"), {type: "line", data: {labels: labels, datasets: perf},
    options: {maintainAspectRatio: false, interaction: {mode: "index", intersect: false}, scales: perfScales}});
  var drift = []; i = 0;
  Object.keys(data.psi).forEach(function (k) {
    drift.push({label: k, data: data.psi[k], borderColor: palette[i % 15], backgroundColor: palette[i++ % 15],
                borderWidth: k === "prediction" ? 3 : 1.5, spanGaps: false, tension: 0});
  });
  new Chart(document.getElementById("monitor-drift"), {type: "line", data: {labels: labels, datasets: drift},
    options: {maintainAspectRatio: false, interaction: {mode: "nearest", intersect: false},
              plugins: {legend: {position: "right"}},
              scales: {y: {type: "logarithmic", title: {display: true, text: "PSI (log)"}}}}});
});
