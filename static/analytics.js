/* /analytics/ and the overview: draws each report's chart from the JSON beside its canvas
 * (<canvas data-chart="ID"> + <script type="application/json" id="ID">), so no inline script.
 * A chart is destroyed before htmx removes its fragment, drawn again when a fragment loads,
 * when the browser restores the page (back / forward), and resized for printing. */
(function () {
  "use strict";

  var PALETTE = ["#2f5d8a", "#22a55a", "#c47f00", "#7b5cc4", "#c0392b"];

  function canvases(root) {
    if (!root || !root.querySelectorAll) return [];
    var found = Array.prototype.slice.call(root.querySelectorAll("canvas[data-chart]"));
    if (root.matches && root.matches("canvas[data-chart]")) found.push(root);
    return found;
  }

  function destroy(root) {
    if (!window.Chart) return;
    canvases(root).forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  function draw(root) {
    if (!window.Chart) return;
    canvases(root).forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      var compact = Boolean(spec.compact); // the overview's small charts: bars and a scale
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy(); // "Canvas is already in use" otherwise
      new window.Chart(canvas, {
        type: spec.type,
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (dataset, index) {
            return Object.assign({ backgroundColor: PALETTE[index % PALETTE.length] }, dataset);
          }),
        },
        options: {
          indexAxis: spec.horizontal ? "y" : "x",
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          // spec.links[i]: the list of the carts counted in bar i (a click opens it).
          onClick: spec.links ? function (event, bars) {
            if (bars.length) window.location.assign(spec.links[bars[0].index]);
          } : undefined,
          onHover: spec.links ? function (event, bars) {
            event.native.target.style.cursor = bars.length ? "pointer" : "default";
          } : undefined,
          plugins: { legend: { display: !compact && spec.datasets.length > 1 } },
          scales: {
            x: { display: !compact, ticks: { autoSkip: true } },
            y: { beginAtZero: true, ticks: compact ? { maxTicksLimit: 3, precision: 0 } : {} },
          },
        },
      });
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    });
  }

  function resizeAll() {
    if (!window.Chart) return;
    canvases(document).forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.resize();
    });
  }

  // htmx:load fires for the page once htmx starts and for every fragment it swaps in.
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
  document.addEventListener("htmx:beforeSwap", function (event) { destroy(event.detail.target); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) { destroy(event.detail.elt); });
  document.addEventListener("htmx:historyRestore", function () { draw(document); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) draw(document); });
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  if (window.matchMedia) {
    var print = window.matchMedia("print");
    if (print.addEventListener) print.addEventListener("change", resizeAll);
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
})();
