"""One annotator's labelling session over a store: what to show next, and what each key
press does (label, accept the suggestion, skip, undo). No HTTP here: the app calls it, and
so do the tests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

from stanceframe.annotate.agreement import open_disagreements
from stanceframe.annotate.queue import ORDERS, Queue
from stanceframe.annotate.store import Store, Suggestion
from stanceframe.annotate.suggest import Suggestions
from stanceframe.corpus import MAX_SENTENCE_CHARS
from stanceframe.errors import AnnotationRequestError as BadRequest
from stanceframe.errors import AnnotationStaleError as Stale

_SENTENCE_END = (".", "!", "?", '"', "'", "\u201d", "\u2019", ")", "]", ":", ";")


def describe(labels: dict[str, str]) -> str:
    """``stance = support, framing = neutral``: what a press set, for the page's messages."""
    return ", ".join(f"{task} = {label}" for task, label in labels.items()) or "no label"


def was_cut(text: str) -> bool:
    """Whether the segmenter cut this sentence at :data:`MAX_SENTENCE_CHARS` (it goes on in
    the next one): long and without a sentence end."""
    return len(text) >= MAX_SENTENCE_CHARS // 2 and not text.rstrip().endswith(_SENTENCE_END)


class Session:
    def __init__(self, store: Store, annotator: str, ids: Sequence[str], tasks: dict[str, list[str]],
                 suggestions: Suggestions | None, queue: Queue):
        self.store, self.annotator = store, annotator
        self.ids = list(ids)
        self.id_set = set(self.ids)
        self.tasks = tasks  # task -> labels, in key order
        self.suggestions = suggestions
        self.queue = queue
        self.lock = threading.RLock()
        rows = {s.id: s for s in store.sentences(self.ids)}
        self.rows = [rows[i] for i in self.ids]
        self.by_id = {s.id: s for s in self.rows}
        self.focus: str | None = None  # the sentence an undo went back to

    # ------------------------------------------------------------------ reading

    def _mine(self) -> dict[str, dict[str, str]]:
        return self.store.answers(self.annotator).get(self.annotator, {})

    def _done(self, mine, sid) -> bool:
        return len(mine.get(sid, {})) >= len(self.tasks)

    def current(self) -> str | None:
        return self._current()[0]

    def _current(self) -> tuple[str | None, str]:
        """The sentence to show and why: the one an undo went back to, else a half-labelled
        one, else the queue's first that is neither labelled nor skipped, else the skipped
        ones in turn (the one skipped longest ago first, so skipping cycles through them)."""
        with self.lock:
            mine, skipped = self._mine(), self.store.skipped(self.annotator)
            if self.focus and not self._done(mine, self.focus) and self.focus not in skipped:
                return self.focus, "an undo went back to it"
            for sid in self.ids:
                if sid in mine and not self._done(mine, sid) and sid not in skipped:
                    return sid, "half labelled: its other task is still open"
            for sid in self.queue.ranked():
                if not self._done(mine, sid) and sid not in skipped:
                    return sid, self.queue.why(sid)
            left = sorted((press, sid) for sid, press in skipped.items() if sid in self.id_set
                          and not self._done(mine, sid))
            if left:
                return left[0][1], (f"skipped earlier; only skipped sentences are left ({len(left)}), "
                                    "each comes round in turn")
            return None, ""

    def suggestion(self, sid: str) -> dict[str, Suggestion]:
        if self.suggestions is None:
            return {}
        return self.suggestions.by_id.get(sid, {})

    def open_disagreements(self) -> int:
        return len(open_disagreements(self.store, list(self.tasks)))

    def state(self) -> dict:
        with self.lock:
            sid, why = self._current()
            mine = self._mine()
            item = None
            if sid is not None:
                s = self.by_id[sid]
                context = [{"id": o.id, "text": o.text, "current": o.id == sid} for o in self.rows
                           if o.doc_id == s.doc_id and o.paragraph == s.paragraph]
                item = {"id": sid, "doc_id": s.doc_id, "paragraph": s.paragraph, "text": s.text,
                        "context": context, "chosen": mine.get(sid, {}), "why": why, "cut": was_cut(s.text),
                        "suggestion": {t: {"label": g.label, "p": round(g.p, 3)} for t, g in self.suggestion(sid).items()}}
            done = [i for i in self.ids if self._done(mine, i)]
            counts = {t: dict(Counter(mine[i][t] for i in done)) for t in self.tasks}
            per_article: dict[str, list[int]] = {}
            for s in self.rows:
                entry = per_article.setdefault(s.doc_id, [0, 0])
                entry[1] += 1
                entry[0] += self._done(mine, s.id)
            return {"annotator": self.annotator, "item": item, "tasks": self.tasks,
                    "progress": {"labelled": len(done), "total": len(self.ids), "counts": counts,
                                 "articles": [{"doc_id": d, "labelled": v[0], "total": v[1]}
                                              for d, v in per_article.items()],
                                 "skipped": len(set(self.store.skipped(self.annotator)) - set(done))},
                    "order": self.queue.order, "orders": list(ORDERS), "refits": self.queue.refits,
                    "refit": self.queue.refit_line(), "store": str(self.store.path),
                    "open_disagreements": self.open_disagreements()}

    # ------------------------------------------------------------------ key presses

    def _check(self, sid: str, labels: dict[str, str]) -> None:
        if sid not in self.id_set:
            raise BadRequest(f"unknown sentence {sid!r}")
        for task, label in labels.items():
            if task not in self.tasks:
                raise BadRequest(f"unknown task {task!r}")
            if label not in self.tasks[task]:
                raise BadRequest(f"task {task!r} has no label {label!r}")

    def _check_shown(self, sid: str) -> None:
        """A press counts only for the sentence the annotator is shown now: a second quick
        press meant for a sentence already done never lands on the next one, unseen."""
        shown = self.current()
        if sid != shown:
            raise Stale(f"not saved: {sid} is no longer the sentence on screen (now {shown or 'none'}); "
                        "look at the new one and press again")

    def label(self, sid: str, task: str, label: str) -> dict:
        """One label key: that task's label on that sentence, committed now."""
        with self.lock:
            self._check(sid, {task: label})
            self._check_shown(sid)
            self.store.press(self.annotator, sid, "label", {task: label}, self.suggestion(sid))
            self._after_press(sid)
            return {**self.state(), "saved": f"saved: {task} = {label} on {sid}"}

    def accept(self, sid: str) -> dict:
        """The accept key: the suggestion on every task not chosen yet, committed now."""
        with self.lock:
            self._check(sid, {})
            self._check_shown(sid)
            chosen = self._mine().get(sid, {})
            suggested = self.suggestion(sid)
            labels = {t: g.label for t, g in suggested.items() if t not in chosen and g.label in self.tasks.get(t, ())}
            missing = [t for t in self.tasks if t not in chosen and t not in labels]
            if missing:
                raise BadRequest(f"no suggestion to accept for {', '.join(missing)}: choose a label")
            self.store.press(self.annotator, sid, "accept", labels, suggested)
            self._after_press(sid)
            return {**self.state(), "saved": f"saved: accepted {describe(labels)} on {sid}"}

    def skip(self, sid: str) -> dict:
        with self.lock:
            self._check(sid, {})
            self._check_shown(sid)
            mine = self._mine()
            others = [i for i in self.ids if i != sid and not self._done(mine, i)]
            if not others:
                return {**self.state(), "saved": f"not skipped: {sid} is the only sentence left to label"}
            self.store.press(self.annotator, sid, "skip")
            if self.focus == sid:
                self.focus = None
            return {**self.state(), "saved": f"saved: skipped {sid} (it comes back after the others)"}

    def undo(self) -> dict:
        with self.lock:
            undone = self.store.undo(self.annotator)
            if undone is not None and undone.sentence_id in self.id_set:
                self.focus = undone.sentence_id
            if undone is None:
                said = "nothing to undo"
            elif undone.action == "skip":
                said = f"undid: the skip of {undone.sentence_id}"
            else:
                said = f"undid: {describe(undone.labels)} on {undone.sentence_id}"
            return {**self.state(), "saved": said}

    def set_order(self, order: str) -> dict:
        """The page's order menu: the queue's order switched now (the sentence on screen may
        change; a half-labelled one stays first)."""
        with self.lock:
            if order not in ORDERS:
                raise BadRequest(f"unknown order {order!r}; known: {', '.join(ORDERS)}")
            self.queue.set_order(order)
            return {**self.state(), "saved": f"queue order: {order}"}

    def _after_press(self, sid: str) -> None:
        if self.focus == sid and self._done(self._mine(), sid):
            self.focus = None
        mine = self._mine()
        n = sum(self._done(mine, i) for i in self.ids)
        base = self.suggestions.proba if self.suggestions is not None else {}
        self.queue.maybe_refit(self._labelled, n, base)

    def _labelled(self) -> tuple[list[str], dict[str, list[str]]]:
        """Every fully labelled sentence of this session's set, any annotator (the last
        annotator's label in name order when they differ): what the fast model is refitted on."""
        with self.lock:
            merged: dict[str, dict[str, str]] = {}
            for _who, per in sorted(self.store.answers().items()):
                for sid, labels in per.items():
                    if sid in self.id_set and len(labels) >= len(self.tasks):
                        merged[sid] = labels
        ids = [i for i in self.ids if i in merged]
        return ids, {t: [merged[i][t] for i in ids] for t in self.tasks}
