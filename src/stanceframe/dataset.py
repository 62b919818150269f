"""Loading and validating labelled files; building the seed set; grouped, stratified,
seeded splits; conversion to ``datasets.Dataset``."""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from stanceframe.corpus import iter_records, read_documents_strict, segment, SUPPORTED_SUFFIXES
from stanceframe.errors import DataFileError, UnlabelledSentencesError
from stanceframe.schema import Schema, load_schema

GOLD_SOURCES = {"gold"}


@dataclass
class Example:
    id: str
    text: str
    labels: dict[str, str]
    group: str  # doc_id + paragraph: sentences of one paragraph never straddle a split
    source: str = "gold"
    target: str | None = None
    origin: str = ""  # file:line the example came from


@dataclass
class LabelledSet:
    examples: list[Example]
    tasks: list[str]
    schema: Schema
    paths: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def targets(self) -> list[str | None]:
        return [e.target for e in self.examples]

    @property
    def has_targets(self) -> bool:
        return any(e.target is not None for e in self.examples)

    @property
    def groups(self) -> list[str]:
        return [e.group for e in self.examples]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    def labels(self, task: str) -> list[str]:
        return [e.labels[task] for e in self.examples]

    def label_counts(self, task: str) -> dict[str, int]:
        counts = Counter(self.labels(task))
        order = self.schema.task(task).label_names if task in self.schema.tasks else sorted(counts)
        return {label: counts.get(label, 0) for label in order}

    def subset(self, indices: Iterable[int]) -> "LabelledSet":
        return LabelledSet([self.examples[i] for i in indices], self.tasks, self.schema, self.paths, self.notices)

    def where_source(self, sources: set[str], keep: bool = True) -> "LabelledSet":
        idx = [i for i, e in enumerate(self.examples) if (e.source in sources) == keep]
        return self.subset(idx)

    def __add__(self, other: "LabelledSet") -> "LabelledSet":
        tasks = [t for t in self.tasks if t in other.tasks]
        return LabelledSet(self.examples + other.examples, tasks, self.schema, self.paths + other.paths,
                           self.notices + other.notices)

    def fingerprint(self) -> str:
        """A short hash of texts, targets and labels: the ``data_hash`` MLflow param."""
        h = hashlib.sha256()
        for e in self.examples:
            h.update(json.dumps([e.id, e.text, e.target, sorted(e.labels.items()), e.source]).encode())
        return h.hexdigest()[:16]

    def to_hf_dataset(self):
        """A ``datasets.Dataset`` with id, text, target, source and one column per task."""
        from datasets import Dataset

        columns = {"id": self.ids, "text": self.texts, "source": [e.source for e in self.examples]}
        if self.has_targets:
            columns["target"] = [e.target or "" for e in self.examples]
        for task in self.tasks:
            columns[task] = self.labels(task)
        return Dataset.from_dict(columns)


# --------------------------------------------------------------------------- loading


def _records(path: Path):
    if not path.exists():
        raise DataFileError(path, None, "file not found")
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json", ".csv"}:
        raise DataFileError(path, None, f"unsupported labelled-file type {path.suffix!r} (use .jsonl or .csv)")
    yield from iter_records(path)  # anything but .csv is read as JSON Lines


def load_labelled(
    path: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    schema: Schema | None = None,
    text_field: str = "text",
    id_field: str = "id",
    target_field: str | None = None,
    default_source: str = "gold",
) -> LabelledSet:
    """Read and validate a labelled JSONL/CSV file.

    Rejects (``DataFileError`` with file:line and the reason, before anything is written):
    invalid JSON, a missing field, an unknown label, an empty text, a duplicate id. Tasks
    default to the schema's tasks; a task absent from the schema takes its labels from the
    data (with a notice in ``notices``).
    """
    path = Path(path)
    schema = schema or load_schema()
    tasks = list(tasks) if tasks else list(schema.task_names)
    rows = []
    for lineno, record, error in _records(path):
        if error:
            raise DataFileError(path, lineno, error)
        rows.append((lineno, record))
    if not rows:
        raise DataFileError(path, None, "no records")

    notices = []
    inferred: dict[str, list[str]] = {}
    for task in tasks:
        if task not in schema.tasks:
            values = sorted({str(r.get(task)) for _, r in rows if r.get(task) not in (None, "")})
            inferred[task] = values
            notices.append(f"{path}: task {task!r} is not in the schema; labels taken from the data: {', '.join(values)}")
    if inferred:
        known = {name: schema.tasks[name] for name in tasks if name in schema.tasks}
        extra = Schema.from_labels(inferred)
        schema = Schema({**known, **extra.tasks}, schema.path)

    seen: dict[str, int] = {}
    examples = []
    for lineno, record in rows:
        for name in [id_field, text_field, *tasks] + ([target_field] if target_field else []):
            if record.get(name) in (None, ""):
                what = "empty text" if name == text_field and name in record else f"missing field {name!r}"
                raise DataFileError(path, lineno, what)
        text = str(record[text_field])
        if not text.strip():
            raise DataFileError(path, lineno, "empty text")
        ex_id = str(record[id_field])
        if ex_id in seen:
            raise DataFileError(path, lineno, f"duplicate id {ex_id!r} (first on line {seen[ex_id]})")
        seen[ex_id] = lineno
        labels = {}
        for task in tasks:
            value = str(record[task]).strip()
            reason = schema.validate(task, value)
            if reason:
                raise DataFileError(path, lineno, reason)
            labels[task] = value
        doc = str(record.get("doc_id", path.stem))
        paragraph = record.get("paragraph")
        group = f"{doc}#p{paragraph}" if paragraph is not None else f"{doc}#{ex_id}"
        examples.append(
            Example(
                id=ex_id,
                text=text,
                labels=labels,
                group=group,
                source=str(record.get("source") or default_source),
                target=str(record[target_field]) if target_field else None,
                origin=f"{path}:{lineno}",
            )
        )
    return LabelledSet(examples, tasks, schema, [str(path)], notices)


def load_many(paths: Sequence[str | Path], **kwargs) -> LabelledSet:
    sets = [load_labelled(p, **kwargs) for p in paths]
    combined = sets[0]
    for other in sets[1:]:
        combined = combined + other
    ids = Counter(combined.ids)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        raise DataFileError(", ".join(map(str, paths)), None, f"id {dupes[0]!r} appears in more than one file")
    return combined


# --------------------------------------------------------------------------- seed set


@dataclass
class BuildReport:
    sentences: int
    documents: int
    labelled: int
    sentences_path: str
    labels_path: str


def build_seed_set(seeds_dir: str | Path, sentences_path: str | Path, labels_path: str | Path,
                   schema: Schema | None = None) -> BuildReport:
    """Segment every file in ``seeds_dir`` into ``sentences_path`` and check that every seed
    sentence carries gold labels on every task in ``labels_path``."""
    seeds_dir, sentences_path, labels_path = Path(seeds_dir), Path(sentences_path), Path(labels_path)
    if not seeds_dir.is_dir():
        raise DataFileError(seeds_dir, None, "not a folder of seed articles" if seeds_dir.exists() else "no such folder")
    files = sorted(f for f in seeds_dir.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
    if not files:
        raise DataFileError(seeds_dir, None, "no seed files (.txt, .md, .html, .jsonl, .csv)")
    sentences = []
    docs = 0
    for f in files:
        for doc in read_documents_strict(f):
            docs += 1
            sentences.extend(segment(doc))
    labelled = load_labelled(labels_path, schema=schema) if labels_path.exists() else None
    by_id = {e.id: e for e in labelled.examples} if labelled else {}
    missing = [s.id for s in sentences if s.id not in by_id]
    changed = [s.id for s in sentences if s.id in by_id and by_id[s.id].text != s.text]

    sentences_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = sentences_path.with_suffix(sentences_path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for s in sentences:
            fh.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(sentences_path)

    if missing:
        raise UnlabelledSentencesError(missing, labels_path)
    if changed:
        raise DataFileError(labels_path, None, f"{len(changed)} labelled sentence(s) no longer match the segmented "
                                               f"text (re-check their labels): {', '.join(changed[:10])}")
    return BuildReport(len(sentences), docs, len(by_id), str(sentences_path), str(labels_path))


# --------------------------------------------------------------------------- splits


def grouped_folds(
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    n_splits: int = 5,
    n_repeats: int = 3,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated stratified k-fold grouped by ``groups``: no group on both sides of a split.
    The same arguments give the same folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(labels)
    g = np.asarray(groups)
    n_groups = len(set(groups))
    k = min(n_splits, n_groups)
    if k < 2:
        raise DataFileError("<data>", None, f"need at least 2 paragraphs/groups for cross-validation, got {n_groups}")
    folds = []
    for repeat in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + repeat)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for train, test in splitter.split(np.zeros(len(y)), y, g):
                    folds.append((train, test))
    return folds


def print_notices(labelled: LabelledSet, stream=sys.stderr) -> None:
    for notice in labelled.notices:
        print(f"notice: {notice}", file=stream)
