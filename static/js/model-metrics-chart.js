// Moved out of the page so the Content-Security-Policy needs no inline scripts.
// spanGaps false, straight segments: a version without the metric is a gap, never an interpolated value.
(function () {
  var node = document.getElementById("version-metrics-data");
  if (!node) return;
  var data = JSON.parse(node.textContent);
  var palette = ["#2f5bd3", "#b91c1c", "#15803d", "#ca8a04", "#7c3aed", "#0891b2"];
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
  new Chart(document.getElementById("version-metrics"), {
    type: "line", data: {labels: data.labels, datasets: datasets},
    options: {maintainAspectRatio: false, interaction: {mode: "index", intersect: false}, scales: scales}
  });
})();
