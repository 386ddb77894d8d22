// mailsetup's only script: copy and download buttons, and closing open menus on outside clicks. No inline script anywhere.
(function () {
  "use strict";

  function textFor(button) {
    if (button.dataset.copy !== undefined) return button.dataset.copy;
    var target = document.querySelector(button.dataset.copyTarget);
    if (!target) return "";
    return target.value !== undefined && target.tagName !== "PRE" && target.tagName !== "CODE" ? target.value : target.textContent;
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-target]");
    if (button) {
      event.preventDefault();
      var label = button.dataset.label || button.textContent;
      button.dataset.label = label;
      copy(textFor(button)).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
      }, function () {
        button.textContent = "Press Ctrl+C";
      }).finally(function () {
        setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
      });
      return;
    }
    document.querySelectorAll("details.switcher[open]").forEach(function (details) {
      if (!details.contains(event.target)) details.removeAttribute("open");
    });
  });

  // Polling only while the tab is visible: what hx-trigger="every 2s [document.visibilityState === 'visible']"
  // does, without the eval that htmx filters need and the CSP forbids. Mark the polling element data-poll-when-visible.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll-when-visible") && document.visibilityState !== "visible") {
      event.preventDefault();
    }
  });

  // A records panel that stopped polling wakes up once, when its domain's next check is due:
  // <section data-wake-at="2026-12-03T18:20:00+00:00" data-wake-url="..."> fetches itself then (not while the tab is
  // hidden), and the panel it gets polls through that check. At least 2 s apart, should this clock run ahead.
  function wake(panel) {
    if (!document.body.contains(panel)) return;  // replaced meanwhile (a Check now, a poll)
    if (document.visibilityState !== "visible") {
      document.addEventListener("visibilitychange", function again() {
        document.removeEventListener("visibilitychange", again);
        wake(panel);
      });
      return;
    }
    htmx.ajax("GET", panel.dataset.wakeUrl, { target: panel, swap: "outerHTML" });
  }

  function scheduleWakes(root) {
    var panels = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("[data-wake-at]") : []);
    if (root.matches && root.matches("[data-wake-at]")) panels.push(root);
    panels.forEach(function (panel) {
      var at = Date.parse(panel.dataset.wakeAt);
      if (isNaN(at)) return;
      var delay = Math.min(Math.max(at - Date.now(), 2000), 2147483647);  // setTimeout's longest
      setTimeout(function () { wake(panel); }, delay);
    });
  }

  if (window.htmx) htmx.onLoad(scheduleWakes);

  // Confirmation prompts without inline script: <form data-confirm="Delete this?">, or on the button that submits
  // (<button form="shared-form" formaction="..." data-confirm="...">, one form for many rows' buttons).
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset && submitter.dataset.confirm) || (event.target.dataset && event.target.dataset.confirm);
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Download a snippet shown on the page as a file: <button data-download-target="#snippet-python" data-filename="send.py">.
  // Built here from the page's text, so that a secret shown once never goes into a URL or back to the server.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-download-target]");
    if (!button) return;
    var target = document.querySelector(button.dataset.downloadTarget);
    if (!target) return;
    event.preventDefault();
    var url = URL.createObjectURL(new Blob([target.textContent], { type: "text/plain;charset=utf-8" }));
    var link = document.createElement("a");
    link.href = url;
    link.download = button.dataset.filename || "snippet.txt";
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    // Revoked a moment later: revoking at once can cancel the download in some browsers.
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });
})();
