// The contacts list's selection: "select all on this page", "select all N matching", and the
// count the bulk bar shows; "N matching" once the tabs have loaded their counts. Event
// delegation on the document: the list is swapped by htmx.
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
    // The tabs load their counts after the rows: until then "N matching" is not known.
    var tabs = document.getElementById("contacts-tabs");
    var known = !!tabs && tabs.hasAttribute("data-matching");
    var matching = known ? parseInt(tabs.getAttribute("data-matching"), 10) : 0;
    root.querySelectorAll(".matching-of").forEach(function (el) {
      el.textContent = known ? " of " + matching : "";
    });
    root.querySelectorAll(".matching-n").forEach(function (el) {
      el.textContent = known ? String(matching) : "";
    });
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
      offer.hidden = everything || !known || picked !== items.length || matching <= items.length;
    }
    var remove = document.getElementById("bulk-remove");
    if (remove) {
      remove.setAttribute("hx-confirm", "Remove " + count + " contact" + (count === 1 ? "" : "s") +
        " from this sequence? Their planned emails are cancelled; what reached the ATS stays there.");
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    // The phone's sort menu applies at once (a plain GET: the URL keeps the sort).
    if (target instanceof HTMLSelectElement && target.id === "contacts-sort" && target.form) {
      target.form.submit();
      return;
    }
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
    // The button holds the count in a span of its own: the click may land on either.
    if (target instanceof Element && target.closest("#bulk-select-matching")) {
      boxes().forEach(function (b) { b.checked = true; });
      setAll(true);
      refresh();
    }
  });

  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
