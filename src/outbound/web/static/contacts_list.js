// The contacts list's selection: "select all on this page", "select all N matching", and the
// count the bulk bar shows. Event delegation on the document: the list is swapped by htmx.
(function () {
  "use strict";

  function list() { return document.getElementById("contacts-list"); }
  function boxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('#contacts-list input[name="ids"][form="bulk-form"]'));
  }

  function setAll(on) {
    var all = document.getElementById("bulk-all");
    if (all) { all.value = on ? "1" : ""; }
  }

  function refresh() {
    var root = list();
    if (!root) { return; }
    var items = boxes();
    var picked = items.filter(function (b) { return b.checked; }).length;
    var all = document.getElementById("bulk-all");
    var everything = all && all.value === "1";
    var matching = parseInt(root.getAttribute("data-matching") || "0", 10);
    var page = document.getElementById("select-page");
    if (page) {
      page.checked = items.length > 0 && picked === items.length;
      page.indeterminate = picked > 0 && picked < items.length;
    }
    var count = everything ? matching : picked;
    var said = document.getElementById("bulk-selected");
    if (said) {
      said.textContent = everything
        ? "All " + matching + " matching contacts selected"
        : (picked ? picked + " selected" : "None selected");
    }
    var offer = document.getElementById("bulk-all-offer");
    if (offer) {
      offer.hidden = everything || picked !== items.length || matching <= items.length;
    }
    var remove = document.getElementById("bulk-remove");
    if (remove) {
      remove.setAttribute("hx-confirm", "Remove " + count + " contact" + (count === 1 ? "" : "s") +
        " from this sequence? Their planned emails are cancelled; what reached the ATS stays there.");
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) { return; }
    if (target.id === "select-page") {
      boxes().forEach(function (b) { b.checked = target.checked; });
      setAll(false);
      refresh();
    } else if (target.name === "ids" && target.getAttribute("form") === "bulk-form") {
      setAll(false);
      refresh();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.id === "bulk-select-matching") {
      boxes().forEach(function (b) { b.checked = true; });
      setAll(true);
      refresh();
    }
  });

  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
