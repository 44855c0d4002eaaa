// Small behaviours for Reclaim's pages: toasts, row selection, list refresh.
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

  // A confirm step belongs to the selection it was asked for: a new filter or page drops it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var slot = document.getElementById("bulk-slot");
    if (slot && event.detail.requestConfig.verb === "get" && event.detail.target.id === "io-table") {
      slot.innerHTML = "";
    }
  });

  // A list whose rows changed (bulk action) reloads its table for the URL it shows.
  document.addEventListener("incompleteOrdersChanged", function () {
    var container = document.querySelector("[data-refresh-on='incompleteOrdersChanged']");
    if (container && window.htmx) {
      htmx.ajax("GET", window.location.pathname + window.location.search, { target: container, swap: "innerHTML" });
    }
  });

  // Row selection and "select all matching this filter".
  function updateSelection(form) {
    var boxes = form.querySelectorAll(".row-select");
    var checked = form.querySelectorAll(".row-select:checked").length;
    var allMatching = form.querySelector("#all-matching");
    var summary = form.querySelector("#selection-summary");
    var selectAllMatching = form.querySelector("#select-all-matching");
    var pageBox = form.querySelector("#select-page");
    var count = form.querySelector("#match-count");
    var countText = count && count.dataset.countText ? count.dataset.countText + " " : "";
    if (!summary) return;
    selectAllMatching.textContent = "Select all " + countText + "matching this filter";
    if (allMatching.value) {
      summary.textContent = "All " + countText + "matching this filter are selected.";
      selectAllMatching.classList.add("d-none");
      return;
    }
    summary.textContent = checked ? checked + " selected" : "None selected";
    if (pageBox) pageBox.checked = checked > 0 && checked === boxes.length;
    var pageFull = checked === boxes.length && checked > 0;
    var morePages = selectAllMatching.dataset.morePages === "yes";
    selectAllMatching.classList.toggle("d-none", !(pageFull && morePages));
  }

  // The match count arrives after the table: relabel the selection with it.
  document.addEventListener("htmx:afterSettle", function () {
    var form = document.getElementById("bulk-form");
    if (form) updateSelection(form);
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest("#bulk-form");
    if (!form) return;
    if (event.target.id === "select-page") {
      form.querySelectorAll(".row-select").forEach(function (box) { box.checked = event.target.checked; });
    }
    if (event.target.matches(".row-select, #select-page") && !event.target.checked) {
      form.querySelector("#all-matching").value = "";
    }
    updateSelection(form);
  });

  document.addEventListener("click", function (event) {
    if (event.target.id === "select-all-matching") {
      var form = event.target.closest("#bulk-form");
      form.querySelector("#all-matching").value = "y";
      updateSelection(form);
    }
    if (event.target.matches("[data-dismiss-bulk]") && window.htmx) {
      event.preventDefault();
      document.getElementById("bulk-slot").innerHTML = "";
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
