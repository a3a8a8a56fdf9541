// Moved out of the page so the Content-Security-Policy needs no inline scripts.
// spanGaps false, straight segments: a version or week without the metric is a gap, never an interpolated value.
// Draws the model page's chart (#version-metrics with #version-metrics-data) and any
// canvas[data-metrics="<id of its JSON>"] (the incident page's model panel). Safe to include twice.
(function () {
  var palette = ["#2f5bd3", "#b91c1c", "#15803d", "#ca8a04", "#7c3aed", "#0891b2"];
  function draw(canvas, data) {
    if (!canvas || !window.Chart || Chart.getChart(canvas)) return;
    var datasets = [], i = 0;
    Object.keys(data.left).forEach(function (k) {
      datasets.push({label: k + " (min)", data: data.left[k], yAxisID: "y", borderColor: palette[i % 6], backgroundColor: palette[i++ % 6], spanGaps: false, tension: 0});
    });
    Object.keys(data.right).forEach(function (k) {
      datasets.push({label: k, data: data.right[k], yAxisID: "y1", borderColor: palette[i % 6], backgroundColor: palette[i++ % 6], borderDash: [4, 3], spanGaps: false, tension: 0});
    });
    var scales = {y1: {position: "right", min: 0, max: 1, title: {display: true, text: "share"}}};
    if (Object.keys(data.left).length) scales.y = {position: "left", title: {display: true, text: "minutes"}};
    else datasets.forEach(function (d) { d.yAxisID = "y1"; });
    new Chart(canvas, {
      type: "line", data: {labels: data.labels, datasets: datasets},
      options: {maintainAspectRatio: false, spanGaps: false, interaction: {mode: "index", intersect: false}, scales: scales}
    });
  }
  function drawAll() {
    var node = document.getElementById("version-metrics-data");
    if (node) draw(document.getElementById("version-metrics"), JSON.parse(node.textContent));
    document.querySelectorAll("canvas[data-metrics]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.metrics);
      if (source) draw(canvas, JSON.parse(source.textContent));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
