// The review view: one click adjudicates a disagreement (a POST with the CSRF token); the
// row is then marked settled, with who settled it; the menu filters open / settled rows.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const filter = document.getElementById("filter");
  function applyFilter() {
    if (!filter) return;
    document.querySelectorAll("tr.disagreement").forEach((row) => {
      const settled = row.classList.contains("settled");
      row.hidden = (filter.value === "open" && settled) || (filter.value === "settled" && !settled);
    });
  }
  if (filter) filter.addEventListener("change", applyFilter);
  document.querySelectorAll("tr.disagreement button.adjudicate").forEach((b) => {
    b.addEventListener("click", async () => {
      const row = b.closest("tr");
      const msg = document.getElementById("message");
      let resp;
      try {
        resp = await fetch("/api/adjudicate", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ id: row.dataset.id, task: row.dataset.task, label: b.dataset.label }),
        });
      } catch (err) {
        msg.textContent = "not saved: the server is unreachable";
        return;
      }
      const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
      if (!resp.ok) { msg.textContent = `not saved: ${data.error}: reload the page`; return; }
      msg.textContent = "";
      row.querySelectorAll("button").forEach((o) => o.classList.toggle("chosen", o === b));
      row.classList.add("settled");
      row.querySelector(".settled-by").textContent = `settled: ${b.dataset.label}, by ${data.by} (just now)`;
      document.getElementById("open-count").textContent = String(data.open);
      applyFilter();
    });
  });
})();
