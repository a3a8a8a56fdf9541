// Silences page: the preview of what the matchers would mute follows the form as it is edited.
(function () {
  var form = document.getElementById("silence-form");
  var box = document.getElementById("silence-preview");
  if (!form || !box) return;
  var timer = null, seq = 0;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function render(data) {
    box.replaceChildren();
    if (data.detail) { box.appendChild(el("p", data.detail, "error")); return; }
    box.appendChild(el("h3", "Would mute"));
    var p = el("p");
    var n = el("strong", String(data.mute_now)); n.id = "preview-mute-now";
    p.append(n, " firing alert" + (data.mute_now === 1 ? "" : "s") + " now, and every new matching alert while it lasts. ");
    if (data.in_incidents) p.append(el("span", data.in_incidents + " matching firing alert(s) already in incidents stay there. ", "muted"));
    p.append(el("span", data.recent + " matching alert(s) seen in the last 24 h" + (data.scanned_all ? "" : " (at least)") + ".", "muted"));
    box.appendChild(p);
    if (!data.alerts.length) return;
    var ul = el("ul", undefined, "preview-alerts");
    data.alerts.forEach(function (a) {
      var li = el("li");
      li.append(el("span", a.status + (a.hold ? " · " + a.hold : ""), "badge" + (a.status === "firing" ? " sev-2" : "")), " " + a.title + " ");
      var labels = Object.keys(a.labels).map(function (k) { return k + "=" + a.labels[k]; }).join(" ");
      li.append(el("span", a.service + " " + labels, "muted"));
      if (a.incident_id) { var link = el("a", " #" + a.incident_id); link.href = "/incidents/" + a.incident_id + "/"; li.append(" ", link); }
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function refresh() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { if (/^m\d+_/.test(key)) params.append(key, value); });
    var mine = ++seq;
    fetch(form.dataset.previewUrl + "?" + params.toString(), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) { if (mine === seq) render(data); })
      .catch(function () { /* the Preview button still works without this */ });
  }

  form.addEventListener("input", function (e) {
    if (!/^m\d+_/.test(e.target.name || "")) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  form.addEventListener("change", function (e) {
    if (e.target.type === "checkbox" && /^m\d+_on$/.test(e.target.name)) { clearTimeout(timer); refresh(); }
  });
})();
