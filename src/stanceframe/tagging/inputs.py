"""The items ``tag`` reads: inputs resolved from paths, folders, globs and ``-``; their
documents one at a time, in order (files and standard input); the units each document is
tagged as (its sentences or the record itself) and the skip rules of every engine
(:func:`prepare_item`); the one article ``inspect`` reads."""

from __future__ import annotations

import codecs
import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from stanceframe.corpus import (
    BINARY_SNIFF_BYTES,
    RECORD_SUFFIXES,
    TABLE_SUFFIXES,
    Document,
    PassedOver,
    Sentence,
    Skipped,
    UniqueIds,
    bounded_lines,
    bounded_stream,
    doc_id_for,
    expand_inputs,
    id_name,
    is_warc,
    read_path,
    read_stdin,
    segment,
    single_item,
    stream_text,
)
from stanceframe.corpus.sources import stream_cut_reason
from stanceframe.errors import DataFileError, StanceframeError


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
    known by reading them; a WARC file's pages that are not wanted are ``None``, not
    extracted). ``doc_ids``: :func:`file_doc_ids` of the whole run, when
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
        single = single_item(Path(path))  # read_path gives exactly one item for a text file
        doc_id = doc_ids.get(str(path))
        if wanted is not None and not wanted(index) and single:
            yield None
            index += 1
            continue
        produced = False
        in_file = None if wanted is None else (lambda k, start=index: wanted(start + k))  # a WARC's k-th item
        for doc in read_path(path, text_field=text_field, id_field=id_field, root=root, doc_id=doc_id,
                             wanted=in_file):
            produced = True
            yield doc
            index += 1
        if not produced:
            yield Skipped(str(path), None, "empty file (no records)")
            index += 1


def file_doc_ids(resolved) -> dict[str, str]:
    """Each input file's doc id (a text file) or id stem (a record file: ``<stem>-<line>``
    for records without an id; a WARC file: ``<stem>-<n>`` for records without a target
    URI), unique within the run (:class:`UniqueIds`), by file name."""
    texts, stems, out = UniqueIds(), UniqueIds(), {}
    for item in resolved:
        if isinstance(item, Skipped) or str(item[0]) == "-":
            continue
        path, root = Path(item[0]), item[1]
        is_text = path.suffix.lower() not in RECORD_SUFFIXES | TABLE_SUFFIXES and not is_warc(path)
        out[str(item[0])] = (texts if is_text else stems)(doc_id_for(path, root if is_text else None),
                                                          id_name(path, root))
    return out


def stdin_documents(stream: IO[bytes] | None = None, *, text_field: str = "text", id_field: str = "id"):
    """Standard input: JSONL records when its first line starts with ``{`` (after a UTF-8
    byte-order mark), else one text; read through
    :func:`~stanceframe.corpus.sources.bounded_stream` (a bound unless it is a regular
    file, UTF-16 as UTF-8). Closed (``<&-``): a user error; NUL bytes at the start
    (``< /dev/zero``): skipped as binary, after reading only
    :data:`~stanceframe.corpus.BINARY_SNIFF_BYTES`."""
    if stream is None:
        if sys.stdin is None:  # the shell closed it
            raise DataFileError("-", None, "standard input is closed; pipe the text in or name a file")
        stream = sys.stdin.buffer
    if isinstance(stream, io.TextIOBase):  # a text stream (tests, embedding): the same bytes
        stream = io.BytesIO(stream.read().encode("utf-8"))
    stream = bounded_stream(stream)
    first = stream.readline(BINARY_SNIFF_BYTES)
    if b"\x00" in first:
        yield Skipped("-", None, "binary input (NUL bytes), not text")
        return
    if first.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{"):
        lines = bounded_lines(stream)
        if not first.endswith(b"\n"):  # the first line is longer than the sniffed bytes
            first += next(lines, b"")
        yield from read_stdin(text_field=text_field, id_field=id_field, stream=itertools.chain([first], lines),
                              fmt="jsonl")
        if stream.cut:
            yield Skipped("stdin.jsonl", None, stream_cut_reason(records=True))
    else:
        yield from stream_text(stream, "stdin.txt", "stdin", head=first)


def voices_of(doc: Document, units: list[Sentence], unit: str = "document") -> list[tuple[str, list[list[int]]]]:
    """``(voice, quotes)`` of each unit (:mod:`stanceframe.corpus.voice`): from the whole
    document around its sentences, or from a record's own text (``record``)."""
    from stanceframe.corpus.voice import record_voice, sentence_voices

    if not units:
        return []
    if unit == "document":
        return sentence_voices(doc, units)
    return [record_voice(doc.text, units[0].start)]


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
        items = read_path(path, text_field=text_field, id_field=id_field, whole=True)  # a large .txt: all of it
    for item in items:
        if isinstance(item, Skipped):
            raise DataFileError(item.source, item.line, item.reason)
        if isinstance(item, Document):  # a WARC's first page, past the records that are not pages
            return item
    raise DataFileError(path, None, "empty file (no records)")


def prepare_item(item: Document | Skipped | PassedOver, *, unit: str = "document", strict: bool = False,
                 target_field: str | None = None) -> tuple[Document | Skipped, list[Sentence]]:
    """(the item, its units) or (why it is skipped, []): a skip stays a skip, ``strict``
    turns a document's first warning into a skip, a target-aware model skips records
    without a target, a document without sentences is skipped. The rules of every engine.
    A :class:`PassedOver` WARC record stays one, without units."""
    if isinstance(item, (Skipped, PassedOver)):
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


def _without_source(message: str, source: str, line: int | None = None) -> str:
    """``message`` without its leading ``source:line: `` or ``source: `` (a skip names both)."""
    for prefix in ((f"{source}:{line}: ",) if line is not None else ()) + (f"{source}: ",):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message
