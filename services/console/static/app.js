// Backfill console: copy buttons, the bootstrap sign-in link, the live log tail.
// No API token ever reaches this script: the tail is proxied by the console.
(function () {
  "use strict";

  // The bootstrap link is /sign-in#token=...: the fragment never reaches a server.
  function bootstrapSignIn() {
    var form = document.getElementById("sign-in-form");
    if (!form || location.hash.indexOf("#token=") !== 0) return;
    var token = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname + location.search);
    form.querySelector("input[name=token]").value = token;
    form.submit();
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var input = document.getElementById(button.dataset.copy);
        var done = function () {
          button.textContent = "Copied";
          var status = document.getElementById(button.dataset.copy + "-status");
          if (status) status.textContent = "Webhook URL copied to the clipboard.";
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () {
            input.select(); document.execCommand("copy"); done();
          });
        } else {
          input.select(); document.execCommand("copy"); done();
        }
      });
    });
  }

  function liveTail() {
    var button = document.getElementById("live-tail");
    if (!button) return;
    var source = null;
    var body = document.getElementById("log-lines");
    var status = document.getElementById("live-status");
    button.addEventListener("click", function () {
      if (source) {
        source.close(); source = null;
        button.textContent = "Start live tail"; status.textContent = "Live tail stopped.";
        return;
      }
      source = new EventSource(button.dataset.url);
      button.textContent = "Stop live tail"; status.textContent = "Live: new lines appear at the top.";
      source.onmessage = function (event) {
        var line;
        try { line = JSON.parse(event.data); } catch (e) { return; }
        if (!line.unavailable && !line.message) return;
        if (line.unavailable) {
          status.textContent = line.unavailable; source.close(); source = null;
          button.textContent = "Start live tail"; return;
        }
        var row = document.createElement("tr");
        [new Date((line.at || Date.now() / 1000) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC",
         line.level || "", line.script_type || line.kind || "",
         (line.mode || "active") + (line.version_id ? " " + line.version_id : ""),
         line.message || line.msg || ""].forEach(function (text, i) {
          var cell = document.createElement("td");
          cell.textContent = text;
          if (i === 1) cell.className = "level-" + text;
          row.appendChild(cell);
        });
        var empty = document.getElementById("log-empty");
        if (empty) empty.remove();
        body.insertBefore(row, body.firstChild);
      };
      source.onerror = function () { status.textContent = "Live tail reconnecting…"; };
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bootstrapSignIn(); copyButtons(document); liveTail();
  });
  document.addEventListener("htmx:afterSwap", function (event) { copyButtons(event.target); });
})();
