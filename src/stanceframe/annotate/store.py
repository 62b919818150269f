"""The annotation store: one SQLite file in WAL mode, every key press its own transaction.

Tables:

- ``sentences``: the project's sentences, with the ids and spans of the project's segmenter
  (``ord`` is article order);
- ``presses``: one row per key press that changes something (``label``, ``accept``,
  ``skip``, ``import``), with annotator and UTC time; ``undone`` is set by an undo, never
  deleted;
- ``press_labels``: the labels one press set (one row per task), with the model's suggestion
  shown at the time (label and probability);
- ``answers``: each annotator's current label per sentence and task (what the presses that
  are not undone add up to), kept in the same transaction as the press;
- ``adjudications``: the label chosen in the review view where annotators disagree.

``synchronous=FULL``: a press is on disk when :meth:`Store.press` returns, so ``kill -9`` of
the server (or a power cut) loses nothing already answered.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stanceframe.errors import AnnotationStoreError

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sentences (
    id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, paragraph INTEGER, sentence INTEGER,
    start INTEGER, "end" INTEGER, text TEXT NOT NULL, ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS presses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, annotator TEXT NOT NULL, sentence_id TEXT NOT NULL,
    action TEXT NOT NULL, time TEXT NOT NULL, undone INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS press_labels (
    press_id INTEGER NOT NULL REFERENCES presses(id), task TEXT NOT NULL, label TEXT NOT NULL,
    suggested TEXT, suggested_p REAL, PRIMARY KEY (press_id, task));
CREATE TABLE IF NOT EXISTS answers (
    annotator TEXT NOT NULL, sentence_id TEXT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
    press_id INTEGER NOT NULL, PRIMARY KEY (annotator, sentence_id, task));
CREATE TABLE IF NOT EXISTS adjudications (
    sentence_id TEXT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL, annotator TEXT NOT NULL,
    time TEXT NOT NULL, PRIMARY KEY (sentence_id, task));
CREATE INDEX IF NOT EXISTS presses_by_annotator ON presses(annotator, undone, id);
"""
STORE_TABLES = {"meta", "sentences", "presses", "press_labels", "answers", "adjudications"}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class SentenceRow:
    id: str
    doc_id: str
    paragraph: int | None
    sentence: int | None
    start: int | None
    end: int | None
    text: str
    ord: int


@dataclass(frozen=True)
class Suggestion:
    label: str
    p: float


@dataclass(frozen=True)
class Undone:
    """What an undo took back: the press's sentence, action and the labels it had set."""

    sentence_id: str
    action: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Adjudication:
    label: str
    annotator: str
    time: str


class Store:
    """A connection to one store file (one per thread: SQLite connections are not shared).

    ``create=False`` opens an existing store read-only (``agreement``, ``annotate export``):
    nothing is written to the file, not even the switch to WAL. Either way a file that is an
    SQLite database but not a stanceframe store (no ``meta`` table with a schema version) is
    refused before anything is written to it."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        self.readonly = not create
        if not create and not self.path.is_file():
            raise AnnotationStoreError(f"{self.path}: no such annotation store (create one with stanceframe annotate)")
        try:
            if create:
                self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            else:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
            self._check_is_store()
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.executescript(_DDL)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise AnnotationStoreError(f"{self.path}: not an annotation store ({exc})") from None

    def _check_is_store(self) -> None:
        """An empty database may become a store; one with tables must already be one."""
        tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and not self.readonly:
            return
        version = None
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
        missing = STORE_TABLES - tables
        if version is None or missing:
            self.db.close()
            raise AnnotationStoreError(
                f"{self.path}: not a stanceframe annotation store (an SQLite file without "
                f"{'its schema version' if version is None else 'the tables ' + ', '.join(sorted(missing))}); "
                "left untouched")

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ sentences

    def add_sentences(self, sentences: Iterable) -> int:
        """Add sentences (``corpus.Sentence`` or dicts with its fields) not yet in the store,
        after those already there; returns how many were new."""
        rows = [s if isinstance(s, dict) else s.to_dict() for s in sentences]
        with self._tx():
            start = self.db.execute("SELECT COALESCE(MAX(ord), -1) + 1 FROM sentences").fetchone()[0]
            before = self.db.total_changes
            self.db.executemany(
                'INSERT OR IGNORE INTO sentences (id, doc_id, paragraph, sentence, start, "end", text, ord) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["id"], r["doc_id"], r.get("paragraph"), r.get("sentence"), r.get("start"), r.get("end"),
                  r["text"], start + i) for i, r in enumerate(rows)])
            return self.db.total_changes - before

    def sentences(self, ids: Sequence[str] | None = None) -> list[SentenceRow]:
        rows = self.db.execute('SELECT id, doc_id, paragraph, sentence, start, "end", text, ord FROM sentences '
                               "ORDER BY ord").fetchall()
        out = [SentenceRow(*r) for r in rows]
        if ids is not None:
            wanted = set(ids)
            out = [s for s in out if s.id in wanted]
        return out

    # ------------------------------------------------------------------ presses

    def press(self, annotator: str, sentence_id: str, action: str, labels: dict[str, str] | None = None,
              suggestions: dict[str, Suggestion] | None = None) -> int:
        """One key press, committed before returning: its labels (task -> label) become the
        annotator's answers. ``action``: ``label``, ``accept``, ``skip`` or ``import``."""
        labels = labels or {}
        suggestions = suggestions or {}
        with self._tx():
            if not self.db.execute("SELECT 1 FROM sentences WHERE id = ?", (sentence_id,)).fetchone():
                raise AnnotationStoreError(f"{self.path}: no sentence {sentence_id!r} in the store")
            cur = self.db.execute("INSERT INTO presses (annotator, sentence_id, action, time) VALUES (?, ?, ?, ?)",
                                  (annotator, sentence_id, action, now()))
            press_id = cur.lastrowid
            for task, label in labels.items():
                s = suggestions.get(task)
                self.db.execute("INSERT INTO press_labels VALUES (?, ?, ?, ?, ?)",
                                (press_id, task, label, s.label if s else None, s.p if s else None))
                self.db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                                (annotator, sentence_id, task, label, press_id))
            return press_id

    def undo(self, annotator: str) -> Undone | None:
        """Undo the annotator's latest press that is not undone yet (labels and skips; not
        imports); returns what it undid, or None when there is nothing to undo."""
        with self._tx():
            row = self.db.execute("SELECT id, sentence_id, action FROM presses WHERE annotator = ? AND undone = 0 "
                                  "AND action != 'import' ORDER BY id DESC LIMIT 1", (annotator,)).fetchone()
            if row is None:
                return None
            press_id, sentence_id, action = row
            self.db.execute("UPDATE presses SET undone = 1 WHERE id = ?", (press_id,))
            labels = dict(self.db.execute("SELECT task, label FROM press_labels WHERE press_id = ? ORDER BY task",
                                          (press_id,)).fetchall())
            for task in labels:  # the answer is what the latest press left standing says
                self.db.execute("DELETE FROM answers WHERE annotator = ? AND sentence_id = ? AND task = ?",
                                (annotator, sentence_id, task))
                prev = self.db.execute(
                    "SELECT p.id, l.label FROM presses p JOIN press_labels l ON l.press_id = p.id "
                    "WHERE p.annotator = ? AND p.sentence_id = ? AND l.task = ? AND p.undone = 0 "
                    "ORDER BY p.id DESC LIMIT 1", (annotator, sentence_id, task)).fetchone()
                if prev:
                    self.db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?)",
                                    (annotator, sentence_id, task, prev[1], prev[0]))
            return Undone(sentence_id, action, labels)

    def skipped(self, annotator: str) -> dict[str, int]:
        """Sentences the annotator skipped (and did not undo the skip of), each with its latest
        skip's press number: the one skipped longest ago has the smallest."""
        return dict(self.db.execute(
            "SELECT sentence_id, MAX(id) FROM presses WHERE annotator = ? AND action = 'skip' AND undone = 0 "
            "GROUP BY sentence_id", (annotator,)).fetchall())

    def answers(self, annotator: str | None = None) -> dict[str, dict[str, dict[str, str]]]:
        """annotator -> sentence id -> task -> label."""
        sql, args = "SELECT annotator, sentence_id, task, label FROM answers", ()
        if annotator is not None:
            sql, args = sql + " WHERE annotator = ?", (annotator,)
        out: dict[str, dict[str, dict[str, str]]] = {}
        for who, sid, task, label in self.db.execute(sql, args):
            out.setdefault(who, {}).setdefault(sid, {})[task] = label
        return out

    def annotators(self) -> list[str]:
        return [a for (a,) in self.db.execute("SELECT DISTINCT annotator FROM answers ORDER BY annotator")]

    def history(self, annotator: str | None = None) -> list[dict]:
        """Every press with its labels and the suggestion shown, oldest first."""
        sql = ("SELECT p.id, p.annotator, p.sentence_id, p.action, p.time, p.undone, l.task, l.label, l.suggested, "
               "l.suggested_p FROM presses p LEFT JOIN press_labels l ON l.press_id = p.id")
        args: tuple = ()
        if annotator is not None:
            sql, args = sql + " WHERE p.annotator = ?", (annotator,)
        keys = ["press", "annotator", "sentence_id", "action", "time", "undone", "task", "label", "suggested",
                "suggested_p"]
        return [dict(zip(keys, row)) for row in self.db.execute(sql + " ORDER BY p.id, l.task", args)]

    # ------------------------------------------------------------------ adjudication

    def adjudicate(self, sentence_id: str, task: str, label: str, annotator: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO adjudications VALUES (?, ?, ?, ?, ?)",
                            (sentence_id, task, label, annotator, now()))

    def adjudications(self) -> dict[str, dict[str, str]]:
        return {sid: {t: a.label for t, a in per.items()} for sid, per in self.adjudication_details().items()}

    def adjudication_details(self) -> dict[str, dict[str, Adjudication]]:
        """sentence id -> task -> the label chosen, who chose it and when."""
        out: dict[str, dict[str, Adjudication]] = {}
        for sid, task, label, who, time in self.db.execute(
                "SELECT sentence_id, task, label, annotator, time FROM adjudications"):
            out.setdefault(sid, {})[task] = Adjudication(label, who, time)
        return out

    # ------------------------------------------------------------------ plumbing

    def _tx(self):
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (the write lock at once: two servers on one file
    wait for each other instead of failing on upgrade)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
