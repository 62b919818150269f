"""Loading and validating labelled sets (JSONL/CSV files, or ``hf:`` datasets via
:mod:`stanceframe.hf_source`); grouped, stratified, seeded splits; conversion to
``datasets.Dataset``."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe.corpus import iter_records, lone_surrogate
from stanceframe.errors import DataFileError
from stanceframe.hf_source import HF_PREFIX, hf_records, is_hf_spec
from stanceframe.schema import Schema, Task, load_schema


@dataclass
class Example:
    id: str
    text: str
    labels: dict[str, str]
    group: str  # doc_id + paragraph: sentences of one paragraph never straddle a split
    source: str = "gold"
    doc: str = ""  # the article (doc_id): ``group_by="article"`` keeps an article on one side
    target: str | None = None
    origin: str = ""  # file:line the example came from


@dataclass
class LabelledSet:
    examples: list[Example]
    tasks: list[str]
    schema: Schema
    paths: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    target_field: str | None = None  # the records' field the targets came from

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

    def groups_by(self, level: str = "paragraph") -> list[str]:
        """Cross-validation groups: ``paragraph`` (doc_id + paragraph) or ``article``
        (doc_id; a record without one is grouped as by paragraph)."""
        if level == "paragraph":
            return self.groups
        if level == "article":
            return [e.doc or e.group for e in self.examples]
        raise ValueError(f"unknown grouping {level!r} (paragraph or article)")

    @property
    def docs(self) -> list[str]:
        return [e.doc for e in self.examples]

    def where_doc(self, docs: set[str], keep: bool = True) -> LabelledSet:
        return self.subset([i for i, e in enumerate(self.examples) if (e.doc in docs) == keep])

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    def labels(self, task: str) -> list[str]:
        return [e.labels[task] for e in self.examples]

    def label_counts(self, task: str) -> dict[str, int]:
        counts = Counter(self.labels(task))
        order = self.schema.task(task).label_names if task in self.schema.tasks else sorted(counts)
        return {label: counts.get(label, 0) for label in order}

    def subset(self, indices: Iterable[int]) -> LabelledSet:
        return LabelledSet([self.examples[i] for i in indices], self.tasks, self.schema, self.paths, self.notices,
                           self.target_field)

    def where_source(self, sources: set[str], keep: bool = True) -> LabelledSet:
        idx = [i for i, e in enumerate(self.examples) if (e.source in sources) == keep]
        return self.subset(idx)

    def __add__(self, other: LabelledSet) -> LabelledSet:
        tasks = [t for t in self.tasks if t in other.tasks]
        return LabelledSet(self.examples + other.examples, tasks, _union_schema(self.schema, other.schema, tasks),
                           self.paths + other.paths, self.notices + other.notices,
                           self.target_field or other.target_field)

    def inputs(self) -> list:
        """What a model is fitted on / predicts: the texts, or ``(target, text)`` pairs
        when the examples carry targets (see ``models.inputs.split_inputs``)."""
        if self.has_targets:
            return [(e.target, e.text) for e in self.examples]
        return self.texts

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

def file_records(path: Path):
    """The raw record lines of a labelled JSONL/CSV file (see ``corpus.iter_records``)."""
    if not path.exists():
        raise DataFileError(path, None, "file not found")
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json", ".csv"}:
        raise DataFileError(path, None, f"unsupported labelled-file type {path.suffix!r} (use .jsonl or .csv)")
    yield from iter_records(path)  # anything but .csv is read as JSON Lines


def checked_records(path, records):
    """(line, record) of each record; a line that could not be read, or was not UTF-8, is a
    :class:`DataFileError` (labelled text is never silently changed: the user re-encodes it)."""
    for lineno, record, error, warning in records:
        if error:
            raise DataFileError(path, lineno, error)
        if warning:
            raise DataFileError(path, lineno, warning.split(": ", 1)[1].split(";")[0] + "; save the file as UTF-8")
        yield lineno, record


def source_stem(source) -> str:
    """A short name for a labelled file or ``hf:`` source (its file or folder name)."""
    if is_hf_spec(source):
        ref = source[len(HF_PREFIX):].split("#")[0].rstrip("/")
        return Path(ref).name or "hf"
    return Path(source).stem


def load_labelled(
    path: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    schema: Schema | None = None,
    text_field: str = "text",
    id_field: str = "id",
    target_field: str | None = None,
    default_source: str = "gold",
    labels_from_data: bool = False,
) -> LabelledSet:
    """Read and validate a labelled JSONL/CSV file, or a ``datasets`` dataset (``hf:...``).

    Rejects (``DataFileError`` with file:line and the reason, before anything is written):
    invalid JSON, a missing field, an unknown label, an empty text, a duplicate id. Tasks
    default to the schema's tasks; a task absent from the schema takes its labels from the
    data (with a notice in ``notices``).

    ``labels_from_data`` (user data without ``--schema``): a schema task whose labels in
    the data are not all the schema's also takes its labels from the data, with a notice,
    instead of failing (the built-in schema describes the built-in seed set only); records
    without an id field get ``<name>-<line>``.
    """
    source = path if is_hf_spec(path) else Path(path)
    path = source
    schema = schema or load_schema()
    rows = []
    for lineno, record in checked_records(path, hf_records(source) if is_hf_spec(source) else file_records(source)):
        surrogate = lone_surrogate(record)
        if surrogate:  # gold text is not silently changed: the user fixes the escape
            raise DataFileError(path, lineno, f"unpaired surrogate escape {surrogate} (not Unicode text); "
                                              f"fix or remove it")
        rows.append((lineno, record))
    if not rows:
        raise DataFileError(path, None, "no records")
    if not tasks and labels_from_data:  # user data: the schema's tasks it has fields for
        tasks = [t for t in schema.task_names if t in rows[0][1]]
        if not tasks:
            raise DataFileError(path, None, f"no task field ({', '.join(schema.task_names)}) in the first record; "
                                            f"name the label fields with --task")
    tasks = list(tasks) if tasks else list(schema.task_names)
    check_label_types(path, rows, tasks)

    notices = []
    inferred: dict[str, list[str]] = {}
    for task in tasks:
        values = sorted({str(r.get(task)).strip() for _, r in rows if r.get(task) not in (None, "")})
        if task not in schema.tasks:
            inferred[task] = values
            notices.append(f"{path}: task {task!r} is not in the schema; labels taken from the data: {', '.join(values)}")
        elif labels_from_data and not set(values) <= set(schema.tasks[task].label_names):
            inferred[task] = values
            notices.append(f"{path}: task {task!r}: labels taken from the data ({', '.join(values)}), not the built-in "
                           f"schema's ({', '.join(schema.tasks[task].label_names)}); --schema FILE names them explicitly")
    for task, values in inferred.items():
        check_label_typos(path, rows, task, values, schema.tasks[task].label_names if task in schema.tasks else [])
    if inferred:
        known = {name: schema.tasks[name] for name in tasks if name in schema.tasks and name not in inferred}
        extra = Schema.from_labels(inferred)
        schema = Schema({**known, **extra.tasks}, schema.path)

    seen: dict[str, int] = {}
    examples = []
    stem = source_stem(source)
    for lineno, record in rows:
        if labels_from_data and record.get(id_field) in (None, ""):
            record = {**record, id_field: f"{stem}-{lineno}"}
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
        has_doc = record.get("doc_id") not in (None, "")
        doc = str(record["doc_id"]) if has_doc else stem
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
                doc=doc if has_doc else group,  # no doc_id: the record (or its paragraph) alone
            )
        )
    return LabelledSet(examples, tasks, schema, [str(path)], notices, target_field)


def check_label_types(path, rows, tasks: Sequence[str]) -> None:
    """A :class:`DataFileError` (file:line) for the first label that is not a string
    (``["none"]``, ``3``, ``true``): it would otherwise become a class of its own."""
    for lineno, record in rows:
        for task in tasks:
            value = record.get(task)
            if value is not None and not isinstance(value, str):
                kind = {list: "a list", dict: "an object", bool: "a boolean"}.get(type(value), "a number")
                raise DataFileError(path, lineno, f"label of task {task!r} is {kind} ({json.dumps(value)[:60]}), "
                                                  "not a string; write the label's name")


def check_label_typos(path, rows, task: str, values: Sequence[str], known: Sequence[str]) -> None:
    """Labels taken from the data that look like typos are an error naming the first line
    that has one: a label that differs from another (or from a schema label of the task)
    only in case (``Support``/``support``), or is one edit away from a schema label
    (``suport``), or from another label of five letters or more. ``--schema FILE`` naming
    both labels allows them (then labels are not taken from the data)."""
    values, known = list(values), [k for k in known]
    for value in values:
        twin = _near_label(value, [v for v in values if v != value], known)
        if twin is None:
            continue
        line = next(n for n, r in rows if str(r.get(task, "")).strip() == value)
        how = "differs only in case from" if twin.lower() == value.lower() else "is one letter away from"
        raise DataFileError(path, line, f"label {value!r} of task {task!r} {how} {twin!r}: a typo? fix it, or "
                                        f"pass --schema FILE naming both labels")


def _near_label(value: str, others: Sequence[str], known: Sequence[str]) -> str | None:
    """The label ``value`` is suspiciously close to, if any (see :func:`check_label_typos`);
    a schema label itself is never the typo."""
    if value in known:
        return None
    for other in [*known, *others]:
        if other.lower() == value.lower():
            return other
    for other in known:
        if _one_edit(value.lower(), other.lower()):
            return other
    for other in others:
        if min(len(value), len(other)) >= 5 and _one_edit(value.lower(), other.lower()):
            return other
    return None


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or
    swap of two neighbouring letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[i:] == long[i + 1:]


def check_trainable(data: LabelledSet, tasks: Sequence[str]) -> None:
    """A classifier needs at least two examples and two labels per task: else a
    :class:`DataFileError` naming the data (scikit-learn would raise a traceback)."""
    where = ", ".join(data.paths) or "<data>"
    if len(data) < 2:
        raise DataFileError(where, None, f"{len(data)} labelled record(s); a model needs at least two, with at "
                                         f"least two different labels per task")
    for task in tasks:
        labels = sorted(set(data.labels(task)))
        if len(labels) < 2:
            raise DataFileError(where, None, f"task {task!r} has one label only ({labels[0]!r}) in its {len(data)} "
                                             f"record(s); a classifier needs at least two different labels")


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


def _union_schema(first: Schema, second: Schema, tasks: Sequence[str]) -> Schema:
    """``first`` with, for each task whose labels came from the data, the labels of
    ``second`` added (files of one training set may each lack a label)."""
    if first is second or first == second:
        return first
    merged = dict(first.tasks)
    for name in tasks:
        a, b = first.tasks.get(name), second.tasks.get(name)
        if a is None or b is None or a.label_names == b.label_names:
            continue
        extra = [lab for lab in b.labels if lab.name not in a.label_names]
        merged[name] = Task(a.name, a.description, a.labels + tuple(extra), a.default)
    return Schema(merged, first.path)


# --------------------------------------------------------------------------- splits


def joint_labels(data: LabelledSet, tasks: Sequence[str]) -> list[str]:
    """One stratum per example: its labels for every task joined (``support|western``; a
    missing label is ``-``), so that one grouped split is stratified for all tasks at once."""
    columns = [data.labels(t) for t in tasks]
    return ["|".join("-" if y is None else str(y) for y in row) for row in zip(*columns)]


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

