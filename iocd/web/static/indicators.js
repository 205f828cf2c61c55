// iocd portal, Indicators area: enhancements only; every flow works as plain forms without it.
"use strict";
(function () {
  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // -- the add/edit pane --------------------------------------------------------------------
  var form = document.getElementById("indicator-form");
  if (form) {
    var typeBox = $("#indicator_type", form), valueBox = $("#value", form), out = $("#value-check", form);
    var pending = null, asked = "";
    function show(answer) {
      out.textContent = "";
      if (answer.error) {
        var bad = document.createElement("span"); bad.className = "bad"; bad.textContent = answer.error;
        out.appendChild(bad); valueBox.setAttribute("aria-invalid", "true");
      } else if (answer.canonical) {
        out.appendChild(document.createTextNode("Stored as "));
        var code = document.createElement("code"); code.textContent = answer.canonical; out.appendChild(code);
        out.appendChild(document.createTextNode(" (" + answer.type + ")"));
        if (answer.homograph) {
          var note = document.createElement("strong"); note.textContent = ". " + answer.homograph; out.appendChild(note);
        }
        valueBox.removeAttribute("aria-invalid");
      }
      summary(answer);
    }
    function check() {
      var value = valueBox.value.trim(), kind = typeBox.value, key = kind + "\n" + value;
      if (!value || key === asked) return;
      asked = key;
      var url = form.dataset.validateUrl + "?type=" + encodeURIComponent(kind) + "&value=" + encodeURIComponent(value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (answer) { if (asked === key) show(answer); })
        .catch(function () { /* the check on save still runs */ });
    }
    function later() { clearTimeout(pending); pending = setTimeout(check, 250); }
    valueBox.addEventListener("input", later);
    typeBox.addEventListener("change", function () { asked = ""; check(); });

    var last = {};
    function summary(answer) {
      if (answer) last = answer;
      function set(name, text) { var el = $("[data-summary=" + name + "]", form); if (el) el.textContent = text || "—"; }
      set("value", last.canonical || valueBox.value.trim());
      set("type", typeBox.value || last.type || "detected on save");
      set("action", $("#action", form).value);
      set("title", $("#title", form).value.trim());
      set("severity", $("#severity", form).value);
      var at = $("#expiry-at", form);
      set("expiry", at && at.checked ? ($("#expires_at", form).value || "?") + " UTC" : "Never");
      var groups = $all("input[name=groups]:checked", form).map(function (g) { return g.value; });
      var all = $("#scope-all", form);
      set("scope", all && all.checked ? "All devices" : (groups.join(", ") || "All devices"));
    }
    form.addEventListener("change", function () { summary(); });
    form.addEventListener("input", function () { summary(); });
    var expiresAt = $("#expires_at", form);
    if (expiresAt) expiresAt.addEventListener("input", function () { $("#expiry-at", form).checked = true; });
    $all("input[name=groups]", form).forEach(function (g) {
      g.addEventListener("change", function () { var s = $("#scope-groups", form); if (s && g.checked) s.checked = true; });
    });

    // Steps: one fieldset at a time with Back/Next (all at once after an error or a refusal).
    var steps = $all("fieldset.step", form);
    if (!form.dataset.allSteps && steps.length > 1) {
      form.classList.add("stepping");
      var current = 0;
      function go(n) {
        current = Math.max(0, Math.min(steps.length - 1, n));
        steps.forEach(function (s, i) { s.hidden = i !== current; });
        if (current === steps.length - 1) summary();
        var first = $("input:not([type=hidden]), select, textarea, button", steps[current]);
        if (first) first.focus();
      }
      steps.forEach(function (step, i) {
        var nav = document.createElement("p"); nav.className = "step-nav";
        if (i > 0) {
          var back = document.createElement("button"); back.type = "button"; back.textContent = "Back";
          back.addEventListener("click", function () { go(i - 1); }); nav.appendChild(back);
        }
        if (i < steps.length - 1) {
          var next = document.createElement("button"); next.type = "button"; next.className = "primary"; next.textContent = "Next";
          next.addEventListener("click", function () { check(); go(i + 1); }); nav.appendChild(next);
        }
        step.appendChild(nav);
      });
      go(0);
      valueBox.focus();
    }
    if (valueBox.value) check();
  }

  // -- the table: select all ----------------------------------------------------------------
  var selection = document.getElementById("selection");
  if (selection) {
    var head = $("thead th", selection), boxes = $all("input[name=ids]", selection);
    if (head && boxes.length) {
      var all = document.createElement("input"); all.type = "checkbox"; all.setAttribute("aria-label", "Select all on this page");
      all.addEventListener("change", function () { boxes.forEach(function (b) { b.checked = all.checked; }); });
      head.appendChild(all);
    }
  }

  // -- an import in progress: poll its status -----------------------------------------------
  var status = document.getElementById("import-status");
  if (status && status.dataset.done === "false") {
    var bar = document.getElementById("import-progress"), text = document.getElementById("import-summary");
    var poll = function () {
      fetch(status.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.done) { window.location.reload(); return; }
          if (bar) { bar.value = s.percent; bar.textContent = s.percent + "%"; }
          text.textContent = s.rows.toLocaleString() + " rows processed so far: " + s.created.toLocaleString() +
            " imported, " + s.updated.toLocaleString() + " updated, " + s.unchanged.toLocaleString() +
            " unchanged, " + s.failed.toLocaleString() + " failed" +
            (s.skipped ? ", " + s.skipped.toLocaleString() + " skipped." : ".");
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 500);
  }
})();
