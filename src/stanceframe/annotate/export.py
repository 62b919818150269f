"""From the store to the project's labelled format and back.

:func:`export_labels` writes one record per sentence with its adjudicated label on every
task (``id, doc_id, paragraph, text, <task>..., source``, the format of
``data/*/labels.jsonl`` that ``train``, ``compare``, ``evaluate`` and ``data stats`` read).
A sentence's label on a task is the review view's adjudication when there is one, else the
label all its annotators gave; a sentence whose annotators disagree and that is not
adjudicated yet, or that lacks a task, is left out and counted. ``source`` says where the
labels come from (:data:`SOURCES`): ``adjudicated`` (a task's label was chosen in the review
view), ``agreed`` (two or more annotators gave the same labels on every task) or ``single``
(one annotator's labels).
:func:`import_labels` loads an existing labelled file as one annotator's answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stanceframe.annotate.store import Store
from stanceframe.errors import StanceframeError
from stanceframe.safe_paths import check_output_file, holds_jsonl_records, replace_file


@dataclass
class ExportSummary:
    written: int
    unlabelled: int
    unresolved: list[str]  # sentence ids whose annotators disagree, not adjudicated
    path: Path

    def text(self) -> str:
        out = f"wrote {self.written} labelled sentence(s) to {self.path}"
        if self.unresolved:
            out += (f"; {len(self.unresolved)} left out because annotators disagree (adjudicate them in the app's "
                    f"review view, /review)")
        if self.unlabelled:
            out += f"; {self.unlabelled} not (fully) labelled yet"
        return out


SOURCES = ("single", "agreed", "adjudicated")


def resolved_labels(store: Store, tasks: Sequence[str]) -> tuple[dict[str, dict[str, str]], list[str], dict[str, str]]:
    """sentence id -> task -> label for sentences resolved on every task; the ids left out
    because of a disagreement; and sentence id -> source (one of :data:`SOURCES`)."""
    answers = store.answers()
    adjudicated = store.adjudications()
    given: dict[str, dict[str, list[str]]] = {}  # sid -> task -> one label per annotator
    for per_sentence in answers.values():
        for sid, labels in per_sentence.items():
            for task, label in labels.items():
                given.setdefault(sid, {}).setdefault(task, []).append(label)
    out, unresolved, sources = {}, [], {}
    for sid, per_task in given.items():
        labels, disagree = {}, False
        for task in tasks:
            if task in adjudicated.get(sid, {}):
                labels[task] = adjudicated[sid][task]
            elif len(set(per_task.get(task, ()))) == 1:
                labels[task] = per_task[task][0]
            elif len(set(per_task.get(task, ()))) > 1:
                disagree = True
        if disagree:
            unresolved.append(sid)
        elif len(labels) == len(tasks):
            out[sid] = labels
            if any(task in adjudicated.get(sid, {}) for task in tasks):
                sources[sid] = "adjudicated"
            elif all(len(per_task[task]) >= 2 for task in tasks):
                sources[sid] = "agreed"
            else:
                sources[sid] = "single"
    return out, sorted(unresolved), sources


def export_labels(store: Store, out: str | Path, tasks: Sequence[str]) -> ExportSummary:
    """Write the resolved labels to ``out`` (a new file or an earlier labels file; never the
    store, its ``-wal``/``-shm`` files, another SQLite file, an article, a link or a device),
    under a new name renamed into place; ``source`` says single, agreed or adjudicated."""
    store_files = [Path(f"{store.path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    out = check_output_file(out, what="--out", inputs=store_files, own=is_labels_file,
                            not_own="is not a labels file (JSONL records with an id and a text) such as export writes")
    if out.is_dir():
        raise StanceframeError(f"{out}: is a folder; name the labels file to write")
    labels, unresolved, sources = resolved_labels(store, tasks)
    sentences = store.sentences()
    written = 0

    def write(handle) -> None:
        nonlocal written
        for s in sentences:
            if s.id not in labels:
                continue
            record = {"id": s.id, "doc_id": s.doc_id, "paragraph": s.paragraph, "text": s.text,
                      **{t: labels[s.id][t] for t in tasks}, "source": sources[s.id]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1

    replace_file(out, write)
    unlabelled = len(sentences) - written - len(unresolved)
    return ExportSummary(written, unlabelled, unresolved, out)


def is_labels_file(path: Path) -> bool:
    """``path`` is empty or a labelled JSONL file (records with an ``id`` and a ``text``):
    what export writes, not a store or an article."""
    return holds_jsonl_records(path, lambda record: isinstance(record, dict) and "id" in record and "text" in record)


def import_labels(store: Store, path: str | Path, annotator: str, tasks: Sequence[str] | None = None) -> int:
    """Every record of a labelled file (validated by ``dataset.load_labelled``: a bad line is
    one error naming it) as ``annotator``'s answers; sentences the store lacks are added.
    Returns the number of records imported."""
    from stanceframe.dataset import load_labelled

    data = load_labelled(path, tasks=tasks)
    rows = []
    for e in data.examples:
        doc, _, rest = e.group.partition("#p")
        paragraph = int(rest) if rest.isdigit() else None
        rows.append({"id": e.id, "doc_id": e.doc or doc, "paragraph": paragraph, "text": e.text})
    store.add_sentences(rows)
    for e in data.examples:
        store.press(annotator, e.id, "import", dict(e.labels))
    return len(data.examples)
