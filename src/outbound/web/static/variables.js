// The variable picker of the steps form: a button inserts its {{variable}} where the cursor
// is, in the subject or body the user was last in.
(function () {
  "use strict";
  var last = null;
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el.matches && el.matches("fieldset.step input[name^=subject_], fieldset.step textarea")) last = el;
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-insert]");
    if (!button) return;
    var field = last || document.querySelector("fieldset.step textarea");
    if (!field) return;
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
  });
})();
