// Sharing: on a wide screen the week's seven days stand side by side, each unfolded; on a phone they stay
// folded but for the first day with a free time. Runs again when HTMX swaps in another week.
function unfoldWeek() {
  if (!window.matchMedia("(min-width: 60rem)").matches) return;
  document.querySelectorAll("details.week-day").forEach((day) => {
    day.open = true;
  });
}
document.addEventListener("DOMContentLoaded", unfoldWeek);
document.addEventListener("htmx:afterSettle", unfoldWeek);
