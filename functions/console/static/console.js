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

// The segment form counts who its definition matches as it is edited.
(function () {
  "use strict";
  var def = document.getElementById("definition_json");
  var out = document.getElementById("seg-count");
  if (!def || !out) return;
  var timer = null;
  var asked = 0;
  function count() {
    var n = ++asked;
    var body = new URLSearchParams({ definition_json: def.value, csrf: out.dataset.csrf });
    fetch("/segments/count", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) { return r.json(); })
      .then(function (a) {
        if (n !== asked) return; // an older answer
        if (a.errors) {
          out.textContent = Object.keys(a.errors).map(function (k) { return (k ? k + ": " : "") + a.errors[k]; }).join("; ");
          out.className = "field-error";
        } else {
          out.textContent = a.text;
          out.className = "count-ok";
        }
      })
      .catch(function () { out.textContent = ""; });
  }
  def.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  });
  count();
})();

// The import form takes a dropped file, and shows the upload's progress;
// the import's own page then follows the batches.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("file");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  ["dragenter", "dragover"].forEach(function (e) {
    zone.addEventListener(e, function (ev) { ev.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (e) {
    zone.addEventListener(e, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (ev) {
    ev.preventDefault();
    if (ev.dataTransfer && ev.dataTransfer.files.length) {
      input.files = ev.dataTransfer.files;
      status.textContent = input.files[0].name + " is ready to import.";
    }
  });
  form.addEventListener("submit", function (ev) {
    if (!input.files.length) return;
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = "Uploading: " + bar.value + "%";
      }
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL.indexOf("/imports/") >= 0) {
        location.href = xhr.responseURL;
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", function () { status.textContent = "The upload failed; try again."; });
    status.textContent = "Uploading…";
    xhr.send(new FormData(form));
  });
})();
