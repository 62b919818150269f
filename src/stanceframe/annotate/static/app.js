// stanceframe annotate: the labelling page. Text is always set with textContent (never
// any HTML-parsing setter), every change is a POST with the page's CSRF token.
//
// Key presses: each action is bound, when the key is pressed, to the sentence on screen then
// (its id travels with the request; the server refuses an action for a sentence that is no
// longer current, and the page says so). Actions are sent one at a time, in order. Nothing is
// lost silently: a press while nothing is on screen is refused with a message; while the
// server is unreachable presses wait in order and are sent when it answers again; a stale
// CSRF token (the server restarted) is fetched again and the press retried; a press the
// server can no longer take (a new access token) says "not saved: reload".
"use strict";
(function () {
  let csrf = document.querySelector('meta[name="csrf-token"]').content;
  let state = null;
  let keys = {};          // key -> [task, label]: from the page's buttons, then from each state
  document.querySelectorAll("button.label").forEach((b) => {
    keys[b.querySelector("kbd").textContent] = [b.dataset.task, b.dataset.label];
  });
  const pending = [];     // actions waiting to be sent: {path, body, what}
  let busy = false;
  let answered = 0;       // actions finished, saved or not (tests wait on data-answered)
  let saved = 0;          // actions the server stored (data-saved)
  let refused = 0;        // presses refused by the page itself (data-refused)
  let showContext = false;
  const $ = (id) => document.getElementById(id);
  const body = document.body;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function message(text, kind) {
    const m = $("message");
    m.textContent = text || "";
    m.className = kind || "";
  }

  function cue(text) {
    const c = $("saved");
    c.textContent = text || "";
    c.classList.remove("flash");
    void c.offsetWidth;  // restart the fade
    if (text) c.classList.add("flash");
  }

  function narrow() {
    return window.innerWidth < 900 || window.innerHeight < 700;
  }

  function render(s) {
    state = s;
    keys = {};
    for (const [task, labels] of Object.entries(s.keys || {})) {
      for (const [label, key] of Object.entries(labels)) keys[key] = [task, label];
    }
    const p = s.progress;
    $("progress").textContent =
      `${p.labelled} / ${p.total} labelled` + (p.skipped ? `, ${p.skipped} skipped` : "");
    $("order").value = s.order;
    $("open-count").textContent = String(s.open_disagreements);
    $("refit").textContent = s.refit || "";
    const item = s.item;
    const para = $("paragraph");
    para.replaceChildren();
    $("done").hidden = item !== null;
    $("tasks").hidden = item === null;
    $("article").hidden = item === null;
    $("why").textContent = item ? `Why this sentence: ${item.why}.` : "";
    body.dataset.sentence = item ? item.id : "";
    if (!item) {
      $("done-store").textContent = s.store;
      $("done-export").textContent = `stanceframe annotate export --store ${s.store} --out labels.jsonl`;
      $("done-open").textContent = s.open_disagreements
        ? `${s.open_disagreements} open disagreement(s) between annotators: settle them in the review view (/review) before exporting, or they are left out.`
        : "No open disagreement between annotators.";
    }
    if (item) {
      $("where").textContent = `${item.doc_id} · paragraph ${item.paragraph} · ${item.id}`;
      const others = item.context.filter((c) => !c.current).length;
      const collapse = others > 0 && !showContext &&
        (narrow() || item.context.reduce((n, c) => n + c.text.length, 0) > 1200);
      item.context.forEach((c, i) => {
        if (i) para.appendChild(document.createTextNode(" "));
        if (c.current || !collapse) para.appendChild(el("span", c.text, c.current ? "current" : "other"));
        else if (!para.lastChild || !para.lastChild.classList || !para.lastChild.classList.contains("gap")) {
          para.appendChild(el("span", "…", "gap"));
        }
      });
      $("context").hidden = others === 0;
      $("context").textContent = collapse ? `show the whole paragraph (${others} more sentence(s))` : "collapse the paragraph";
      if (!collapse && !showContext) $("context").hidden = true;
      $("cut").hidden = !item.cut;
      for (const task of Object.keys(s.tasks)) {
        const sug = item.suggestion[task];
        $(`suggestion-${task}`).textContent =
          sug ? `model suggests ${sug.label} (p = ${sug.p.toFixed(2)})` : "no suggestion";
        document.querySelectorAll(`button.label[data-task="${task}"]`).forEach((b) => {
          b.classList.toggle("chosen", item.chosen[task] === b.dataset.label);
          b.classList.toggle("suggested", !!sug && sug.label === b.dataset.label);
        });
      }
      const cur = para.querySelector(".current");
      if (cur) cur.scrollIntoView({ block: "nearest" });
      $("article").scrollTop = cur ? Math.max(0, cur.offsetTop - $("article").offsetTop - 8) : 0;
    }
    const counts = $("counts");
    counts.replaceChildren();
    for (const [task, c] of Object.entries(p.counts)) {
      counts.appendChild(el("div", `${task}: ` + (Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ") || "none yet")));
    }
    const table = $("articles");
    table.replaceChildren();
    for (const a of p.articles) {
      const tr = el("tr");
      tr.appendChild(el("td", a.doc_id));
      tr.appendChild(el("td", `${a.labelled} / ${a.total}`));
      table.appendChild(tr);
    }
  }

  class Unreachable extends Error {}
  class Refused extends Error {
    constructor(status, data) { super(data.error || `HTTP ${status}`); this.status = status; this.data = data; }
  }

  async function post(path, payload) {
    let resp;
    try {
      resp = await fetch(path, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(payload || {}),
      });
    } catch (err) {
      throw new Unreachable(String(err.message || err));
    }
    const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
    if (!resp.ok) throw new Refused(resp.status, data);
    return data;
  }

  async function fetchState() {
    const resp = await fetch("/api/state", { credentials: "same-origin" });
    const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
    if (!resp.ok) throw new Refused(resp.status, data);
    if (data.csrf) csrf = data.csrf;
    return data;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Send one action: "done" (saved, or refused for good: said on the page), "again" (retry
  // now: a fresh CSRF token was fetched) or "later" (the server is unreachable).
  async function send(action) {
    try {
      const data = await post(action.path, action.body);
      render(data);
      saved += 1;
      body.dataset.saved = String(saved);
      message("");
      cue(data.saved || "saved");
      return "done";
    } catch (err) {
      if (err instanceof Unreachable) {
        message(`server unreachable: ${pending.length} press(es) waiting, sent in order when it answers again`, "waiting");
        return "later";
      }
      const refusedAs = err.data && err.data.refused;
      if (err.status === 403 && refusedAs === "csrf" && !action.refreshed) {
        action.refreshed = true;  // the server restarted: a new CSRF token, same place
        try { render(await fetchState()); } catch (e) { return "later"; }
        return "again";
      }
      if (err.status === 409 && err.data.item !== undefined) render(err.data);
      if (err.status === 403 && refusedAs === "token") {
        const lost = pending.length;
        pending.length = 0;
        message(`not saved: ${lost} press(es); the server no longer accepts this page (restarted with a new ` +
                "token?): reload with the URL it printed", "lost");
        return "done";
      }
      let text = err.status === 409 ? err.message : `not saved: ${err.message}`;
      if (err.status === 409 && action.restored) text += " (a press from before the reload: it may have been saved then)";
      if (err.status >= 500 || err.status === 403) text += ": reload the page";
      message(text, "refused");
      return "done";
    }
  }

  async function pump() {
    if (busy || !state) return;
    busy = true;
    while (pending.length) {
      const action = pending[0];
      action.sending = true;
      const outcome = await send(action);
      if (outcome === "done") {
        if (pending[0] === action) pending.shift();
        answered += 1;
        body.dataset.answered = String(answered);
      } else if (outcome === "later") {
        await sleep(1000);
      }
      body.dataset.waiting = String(pending.length);
    }
    busy = false;
  }

  function enqueue(path, payload, what) {
    pending.push({ path, body: payload, what });
    body.dataset.waiting = String(pending.length);
    pump();
  }

  // A reload must not drop presses still waiting: they are kept for this tab and sent (each
  // still bound to its sentence) once the reloaded page shows one. An undo that was already
  // on its way is not sent twice.
  const KEPT = "stanceframe-pending";
  window.addEventListener("pagehide", () => {
    const keep = pending.filter((a) => !(a.sending && a.path === "/api/undo"))
      .map((a) => ({ path: a.path, body: a.body, what: a.what, restored: true }));
    if (keep.length) sessionStorage.setItem(KEPT, JSON.stringify(keep));
  });
  function restore() {
    const kept = sessionStorage.getItem(KEPT);
    sessionStorage.removeItem(KEPT);
    if (kept) { try { pending.push(...JSON.parse(kept)); } catch (e) { /* a damaged entry: nothing kept */ } }
  }

  function refuse(text) {
    refused += 1;
    body.dataset.refused = String(refused);
    message(text, "refused");
  }

  // An action on the sentence on screen now: its id is bound here, at press time.
  function onShown(path, extra, what) {
    const shown = state && state.item ? state.item.id : null;
    if (!shown) {
      refuse(state ? "not saved: every sentence is labelled" :
        "not saved: no sentence is on screen yet (the page is still loading); press again when it shows");
      return;
    }
    enqueue(path, { id: shown, ...(extra || {}) }, what);
  }

  const helpOpen = () => !$("help").hidden;
  function toggleHelp(show) {
    const help = $("help");
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) help.focus();
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    if (ev.target && ev.target.tagName === "SELECT") { if (k === "Escape") ev.target.blur(); return; }
    if (k === "?") { toggleHelp(); ev.preventDefault(); return; }
    if (k === "Escape") { toggleHelp(false); return; }
    if (helpOpen()) {  // the overlay blocks every action key; arrows and page keys scroll it
      if (k.length === 1 || k === "Enter" || k === "Backspace") {
        ev.preventDefault();
        refuse("the key list is open: Esc closes it (that key did nothing)");
      }
      return;
    }
    if (k === "Enter") { onShown("/api/accept", {}, "accept"); ev.preventDefault(); return; }
    if (k === "s") { onShown("/api/skip", {}, "skip"); return; }
    if (k === "z" || k === "Backspace") {
      if (!state) refuse("not saved: the page is still loading");
      else enqueue("/api/undo", {}, "undo");
      ev.preventDefault();
      return;
    }
    if (keys[k]) {
      const [task, label] = keys[k];
      onShown("/api/label", { task, label }, `${task} = ${label}`);
    }
  });
  document.querySelectorAll("button.label").forEach((b) => b.addEventListener("click",
    () => onShown("/api/label", { task: b.dataset.task, label: b.dataset.label }, `${b.dataset.task} = ${b.dataset.label}`)));
  $("accept").addEventListener("click", () => onShown("/api/accept", {}, "accept"));
  $("skip").addEventListener("click", () => onShown("/api/skip", {}, "skip"));
  $("undo").addEventListener("click", () => enqueue("/api/undo", {}, "undo"));
  $("order").addEventListener("change", (ev) => { enqueue("/api/order", { order: ev.target.value }, "order"); ev.target.blur(); });
  $("context").addEventListener("click", () => { showContext = !showContext; if (state) render(state); });
  window.addEventListener("resize", () => { if (state) render(state); });

  (async function load() {
    for (let tries = 0; ; tries++) {
      try {
        render(await fetchState());
        message("");
        body.dataset.ready = "1";
        restore();
        pump();
        return;
      } catch (err) {
        if (err instanceof Refused && err.status === 403) {
          message("not loaded: open the URL with ?token= that the server printed", "lost");
          return;
        }
        if (!tries) message("waiting for the server… (presses are not taken until a sentence shows)", "waiting");
        await sleep(1000);
      }
    }
  })();
})();
