// stanceframe annotate: the labelling page. Text is always set with textContent (never
// any HTML-parsing setter), every change is a POST with the page's CSRF token, and key presses are
// handled one at a time, in order (a press typed while the previous one is on its way waits).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let state = null;
  let keys = {};          // key -> [task, label]
  const pending = [];     // actions waiting for the previous answer
  let busy = false;
  let answered = 0;       // answers received (tests wait on data-answered)

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function render(s) {
    state = s;
    keys = {};
    for (const [task, labels] of Object.entries(s.keys || {})) {
      for (const [label, key] of Object.entries(labels)) keys[key] = [task, label];
    }
    const p = s.progress;
    document.getElementById("progress").textContent =
      `${p.labelled} / ${p.total} labelled` + (p.skipped ? `, ${p.skipped} skipped` : "") + ` · order: ${s.order}`;
    const item = s.item;
    const para = document.getElementById("paragraph");
    para.replaceChildren();
    document.getElementById("done").hidden = item !== null;
    document.getElementById("tasks").hidden = item === null;
    document.body.dataset.sentence = item ? item.id : "";
    if (item) {
      para.appendChild(el("small", `${item.doc_id} · paragraph ${item.paragraph}`));
      para.appendChild(el("br"));
      item.context.forEach((c, i) => {
        if (i) para.appendChild(document.createTextNode(" "));
        para.appendChild(el("span", c.text, c.current ? "current" : "other"));
      });
      for (const task of Object.keys(s.tasks)) {
        const sug = item.suggestion[task];
        document.getElementById(`suggestion-${task}`).textContent =
          sug ? `model suggests ${sug.label} (p = ${sug.p.toFixed(2)})` : "no suggestion";
        document.querySelectorAll(`button.label[data-task="${task}"]`).forEach((b) => {
          b.classList.toggle("chosen", item.chosen[task] === b.dataset.label);
          b.classList.toggle("suggested", !!sug && sug.label === b.dataset.label);
        });
      }
    }
    const counts = document.getElementById("counts");
    counts.replaceChildren();
    for (const [task, c] of Object.entries(p.counts)) {
      counts.appendChild(el("div", `${task}: ` + (Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ") || "none yet")));
    }
    const table = document.getElementById("articles");
    table.replaceChildren();
    for (const a of p.articles) {
      const tr = el("tr");
      tr.appendChild(el("td", a.doc_id));
      tr.appendChild(el("td", `${a.labelled} / ${a.total}`));
      table.appendChild(tr);
    }
  }

  async function call(path, body) {
    const resp = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
    if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
    return data;
  }

  function enqueue(makeRequest) {
    pending.push(makeRequest);
    pump();
  }

  async function pump() {
    if (busy) return;
    busy = true;
    while (pending.length) {
      const make = pending.shift();
      const req = make();
      if (!req) continue;
      try {
        render(await call(req[0], req[1]));
        document.getElementById("message").textContent = "";
      } catch (err) {
        document.getElementById("message").textContent = String(err.message || err);
      }
      answered += 1;
      document.body.dataset.answered = String(answered);
    }
    busy = false;
  }

  const current = () => (state && state.item ? state.item.id : null);
  const onItem = (path, extra) => () => (current() ? [path, { id: current(), ...(extra || {}) }] : null);

  function toggleHelp(show) {
    const help = document.getElementById("help");
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    if (k === "?") { toggleHelp(); ev.preventDefault(); return; }
    if (k === "Escape") { toggleHelp(false); return; }
    if (k === "Enter") { enqueue(onItem("/api/accept")); ev.preventDefault(); return; }
    if (k === "s") { enqueue(onItem("/api/skip")); return; }
    if (k === "z" || k === "Backspace") { enqueue(() => ["/api/undo", {}]); ev.preventDefault(); return; }
    if (keys[k]) {
      const [task, label] = keys[k];
      enqueue(onItem("/api/label", { task, label }));
    }
  });
  document.querySelectorAll("button.label").forEach((b) =>
    b.addEventListener("click", () => enqueue(onItem("/api/label", { task: b.dataset.task, label: b.dataset.label }))));
  document.getElementById("accept").addEventListener("click", () => enqueue(onItem("/api/accept")));
  document.getElementById("skip").addEventListener("click", () => enqueue(onItem("/api/skip")));
  document.getElementById("undo").addEventListener("click", () => enqueue(() => ["/api/undo", {}]));

  fetch("/api/state", { credentials: "same-origin" }).then((r) => r.json()).then((s) => {
    render(s);
    document.body.dataset.ready = "1";
  });
})();
