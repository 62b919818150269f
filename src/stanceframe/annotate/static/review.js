// The review view: one click adjudicates a disagreement (a POST with the CSRF token).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  document.querySelectorAll("tr.disagreement button.adjudicate").forEach((b) => {
    b.addEventListener("click", async () => {
      const row = b.closest("tr");
      const resp = await fetch("/api/adjudicate", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ id: row.dataset.id, task: row.dataset.task, label: b.dataset.label }),
      });
      if (resp.ok) row.querySelectorAll("button").forEach((o) => o.classList.toggle("chosen", o === b));
    });
  });
})();
