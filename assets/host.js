// Refreshes the host page's charts every 10 s without reloading the page.
// Only ranges that end now refresh; a hidden tab waits until it is shown.
(function () {
  "use strict";
  var box = document.getElementById("charts");
  if (!box || !box.dataset.refresh) { return; }
  var url = box.dataset.refresh;
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (html !== null) {
          box.replaceChildren(document.createRange().createContextualFragment(html));
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  setInterval(refresh, 10000);
})();
