// Small behaviours for Reclaim's pages: toasts, filter forms, bulk selection, list refresh,
// focus across swaps and a list's keyboard shortcuts.
(function () {
  "use strict";

  function showToast(message, level) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var className = "app-toast level-" + (level || "info");
    // One click can be refused twice (a list and its count): say it once.
    var shown = Array.from(region.children).some(function (existing) {
      return existing.className === className && existing.textContent === message;
    });
    if (shown) return;
    var toast = document.createElement("div");
    toast.className = className;
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
      var floatingBar = form.querySelector("[data-bulk-bar]");
      if (floatingBar) floatingBar.classList.add("is-floating");
      document.body.classList.add("has-floating-bulk-bar");
      summary.textContent = "All " + countText + "matching this filter are selected.";
      if (selectAllMatching) selectAllMatching.classList.add("d-none");
      return;
    }
    // With something selected the bar floats at the bottom of the window: in reach from
    // any row of a long page.
    var bar = form.querySelector("[data-bulk-bar]");
    if (bar) {
      var floating = checked > 0 || !!allMatching.value;
      bar.classList.toggle("is-floating", floating);
      document.body.classList.toggle("has-floating-bulk-bar", floating);
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
    if (!document.querySelector("[data-bulk-bar].is-floating")) document.body.classList.remove("has-floating-bulk-bar");
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

  // The filter form follows the list it filters: the table fragment says which sort is in
  // effect (a column header may have changed it) and which values were not applied, so the
  // Sort select shows the sort and the next filter change sends it along.
  function followListState(root) {
    var state = root.querySelector && root.querySelector("[data-list-state]");
    if (!state) return;
    document.querySelectorAll("form[data-filter-form]").forEach(function (form) {
      var sort = form.querySelector("select[name=sort]");
      if (sort && state.dataset.sort && sort.querySelector('option[value="' + CSS.escape(state.dataset.sort) + '"]')) {
        sort.value = state.dataset.sort;
      }
      var invalid = (state.dataset.invalidFields || "").split(/\s+/).filter(Boolean);
      Array.from(form.elements).forEach(function (field) {
        if (!field.name || field.type === "submit") return;
        var bad = invalid.indexOf(field.name) !== -1;
        field.classList.toggle("is-invalid", bad);
        if (bad) field.setAttribute("aria-invalid", "true");
        else field.removeAttribute("aria-invalid");
      });
    });
  }
  document.addEventListener("htmx:afterSwap", function (event) { followListState(event.detail.target); });

  // Focus stays where it was across a swap (sorting, paging, a list reloading): before the
  // swap note the focused control's key (data-focus-key, else id, else name and value), after
  // it focus the control with the same key, or its group (a pager whose link is now
  // disabled), or the swapped container.
  var focusAfterSwap = null;
  function focusSelector(element) {
    if (element.dataset && element.dataset.focusKey) return '[data-focus-key="' + CSS.escape(element.dataset.focusKey) + '"]';
    if (element.id) return "#" + CSS.escape(element.id);
    if (element.name) {
      var selector = '[name="' + CSS.escape(element.name) + '"]';
      return element.value ? selector + '[value="' + CSS.escape(element.value) + '"]' : selector;
    }
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var target = event.detail.target;
    focusAfterSwap = null;
    if (!active || active === document.body || !target || !target.contains(active)) return;
    var group = active.dataset && active.dataset.focusKey ? active.dataset.focusKey.replace(/-[^-]+$/, "") : null;
    focusAfterSwap = {
      selector: focusSelector(active),
      group: group ? '[data-focus-key="' + CSS.escape(group) + '"]' : null,
      target: target,
    };
  });
  document.addEventListener("htmx:afterSettle", function () {
    var wanted = focusAfterSwap;
    focusAfterSwap = null;
    if (!wanted) return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var element = (wanted.selector && document.querySelector(wanted.selector)) ||
      (wanted.group && document.querySelector(wanted.group)) ||
      (document.contains(wanted.target) ? wanted.target : null);
    if (!element) return;
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) element.setAttribute("tabindex", "-1");
    element.focus();
    var row = element.closest("[data-list-row]");
    if (row) setCurrentRow(row, false);
  });

  // Keyboard on a list ([data-keyboard-list] around a table with [data-list-row] rows, each
  // with its [data-row-link]):  /  search   j / k  next / previous row   x  tick the row
  // Enter  open it. Ignored while typing in a field or with a modifier key held.
  function isTyping(element) {
    if (!element || !element.closest) return false;
    if (element.isContentEditable) return true;
    if (element.matches("textarea, select")) return true;
    return element.matches("input") && ["checkbox", "radio", "button", "submit", "reset"].indexOf(element.type) === -1;
  }
  function listRows() {
    var list = document.querySelector("[data-keyboard-list]");
    return list ? Array.from(list.querySelectorAll("[data-list-row]")) : [];
  }
  function currentRow() {
    var active = document.activeElement;
    var row = active && active.closest && active.closest("[data-list-row]");
    return row || document.querySelector("[data-list-row].is-current");
  }
  function setCurrentRow(row, focus) {
    document.querySelectorAll("[data-list-row].is-current").forEach(function (each) {
      if (each !== row) each.classList.remove("is-current");
    });
    row.classList.add("is-current");
    if (focus === false) return;
    var link = row.querySelector("[data-row-link]");
    if (link) link.focus();
    else row.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (isTyping(event.target)) return;
    if (event.key === "/") {
      var form = document.querySelector("form[data-filter-form][data-search]");
      var search = form && form.querySelector(form.dataset.search);
      if (!search) return;
      event.preventDefault();
      search.focus();
      search.select();
      return;
    }
    var rows = listRows();
    if (!rows.length) return;
    var row = currentRow();
    var index = row ? rows.indexOf(row) : -1;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      var next = event.key === "j" ? Math.min(index + 1, rows.length - 1) : Math.max(index - 1, 0);
      setCurrentRow(rows[next]);
    } else if (event.key === "x" && row) {
      var box = row.querySelector("[data-bulk-row]");
      if (!box) return;
      event.preventDefault();
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (event.key === "Enter" && row && !event.target.closest("a[href], button, input, select, textarea")) {
      var link = row.querySelector("[data-row-link]");
      if (!link) return;
      event.preventDefault();
      link.click();
    }
  });
  // The row under the focus (a Tab onto its checkbox or link) is the current row.
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("[data-list-row]");
    if (row) setCurrentRow(row, false);
  });
  // "Skip to results": straight to the first row's link (without script, to the list).
  document.addEventListener("click", function (event) {
    var skip = event.target.closest("[data-skip-to-results]");
    if (!skip) return;
    var rows = listRows();
    event.preventDefault();
    if (rows.length) {
      setCurrentRow(rows[0]);
    } else {
      var list = document.querySelector(skip.dataset.skipToResults);
      if (list) list.focus();
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

  // An email previewed in a frame is shown whole: the frame takes the email's height.
  // (Its sandbox allows same-origin reads, never scripts: the email itself runs nothing.)
  function fitFrame(frame) {
    try {
      // The body's own height: the document's would never shrink below the frame's.
      var height = Math.ceil(frame.contentDocument.body.getBoundingClientRect().height);
      if (height) frame.style.height = height + "px";
    } catch (error) {
      // a frame we may not read keeps its CSS height and scrolls inside
    }
  }
  document.addEventListener("load", function (event) {
    if (event.target.matches && event.target.matches("iframe[data-fit-content]")) {
      fitFrame(event.target);
    }
  }, true);
  window.addEventListener("resize", function () {
    document.querySelectorAll("iframe[data-fit-content]").forEach(fitFrame);
  });
  document.querySelectorAll("iframe[data-fit-content]").forEach(fitFrame);
})();
