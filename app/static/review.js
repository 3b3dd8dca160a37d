// "check all" on the review page: ticks every confirm box except the ones that need their
// own tick (the sector). Kept out of the page because the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("check-all");
  if (!all) return;
  all.addEventListener("change", () => {
    document.querySelectorAll("input[name=confirm]:not(.explicit)").forEach((box) => { box.checked = all.checked; });
  });
});
