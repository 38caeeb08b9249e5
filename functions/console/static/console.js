// Event Stream Engine console: progressive enhancement only; every page
// works without it. A page with data-refresh on <main> redraws its live
// part every so many seconds, unless the operator pauses it or is typing.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.refresh) return;
  var every = parseInt(main.dataset.refresh, 10) * 1000;
  var paused = false;
  var toggle = document.getElementById("refresh-toggle");
  var status = document.getElementById("refresh-status");
  if (toggle) {
    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      toggle.textContent = paused ? "Resume refresh" : "Pause refresh";
      status.textContent = paused ? "Refresh paused." : "Refreshes every " + main.dataset.refresh + " s.";
    });
  }
  function busy() {
    var a = document.activeElement;
    return a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }
  function refresh() {
    if (paused || busy() || document.hidden) return;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var live = document.getElementById("live");
        if (fresh && live) {
          live.replaceWith(document.importNode(fresh, true));
          status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
        }
      })
      .catch(function () { status.textContent = "Could not refresh; retrying."; });
  }
  setInterval(refresh, every);
})();
