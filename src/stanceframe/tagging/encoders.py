"""Rows to bytes: JSON Lines, spreadsheet-safe CSV, and the Parquet file made from a
finished JSONL journal."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from stanceframe.tagging.rows import INT_FIELDS

PARQUET_ROW_GROUP = 10_000
LIST_SEPARATOR = ";"  # lists (top_* ids, quotes) in CSV cells
SPAN_SEPARATOR = "-"  # a [start, end] span in a CSV cell: "12-40"


def encoder_for(fmt: str, columns: list[str]):
    """The encoder of the rows written as ``fmt``: CSV with ``columns``, else JSONL (Parquet
    too: it is written as a JSONL journal first)."""
    return CsvEncoder(columns) if fmt == "csv" else JsonlEncoder()


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
        return csv_safe(LIST_SEPARATOR.join(SPAN_SEPARATOR.join(map(str, v)) if isinstance(v, list) else str(v)
                                            for v in value))
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
        if col == "quotes":
            return pa.list_(pa.list_(pa.int64()))
        return pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def journal_to_parquet(journal: Path, target, columns: list[str], row_group: int = PARQUET_ROW_GROUP) -> int:
    """Convert a JSONL journal to Parquet (``target``: a path or a binary file), ``row_group``
    rows at a time; returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    n = 0
    where = str(target) if isinstance(target, (str, Path)) else target
    with pq.ParquetWriter(where, schema) as writer, open(journal, "rb") as handle:
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
