"""JSONL and CSV files: their data lines read with bounded memory and decoded, parsed into
records (JSON depth, lone surrogates, CSV field counts checked), and each record made a
document or a skipped line."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from stanceframe.corpus.decoding import decode_line
from stanceframe.corpus.ids import doc_id_for
from stanceframe.corpus.records import Document, RecordLine, Skipped
from stanceframe.corpus.sources import cr_lines_as_lf, open_input, source_name

TABLE_SUFFIXES = {".parquet"}  # read with pyarrow when named (folders are walked for RECORD_SUFFIXES only)
MAX_RECORD_BYTES = 64 << 20  # a JSONL line or a CSV field longer than this is skipped, not read whole
MAX_JSON_DEPTH = 100  # arrays/objects nested deeper than this are refused (json's own limit is a crash)


def iter_records(path: Path | str, stream=None) -> Iterator[RecordLine]:
    """A :class:`RecordLine` for each data line of a JSONL or CSV file (``stream``: an
    :class:`~stanceframe.corpus.sources.InputReader` of it, or its lines as bytes, instead
    of the file), every line bounded (:func:`bounded_lines`); a CSV file may end its lines
    with CR alone. A bad line never stops the file: the lines after it are read."""
    path = Path(path)
    opened = open_input(path) if stream is None else None
    try:
        is_csv, lines = path.suffix.lower() == ".csv", stream if stream is not None else opened
        if hasattr(lines, "peek"):
            lines = bounded_lines(cr_lines_as_lf(lines) if is_csv else lines)
        source = source_name(path)
        yield from _csv_records(source, lines) if is_csv else _jsonl_records(source, lines)
    finally:
        if opened is not None:
            opened.close()


def bounded_lines(handle, limit: int | None = None) -> Iterator[bytes]:
    """The lines of a binary ``handle``, none held longer than ``limit + 1`` bytes: a longer
    line is given as its first ``limit + 1`` bytes (so it is seen to be too long) and the
    rest of it is read past in chunks (``< /dev/zero`` cannot fill memory); ``limit``
    defaults to :data:`MAX_RECORD_BYTES`."""
    limit = MAX_RECORD_BYTES if limit is None else limit
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                chunk = handle.readline(1 << 20)
                if not chunk or chunk.endswith(b"\n"):
                    break
        yield line


def _jsonl_records(source: str, handle: Iterable[bytes]) -> Iterator[RecordLine]:
    for lineno, raw in enumerate(handle, start=1):
        if len(raw) > MAX_RECORD_BYTES:
            yield RecordLine(lineno, None, f"line longer than {MAX_RECORD_BYTES >> 20} MiB")
            continue
        text, warning = decode_line(raw, source, lineno)
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        record, error = parse_json_record(text)
        yield RecordLine(lineno, record, error, warning)


def parse_json_record(text: str) -> tuple[dict | None, str | None]:
    """(record, None) for a JSON object, else (None, why): invalid JSON, a number too long
    to convert, nesting deeper than :data:`MAX_JSON_DEPTH`, not an object."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return None, f"invalid JSON ({str(exc).split(';')[0]})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    if json_depth(record) > MAX_JSON_DEPTH:
        return None, f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    return record, None


def json_depth(value) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:  # deeper than the limit: enough is known
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _csv_records(source: str, handle: Iterable[bytes]) -> Iterator[RecordLine]:
    """CSV rows as records keyed by the header; a row with too many fields, a line or a
    field over :data:`MAX_RECORD_BYTES` or a CSV error is one error and the rows after it
    are read."""
    warnings: dict[int, str] = {}
    too_long: set[int] = set()

    def lines():
        for lineno, raw in enumerate(handle, start=1):
            if len(raw) > MAX_RECORD_BYTES:  # given as its first bytes (bounded_lines): not parsed
                too_long.add(lineno)
                yield "\n"
                continue
            text, warning = decode_line(raw, source, lineno)
            if warning:
                warnings[lineno] = warning
            yield text.removeprefix("\ufeff") if lineno == 1 else text

    csv.field_size_limit(MAX_RECORD_BYTES)
    reader = csv.reader(lines())
    header, previous = None, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc).split(" - do you need")[0]  # the csv module's hint is about open(), not the file
            yield RecordLine(reader.line_num or 1, None, f"CSV error: {reason}")
            previous = reader.line_num
            continue
        first, previous = previous + 1, reader.line_num
        warning = next((warnings.pop(n) for n in range(first, previous + 1) if n in warnings), None)
        if too_long and any(n in too_long for n in range(first, previous + 1)):
            too_long.difference_update(range(first, previous + 1))
            yield RecordLine(previous, None, f"line longer than {MAX_RECORD_BYTES >> 20} MiB")
            continue
        if header is None:
            if row:
                header = row
            continue
        if not row:  # a blank line (DictReader skips them too)
            continue
        if len(row) > len(header):
            yield RecordLine(previous, None, f"{len(row)} fields, header has {len(header)}")
            continue
        record = dict(zip(header, row))
        for name in header[len(row):]:
            record.setdefault(name, None)  # a short row: the missing fields are empty, as with DictReader
        yield RecordLine(previous, record, None, warning)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # what json.loads leaves of an unpaired \\udXXX escape


def lone_surrogate(value) -> str | None:
    """The first unpaired UTF-16 surrogate in the strings of a parsed JSON value (``"\\ud800"``
    without its pair decodes to one), as ``\\udXXX``; ``None`` when there is none. Such a
    string is not Unicode text: it cannot be written as UTF-8 (JSONL, CSV, Parquet)."""
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        return f"\\u{ord(found.group()):04x}" if found else None
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return None
    for item in value:
        found = lone_surrogate(item)
        if found:
            return found
    return None


def replace_lone_surrogates(value):
    """``value`` with every unpaired surrogate in its strings replaced by U+FFFD (one
    character for one, so offsets into a text stay valid)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: replace_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    return value


def record_file_documents(
    path: Path, text_field: str, id_field: str, stream: Iterable[bytes] | None = None, stem: str | None = None
) -> Iterator[Document | Skipped]:
    """A document (or why it is skipped) for each data line of a JSONL/CSV file
    (``stream``: its lines instead of the file), the line's decoding warning first."""
    stem, source = stem or doc_id_for(path), source_name(path)
    missing: list[int] = []  # lines of the records so far while none has had the text field
    fields: list[str] = []
    for lineno, record, error, warning in iter_records(path, stream):
        if error:
            yield Skipped(source, lineno, error)
            continue
        if fields is not None and text_field not in record:
            missing.append(lineno)
            fields = fields or [str(name) for name in record]
            continue
        fields = None  # the field is there: each record is judged on its own from now on
        yield from (Skipped(source, n, f"no {text_field!r} field") for n in missing)
        missing.clear()
        doc = record_document(record, source, lineno, text_field=text_field, id_field=id_field, stem=stem)
        if warning and isinstance(doc, Document):
            doc.warnings.insert(0, warning)
        yield doc
    if missing:  # no record has the field: a wrong --text-field, said once
        shown = ", ".join(repr(name) for name in fields[:10]) + (", ..." if len(fields) > 10 else "")
        yield Skipped(source, None, f"no {text_field!r} field in any record ({len(missing):,} record(s); "
                                    f"their fields: {shown}); name the text field with --text-field")


def table_file_documents(path: Path, text_field: str, id_field: str, stem: str | None = None
                         ) -> Iterator[Document | Skipped]:
    """A Parquet file's rows as documents (row N is its line N, as with ``--engine
    spark``), read with pyarrow one batch at a time; one skip when it cannot be read as
    Parquet or has no column ``text_field``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem, source = stem or doc_id_for(path), source_name(path)
    with open_input(path) as handle:
        if not handle.regular:
            yield Skipped(source, None, f"a {handle.kind}, not a Parquet file (Parquet is read from a regular file)")
            return
        try:
            table = pq.ParquetFile(handle)
            names = table.schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            yield Skipped(source, None, f"cannot read as Parquet ({first})")
            return
        if text_field not in names:
            yield Skipped(source, None, f"no column {text_field!r} (columns: {', '.join(names)}); "
                                        "name the text column with --text-field")
            return
        line = 0
        for batch in table.iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                line += 1
                record = json.loads(json.dumps(record, default=str))  # dates, decimals: as their text
                yield record_document(record, source, line, text_field=text_field, id_field=id_field, stem=stem)


def record_document(record: dict, source: str, line: int, *, text_field: str = "text", id_field: str = "id",
                    stem: str | None = None) -> Document | Skipped:
    """One parsed record (a JSONL/CSV line, a Parquet row) as a document, or why it is
    skipped; its id is ``id_field``'s value, else ``<stem>-<line>`` (``stem``: the file's)."""
    warnings = []
    surrogate = lone_surrogate(record)
    if surrogate:
        record = replace_lone_surrogates(record)
        warnings.append(f"{source}:{line}: unpaired surrogate escape {surrogate} (not Unicode text) "
                        f"replaced with U+FFFD")
    text = record.get(text_field)
    if not isinstance(text, str):
        reason = f"no {text_field!r} field" if text is None else f"{text_field!r} is not a string"
        return Skipped(source, line, reason)
    if not text.strip():
        return Skipped(source, line, f"empty {text_field!r}")
    raw_id = record.get(id_field)
    doc_id = str(raw_id) if raw_id not in (None, "") else f"{stem or doc_id_for(Path(source))}-{line}"
    meta = {k: v for k, v in record.items() if k != text_field}
    return Document(doc_id, text, source, line, meta, warnings)
