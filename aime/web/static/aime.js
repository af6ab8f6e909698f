// AIME pages: progressive enhancement only. Every form works without this file.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Tell the server the viewer's time zone so days and hours are the viewer's own.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("aime_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "aime_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
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
  window.AIME_RENDER = window.AIME_RENDER || {};
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
}());
