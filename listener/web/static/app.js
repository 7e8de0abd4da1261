// The review desk's only script besides htmx: a live character count on reply drafts.
// Loaded from /static (no inline script), so it runs under the page's strict CSP.
(function () {
  "use strict";

  function update(textarea) {
    var counter = document.getElementById(textarea.dataset.counter || "");
    if (!counter) {
      return;
    }
    var limit = parseInt(textarea.dataset.limit || "0", 10);
    // Count code points, as the server does (Python len), not UTF-16 units.
    var length = Array.from(textarea.value.replace(/\r\n/g, "\n")).length;
    var number = counter.querySelector(".n");
    if (number) {
      number.textContent = String(length);
    }
    counter.classList.toggle("over-limit", limit > 0 && length > limit);
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.dataset.limit) {
      update(target);
    }
  });
})();
