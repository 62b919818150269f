"""The read/segment stage, on the executors: files and Parquet records into *item rows*
(``mapInArrow``), with the local engine's reader, segmenter and skip rules.

Item rows are of five kinds: ``'s'`` sentence, ``'d'`` tagged document, ``'k'`` skipped,
``'w'`` warning, ``'p'`` a WARC record that is not a page (passed over). A bad record is a
``'k'`` row, never an exception in a task. A sentence row carries its document's metadata
columns as a JSON array (``meta``).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from stanceframe.corpus import Document, PassedOver, Skipped, record_document

ITEM_BATCH_ROWS = 4096  # item rows per Arrow batch out of the read/segment stage

# kinds of item rows out of the read/segment stage
SENTENCE, DOCUMENT, SKIPPED, WARNING, PASSED = "s", "d", "k", "w", "p"
ITEM_FIELDS = [  # (name, arrow type name)
    ("kind", "string"), ("grp", "int64"), ("file", "int64"), ("item", "int64"), ("seq", "int64"),
    ("source", "string"), ("line", "int64"), ("message", "string"),
    ("doc_id", "string"), ("id", "string"), ("paragraph", "int64"), ("sentence", "int64"),
    ("start", "int64"), ("end", "int64"), ("text", "string"), ("voice", "string"), ("quotes", "spans"),
    ("part", "string"), ("meta", "string"),
]
SPARK_TYPES = {"int64": "bigint", "string": "string", "spans": "array<array<bigint>>"}  # ITEM_FIELDS in Spark's DDL
ORDER = ["grp", "file", "source", "item", "seq"]


def _relabel(item, absolute: str, named: str):
    """Name the file as the user did (the local engine's messages), not by its absolute path."""
    if absolute == named:
        return item

    def fix(text: str) -> str:
        return named + text[len(absolute):] if text.startswith(absolute) else text

    if isinstance(item, Skipped):
        return Skipped(fix(item.source), item.line, item.reason)
    if isinstance(item, PassedOver):
        return PassedOver(fix(item.source), item.reason)
    item.source = fix(item.source)
    item.warnings = [fix(w) for w in item.warnings]
    return item


def _partition_value(doc: Document, column: str | None):
    if column is None:
        return None
    if column == "source":
        return doc.source
    value = (doc.meta or {}).get(column)
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def item_rows(item: Document | Skipped | PassedOver, *, grp: int, file: int, index: int, unit: str, strict: bool,
              part_column: str | None, meta: dict[str, tuple[str, ...]] | None = None) -> list[dict]:
    """The rows of one input item, with the local ``Tagger``'s rules (``tagging.inputs.prepare_item``);
    ``meta``: the metadata columns (:func:`~stanceframe.tagging.rows.meta_fields`)."""
    from stanceframe.tagging.inputs import prepare_item, voices_of
    from stanceframe.tagging.rows import meta_fields, meta_values

    key = {"grp": grp, "file": file, "item": index}
    item, units = prepare_item(item, unit=unit, strict=strict)
    if isinstance(item, PassedOver):
        return [{**key, "kind": PASSED, "seq": 0, "source": item.source, "message": item.reason}]
    if isinstance(item, Skipped):
        return [{**key, "kind": SKIPPED, "seq": 0, "source": item.source, "line": item.line, "message": item.reason}]
    rows = [{**key, "kind": DOCUMENT, "seq": 0, "source": item.source, "line": item.line, "doc_id": item.doc_id}]
    rows += [{**key, "kind": WARNING, "seq": i, "source": item.source, "line": item.line, "message": w}
             for i, w in enumerate(item.warnings)]
    part = _partition_value(item, part_column)
    values = json.dumps(meta_values(item.meta, meta_fields() if meta is None else meta), ensure_ascii=False)
    rows += [{**key, "kind": SENTENCE, "seq": i, "source": item.source, "doc_id": u.doc_id, "id": u.id,
              "paragraph": u.paragraph, "sentence": u.sentence, "start": u.start, "end": u.end, "text": u.text,
              "voice": voice, "quotes": quotes, "part": part, "meta": values}
             for i, (u, (voice, quotes)) in enumerate(zip(units, voices_of(item, units, unit)))]
    return rows


def _arrow_schema():
    import pyarrow as pa

    def arrow_type(kind):
        return pa.list_(pa.list_(pa.int64())) if kind == "spans" else getattr(pa, kind)()

    return pa.schema([(name, arrow_type(kind)) for name, kind in ITEM_FIELDS])


def _batches(rows_iter: Iterator[dict]):
    import pyarrow as pa

    schema, rows = _arrow_schema(), []
    for row in rows_iter:
        rows.append(row)
        if len(rows) >= ITEM_BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def read_files(batches, *, text_field: str, id_field: str, unit: str, strict: bool, part_column: str | None,
               meta: dict | None = None):
    """mapInArrow: (file, path, named, root, doc_id) rows -> item rows, through the local reader
    (``doc_id``: the driver's :func:`~stanceframe.tagging.inputs.file_doc_ids`, unique in the run)."""
    from stanceframe.tagging.inputs import iter_documents

    def rows():
        for batch in batches:
            for file, path, named, root, doc_id in zip(*(batch.column(i).to_pylist() for i in range(5))):
                resolved = [(Path(path), Path(root) if root else None)]
                items = iter_documents(resolved, text_field=text_field, id_field=id_field, doc_ids={path: doc_id})
                for index, item in enumerate(items):
                    yield from item_rows(_relabel(item, path, named), grp=0, file=file, index=index, unit=unit,
                                         strict=strict, part_column=part_column, meta=meta)

    yield from _batches(rows())


def local_name(uri: str) -> str:
    """``file:/a/b.parquet`` -> ``/a/b.parquet``; other URIs unchanged."""
    if uri.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(uri).path)
    return uri


def read_parquet_rows(batches, *, text_field: str, id_field: str, unit: str, strict: bool,
                      part_column: str | None, meta: dict | None = None):
    """mapInArrow: (file_path, row_index, record JSON) -> item rows; row N of a file is its 'line' N."""

    def rows():
        for batch in batches:
            for uri, row_index, record in zip(*(batch.column(i).to_pylist() for i in range(3))):
                source, line = local_name(uri), int(row_index) + 1
                item = record_document(json.loads(record), source, line, text_field=text_field, id_field=id_field)
                yield from item_rows(item, grp=1, file=0, index=line, unit=unit, strict=strict,
                                     part_column=part_column, meta=meta)

    yield from _batches(rows())
