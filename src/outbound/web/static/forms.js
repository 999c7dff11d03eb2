// Forms cannot be submitted twice: on every page, for every form.
// A plain form: the first submit disables its submit buttons (after the browser has read the
// clicked button's name and value) and any further submit is dropped until the page changes.
// An htmx form or button: htmx disables it for the time of its request (hx-disabled-elt).
(function () {
  "use strict";
  var HX = "[hx-post],[hx-put],[hx-patch],[hx-delete],[hx-get]";

  function usesHtmx(form) {
    return form.matches(HX) || form.closest("[hx-boost=true]") !== null;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || usesHtmx(form)) return;
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit],button:not([type]),input[type=submit]").forEach(
        function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    }, 0);
  }, true);

  // Back to a page from the browser's cache: its forms work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("[aria-busy=true]").forEach(function (b) {
        b.disabled = false; b.removeAttribute("aria-busy"); });
    });
  });

  // htmx requests: unless a template chose otherwise, the element that sends (a form: its
  // submit buttons) is disabled until the answer is in.
  function markHtmx(root) {
    var found = root.matches && root.matches(HX) ? [root] : [];
    root.querySelectorAll && root.querySelectorAll(HX).forEach(function (el) { found.push(el); });
    found.forEach(function (el) {
      if (el.hasAttribute("hx-disabled-elt")) return;
      el.setAttribute("hx-disabled-elt", el.tagName === "FORM" ? "find button, find input[type=submit]" : "this");
    });
  }
  document.addEventListener("htmx:load", function (event) { markHtmx(event.target); });
  document.addEventListener("DOMContentLoaded", function () { markHtmx(document.body); });
})();
