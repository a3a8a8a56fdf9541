/* Ops console (issue 12): live queue (short polling of /api/v1/incidents/changes/), keyboard
   shortcuts, selection for bulk actions; on the incident page, its shortcuts. No framework: the
   server renders rows; this swaps them in place, keeping filters (the URL), selection, scroll
   and focus. */
(function () {
  "use strict";
  var root = document.querySelector("[data-console]");
  if (!root) return;
  var mode = root.getAttribute("data-console");
  var help = document.getElementById("help-overlay");
  var lastFocus = null;

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function openHelp() {
    if (!help) return;
    lastFocus = document.activeElement;
    help.hidden = false;
    document.getElementById("help-close").focus();
  }
  function closeHelp() {
    if (!help || help.hidden) return;
    help.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }
  var helpOpen = document.getElementById("help-open");
  if (helpOpen) helpOpen.addEventListener("click", openHelp);
  var helpClose = document.getElementById("help-close");
  if (helpClose) helpClose.addEventListener("click", closeHelp);

  /* ---------------- incident page ---------------- */
  if (mode === "detail") {
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { closeHelp(); return; }
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      if (e.key === "?") { e.preventDefault(); openHelp(); return; }
      if (help && !help.hidden) return;
      if (e.key === "a") {
        var ack = document.getElementById("act-acknowledge");
        if (ack) { e.preventDefault(); ack.click(); }
      } else if (e.key === "r") {
        var note = document.getElementById("resolve-note");
        if (note) { e.preventDefault(); note.focus(); }
      }
    });
    return;
  }

  /* ---------------- queue ---------------- */
  var changesUrl = root.getAttribute("data-changes-url");
  var bulkUrl = root.getAttribute("data-bulk-url");
  var canAct = root.getAttribute("data-can-act") === "1";
  var cursor = root.getAttribute("data-cursor");
  var pollMs = Math.max(1, parseInt(root.getAttribute("data-poll"), 10) || 5) * 1000;
  var FULL_REFRESH_MS = 60000; // clocks tick and a late-committed change has no newer cursor
  var paused = false, waiting = 0, pending = [], lastRefresh = Date.now(), busy = false;
  var selected = new Set();
  var cursorId = null;
  var pauseBtn = document.getElementById("live-pause");
  var statusEl = document.getElementById("live-status");
  var soundBox = document.getElementById("live-sound");
  var notifyBtn = document.getElementById("live-notify");
  var countEl = document.getElementById("bulk-count");
  var bulkForm = document.getElementById("bulk-form");

  function tbody() { return document.getElementById("queue-rows"); }
  function rows() { return Array.prototype.slice.call(tbody().querySelectorAll("tr.queue-row")); }
  function rowById(id) { return document.getElementById("incident-" + id); }
  function setStatus(text) { if (statusEl) statusEl.textContent = text; }
  function clock() { return new Date().toLocaleTimeString(); }

  function paint() {
    rows().forEach(function (tr) {
      var id = tr.getAttribute("data-id");
      var box = tr.querySelector("input[name=ids]");
      if (box) box.checked = selected.has(id);
      tr.classList.toggle("selected", selected.has(id));
      tr.classList.toggle("cursor", id === cursorId);
    });
    if (countEl) countEl.textContent = selected.size + " selected";
  }

  function moveCursor(step) {
    var list = rows();
    if (!list.length) return;
    var idx = list.findIndex(function (tr) { return tr.getAttribute("data-id") === cursorId; });
    idx = idx < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, idx + step));
    cursorId = list[idx].getAttribute("data-id");
    paint();
    var link = list[idx].querySelector("a.q-open");
    if (link) link.focus({ preventScroll: true });
    list[idx].scrollIntoView({ block: "nearest" });
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx(), osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.18);
    } catch (err) { /* no audio: the row still stands out */ }
  }

  function announce(fresh) {
    var urgent = fresh.filter(function (c) { return c.severity <= 2; });
    if (!urgent.length) return;
    if (soundBox && soundBox.checked) beep();
    if (window.Notification && Notification.permission === "granted" && localStorage.getItem("console.notify") === "1") {
      urgent.slice(0, 3).forEach(function (c) {
        try { new Notification("Level " + c.severity + ": #" + c.id + " " + c.title); } catch (err) { /* ignore */ }
      });
    }
  }

  function refreshRows(fresh) {
    if (busy) return Promise.resolve();
    busy = true;
    var params = new URLSearchParams(window.location.search);
    params.set("partial", "rows");
    var active = document.activeElement;
    var activeRow = active && active.closest ? active.closest("tr.queue-row") : null;
    var activeId = activeRow ? activeRow.getAttribute("data-id") : null;
    var activeIsBox = active && active.name === "ids";
    return fetch(window.location.pathname + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        var holder = document.createElement("table");
        holder.innerHTML = html;
        var next = holder.querySelector("tbody");
        if (!next) return;
        tbody().replaceWith(next);
        // The open counts per level travel with the rows, so the cards above stay true too.
        (next.getAttribute("data-counts") || "").split(",").forEach(function (n, i) {
          var el = document.querySelector('.level-open[data-level="' + (i + 1) + '"]');
          if (el && n !== "") el.textContent = n;
        });
        var present = new Set(rows().map(function (tr) { return tr.getAttribute("data-id"); }));
        selected.forEach(function (id) { if (!present.has(id)) selected.delete(id); });
        (fresh || []).forEach(function (c) {
          var tr = rowById(c.id);
          if (tr && c.opened) tr.classList.add("fresh");
        });
        paint();
        if (activeId && rowById(activeId)) {
          var target = rowById(activeId).querySelector(activeIsBox ? "input[name=ids]" : "a.q-open");
          if (target) target.focus({ preventScroll: true });
        }
        lastRefresh = Date.now();
        waiting = 0;
        setStatus("Live · updated " + clock());
      })
      .catch(function () { setStatus("Live · update failed at " + clock() + ", retrying"); })
      .then(function () { busy = false; });
  }

  function poll() {
    var url = changesUrl + (cursor ? "?since=" + encodeURIComponent(cursor) : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        var changed = data.changes.length > 0 || data.more;
        if (paused) {
          if (changed) { waiting += data.changes.length; pending = pending.concat(data.changes); cursor = data.cursor; }
          setStatus("Paused · " + waiting + " change" + (waiting === 1 ? "" : "s") + " waiting");
          return;
        }
        cursor = data.cursor;
        if (changed) {
          var fresh = data.changes.filter(function (c) { return c.opened; });
          return refreshRows(data.changes).then(function () { announce(fresh); });
        }
        if (Date.now() - lastRefresh > FULL_REFRESH_MS) return refreshRows([]);
      })
      .catch(function () { setStatus("Live · cannot reach the server (" + clock() + ")"); })
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  function setPaused(value) {
    paused = value;
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    pauseBtn.textContent = paused ? "Resume live" : "Pause live";
    if (paused) {
      setStatus("Paused · " + waiting + " change" + (waiting === 1 ? "" : "s") + " waiting");
      return;
    }
    // What arrived during the pause is shown now, new Level 1/2 still marked and announced.
    var held = pending;
    pending = [];
    refreshRows(held).then(function () { announce(held.filter(function (c) { return c.opened; })); });
  }
  pauseBtn.addEventListener("click", function () { setPaused(!paused); });

  if (notifyBtn) {
    if (!window.Notification) notifyBtn.hidden = true;
    notifyBtn.addEventListener("click", function () {
      Notification.requestPermission().then(function (p) {
        localStorage.setItem("console.notify", p === "granted" ? "1" : "0");
        setStatus(p === "granted" ? "Browser notifications on for new L1/L2" : "Browser notifications refused");
      });
    });
  }
  if (soundBox) {
    soundBox.checked = localStorage.getItem("console.sound") === "1";
    soundBox.addEventListener("change", function () { localStorage.setItem("console.sound", soundBox.checked ? "1" : "0"); });
  }

  // Selection: checkboxes (delegated: rows are replaced by live updates).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.name === "ids" && el.type === "checkbox") {
      var id = el.value;
      if (el.checked) selected.add(id); else selected.delete(id);
      paint();
    } else if (el.id === "select-all") {
      rows().forEach(function (tr) {
        var id = tr.getAttribute("data-id");
        if (el.checked) selected.add(id); else selected.delete(id);
      });
      paint();
    }
  });
  // Ticked rows not on screen any more are still sent: selection outlives a live update.
  if (bulkForm) {
    bulkForm.addEventListener("submit", function (e) {
      var action = e.submitter ? e.submitter.value : "";
      var present = new Set(rows().map(function (tr) { return tr.getAttribute("data-id"); }));
      selected.forEach(function (id) {
        if (present.has(id)) return;
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "ids"; hidden.value = id;
        bulkForm.appendChild(hidden);
      });
      var target = document.getElementById("bulk-target");
      if (action === "merge" && target && !target.value && selected.size) {
        target.value = Array.from(selected).map(Number).sort(function (a, b) { return a - b; })[0];
      }
    });
  }

  function act(action, ids) {
    if (!canAct || !ids.length) return;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", bulkForm.querySelector("input[name=csrfmiddlewaretoken]").value);
    body.append("action", action);
    ids.forEach(function (id) { body.append("ids", id); });
    setStatus((action === "acknowledge" ? "Acknowledging " : "Resolving ") + ids.map(function (i) { return "#" + i; }).join(", ") + "…");
    fetch(bulkUrl, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        if (!res.ok) { setStatus(res.data.detail || "Refused"); return; }
        var skipped = Object.keys(res.data.skipped || {});
        if (action === "acknowledge" && ids.length > 1) selected.clear();
        return refreshRows([]).then(function () {
          setStatus((action === "acknowledge" ? "Acknowledged " : "Resolved ") + res.data.touched.length +
            (skipped.length ? " (left alone: " + skipped.map(function (k) { return "#" + k + " " + res.data.skipped[k]; }).join("; ") + ")" : "") +
            " · " + clock());
        });
      })
      .catch(function () { setStatus("Action failed: reload the page"); });
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { closeHelp(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "?") { e.preventDefault(); openHelp(); return; }
    if (help && !help.hidden) return;
    switch (e.key) {
      case "j": e.preventDefault(); moveCursor(1); break;
      case "k": e.preventDefault(); moveCursor(-1); break;
      case "x":
        if (cursorId && canAct) {
          e.preventDefault();
          if (selected.has(cursorId)) selected.delete(cursorId); else selected.add(cursorId);
          paint();
        }
        break;
      case "Enter":
        if (cursorId && rowById(cursorId) && e.target.tagName !== "A" && e.target.tagName !== "BUTTON") {
          e.preventDefault();
          window.location.href = rowById(cursorId).getAttribute("data-href");
        }
        break;
      case "a": if (cursorId) { e.preventDefault(); act("acknowledge", [cursorId]); } break;
      case "A": e.preventDefault(); act("acknowledge", Array.from(selected)); break;
      case "r": if (cursorId) { e.preventDefault(); act("resolve", [cursorId]); } break;
      case "/":
        e.preventDefault();
        if (filtersBox) filtersBox.open = true;
        document.getElementById("queue-search").focus();
        break;
      case "p": e.preventDefault(); setPaused(!paused); break;
      default: break;
    }
  });
  // Clicking a row (not its link or checkbox) moves the keyboard cursor there.
  document.addEventListener("click", function (e) {
    var tr = e.target.closest ? e.target.closest("tr.queue-row") : null;
    if (!tr) return;
    // Only the cursor: a ticked box's own change event updates the selection.
    cursorId = tr.getAttribute("data-id");
    rows().forEach(function (r) { r.classList.toggle("cursor", r === tr); });
  });

  // On a phone the filters fold away (unless one is set) so the first incidents are on screen.
  var filtersBox = document.getElementById("filters-box");
  if (filtersBox && window.matchMedia("(max-width: 640px)").matches && !window.location.search) filtersBox.open = false;

  paint();
  window.setTimeout(poll, pollMs);
})();
