// AIME pages: progressive enhancement only. Every form works without this file.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Tell the server the viewer's time zone so days and hours are the viewer's own.
  // On a first visit the page was drawn in the server's zone: reload it once in the viewer's own.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var drawn = document.querySelector('meta[name="aime-tz"]');
    var hadCookie = document.cookie.indexOf("aime_tz=") !== -1;
    if (zone && document.cookie.indexOf("aime_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "aime_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
      if (!hadCookie && drawn && drawn.content !== zone && !drawn.hasAttribute("data-no-reload") &&
          window.location.search.indexOf("tz=") === -1) {
        window.location.reload();
      }
    }
  } catch (e) { /* old browser: the server's zone is used */ }

  function postJSON(url) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Accept": "application/json", "X-CSRF-Token": csrf}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  // Love toggles without reloading the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-love")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    postJSON(form.action).then(function (result) {
      document.querySelectorAll('form[action="' + form.getAttribute("action") + '"] button').forEach(function (b) {
        b.classList.toggle("on", result.loved);
        b.setAttribute("aria-pressed", result.loved ? "true" : "false");
        b.textContent = result.loved ? "\u2665" : "\u2661";
        b.setAttribute("aria-label", (result.loved ? "Unlove " : "Love ") + b.getAttribute("aria-label").replace(/^(Un)?love /i, ""));
      });
    }).catch(function () { form.submit(); }).finally(function () { button.disabled = false; });
  });

  // Live regions: an element with data-poll="url" is refreshed from that JSON every few seconds.
  function poll(element) {
    var url = element.getAttribute("data-poll");
    var every = parseInt(element.getAttribute("data-every") || "3000", 10);
    var render = window.AIME_RENDER && window.AIME_RENDER[element.getAttribute("data-render")];
    if (!render) { return; }
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (data) { if (render(element, data) !== false) { setTimeout(tick, every); } })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }
  function setField(root, name, value) {
    var node = root.querySelector('[data-field="' + name + '"]');
    if (node && value !== undefined && value !== null) { node.textContent = String(value); }
    return node;
  }

  window.AIME_RENDER = {
    // An import's counters; once it has finished, reload to show the full report.
    "import": function (root, job) {
      ["status", "processed", "imported", "duplicates", "skipped_count", "error_count", "message"].forEach(
        function (name) { setField(root, name, job[name]); });
      if (job.status !== "queued" && job.status !== "running") { window.location.reload(); return false; }
      return true;
    },
    // Every health check, rebuilt from the JSON (text only: nothing from the server becomes markup).
    "health": function (root, body) {
      var status = setField(root, "status", body.status);
      if (status) { status.className = "status-" + body.status; }
      setField(root, "uptime", body.uptime_seconds);
      setField(root, "requests", body.requests);
      setField(root, "error_rate", body.error_rate);
      setField(root, "timestamp", body.timestamp);
      var tbody = root.querySelector("[data-checks]");
      if (!tbody) { return true; }
      var rows = document.createDocumentFragment();
      Object.keys(body.checks || {}).forEach(function (name) {
        var check = body.checks[name], tr = document.createElement("tr");
        tr.setAttribute("data-check", name);
        [[name + (check.output ? " \u2014 " + check.output : ""), ""], [check.status, "status-" + check.status],
         [check.response_time_ms + " ms", ""], [check.observed_at, "wide"], [check.critical ? "yes" : "no", "wide"]
        ].forEach(function (cell) {
          var td = document.createElement("td");
          td.textContent = cell[0];
          if (cell[1]) { td.className = cell[1]; }
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
      tbody.replaceChildren(rows);
      return true;
    }
  };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
}());
