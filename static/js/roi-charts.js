// ROI page: per model, monthly cost and value (bars), then the cost forecast with its 80 % upper bound and the budget.
(function () {
  var node = document.getElementById("roi-data");
  if (!node) return;
  var models = JSON.parse(node.textContent);
  document.querySelectorAll("canvas.roi-chart").forEach(function (canvas, i) {
    var row = models[i];
    if (!row) return;
    var labels = row.months.map(function (m) { return m.month; });
    var n = labels.length;
    var forecast = row.forecast.forecast || [];
    forecast.forEach(function (f) { if (labels.indexOf(f.month) < 0) labels.push(f.month); });
    function pad(values) { return values.concat(new Array(labels.length - values.length).fill(null)); }
    var lead = new Array(n).fill(null);
    var datasets = [
      {type: "bar", label: "cost", data: pad(row.months.map(function (m) { return m.cost; })), backgroundColor: "#b91c1c"},
      {type: "bar", label: "value", data: pad(row.months.map(function (m) { return m.value; })), backgroundColor: "#15803d"}
    ];
    if (forecast.length) {
      datasets.push({type: "line", label: "forecast", data: lead.concat(forecast.map(function (f) { return f.mean; })), borderColor: "#2f5bd3"});
      datasets.push({type: "line", label: "80 % upper", data: lead.concat(forecast.map(function (f) { return f.upper; })), borderColor: "#2f5bd3", borderDash: [4, 3]});
    }
    if (row.forecast.budget !== null && row.forecast.budget !== undefined) {
      datasets.push({type: "line", label: "budget", data: labels.map(function () { return row.forecast.budget; }), borderColor: "#ca8a04", pointRadius: 0});
    }
    new Chart(canvas, {data: {labels: labels, datasets: datasets},
      options: {maintainAspectRatio: false, interaction: {mode: "index", intersect: false}}});
  });
})();
