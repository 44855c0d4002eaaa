// Small behaviours for Reclaim's pages: toasts, filter forms, bulk selection, list refresh.
(function () {
  "use strict";

  function showToast(message, level) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "app-toast level-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 6000);
  }

  // Server responses that are not swapped (errors, 204) speak through an HX-Trigger "toast".
  document.addEventListener("toast", function (event) {
    showToast(event.detail.message, event.detail.level);
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (!event.detail.xhr.getResponseHeader("HX-Trigger")) {
      showToast("The server answered " + event.detail.xhr.status + ". Please try again.", "error");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("The server could not be reached. Check your connection and try again.", "error");
  });

  // Filter forms send only the filters that are set, so pushed URLs stay short and readable.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.elt.closest("form.filters")) return;
    var data = event.detail.formData;
    Array.from(data.keys()).forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
    });
  });

  // Bulk actions (templates/components/_bulk_bar.html), wired by data attributes so every
  // list with a [data-bulk-form] works the same way:
  //   [data-bulk-form]                 the form around a list's table
  //   [data-bulk-row] / [data-bulk-select-page]   row checkboxes / the page's checkbox
  //   [data-bulk-all-matching]         hidden input: "y" when all matching are selected
  //   [data-bulk-summary]              "3 selected"
  //   [data-bulk-select-all-matching]  the "select all N matching this filter" button
  //   [data-list-count]                the list's count; data-count-text once it is known
  //   [data-bulk-slot]                 where the confirm step and the outcome appear
  //   [data-refresh-on="<event>"]      a list container that reloads when <event> fires

  function slotOf(form) {
    var selector = form.getAttribute("hx-target");
    return selector ? document.querySelector(selector) : null;
  }

  // A confirm step belongs to the selection it was asked for: a new filter or page drops it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.requestConfig.verb !== "get") return;
    var target = event.detail.target;
    var form = target && target.querySelector && target.querySelector("[data-bulk-form]");
    var slot = form && slotOf(form);
    if (slot) slot.innerHTML = "";
  });

  // A list whose rows changed (a bulk action ran) reloads its table for the URL it shows.
  var refreshEvents = {};
  function listenForRefreshes(root) {
    var containers = (root.matches && root.matches("[data-refresh-on]") ? [root] : [])
      .concat(Array.from(root.querySelectorAll ? root.querySelectorAll("[data-refresh-on]") : []));
    containers.forEach(function (container) {
      container.dataset.refreshOn.split(/\s+/).forEach(function (name) {
        if (!name || refreshEvents[name]) return;
        refreshEvents[name] = true;
        document.addEventListener(name, function () {
          document.querySelectorAll("[data-refresh-on]").forEach(function (each) {
            if (each.dataset.refreshOn.split(/\s+/).indexOf(name) === -1 || !window.htmx) return;
            htmx.ajax("GET", window.location.pathname + window.location.search, { target: each, swap: "innerHTML" });
          });
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { listenForRefreshes(document); });
  document.addEventListener("htmx:load", function (event) { listenForRefreshes(event.target); });

  // Row selection and "select all matching this filter".
  function updateSelection(form) {
    var boxes = form.querySelectorAll("[data-bulk-row]");
    var checked = form.querySelectorAll("[data-bulk-row]:checked").length;
    var allMatching = form.querySelector("[data-bulk-all-matching]");
    var summary = form.querySelector("[data-bulk-summary]");
    var selectAllMatching = form.querySelector("[data-bulk-select-all-matching]");
    var pageBox = form.querySelector("[data-bulk-select-page]");
    var count = form.querySelector("[data-list-count]");
    var countText = count && count.dataset.countText ? count.dataset.countText + " " : "";
    if (!summary || !allMatching) return;
    if (selectAllMatching) selectAllMatching.textContent = "Select all " + countText + "matching this filter";
    if (allMatching.value) {
      summary.textContent = "All " + countText + "matching this filter are selected.";
      if (selectAllMatching) selectAllMatching.classList.add("d-none");
      return;
    }
    summary.textContent = checked ? checked + " selected" : "None selected";
    var pageFull = checked > 0 && checked === boxes.length;
    if (pageBox) pageBox.checked = pageFull;
    if (selectAllMatching) {
      var morePages = selectAllMatching.dataset.morePages === "yes";
      selectAllMatching.classList.toggle("d-none", !(pageFull && morePages));
    }
  }

  // The match count arrives after the table: relabel the selection with it.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-bulk-form]").forEach(updateSelection);
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest("[data-bulk-form]");
    if (!form) return;
    if (event.target.matches("[data-bulk-select-page]")) {
      form.querySelectorAll("[data-bulk-row]").forEach(function (box) { box.checked = event.target.checked; });
    }
    if (event.target.matches("[data-bulk-row], [data-bulk-select-page]") && !event.target.checked) {
      form.querySelector("[data-bulk-all-matching]").value = "";
    }
    updateSelection(form);
  });

  document.addEventListener("click", function (event) {
    var selectAll = event.target.closest("[data-bulk-select-all-matching]");
    if (selectAll) {
      var form = selectAll.closest("[data-bulk-form]");
      form.querySelector("[data-bulk-all-matching]").value = "y";
      updateSelection(form);
    }
    var dismiss = event.target.closest("[data-dismiss-bulk]");
    var slot = dismiss && dismiss.closest("[data-bulk-slot]");
    if (slot && window.htmx && slot.dataset.bulkSlot !== "page") {
      event.preventDefault();
      slot.innerHTML = "";
    }
  });

  // The main menu on a phone: the "Menu" button shows and hides it.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-menu-toggle]");
    if (!toggle) return;
    var nav = toggle.closest("[data-menu]");
    var open = nav.classList.toggle("menu-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // A secret shown once (a new API key): the field selects itself, a button copies it.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    field.select();
    var done = function () {
      button.textContent = button.dataset.copiedText || "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
