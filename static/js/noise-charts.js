// Moved out of the page so the Content-Security-Policy needs no inline scripts.
(function () {
  const d = JSON.parse(document.getElementById("noise-data").textContent);
  new Chart(document.getElementById("noise-by-service"), {
    type: "bar",
    data: {labels: d.services, datasets: [
      {label: "signals received", data: d.signals, backgroundColor: "rgba(107,114,128,0.6)"},
      {label: "incidents opened", data: d.incidents, backgroundColor: "#2f5bd3"},
    ]},
    options: {animation: false, maintainAspectRatio: false, scales: {y: {type: "logarithmic", title: {display: true, text: "count (log)"}}}},
  });
  new Chart(document.getElementById("noise-by-day"), {
    type: "line",
    data: {datasets: [
      {label: "signals per day", data: d.days.map((t, i) => ({x: t, y: d.daily_signals[i]})), borderColor: "#6b7280"},
      {label: "incidents per day", data: d.days.map((t, i) => ({x: t, y: d.daily_incidents[i]})), borderColor: "#2f5bd3"},
    ]},
    options: {animation: false, maintainAspectRatio: false, scales: {x: {type: "time", time: {unit: "day"}}, y: {beginAtZero: true}}},
  });
})();
