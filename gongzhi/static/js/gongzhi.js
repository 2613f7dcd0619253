// Small behaviours that CSP forbids inline. Everything works without this file.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.dataset.confirm)) event.preventDefault();
});

// On a phone a data table stacks each row's cells; each cell is labelled with its column's heading (a cell
// that carries its own data-label keeps it). Runs again after HTMX swaps in new rows.
function labelTableCells() {
  document.querySelectorAll("table.data").forEach((table) => {
    const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr, tfoot tr").forEach((row) => {
      [...row.children].forEach((cell, index) => {
        if (cell.tagName === "TD" && !cell.dataset.label && headings[index]) cell.dataset.label = headings[index];
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", labelTableCells);
document.addEventListener("htmx:afterSettle", labelTableCells);
