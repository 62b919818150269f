"""Streaming documents -> sentences -> batched predictions -> records; per-article
aggregation; resumable, atomic writers. No HTML here (that is report.py).

Flow, with memory bounded by one *window* whatever the corpus size::

    inputs ──iter_documents──▶ Document | Skipped ──Tagger.windows──▶ Window ──sink──▶ file/stdout
                               (one at a time)        (≤ WINDOW_ITEMS items or
                                                       ≤ WINDOW_SENTENCES sentences;
                                                       sentences sorted by length
                                                       into batches, rows back in
                                                       input order)

Never losing work (``--out FILE``): rows go to ``FILE.part``, one ``write`` per document,
and after each window the part file is flushed and fsynced and ``FILE.part.json``
(the *state*: byte offset of the committed output, number of input items consumed,
counts for the summary, a fingerprint of the command) is replaced atomically. A crash or
``kill -9`` can only leave bytes after the committed offset. ``--resume`` truncates the
part file to that offset, skips the consumed input items and goes on; windows then start
at the same input item as in an uninterrupted run, so even the batches are the same and
the output is byte-for-byte identical. When the input ends, ``FILE.part`` is renamed to
``FILE`` (for Parquet: the part file is a JSONL journal converted to ``FILE`` with
``pyarrow.parquet.ParquetWriter``, row group by row group), so ``FILE`` only ever exists
complete.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import os
import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Sequence

from stanceframe.corpus import (BINARY_SNIFF_BYTES, PART_BYTES, READ_CHUNK_BYTES, RECORD_SUFFIXES, Document,
                               Sentence, Skipped, UniqueIds, bounded_lines, doc_id_for, expand_inputs, id_name,
                               is_large_text, read_path, read_stdin, segment, text_parts)
from stanceframe.errors import DataFileError, ModelFolderError, StanceframeError
from stanceframe.terminal import printable

FORMATS = ("jsonl", "csv", "parquet")
UNITS = ("document", "record")
PER = ("sentence", "article")
SENTENCE_FIELDS = ["doc_id", "id", "paragraph", "sentence", "start", "end", "text"]
ARTICLE_FIELDS = ["doc_id", "source", "n_sentences"]
INT_FIELDS = {"paragraph", "sentence", "start", "end", "n_sentences"}

DEFAULT_BATCH_SIZE = 64  # models with torch networks: length-sorted batches, padded to their longest
UNPADDED_BATCH_SIZE = 1024  # the others (tfidf, lexicon): no padding, so fewer, larger calls; same rows
WINDOW_ITEMS = 64  # input items (documents or skips) per window
WINDOW_SENTENCES = 2048  # ...or fewer when their sentences reach this
TOP_SENTENCES = 3  # strongest sentence ids per label in --per article rows
PARQUET_ROW_GROUP = 10_000
LIST_SEPARATOR = ";"  # lists (top_* ids) in CSV cells
STATE_VERSION = 1


# --------------------------------------------------------------------------- models


def load_model(spec: str | Path | None = None):
    """A :class:`ModelBundle` from a model folder, ``runs:/...`` or ``models:/name@alias``;
    ``None`` means the project's ``models/default/``."""
    from stanceframe.models.bundle import MANIFEST, ModelBundle

    if spec in (None, ""):
        from stanceframe.paths import default_model_dir

        path = default_model_dir()
        if not (path / MANIFEST).is_file():
            raise ModelFolderError(
                f"{path}: no default model yet; create it with "
                "`stanceframe train --family tfidf-logreg --export models/default` "
                "or pass --model FOLDER|runs:/...|models:/NAME@ALIAS"
            )
        return ModelBundle.load(path)
    text = str(spec)
    if text.startswith(("runs:/", "models:/")):
        try:
            from stanceframe.tracking import load_bundle_from_uri
        except ImportError as exc:
            raise ModelFolderError(
                f"{text}: MLflow model URIs need stanceframe.tracking.load_bundle_from_uri, "
                f"which cannot be imported here ({exc})"
            ) from None
        return load_bundle_from_uri(text)
    return ModelBundle.load(text)


def model_info(model, spec: str | Path | None = None) -> dict:
    """What a report says about the model: name, family, version, date, where from."""
    manifest = getattr(model, "manifest", {}) or {}
    return {
        "name": model.name,
        "family": model.family,
        "source": str(spec) if spec else (model.path or ""),
        "created": manifest.get("created", ""),
        "stanceframe_version": manifest.get("stanceframe_version", ""),
        "run_id": manifest.get("run_id", ""),
        "data_hash": manifest.get("data_hash", ""),
        "version": manifest.get("version") or manifest.get("registered_version") or "",
        "tasks": {task: model.classes(task) for task in model.tasks},
    }


def model_identity(model) -> dict:
    """What must not change between a run and its ``--resume``: the manifest's identity and
    a digest of every file of the model folder (new weights under the same manifest)."""
    manifest = getattr(model, "manifest", {}) or {}
    folder = getattr(model, "path", None)
    return {
        "family": model.family,
        "created": manifest.get("created", ""),
        "data_hash": manifest.get("data_hash", ""),
        "tasks": {task: model.classes(task) for task in model.tasks},
        "weights": folder_digest(Path(folder)) if folder and Path(folder).is_dir() else "",
    }


# --------------------------------------------------------------------------- columns


def model_classes(model) -> dict[str, list[str]]:
    return {task: list(model.classes(task)) for task in model.tasks}


def sentence_columns(classes: dict[str, list[str]]) -> list[str]:
    """``doc_id, id, paragraph, sentence, start, end, text, <task>..., p_<task>_<label>...``"""
    cols = SENTENCE_FIELDS + list(classes)
    for task, labels in classes.items():
        cols += [f"p_{task}_{label}" for label in labels]
    return cols


def article_columns(classes: dict[str, list[str]]) -> list[str]:
    """Per document: sentence counts, shares and mean probabilities per label, and the ids
    of the strongest sentences predicted with each label (``top_<task>_<label>``)."""
    cols = list(ARTICLE_FIELDS)
    for task, labels in classes.items():
        for prefix in ("n", "share", "mean_p", "top"):
            cols += [f"{prefix}_{task}_{label}" for label in labels]
    return cols


# --------------------------------------------------------------------------- inputs


def resolve_inputs(paths: Sequence[str]) -> list[tuple[Path, Path | None] | Skipped]:
    """Expand files, folders, globs and ``-``; a usage error when nothing at all matches."""
    items = list(expand_inputs(paths))
    if not any(isinstance(item, tuple) for item in items):
        reasons = "; ".join(str(item) for item in items) or "no PATH given"
        raise StanceframeError(f"no input files ({reasons})")
    return items


def iter_documents(
    resolved: Iterable[tuple[Path, Path | None] | Skipped],
    *,
    text_field: str = "text",
    id_field: str = "id",
    stdin: IO[bytes] | None = None,
    wanted: Callable[[int], bool] | None = None,
    doc_ids: dict[str, str] | None = None,
) -> Iterator[Document | Skipped | None]:
    """Documents of the resolved inputs, one at a time, in order. ``wanted(i)``: whether
    item ``i`` (0-based, in input order) is needed; a text file whose single item is not
    is yielded as ``None``, unread (record files are always read: their items are only
    known by reading them). ``doc_ids``: :func:`file_doc_ids` of the whole run, when
    ``resolved`` is only some of its files (Spark reads one file per call)."""
    index = 0
    resolved = list(resolved)
    doc_ids = file_doc_ids(resolved) if doc_ids is None else doc_ids
    for item in resolved:
        if isinstance(item, Skipped):
            yield item
            index += 1
            continue
        path, root = item
        if str(path) == "-":
            yield from stdin_documents(stdin, text_field=text_field, id_field=id_field)
            continue
        single = Path(path).suffix.lower() not in RECORD_SUFFIXES and not is_large_text(Path(path))  # one item
        doc_id = doc_ids.get(str(path))
        if wanted is not None and not wanted(index) and single:
            yield None  # read_path gives exactly one item for a text file
            index += 1
            continue
        produced = False
        for doc in read_path(path, text_field=text_field, id_field=id_field, root=root, doc_id=doc_id):
            produced = True
            yield doc
            index += 1
        if not produced:
            yield Skipped(str(path), None, "empty file (no records)")
            index += 1


def file_doc_ids(resolved) -> dict[str, str]:
    """Each input file's doc id (a text file) or id stem (a record file: ``<stem>-<line>``
    for records without an id), unique within the run (:class:`UniqueIds`), by file name."""
    texts, stems, out = UniqueIds(), UniqueIds(), {}
    for item in resolved:
        if isinstance(item, Skipped) or str(item[0]) == "-":
            continue
        path, root = Path(item[0]), item[1]
        is_text = path.suffix.lower() not in RECORD_SUFFIXES
        out[str(item[0])] = (texts if is_text else stems)(doc_id_for(path, root if is_text else None),
                                                          id_name(path, root))
    return out


def stdin_documents(stream: IO[bytes] | None = None, *, text_field: str = "text", id_field: str = "id"):
    """Standard input: JSONL records when its first line starts with ``{``, else one text.
    Closed (``<&-``): a user error; NUL bytes at the start (``< /dev/zero``): skipped as
    binary, after reading only :data:`~stanceframe.corpus.BINARY_SNIFF_BYTES`."""
    if stream is None:
        if sys.stdin is None:  # the shell closed it
            raise DataFileError("-", None, "standard input is closed; pipe the text in or name a file")
        stream = sys.stdin.buffer
    first = stream.readline(BINARY_SNIFF_BYTES)
    if isinstance(first, str):  # a text stream (tests, embedding): the same bytes
        stream = io.BytesIO(first.encode("utf-8") + stream.read().encode("utf-8"))
        first = stream.readline(BINARY_SNIFF_BYTES)
    if b"\x00" in first:
        yield Skipped("-", None, "binary input (NUL bytes), not text")
        return
    if first.lstrip().startswith(b"{"):
        lines = bounded_lines(stream)
        if not first.endswith(b"\n"):  # the first line is longer than the sniffed bytes
            first += next(lines, b"")
        yield from read_stdin(text_field=text_field, id_field=id_field, stream=itertools.chain([first], lines),
                              fmt="jsonl")
    else:
        yield from stdin_text(first, stream)


def stdin_text(first: bytes, stream) -> Iterator[Document | Skipped]:
    """Standard input as one text: in memory up to :data:`~stanceframe.corpus.PART_BYTES`,
    else spooled to a temporary file and read in parts like a large ``.txt`` file (memory
    stays bounded however much is piped in)."""
    head = first + stream.read(PART_BYTES + 1 - len(first))
    if len(head) <= PART_BYTES:
        yield from read_stdin(stream=io.BytesIO(head))
        return
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="stanceframe-stdin-", suffix=".txt") as spool:
        spool.write(head)
        shutil.copyfileobj(stream, spool, READ_CHUNK_BYTES)
        spool.flush()
        for item in text_parts(Path(spool.name), "stdin"):
            item.source = "stdin.txt"  # where it came from, not the spool
            if isinstance(item, Document):
                item.warnings = [w.replace(spool.name, "stdin.txt") for w in item.warnings]
            yield item


def units_of(doc: Document, unit: str = "document") -> list[Sentence]:
    """The units a document is tagged as: its sentences (``document``, the segmenter used
    for training), or the record itself, unsplit (``record``; its id is the record's id,
    ``doc_id``/``paragraph``/``sentence``/``start``/``end`` come from the record's fields
    of those names when it has them)."""
    if unit == "document":
        return segment(doc)
    meta = doc.meta or {}
    parent = meta.get("doc_id")
    return [
        Sentence(
            id=doc.doc_id,
            doc_id=str(parent) if parent not in (None, "") else doc.doc_id,
            paragraph=_int_or(meta.get("paragraph")),
            sentence=_int_or(meta.get("sentence")),
            start=_int_or(meta.get("start"), 0),
            end=_int_or(meta.get("end"), len(doc.text)),
            text=doc.text,
        )
    ]


def _int_or(value, default=None):
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def read_article(path: str, *, text_field: str = "text", id_field: str = "id", stdin=None) -> Document:
    """The first document of ``path`` (or ``-``) for ``inspect``; a user error if unreadable."""
    if path == "-":
        items = stdin_documents(stdin, text_field=text_field, id_field=id_field)
    else:
        if not Path(path).is_file():
            raise DataFileError(path, None, "no such file")
        items = read_path(path, text_field=text_field, id_field=id_field)
    for item in items:
        if isinstance(item, Skipped):
            raise DataFileError(item.source, item.line, item.reason)
        return item
    raise DataFileError(path, None, "empty file (no records)")


# --------------------------------------------------------------------------- tagging


@dataclass
class TaggedDocument:
    doc: Document
    rows: list[dict]  # one per sentence, in sentence_columns order


@dataclass
class Window:
    consumed: int  # input items (documents and skips) this window covers
    results: list  # TaggedDocument | Skipped, in input order


class Tagger:
    """Turns documents into rows with one model, batching sentences by length."""

    def __init__(self, model, *, unit: str = "document", batch_size: int | None = None,
                 strict: bool = False, window_items: int = WINDOW_ITEMS,
                 window_sentences: int = WINDOW_SENTENCES, target_field: str | None = None):
        self.model = model
        # a target-aware model reads each record's target (default: the field it was trained with)
        if target_field and not getattr(model, "target_field", None):
            raise StanceframeError(f"--target-field {target_field}: the model was trained without targets")
        self.target_field = target_field or getattr(model, "target_field", None)
        self.unit = unit
        self.batch_size = max(1, int(batch_size or default_batch_size(model)))
        self.strict = strict
        self.window_items = max(1, int(window_items))
        self.window_sentences = max(1, int(window_sentences))
        self.classes = model_classes(model)
        self.columns = sentence_columns(self.classes)
        self.inference_threads = batch_parallel_inference(model)
        if self.target_field:
            self.columns.insert(self.columns.index("text") + 1, "target")

    def windows(self, items: Iterable, *, prepared: bool = False) -> Iterator[Window]:
        """Windows of tagged items; ``prepared``: ``items`` already are ``_prepare``'s
        (item, units) entries (made ahead by :func:`prepared_in_workers`)."""
        pending: list[tuple[Document | Skipped, list[Sentence]]] = []
        n_sentences = 0
        for entry in (items if prepared else map(self._prepare, items)):
            pending.append(entry)
            n_sentences += len(entry[1])
            if len(pending) >= self.window_items or n_sentences >= self.window_sentences:
                yield self._tag_window(pending)
                pending, n_sentences = [], 0
        if pending:
            yield self._tag_window(pending)

    def _prepare(self, item):
        return prepare_item(item, unit=self.unit, strict=self.strict, target_field=self.target_field)

    def _tag_window(self, pending) -> Window:
        if self.target_field:
            texts = [(str(item.meta[self.target_field]), u.text) for item, units in pending for u in units]
        else:
            texts = [u.text for _, units in pending for u in units]
        values = self.predict(texts)
        results, k = [], 0
        for item, units in pending:
            if isinstance(item, Skipped):
                results.append(item)
                continue
            target = str(item.meta[self.target_field]) if self.target_field else None
            rows = [self.row(u, v, target) for u, v in zip(units, values[k:k + len(units)])]
            k += len(units)
            results.append(TaggedDocument(item, rows))
        return Window(len(pending), results)

    def predict(self, texts: Sequence[str]) -> list[tuple]:
        """``model.predict_values`` (labels, then probabilities: the model's
        ``prediction_columns``) in batches of similar length; results in ``texts`` order.
        With ``inference_threads`` > 1, that many batches run at once (see
        :func:`batch_parallel_inference`)."""
        out: list[tuple] = [()] * len(texts)
        batches = batches_by_length(self.model, texts, self.batch_size)

        def run(idx):
            return idx, self.model.predict_values([texts[i] for i in idx])

        for idx, preds in self._map(run, batches):
            for i, pred in zip(idx, preds):
                out[i] = pred
        return out

    def _map(self, fn, batches):
        if self.inference_threads <= 1 or len(batches) <= 1:
            return map(fn, batches)
        if getattr(self, "_pool", None) is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.inference_threads, thread_name_prefix="stanceframe-predict")
        return self._pool.map(fn, batches)

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
            self._pool = None

    def row(self, unit: Sentence, values: tuple, target: str | None = None) -> dict:
        """The output row of ``unit`` given its :meth:`predict` values, keys in ``columns`` order."""
        if self.target_field:
            return dict(zip(self.columns, (unit.doc_id, unit.id, unit.paragraph, unit.sentence, unit.start,
                                           unit.end, unit.text, target, *values)))
        return dict(zip(self.columns, (unit.doc_id, unit.id, unit.paragraph, unit.sentence, unit.start,
                                       unit.end, unit.text, *values)))


def prepare_item(item: Document | Skipped, *, unit: str = "document", strict: bool = False,
                 target_field: str | None = None) -> tuple[Document | Skipped, list[Sentence]]:
    """(the item, its units) or (why it is skipped, []): a skip stays a skip, ``strict``
    turns a document's first warning into a skip, a target-aware model skips records
    without a target, a document without sentences is skipped. The rules of every engine."""
    if isinstance(item, Skipped):
        return item, []
    if strict and item.warnings:
        reason = _without_source(item.warnings[0], item.source, item.line) + " (--strict)"
        return Skipped(item.source, item.line, reason), []
    if target_field and (item.meta or {}).get(target_field) in (None, ""):
        return Skipped(item.source, item.line, f"no {target_field!r} field (the model is target-aware)"), []
    units = units_of(item, unit)
    if not units and not (item.part is not None and item.part.index > 0):  # a later part may hold none
        return Skipped(item.source, item.line, "no sentences (only boilerplate or punctuation)"), []
    return item, units


def batches_by_length(model, texts: Sequence, batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of ``batch_size``, sorted by ``model.sort_lengths``
    (tokens for transformer models, characters otherwise) so that a batch holds inputs of
    similar length: what the local engine and the Spark engine both feed the model."""
    lengths = model.sort_lengths(texts)
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    return [order[b : b + batch_size] for b in range(0, len(order), batch_size)]


# --------------------------------------------------------------------------- inference threads


def batch_parallel_inference(model) -> int:
    """How many batches a torch model predicts at once: one per usable core (at least 2
    cores), each batch's network on one torch thread (``torch_threads(1)`` around the run).
    Small length-sorted batches parallelise badly inside one matrix product (the threads
    synchronise every layer and spin while they wait, worse on a shared machine); whole
    batches side by side do not. Each batch is computed the same way whatever the load
    (one thread), so a run and its ``--resume`` give the same bytes. 1 (in order, torch's
    own threads) for models without torch networks; ``STANCEFRAME_INFERENCE_THREADS``
    overrides."""
    env = os.environ.get("STANCEFRAME_INFERENCE_THREADS")
    if env is not None and env.strip().isdigit():
        return max(1, int(env))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if has_torch_networks(model) and cores >= 2 else 1


def has_torch_networks(model) -> bool:
    """Whether any of the model's estimators holds a torch network (transformer families)."""
    if "torch" not in sys.modules:  # nothing loaded a network
        return False
    import torch

    return any(isinstance(value, torch.nn.Module)
               for est in getattr(model, "estimators", {}).values() for value in vars(est).values())


def default_batch_size(model) -> int:
    """Sentences per model call when none is asked for: 64 for torch networks (each batch is
    padded to its longest sentence, so small length-sorted batches waste little), 1024 for
    the others, whose rows do not depend on the batch and whose per-call overhead is
    fixed (the README's Speed section has the measured effect)."""
    return DEFAULT_BATCH_SIZE if has_torch_networks(model) else UNPADDED_BATCH_SIZE


class torch_threads:
    """``torch.set_num_threads(n)`` for a block (nothing when torch is not loaded or n is None)."""

    def __init__(self, n: int | None):
        self.n, self.before = n, None

    def __enter__(self):
        if self.n is not None and "torch" in sys.modules:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


# --------------------------------------------------------------------------- segmentation workers

WORKER_CHUNK_ITEMS = 32  # input items per message; worker k of n splits chunks k, k + n, k + 2n...


def segmentation_workers(unit: str, workers: int | None = None) -> int:
    """How many forked processes read and split documents while this one predicts and
    writes: none for ``--unit record`` or where ``fork`` is missing; else ``workers`` when
    given, else ``STANCEFRAME_SEGMENT_WORKERS``, else one on two or more usable cores with
    one of them idle (:func:`other_runnable_threads` at most cores - 2), none otherwise.
    One by default: on 2 cores a second worker made tfidf tagging slower (the README's
    Speed section); more can pay on machines with more cores, where splitting is the
    slower half."""
    import multiprocessing

    if unit != "document" or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if workers is not None:
        return max(0, int(workers))
    env = os.environ.get("STANCEFRAME_SEGMENT_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # a worker only pays when a core is idle: on a busy machine both processes get a
    # fraction of a core and the extra pickling makes the run slower (measured: 11.4k vs
    # 9.0k sentences/s with tfidf at load average 2.5 on 2 cores); same bytes either way
    return 1 if cores >= 2 and other_runnable_threads() <= cores - 2 else 0


def other_runnable_threads(samples: int = 5, interval: float = 0.002) -> float:
    """How many threads of other work want a CPU now: the kernel's count of runnable
    threads (``/proc/loadavg``'s 4th field, which counts the thread reading it), median of a
    few samples 2 ms apart, minus this one. Instantaneous on purpose: the 1-minute load
    average also remembers this process's own recent work (a ``tag`` right after a fit or a
    previous ``tag`` saw a busy machine that was idle). Where ``/proc`` is missing: the
    1-minute load average."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                counts.append(int(handle.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return os.getloadavg()[0]
        if i + 1 < samples:
            time.sleep(interval)
    counts.sort()
    return max(0, counts[len(counts) // 2] - 1)


def prepared_in_workers(tagger: "Tagger", make_items, n_workers: int, first_item: int = 0) -> Iterator[tuple]:
    """``tagger._prepare(item)`` for each item of ``make_items()``, in order, computed in
    ``n_workers`` forked child processes (reading and sentence splitting) while this process
    predicts and writes. Items go by chunks of :data:`WORKER_CHUNK_ITEMS` (counted from the
    first input item, ``first_item`` being the index of the first one ``make_items`` gives):
    worker k splits chunks k, k + n, ... and this process reads the chunks from the workers'
    pipes in turn, so the order is the input's. Every worker goes through all the inputs
    but only reads the text files and splits the documents of its own chunks
    (``make_items(wanted)``). One pipe per worker, child to parent: when this process falls
    behind, a child blocks on a full pipe, so memory stays bounded; if this process dies a
    child's next write fails and it exits. The entries are exactly those of the in-process
    path, so windows, rows and ``--resume`` are unchanged."""
    import multiprocessing

    from stanceframe.corpus import sentence_tokenizer

    sentence_tokenizer()  # built once, inherited by the children
    ctx = multiprocessing.get_context("fork")
    procs, receivers = [], []
    try:
        for k in range(n_workers):
            receiver, sender = ctx.Pipe(duplex=False)
            _widen_pipe(sender)
            proc = ctx.Process(target=_segmentation_worker, daemon=True, name=f"stanceframe-segmentation-{k}",
                               args=(tagger, make_items, receivers + [receiver], sender, k, n_workers, first_item))
            proc.start()
            sender.close()
            procs.append(proc)
            receivers.append(receiver)
        chunk = first_item // WORKER_CHUNK_ITEMS
        while True:
            k = chunk % n_workers
            try:
                kind, payload = receivers[k].recv()
            except EOFError:
                procs[k].join(5)
                raise StanceframeError(f"tag: a segmentation worker stopped unexpectedly (exit code "
                                       f"{procs[k].exitcode}); STANCEFRAME_SEGMENT_WORKERS=0 splits in this "
                                       f"process") from None
            if kind == "entries":
                yield from payload
                chunk += 1
            elif kind == "error":
                raise RuntimeError(f"tag: a segmentation worker failed:\n{payload}")
            else:  # "done": worker k has no chunk `chunk`, so no chunk is left
                break
    finally:
        for receiver in receivers:
            receiver.close()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


WORKER_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size


def _widen_pipe(connection, size: int = WORKER_PIPE_BYTES) -> None:
    """Let a worker run about a megabyte (a few windows) ahead instead of the default
    64 KiB, less than one message: with the default the worker blocked on a full pipe
    while this process predicted, then this process waited while the worker split the
    next message, so the two mostly took turns. Linux only; elsewhere the default stays."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):
        pass


def _segmentation_worker(tagger: "Tagger", make_items, receivers, sender, k: int, n_workers: int,
                         first_item: int) -> None:
    import signal
    import traceback

    for receiver in receivers:  # the parent's ends (this worker's and the earlier workers')
        receiver.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()

    def mine(index: int) -> bool:
        return (index // WORKER_CHUNK_ITEMS) % n_workers == k

    try:
        batch, current = [], None
        for index, item in enumerate(make_items(mine), start=first_item):
            if not mine(index):
                continue
            chunk = index // WORKER_CHUNK_ITEMS
            if batch and chunk != current:
                sender.send(("entries", batch))
                batch = []
            current = chunk
            batch.append(tagger._prepare(item))
        if batch:
            sender.send(("entries", batch))
        sender.send(("done", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent has gone
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            sender.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        sender.close()


def _exit_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies (a child blocked reading stdin would
    otherwise outlive a killed ``tag``)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _without_source(message: str, source: str, line: int | None = None) -> str:
    """``message`` without its leading ``source:line: `` or ``source: `` (a skip names both)."""
    for prefix in ((f"{source}:{line}: ",) if line is not None else ()) + (f"{source}: ",):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def article_row(doc: Document, rows: list[dict], classes: dict[str, list[str]], top: int = TOP_SENTENCES) -> dict:
    """One row per document: counts, shares and mean probabilities per label, and the ids of
    the ``top`` sentences predicted with each label, strongest first."""
    n = len(rows)
    source = doc.source if doc.part is None else f"{doc.source}#part{doc.part.index + 1}"  # a large file's part
    out = {"doc_id": doc.doc_id, "source": source, "n_sentences": n}
    for task, labels in classes.items():
        counts = Counter(r[task] for r in rows)
        for label in labels:
            out[f"n_{task}_{label}"] = counts.get(label, 0)
        for label in labels:
            out[f"share_{task}_{label}"] = counts.get(label, 0) / n if n else 0.0
        for label in labels:
            key = f"p_{task}_{label}"
            out[f"mean_p_{task}_{label}"] = math.fsum(r[key] for r in rows) / n if n else 0.0
        for label in labels:
            key = f"p_{task}_{label}"
            ranked = sorted((i for i, r in enumerate(rows) if r[task] == label), key=lambda i: (-rows[i][key], i))
            out[f"top_{task}_{label}"] = [rows[i]["id"] for i in ranked[:top]]
    return out


# --------------------------------------------------------------------------- inspect


@dataclass
class ArticleTags:
    """One article's rows (as ``tag`` writes them) and the words behind each prediction."""

    doc: Document
    rows: list[dict]
    classes: dict[str, list[str]]
    explanations: dict[str, dict[str, list[tuple[str, float]]]]  # sentence id -> task -> terms
    model: dict  # model_info()


def tag_article(doc: Document, model, *, spec=None, explain: bool = True, top_k: int = 8,
                batch_size: int | None = None, progress: bool = False) -> ArticleTags:
    """``doc``'s rows exactly as ``tag`` writes them, plus, with ``explain``, each task's
    ``estimator.explain`` terms per sentence (leave-one-out for transformer families: a
    progress bar on stderr with ``progress``)."""
    tagger = Tagger(model, batch_size=batch_size)
    units = segment(doc)
    if not units:
        raise DataFileError(doc.source, doc.line, "no sentences to tag (only boilerplate or punctuation)")
    preds = tagger.predict([u.text for u in units])
    tagger.close()
    rows = [tagger.row(u, p) for u, p in zip(units, preds)]
    explanations = {}
    if explain:
        from tqdm import tqdm

        for u in tqdm(units, desc="explaining", unit="sentence", disable=not progress, file=sys.stderr):
            explanations[u.id] = {
                task: [(str(term), float(w)) for term, w in est.explain(u.text, top_k=top_k)]
                for task, est in model.estimators.items()
            }
    return ArticleTags(doc, rows, tagger.classes, explanations, model_info(model, spec))


# --------------------------------------------------------------------------- encoders


class JsonlEncoder:
    """Rows as JSON Lines, UTF-8, compact (no spaces after ``,`` and ``:``), keys in row
    order, floats as the shortest text that reads back as the same float (msgspec's
    encoder, much faster than the standard library's on these rows): the same values
    when read back by any JSON parser."""

    def __init__(self):
        import msgspec

        self._encoder = msgspec.json.Encoder(enc_hook=_plain_value)

    def header(self) -> bytes:
        return b""

    def encode(self, rows: list[dict]) -> bytes:
        return self._encoder.encode_lines(rows)


def _plain_value(value):
    """What msgspec cannot encode itself, as the standard library's ``json`` would write it:
    numpy scalars (``np.float64`` too, a float subclass msgspec refuses) as Python numbers."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    raise TypeError(f"cannot write a {type(value).__name__} in a JSON row")


class CsvEncoder:
    """Rows as CSV for spreadsheets: every text cell that a spreadsheet would run as a
    formula is neutralised (:func:`csv_safe`); numbers are written as they are."""

    def __init__(self, columns: list[str]):
        self.columns = columns

    def _lines(self, rows: Iterable[Sequence]) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows(rows)
        return buf.getvalue().encode("utf-8")

    def header(self) -> bytes:
        return self._lines([[csv_safe(c) for c in self.columns]])

    def encode(self, rows: list[dict]) -> bytes:
        return self._lines([[_csv_cell(r.get(c)) for c in self.columns] for r in rows])


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(text: str) -> str:
    """OWASP's CSV-injection defence: a cell starting with ``= + - @``, a tab, a carriage
    return or a line feed (or their full-width forms, which some spreadsheets also read)
    gets a leading ``'``, so a spreadsheet shows it as text instead of running it
    (``=HYPERLINK(...)``); the csv module quotes a cell that holds a comma, a quote or a line
    break and doubles its quotes. JSONL and Parquet keep the exact text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return csv_safe(LIST_SEPARATOR.join(map(str, value)))
    if isinstance(value, str):
        return csv_safe(value)
    return value


def arrow_schema(columns: list[str]):
    import pyarrow as pa

    def kind(col):
        if col in INT_FIELDS or col.startswith("n_"):
            return pa.int64()
        if col.startswith(("p_", "share_", "mean_p_")):
            return pa.float64()
        if col.startswith("top_"):
            return pa.list_(pa.string())
        return pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def journal_to_parquet(journal: Path, target: Path, columns: list[str], row_group: int = PARQUET_ROW_GROUP) -> int:
    """Convert a JSONL journal to Parquet, ``row_group`` rows at a time; returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    n = 0
    with pq.ParquetWriter(str(target), schema) as writer, open(journal, "rb") as handle:
        batch = []
        for line in handle:
            batch.append(json.loads(line))
            if len(batch) >= row_group:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


# --------------------------------------------------------------------------- sinks


@dataclass
class ResumePoint:
    consumed: int
    counts: dict


class StreamSink:
    """Rows to a byte stream (stdout), flushed after every window; no resume."""

    complete = False

    def __init__(self, stream: IO[bytes], encoder):
        self.stream, self.encoder = stream, encoder

    def open(self, resume: bool, force: bool = False) -> ResumePoint | None:
        self.stream.write(self.encoder.header())
        return None

    def write(self, rows: list[dict]) -> None:
        self.stream.write(self.encoder.encode(rows))

    def commit(self, consumed: int, counts: dict) -> None:
        self.stream.flush()

    def finish(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        pass


class FileSink:
    """Rows to ``FILE.part`` committed window by window, with ``FILE.part.json`` saying how
    far; renamed (or converted, for Parquet) to ``FILE`` when the input ends."""

    def __init__(self, out: Path, fmt: str, columns: list[str], fingerprint: dict,
                 contents: Callable[[list[str]], str] | None = None):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = columns
        self.fingerprint = fingerprint
        self.contents = contents  # the inputs' contents digest, skipping the given streams
        self.encoder = CsvEncoder(columns) if fmt == "csv" else JsonlEncoder()
        self.part = self.out.with_name(self.out.name + ".part")
        self.state_path = self.out.with_name(self.out.name + ".part.json")
        self.handle = None
        self.complete = False

    # -- start
    def open(self, resume: bool, force: bool = False) -> ResumePoint | None:
        """Where to start: a fresh ``FILE.part``, or the committed point of an unfinished
        run of the same command (``resume``). Refuses to replace a ``FILE`` this command did
        not start (``force`` allows it) and to resume what it cannot prove is its own."""
        if force:
            self.part.unlink(missing_ok=True)
            self.state_path.unlink(missing_ok=True)
            resume = False
        state = self._read_state() if resume else None
        if resume and state is not None and not self.part.exists() and self.out.exists():
            self._check_fingerprint(state, self.out)  # finished; killed between rename and cleanup
            self.state_path.unlink()
            self.complete = True
            return None
        if state is not None and self.part.exists():
            return self._reopen(state)
        if resume and self.out.exists() and not self.part.exists():
            mark = written_by_tag(self.out)
            if mark is None:
                raise StanceframeError(
                    f"{self.out}: exists, was not written by stanceframe tag and no unfinished run of it is left, "
                    f"so there is nothing to resume; it is left as it is (--force tags again into it)"
                )
            self._check_fingerprint({"fingerprint": mark}, self.out)
            self.complete = True
            return None
        if self.part.exists() and not resume:
            raise StanceframeError(
                f"{self.part}: unfinished output of an earlier run; add --resume to complete it, "
                f"or delete {self.part} and {self.state_path.name} to start over (or add --force)"
            )
        if self.out.exists() and not force and written_by_tag(self.out) is None:
            raise StanceframeError(
                f"{self.out}: already exists and was not written by stanceframe tag; it is left as it is "
                f"(--force replaces it when the run completes, or choose another --out)"
            )
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.part, "wb")
        except OSError as exc:
            raise StanceframeError(f"{self.part}: cannot write the output here ({exc.strerror or exc}); "
                                   f"choose another --out") from None
        self.handle.write(self.encoder.header())
        self.commit(0, {})
        return None

    def _read_state(self) -> dict | None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StanceframeError(f"{self.state_path}: unreadable progress file ({exc}); delete it and "
                                   f"{self.part.name} to start over") from None
        if state.get("version") != STATE_VERSION:
            raise StanceframeError(f"{self.state_path}: unknown progress file version {state.get('version')!r}")
        return state

    def _check_fingerprint(self, state: dict, written) -> None:
        theirs = state.get("fingerprint") or {}
        mine = self._comparable(theirs)
        if theirs != mine:
            differ = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
            raise StanceframeError(
                f"{written}: written by a different command (differs in: {', '.join(differ)}); "
                f"resume with the same inputs (same content), model (same weights) and options, or delete "
                f"{self.part.name} and {self.state_path.name} to start over"
            )

    def _comparable(self, theirs: dict) -> dict:
        """This run's fingerprint, its contents digest taken without the inputs that were
        streams (a FIFO) in the earlier run: a FIFO's content was never hashed, so a FIFO
        completed by the same regular file can be resumed."""
        mine = dict(self.fingerprint)
        earlier = theirs.get("streams") or []
        if earlier and self.contents is not None and set(mine.get("streams") or []) <= set(earlier):
            mine["contents"], mine["streams"] = self.contents(earlier), earlier
        return mine

    def _reopen(self, state: dict) -> ResumePoint:
        self._check_fingerprint(state, self.part)
        offset = int(state["offset"])
        if self.part.stat().st_size < offset:
            raise StanceframeError(f"{self.part}: shorter than its committed {offset} bytes; delete it and "
                                   f"{self.state_path.name} to start over")
        self.handle = open(self.part, "r+b")
        self.handle.truncate(offset)  # drop whatever a killed run wrote after its last commit
        self.handle.seek(offset)
        return ResumePoint(int(state["consumed"]), state.get("counts", {}))

    # -- rows
    def write(self, rows: list[dict]) -> None:
        self.handle.write(self.encoder.encode(rows))  # one write per document

    def commit(self, consumed: int, counts: dict) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        state = {"version": STATE_VERSION, "offset": self.handle.tell(), "consumed": consumed,
                 "counts": counts, "fingerprint": self.fingerprint}
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)

    # -- end
    def finish(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.handle = None
        if self.fmt == "parquet":
            tmp = self.out.with_name(self.out.name + ".tmp")
            journal_to_parquet(self.part, tmp, self.columns)
            mark_written_by_tag(tmp, self.fingerprint)
            os.replace(tmp, self.out)
            self.part.unlink()
        else:
            mark_written_by_tag(self.part, self.fingerprint)  # the rename keeps it: FILE appears marked
            os.replace(self.part, self.out)
        self.state_path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


# --------------------------------------------------------------------------- run


@dataclass
class TagSummary:
    documents: int = 0
    sentences: int = 0
    skipped: int = 0
    warnings: int = 0
    reasons: Counter = field(default_factory=Counter)  # skip reason kind -> count
    seconds: float = 0.0
    resumed_items: int = 0  # input items an earlier run had done
    run_sentences: int = 0  # sentences tagged by this run (for the rate)
    output: str | None = None
    already_complete: bool = False
    segmentation_workers: int = 0  # processes that read and split documents (0: this one did)

    def skip(self, item: Skipped) -> None:
        self.skipped += 1
        self.reasons[item.reason.split(" (")[0].split(";")[0].strip()] += 1

    def counts(self) -> dict:
        return {"documents": self.documents, "sentences": self.sentences, "skipped": self.skipped,
                "warnings": self.warnings, "reasons": dict(self.reasons)}

    def add_counts(self, counts: dict) -> None:
        self.documents += counts.get("documents", 0)
        self.sentences += counts.get("sentences", 0)
        self.skipped += counts.get("skipped", 0)
        self.warnings += counts.get("warnings", 0)
        self.reasons.update(counts.get("reasons", {}))

    @property
    def exit_code(self) -> int:
        """0: something tagged, nothing skipped; 1: some input skipped (or nothing tagged)."""
        if self.already_complete:
            return 0
        return 1 if self.skipped or not self.documents else 0

    def text(self) -> str:
        if self.already_complete:
            return f"{self.output}: already complete, nothing to resume"
        rate = self.run_sentences / self.seconds if self.seconds > 0 else 0.0
        parts = [f"tagged {self.documents:,} document(s), {self.sentences:,} sentence(s); "
                 f"{self.seconds:.1f} s ({rate:,.0f} sentences/s)"]
        if self.resumed_items:
            parts.append(f"resumed after the {self.resumed_items:,} input item(s) an earlier run had done "
                         f"(counts include them)")
        if self.skipped:
            kinds = ", ".join(f"{k}: {v}" for k, v in self.reasons.most_common())
            parts.append(f"skipped {self.skipped:,} ({kinds})")
        if self.warnings:
            parts.append(f"{self.warnings:,} warning(s)")
        if self.output:
            parts.append(f"wrote {self.output}")
        return "; ".join(parts)


class Progress:
    """tqdm bar on stderr counting documents, with sentences/s; messages above it."""

    def __init__(self, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None
        self.start = time.perf_counter()
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(unit="doc", desc="tagging", file=self.stream, dynamic_ncols=True, mininterval=0.5)

    def log(self, message: str) -> None:
        message = printable(message)  # one line: a file name or text cannot fake lines or escapes
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def update(self, documents: int, sentences_total: int) -> None:
        if self.bar is None:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{sentences_total:,} sentences, {sentences_total / elapsed:,.0f} sent/s",
                                 refresh=False)
        self.bar.update(documents)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def check_options(*, fmt: str, per: str, unit: str, out, resume: bool, batch_size: int | None) -> None:
    if fmt not in FORMATS:
        raise StanceframeError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if per not in PER:
        raise StanceframeError(f"--per must be one of {', '.join(PER)}, not {per!r}")
    if unit not in UNITS:
        raise StanceframeError(f"--unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if batch_size is not None and batch_size < 1:
        raise StanceframeError(f"--batch-size must be at least 1, not {batch_size}")
    if fmt == "parquet" and out is None:
        raise StanceframeError("--format parquet needs --out FILE (Parquet cannot stream to stdout)")
    if resume and out is None:
        raise StanceframeError("--resume needs --out FILE (the output to complete)")
    if per == "article" and unit == "record":
        raise StanceframeError("--per article aggregates each document's sentences; with --unit record every "
                               "record is its own unit, so use --per sentence")


def run_tag(
    paths: Sequence[str],
    model,
    *,
    out: str | Path | None = None,
    fmt: str = "jsonl",
    per: str = "sentence",
    unit: str = "document",
    text_field: str = "text",
    id_field: str = "id",
    batch_size: int | None = None,
    resume: bool = False,
    strict: bool = False,
    progress: bool = False,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    stderr=None,
    window_items: int = WINDOW_ITEMS,
    window_sentences: int = WINDOW_SENTENCES,
    target_field: str | None = None,
    workers: int | None = None,
    force: bool = False,
) -> TagSummary:
    """Tag every input with ``model`` and write rows (see the module docstring for the
    resume design). Skipped inputs and warnings are reported one line each on ``stderr``.
    ``workers``: how many forked processes read and split documents (default: see
    :func:`segmentation_workers`); 0: this one does. ``force``: replace an existing ``out``
    that this command did not start (never an input)."""
    check_options(fmt=fmt, per=per, unit=unit, out=out, resume=resume, batch_size=batch_size)
    resolved = resolve_inputs(paths)
    tagger = Tagger(model, unit=unit, batch_size=batch_size, strict=strict, window_items=window_items,
                    window_sentences=window_sentences, target_field=target_field)
    columns = tagger.columns if per == "sentence" else article_columns(tagger.classes)
    summary = TagSummary(output=str(out) if out is not None else None)
    if out is None:
        sink = StreamSink(stdout if stdout is not None else sys.stdout.buffer,
                          CsvEncoder(columns) if fmt == "csv" else JsonlEncoder())
    else:
        out = Path(out)
        check_output_path(out, resolved)
        streams = input_streams(resolved)
        fingerprint = {
            "format": fmt, "per": per, "unit": unit, "text_field": text_field, "id_field": id_field,
            "strict": strict, "model": model_identity(model), "inputs": _inputs_digest(resolved),
            "contents": contents_digest(resolved, streams), "streams": streams,
        }
        if tagger.target_field:
            fingerprint["target_field"] = tagger.target_field
        sink = FileSink(out, fmt, columns, fingerprint, lambda skip: contents_digest(resolved, skip))
    with OutputLock(out) if out is not None else contextlib.nullcontext():  # one writer per --out
        point = sink.open(resume, force)
        if sink.complete:
            summary.already_complete = True
            return summary
        consumed = 0
        if point is not None:
            consumed = summary.resumed_items = point.consumed
            summary.add_counts(point.counts)

        def make_items(wanted=None):
            items = iter_documents(resolved, text_field=text_field, id_field=id_field, stdin=stdin, wanted=wanted)
            return itertools.islice(items, consumed, None)  # what the earlier run committed

        reads_stdin = any(not isinstance(item, Skipped) and str(item[0]) == "-" for item in resolved)
        n_workers = 0 if reads_stdin else segmentation_workers(unit, workers)  # a child gets no stdin
        worker = prepared_in_workers(tagger, make_items, n_workers, consumed) if n_workers else None
        summary.segmentation_workers = n_workers
        windows = tagger.windows(worker, prepared=True) if worker is not None else tagger.windows(make_items())
        bar = Progress(progress, stderr)
        started = time.perf_counter()
        threads = torch_threads(1 if tagger.inference_threads > 1 else None)
        threads.__enter__()
        try:
            for window in windows:
                documents = 0
                for result in window.results:
                    if isinstance(result, Skipped):
                        summary.skip(result)
                        bar.log(f"skipped {result}")
                        continue
                    later_part = result.doc.part is not None and result.doc.part.index > 0  # of a large file
                    for warning in [] if later_part else result.doc.warnings:  # a file's warnings once
                        summary.warnings += 1
                        bar.log(f"warning: {warning}")
                    if per == "article" and not result.rows:
                        continue  # a later part without sentences
                    rows = result.rows if per == "sentence" else [article_row(result.doc, result.rows, tagger.classes)]
                    sink.write(rows)
                    documents += 0 if later_part else 1
                    summary.documents += 0 if later_part else 1
                    summary.sentences += len(result.rows)
                    summary.run_sentences += len(result.rows)
                consumed += window.consumed
                sink.commit(consumed, summary.counts())
                bar.update(documents, summary.sentences)
            sink.finish()
        finally:
            if worker is not None:
                worker.close()  # stops the segmentation worker if the loop ended early
            tagger.close()
            threads.__exit__(None, None, None)
            bar.close()
            sink.close()
        summary.seconds = time.perf_counter() - started
        return summary


def _inputs_digest(resolved) -> str:
    """A digest of the inputs' names, in order."""
    names = [str(item) if isinstance(item, Skipped) else str(item[0]) for item in resolved]
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def input_streams(resolved) -> list[str]:
    """The inputs that are not regular files (``-``, FIFOs, ``<(...)``): their content
    cannot be read twice, so it is not part of :func:`contents_digest`."""
    streams = []
    for item in resolved:
        if isinstance(item, Skipped):
            continue
        name = str(item[0])
        try:
            regular = name != "-" and stat.S_ISREG(os.stat(name).st_mode)
        except OSError:
            regular = True  # unreadable: the reader says why; its digest says "unreadable"
        if not regular:
            streams.append(name)
    return streams


def contents_digest(resolved, skip: Iterable[str] = ()) -> str:
    """A digest of the content of every regular input file but those named in ``skip``:
    ``--resume`` after a file got new content under the same name is refused, not mixed."""
    skip = set(skip)
    h = hashlib.sha256()
    for item in resolved:
        if isinstance(item, Skipped) or str(item[0]) in skip:
            continue
        h.update(str(item[0]).encode("utf-8", "surrogatepass") + b"\0" + file_digest(Path(item[0])).encode() + b"\n")
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (``unreadable`` when it cannot be read: the reader says why)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "unreadable"


def folder_digest(folder: Path) -> str:
    """SHA-256 over the relative names and contents of every file below ``folder``: the
    model's weights, whatever its manifest says."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode("utf-8", "surrogatepass") + b"\0")
        h.update(file_digest(path).encode("ascii") + b"\n")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- output safety


def check_output_path(out: Path, resolved) -> None:
    """Before any tagging: ``out`` is not a folder, and neither it nor its ``.part`` files
    is one of the inputs (not even through another name or a hard link)."""
    if out.is_dir():
        raise StanceframeError(f"--out {out}: is a folder; name a file (--engine spark writes folders)")
    inputs = [Path(item[0]) for item in resolved if not isinstance(item, Skipped) and str(item[0]) != "-"]
    ours = [out, out.with_name(out.name + ".part"), out.with_name(out.name + ".part.json")]
    for target in ours:
        for source in inputs:
            if _same_file(target, source):
                raise StanceframeError(f"--out {out}: is an input ({source}); it would be overwritten, so it is "
                                       "left as it is: choose another --out")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


MARK_ATTRIBUTE = "user.stanceframe.tag"  # extended attribute of a FILE that `tag --out FILE` completed


def mark_written_by_tag(path: Path, fingerprint: dict) -> None:
    """Mark ``path`` as output of ``tag`` with ``fingerprint`` (an extended attribute, so the
    file itself stays exactly the rows; nothing happens where the file system has none)."""
    try:
        os.setxattr(path, MARK_ATTRIBUTE, json.dumps(fingerprint, sort_keys=True).encode("utf-8"))
    except (AttributeError, OSError):
        pass


def written_by_tag(path: Path) -> dict | None:
    """The fingerprint of the ``tag`` run that completed ``path``, or None when it is not
    marked (another program's file, a copy, a file system without extended attributes):
    a marked file may be replaced by a new run and resumed as complete; another may not."""
    try:
        mark = json.loads(os.getxattr(path, MARK_ATTRIBUTE))
    except (AttributeError, OSError, ValueError):
        return None
    return mark if isinstance(mark, dict) else None


class OutputLock:
    """An exclusive ``flock`` on ``FILE.lock`` while a run writes ``FILE``: a second
    ``tag`` on the same ``--out`` refuses with one line instead of writing the same part
    file. The lock file is removed when the run ends (the inode check makes the removal
    safe against a run that opened it just before)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StanceframeError(f"--out {self.out}: cannot create its folder ({exc.strerror or exc})") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StanceframeError(f"--out {self.out}: cannot write in {self.out.parent} "
                                       f"({exc.strerror or exc}); choose another --out") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise StanceframeError(f"--out {self.out}: another stanceframe tag (pid {holder}) is writing it; "
                                       f"wait for it to end (then --resume if it was stopped)") from None
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break  # still the lock file's inode: ours
            except FileNotFoundError:
                pass
            os.close(fd)  # removed by the run that held it: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None
