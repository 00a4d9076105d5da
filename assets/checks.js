// The check form: show only the fieldsets of the chosen kind. Without
// JavaScript every fieldset shows and the server ignores the unused fields.
(function () {
  var kind = document.getElementById('kind');
  if (!kind) return;
  function update() {
    document.querySelectorAll('fieldset[data-kinds]').forEach(function (set) {
      var on = set.getAttribute('data-kinds').split(' ').indexOf(kind.value) >= 0;
      set.hidden = !on;
    });
  }
  kind.addEventListener('change', update);
  update();
})();
