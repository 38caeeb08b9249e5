// Event Stream Engine console: progressive enhancement only; every page
// works without it. A page with data-refresh on <main> redraws its live
// part every so many seconds, unless the operator pauses it or is typing;
// open sections (by id) stay open, and focus stays where it was.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main) return;
  // A refused action draws its page at the action's address (POST only):
  // the page's own address replaces it, for the refresh and a reload.
  if (main.dataset.refreshUrl && location.pathname !== main.dataset.refreshUrl) {
    history.replaceState(null, "", main.dataset.refreshUrl);
  }
  if (!main.dataset.refresh) return;
  var every = parseInt(main.dataset.refresh, 10) * 1000;
  // The outcome banner (?done=) belongs to the action, not to each redraw.
  var url = new URL(location.href);
  url.searchParams.delete("done");
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
  // busy: typing anywhere, a <details> open in the live part that the
  // redraw cannot open again (no id), or focus on something in it the
  // redraw cannot find again (no id, nor the summary of a <details> with one).
  function busy() {
    var a = document.activeElement;
    if (a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) return true;
    var live = document.getElementById("live");
    if (!live) return true;
    if (live.querySelector("details[open]:not([id])")) return true;
    return a && a !== live && live.contains(a) && !a.id && !summaryOf(a);
  }
  // summaryOf is the id of the <details> whose summary a is, or "".
  function summaryOf(a) {
    return a.tagName === "SUMMARY" && a.parentElement.tagName === "DETAILS" ? a.parentElement.id : "";
  }
  function refresh() {
    if (paused || busy() || document.hidden) return;
    fetch(url.href, { credentials: "same-origin", headers: { "Accept": "text/html", "X-Console-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (busy()) return; // the operator moved in meanwhile
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var live = document.getElementById("live");
        if (!fresh || !live) return;
        var a = document.activeElement;
        var focused = live.contains(a) && a.id;
        var summary = live.contains(a) && summaryOf(a);
        var open = Array.prototype.map.call(live.querySelectorAll("details[open][id]"), function (d) { return d.id; });
        fresh = document.importNode(fresh, true);
        open.forEach(function (id) {
          var d = fresh.querySelector("details#" + CSS.escape(id));
          if (d) d.open = true;
        });
        // Parts the server left out of a refresh (data-keep) stay as drawn.
        Array.prototype.forEach.call(fresh.querySelectorAll("[data-keep][id]"), function (k) {
          var old = document.getElementById(k.id);
          if (old) k.replaceWith(old);
        });
        live.replaceWith(fresh);
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        if (summary && document.getElementById(summary)) document.getElementById(summary).querySelector("summary").focus();
        status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () { status.textContent = "Could not refresh; retrying."; });
  }
  setInterval(refresh, every);
})();

// A form sent once is not sent again by a second press: its submit
// buttons are disabled once it goes (after the submit, so the pressed
// button's name still goes with it), and enabled again when the page is
// shown from the back-forward cache, or when the page is still here
// resendAfter later (the submission failed or was stopped: a page that
// got its answer has gone). A form whose own handler took the submit (the
// import) guards itself.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (ev.defaultPrevented || form.method.toLowerCase() !== "post") return;
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"), function (b) { b.disabled = true; });
    }, 0);
    setTimeout(function () { again(form); }, resendAfter);
  });
  var resendAfter = 10000;
  function again(f) {
    delete f.dataset.sent;
    Array.prototype.forEach.call(f.querySelectorAll("button"), function (b) { b.disabled = false; });
  }
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sent]"), again);
  });
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
      .then(function (r) {
        if (r.redirected || (r.headers.get("Content-Type") || "").indexOf("application/json") < 0) {
          return Promise.reject(r.redirected || r.status === 401 || r.status === 403 ?
            "Not counted: your session has ended; sign in again (reload the page)." : "Not counted: the console answered " + r.status + ".");
        }
        return r.json();
      })
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
      .catch(function (e) {
        if (n !== asked) return;
        out.textContent = typeof e === "string" ? e : "Not counted: the console could not be reached.";
        out.className = "field-error";
      });
  }
  def.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  });
  count();
})();

// The import form takes a dropped file, and shows the upload's progress;
// the import's own page then follows the batches. A refused import draws
// a new form, which is set up again.
(function importForm() {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("file");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = form.querySelector("button[type=submit]");
  var uploading = false; // one upload at a time, however often Import is pressed
  function stopped(text) {
    uploading = false;
    button.disabled = false;
    status.textContent = text;
  }
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
  function watch(xhr) {
    bar.hidden = false;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = "Uploading: " + bar.value + "%";
      }
    });
    xhr.addEventListener("error", function () { stopped("The upload failed; try again."); });
    xhr.addEventListener("abort", function () { stopped("The upload was stopped; try again."); });
    status.textContent = "Uploading…";
  }
  // through: the file goes through the console, whose answer is the
  // import's page, or the form with its errors. Any other answer (a
  // proxy's or Cloud Run's error page, such as 413 for a request over its
  // limit) is said here, not drawn over the page.
  function through() {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    watch(xhr);
    xhr.addEventListener("load", function () {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL && xhr.responseURL.indexOf("/imports/") >= 0) {
        location.href = xhr.responseURL;
        return;
      }
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var live = doc.getElementById("live");
      if (live && doc.getElementById("import-form")) {
        // The users page with the API's errors: its live part replaces ours.
        document.getElementById("live").replaceWith(document.importNode(live, true));
        importForm();
        return;
      }
      var problem = live && live.querySelector(".problem");
      stopped("Not imported (" + xhr.status + "): " + (problem ? problem.textContent :
        xhr.status === 413 ? "the file is too large to go through the console." : "the console did not take the file; try again."));
    });
    xhr.send(new FormData(form));
  }
  // direct: a large file goes straight to Cloud Storage through a signed
  // URL; its arrival starts the import, whose page follows it.
  function direct(file) {
    var body = new URLSearchParams({ filename: file.name, csrf: form.elements.csrf.value,
      default_region: form.elements.default_region.value });
    fetch("/users/upload-url", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) { return r.json(); })
      .then(function (a) {
        if (a.errors) {
          stopped(Object.keys(a.errors).map(function (k) { return (k ? k + ": " : "") + a.errors[k]; }).join("; "));
          return;
        }
        var xhr = new XMLHttpRequest();
        xhr.open("PUT", a.upload_url);
        watch(xhr);
        xhr.addEventListener("load", function () {
          if (xhr.status >= 200 && xhr.status < 300) {
            location.href = "/imports/" + encodeURIComponent(a.id);
          } else {
            stopped("Cloud Storage refused the file (" + xhr.status + ").");
          }
        });
        xhr.send(file);
      })
      .catch(function () { stopped("The upload could not start; try again."); });
  }
  form.addEventListener("submit", function (ev) {
    if (!input.files.length) return;
    ev.preventDefault();
    if (uploading) return;
    uploading = true;
    button.disabled = true;
    var file = input.files[0];
    if (file.size > Number(form.dataset.directMax)) direct(file); else through();
  });
})();

// The segment builder: the definition as nested groups and conditions in
// a form. It writes the JSON field below it, which stays the source of
// truth (and the whole form without script).
(function () {
  "use strict";
  var area = document.getElementById("definition_json");
  var root = document.getElementById("segment-builder");
  if (!area || !root) return;
  var OPS = ["equals", "not_equals", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte",
    "between", "before", "after", "within_last", "exists", "not_exists"];
  var LISTS = { "in": 1, "not_in": 1, "between": 1 };
  var seq = 0;
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  // typed reads a value as the import types a CSV cell
  // (shared/userimport csvValue), since a segment's equality is strict
  // about type: true or false in any case is a boolean; a number without
  // a leading zero is a number, but a code such as 01234 stays text, and
  // so does a whole number past int64 (the import keeps it as text). A
  // whole number past 2^53 within int64 is an Exact: JavaScript cannot
  // hold it, so its digits go into the JSON as they are.
  var INT64_MIN = BigInt("-9223372036854775808"), INT64_MAX = BigInt("9223372036854775807");
  function Exact(digits) { this.digits = digits; }
  Exact.prototype.toString = function () { return this.digits; };
  function typed(s) {
    s = s.trim();
    if (/^(true|false)$/i.test(s)) return s.toLowerCase() === "true";
    var m = /^-?(\d+)(\.\d+)?$/.exec(s);
    if (!m || (m[1].length > 1 && m[1][0] === "0")) return s;
    if (m[2]) return isFinite(Number(s)) ? Number(s) : s;
    var n = BigInt(s);
    if (n < INT64_MIN || n > INT64_MAX) return s;
    return Number.isSafeInteger(Number(s)) ? Number(s) : new Exact(n.toString());
  }
  // json is the definition as JSON, an Exact as its digits.
  function json(d) {
    return JSON.stringify(d, function (k, v) { return v instanceof Exact ? "\u0001" + v.digits + "\u0001" : v; }, 2)
      .replace(/"\\u0001(-?\d+)\\u0001"/g, "$1");
  }
  // parsed reads the JSON, a whole number past 2^53 as an Exact; null
  // when it cannot be read, or the browser cannot read such a number
  // exactly (the form would round it).
  function parsed(text) {
    var lossy = false;
    var d = JSON.parse(text, function (k, v, ctx) {
      if (typeof v !== "number" || Number.isSafeInteger(v) || !Number.isInteger(v)) return v;
      if (!ctx) lossy = true;
      return ctx && /^-?\d+$/.test(ctx.source) ? new Exact(ctx.source) : v;
    });
    return lossy ? null : d;
  }
  function shown(v) { return Array.isArray(v) ? v.join(", ") : (v === undefined || v === null ? "" : String(v)); }
  function labelled(input, text) {
    var id = "sb-" + (++seq);
    input.id = id;
    return el("span", { "class": "sb-field" }, [el("label", { "for": id, text: text }), input]);
  }
  // node draws one definition; it returns its element and a read function.
  function node(def, depth, remove) {
    if (def && def.not) {
      var inner = node(def.not, depth, remove);
      inner.negate.checked = true;
      return inner;
    }
    if (def && def.conditions) return group(def, depth, remove);
    return condition(def || { attribute: "", operator: "equals", value: "" }, remove);
  }
  function condition(def, remove) {
    var attr = el("input", { value: def.attribute || "", placeholder: "city", autocomplete: "off" });
    var op = el("select", {}, OPS.map(function (o) { return el("option", { value: o, text: o.replace(/_/g, " ") }); }));
    op.value = def.operator || "equals";
    var val = el("input", { value: shown(def.value), placeholder: "Colombo" });
    var negate = el("input", { type: "checkbox" });
    var rm = el("button", { type: "button", "class": "link", text: "Remove condition" });
    rm.addEventListener("click", remove);
    var box = el("div", { "class": "sb-cond", role: "group", "aria-label": "Condition" },
      [labelled(attr, "Attribute"), labelled(op, "is"), labelled(val, "Value"), labelled(negate, "not"), rm]);
    function read() {
      var d = { attribute: attr.value.trim(), operator: op.value };
      if (op.value !== "exists" && op.value !== "not_exists") {
        d.value = LISTS[op.value] ? val.value.split(",").map(typed) : typed(val.value);
      }
      return negate.checked ? { not: d } : d;
    }
    // name: each condition and its Remove button say which one they are.
    function name(n, where) {
      var what = attr.value.trim() ? ": " + attr.value.trim() + " " + op.value.replace(/_/g, " ") + " " + val.value.trim() : "";
      box.setAttribute("aria-label", "Condition " + n + where + what);
      rm.setAttribute("aria-label", "Remove condition " + n + where + what);
    }
    return { el: box, read: read, negate: negate, name: name, focus: function () { attr.focus(); } };
  }
  function group(def, depth, remove) {
    var logic = el("select", {}, [el("option", { value: "AND", text: "all of" }), el("option", { value: "OR", text: "any of" })]);
    logic.value = def.logic === "OR" ? "OR" : "AND";
    var negate = el("input", { type: "checkbox" });
    var list = el("div", { "class": "sb-list" });
    var kids = [];
    // add draws a definition in the group; removing it moves focus to
    // the one after it (or before it, or the group's Add condition).
    function add(d) {
      var k = node(d, depth + 1, function () {
        var i = kids.indexOf(k);
        kids.splice(i, 1);
        list.removeChild(k.el);
        changed();
        var next = kids[i] || kids[i - 1];
        if (next) next.focus(); else addCond.focus();
      });
      kids.push(k);
      list.appendChild(k.el);
      return k;
    }
    (def.conditions || []).forEach(add);
    var addCond = el("button", { type: "button", text: "Add condition" });
    addCond.addEventListener("click", function () { add(null).focus(); changed(); });
    var addGroup = el("button", { type: "button", text: "Add group" });
    addGroup.addEventListener("click", function () { add({ logic: "AND", conditions: [null] }).focus(); changed(); });
    var tools = [addCond];
    if (depth < 7) tools.push(addGroup);
    if (remove) {
      var rm = el("button", { type: "button", "class": "link", text: "Remove group" });
      rm.addEventListener("click", remove);
      tools.push(rm);
    }
    var box = el("fieldset", { "class": "sb-group" }, [
      el("legend", {}, [labelled(logic, "Match"), document.createTextNode(" "), labelled(negate, "not")]),
      list, el("div", { "class": "actions" }, tools)]);
    function read() {
      var d = { logic: logic.value, conditions: kids.map(function (k) { return k.read(); }) };
      return negate.checked ? { not: d } : d;
    }
    // name numbers the group's parts, within where the group is.
    function name(n, where) {
      var self = n ? " in group " + n + where : "";
      if (rm) rm.setAttribute("aria-label", "Remove group " + n + where);
      addCond.setAttribute("aria-label", "Add condition" + (self ? " to group " + n + where : ""));
      addGroup.setAttribute("aria-label", "Add group" + (self ? " to group " + n + where : ""));
      kids.forEach(function (k, i) { k.name(i + 1, self); });
    }
    return { el: box, read: read, negate: negate, name: name, focus: function () { logic.focus(); } };
  }
  var top = null;
  function changed() {
    top.name(0, "");
    area.value = json(top.read());
    area.dispatchEvent(new Event("input"));
  }
  function draw() {
    var def;
    try { def = parsed(area.value); } catch (e) { def = null; }
    root.textContent = "";
    if (def === null || typeof def !== "object" || def instanceof Exact) {
      root.appendChild(el("p", { "class": "hint", text: "The JSON below cannot be shown as a form; edit it there." }));
      return;
    }
    if (!def.conditions) def = { logic: "AND", conditions: [def] };
    top = group(def, 1, null);
    top.name(0, "");
    root.appendChild(top.el);
  }
  root.addEventListener("input", changed);
  root.addEventListener("change", changed);
  root.hidden = false;
  draw();
  var redraw = document.getElementById("segment-builder-redraw");
  if (redraw) redraw.addEventListener("click", draw);
})();

// Variable hints: the placeholders the content uses, and those missing
// from its declared variables.
(function () {
  "use strict";
  var content = document.getElementById("content");
  var vars = document.getElementById("variables");
  var hint = document.getElementById("placeholder-hint");
  if (!content || !vars || !hint) return;
  function update() {
    var seen = [];
    content.value.replace(/\{([A-Za-z_][A-Za-z0-9_.-]*)(\|[^}]*)?\}/g, function (_, name) {
      if (seen.indexOf(name) < 0) seen.push(name);
      return _;
    });
    var declared = vars.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
    var missing = seen.filter(function (n) { return declared.indexOf(n) < 0; });
    hint.textContent = seen.length ? "Placeholders used: " + seen.join(", ") + "." +
      (missing.length ? " Not among the variables: " + missing.join(", ") + "." : "") : "";
  }
  content.addEventListener("input", update);
  vars.addEventListener("input", update);
  update();
})();

// Locale variants: Add a row and Remove one, in place. Without script the
// form still works: an empty row is sent along and ignored, and a row
// emptied is removed.
(function () {
  "use strict";
  var box = document.getElementById("locale-rows");
  var add = document.getElementById("locale-add");
  if (!box || !add) return;
  function rows() { return Array.prototype.slice.call(box.querySelectorAll("[data-locale-row]")); }
  // Each row's ids, labels and legend follow its place.
  function renumber() {
    rows().forEach(function (row, i) {
      var n = String(i + 1);
      row.querySelector("legend").textContent = "Variant " + n;
      Array.prototype.forEach.call(row.querySelectorAll("[id]"), function (e) { e.id = e.id.replace(/-\d+$/, "-" + n); });
      Array.prototype.forEach.call(row.querySelectorAll("label[for]"), function (l) { l.htmlFor = l.htmlFor.replace(/-\d+$/, "-" + n); });
      Array.prototype.forEach.call(row.querySelectorAll("[aria-describedby]"), function (e) {
        e.setAttribute("aria-describedby", e.getAttribute("aria-describedby").replace(/-\d+$/, "-" + n));
      });
      var rm = row.querySelector("[data-locale-remove]");
      rm.textContent = "Remove variant " + n;
      rm.hidden = false;
    });
  }
  box.addEventListener("click", function (ev) {
    var rm = ev.target.closest("[data-locale-remove]");
    if (!rm) return;
    var row = rm.closest("[data-locale-row]");
    var all = rows();
    var at = all.indexOf(row);
    if (all.length === 1) {
      // The last row is emptied, not removed: it is the one to fill.
      Array.prototype.forEach.call(row.querySelectorAll("input, textarea"), function (e) { e.value = ""; });
    } else {
      row.remove();
    }
    renumber();
    var next = rows()[Math.min(at, rows().length - 1)];
    (next ? next.querySelector("input") : add).focus();
  });
  add.addEventListener("click", function () {
    var all = rows();
    var row = all[all.length - 1].cloneNode(true);
    Array.prototype.forEach.call(row.querySelectorAll("input, textarea"), function (e) {
      e.value = "";
      e.removeAttribute("aria-invalid");
      e.removeAttribute("aria-describedby");
    });
    Array.prototype.forEach.call(row.querySelectorAll(".field-error"), function (e) { e.remove(); });
    all[all.length - 1].after(row);
    renumber();
    row.querySelector("input").focus();
  });
  add.hidden = false;
  renumber();
})();
