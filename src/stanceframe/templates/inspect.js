(function () {
  "use strict";
  // Every string from the article reaches the page through textContent, never innerHTML.
  var data = JSON.parse(document.getElementById("sf-data").textContent);
  var byId = {};
  data.sentences.forEach(function (s) { byId[s.id] = s; });
  var tasks = Object.keys(data.classes);
  var pinned = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(p) { return p.toFixed(3); }
  function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  function isWordChar(c) { return /[\w\u00C0-\uFFFF]/.test(c); }

  // The sentence with the words that pushed each task towards its predicted label marked.
  function markedText(target, s) {
    var colorOf = {};
    tasks.forEach(function (task) {
      var color = data.colors[task][s.labels[task]];
      (s.why[task] || []).forEach(function (tw) {
        var term = String(tw[0]).trim().toLowerCase();
        if (tw[1] > 0 && term.length > 1 && !(term in colorOf)) colorOf[term] = color;
      });
    });
    var terms = Object.keys(colorOf).sort(function (a, b) { return b.length - a.length; });
    if (!terms.length) { target.textContent = s.text; return; }
    var parts = terms.map(function (t) {
      var body = escapeRegExp(t).replace(/\s+/g, "\\s+");
      return (isWordChar(t[0]) ? "\\b" : "") + body + (isWordChar(t[t.length - 1]) ? "\\b" : "");
    });
    var re = new RegExp(parts.join("|"), "gi");
    var last = 0, m;
    while ((m = re.exec(s.text)) !== null) {
      if (m[0].length === 0) { re.lastIndex++; continue; }
      target.appendChild(document.createTextNode(s.text.slice(last, m.index)));
      var mark = el("mark", null, m[0]);
      mark.style.borderBottomColor = colorOf[m[0].toLowerCase().replace(/\s+/g, " ")] || "#111827";
      target.appendChild(mark);
      last = m.index + m[0].length;
    }
    target.appendChild(document.createTextNode(s.text.slice(last)));
  }

  function taskSection(s, task) {
    var label = s.labels[task];
    var probs = s.p[task];
    var sec = el("section", "ptask");
    sec.dataset.task = task;
    sec.dataset.label = label;
    var head = el("h4", null, task + " ");
    var chip = el("span", "chip", label);
    chip.style.background = data.colors[task][label];
    head.appendChild(chip);
    var pv = el("span", "num", fmt(probs[label]));
    head.appendChild(pv);
    sec.appendChild(head);

    var list = el("ul", "probs");
    data.classes[task].slice().sort(function (a, b) { return probs[b] - probs[a]; }).forEach(function (lab) {
      var li = el("li", lab === label ? "best" : "");
      li.dataset.label = lab;
      li.dataset.p = String(probs[lab]);
      li.appendChild(el("span", "lname2", lab));
      var bar = el("span", "bar"), fill = el("span");
      fill.style.width = (100 * probs[lab]).toFixed(1) + "%";
      fill.style.background = data.colors[task][lab];
      bar.appendChild(fill);
      li.appendChild(bar);
      li.appendChild(el("span", "num", fmt(probs[lab])));
      list.appendChild(li);
    });
    sec.appendChild(list);

    var why = s.why[task] || [];
    if (why.length) {
      var box = el("div", "why");
      box.appendChild(el("h5", null, "words behind \u201c" + label + "\u201d (weight toward it)"));
      var terms = el("div", "terms");
      why.forEach(function (tw) {
        var t = el("span", "term" + (tw[1] < 0 ? " neg" : ""), tw[0]);
        t.dataset.weight = String(tw[1]);
        t.appendChild(el("small", null, (tw[1] > 0 ? "+" : "") + tw[1].toFixed(2)));
        terms.appendChild(t);
      });
      box.appendChild(terms);
      sec.appendChild(box);
    }
    return sec;
  }

  function show(id) {
    var s = byId[id];
    if (!s) return;
    var panel = document.getElementById("panel");
    panel.dataset.sentence = id;
    document.getElementById("panel-id").textContent =
      "paragraph " + s.paragraph + " \u00b7 sentence " + s.sentence + " \u00b7 " + s.id;
    var quote = document.getElementById("panel-text");
    quote.replaceChildren();
    markedText(quote, s);
    var box = document.getElementById("panel-tasks");
    box.replaceChildren();
    tasks.forEach(function (task) { box.appendChild(taskSection(s, task)); });
  }

  function pin(id, updateHash) {
    if (!byId[id]) return;
    if (pinned) {
      var old = document.getElementById("s-" + pinned);
      if (old) old.classList.remove("selected");
    }
    pinned = id;
    var span = document.getElementById("s-" + id);
    if (span) span.classList.add("selected");
    show(id);
    if (updateHash && history.replaceState) history.replaceState(null, "", "#s-" + id);
  }

  function fromHash() {
    var h = decodeURIComponent(location.hash || "");
    return h.indexOf("#s-") === 0 ? h.slice(3) : null;
  }

  Array.prototype.forEach.call(document.querySelectorAll(".sent"), function (span) {
    var id = span.dataset.id;
    span.addEventListener("mouseenter", function () { show(id); });
    span.addEventListener("mouseleave", function () { if (pinned) show(pinned); });
    span.addEventListener("click", function () { pin(id, true); });
    span.addEventListener("focus", function () { pin(id, false); });
  });
  window.addEventListener("hashchange", function () { var id = fromHash(); if (id) pin(id, false); });

  var initial = fromHash();
  pin(initial && byId[initial] ? initial : (data.sentences[0] || {}).id, false);
  document.documentElement.dataset.ready = "1";
})();
