// Wartel: small helpers only. Every page works without this file; it adds conveniences.
(function () {
  "use strict";

  // A select marked data-autosubmit sends its form on change (language switch, region choice).
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });

  // A button marked data-print prints the page (the day's schedule: the print stylesheet keeps the table).
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-print]")) window.print();
  });

  // Buttons with data-confirm ask before a destructive action (cut-off, cancel, dismiss).
  document.addEventListener("submit", function (ev) {
    var btn = ev.submitter;
    var text = (btn && btn.getAttribute("data-confirm")) || ev.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) ev.preventDefault();
  });

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(seconds) {
    var s = Math.max(0, Math.floor(Math.abs(seconds)));
    return (seconds < 0 ? "-" : "") + pad(Math.floor(s / 60)) + ":" + pad(s % 60);
  }

  // Live timers: <span class="timer" data-until="ISO"> counts down to the call's limit,
  // data-since="ISO" counts up. The server clock's offset is applied from <body data-now>.
  var skew = 0;
  var now = document.body && document.body.getAttribute("data-now");
  if (now) skew = Date.parse(now) - Date.now();
  function tick() {
    var t = Date.now() + skew;
    document.querySelectorAll(".timer[data-until], .timer[data-since]").forEach(function (el) {
      var until = el.getAttribute("data-until");
      var since = el.getAttribute("data-since");
      var secs = until ? (Date.parse(until) - t) / 1000 : (t - Date.parse(since)) / 1000;
      el.textContent = fmt(secs);
      if (until) el.classList.toggle("overdue", secs <= 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  // A page drawn in answer to a refused post keeps what was typed but shows its own address, so a refresh
  // asks for the page again rather than for the post's address (which only accepts posts: 405).
  var canonical = document.querySelector('meta[name="wartel-canonical"]');
  if (canonical && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", canonical.getAttribute("content"));
  }

  // A booth card someone is working in is left alone by the live update: an open cancel or cut-off panel,
  // a focused field, or a field with something typed in it.
  function busy(card) {
    if (card.querySelector("details[open]")) return true;
    if (card.contains(document.activeElement) && document.activeElement !== document.body &&
        document.activeElement.matches("input, select, textarea")) return true;
    var fields = card.querySelectorAll("input:not([type=hidden]), textarea");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value !== fields[i].defaultValue) return true; }
    return false;
  }

  // The day board listens to the booth events (SSE) and redraws only the booth cards that changed and
  // nobody is working in; the others catch up with the next event once their panel is closed.
  var board = document.querySelector("[data-live-source]");
  if (board && window.EventSource) {
    var pending = null;
    var stale = false;
    var source = new EventSource(board.getAttribute("data-live-source"));
    var refresh = function () {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        fetch(board.getAttribute("data-page") || window.location.pathname,
              { headers: { "Accept": "text/html" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) return;
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.querySelector("[data-live-source]");
            if (!fresh) return;
            stale = false;
            var cards = fresh.querySelectorAll("section.booth[id]");
            var same = cards.length === board.querySelectorAll("section.booth[id]").length;
            cards.forEach(function (card) {
              var mine = document.getElementById(card.id);
              if (!mine) { same = false; return; }
              if (mine.innerHTML === card.innerHTML) return;
              if (busy(mine)) { stale = true; return; }
              mine.innerHTML = card.innerHTML;
            });
            // Booths added or removed: redraw the whole board unless someone is working in it.
            if (!same && !Array.prototype.some.call(board.querySelectorAll("section.booth[id]"), busy)) {
              board.innerHTML = fresh.innerHTML;
            }
            tick();
          });
      }, 300);
    };
    source.onmessage = refresh;
    ["booking", "call", "board"].forEach(function (name) { source.addEventListener(name, refresh); });
    // A panel closed after an update was held back: catch up now.
    document.addEventListener("toggle", function () { if (stale) refresh(); }, true);
  }
})();
