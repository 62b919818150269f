"""The columns of ``tag``'s rows (one per sentence or one per article), the metadata columns
every row carries (where an article was published, when, under what title) and the
per-article aggregation of a document's sentence rows."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence

from stanceframe.corpus import Document
from stanceframe.errors import StanceframeError

SENTENCE_FIELDS = ["doc_id", "id", "paragraph", "sentence", "start", "end", "text", "voice", "quotes"]
VOICES = ("narrator", "quote", "mixed")  # stanceframe.corpus.voice.VOICES (not imported: tag starts light)
ARTICLE_FIELDS = ["doc_id", "source", "n_sentences"]
INT_FIELDS = {"paragraph", "sentence", "start", "end", "n_sentences"}
RESERVED_COLUMNS = {*SENTENCE_FIELDS, *ARTICLE_FIELDS, "target", "stance", "framing", "voice"}
TOP_SENTENCES = 3  # strongest sentence ids per label in --per article rows

# The metadata columns of every row, each from the first of its fields a document has: an
# HTML page's or a WARC record's own metadata (corpus/web.py names it so), or a JSONL/CSV/
# Parquet record's fields of these common names.
META_COLUMNS: dict[str, tuple[str, ...]] = {
    "url": ("url", "link", "canonical_url", "uri"),
    "outlet": ("outlet", "source", "site", "site_name", "sitename", "publisher", "domain"),
    "date": ("date", "published", "published_at", "publish_date", "pubdate", "datetime"),
    "title": ("title", "headline"),
}
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIXES = ("p_", "n_", "share_", "mean_p_", "top_")  # the prediction and aggregate columns


def meta_fields(specs: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """The metadata columns and the fields each is taken from: :data:`META_COLUMNS`, then
    each ``--meta-field COLUMN[=FIELD]`` in order (``FIELD`` defaults to ``COLUMN``; a page's
    own metadata of that name comes after it). Naming one of the four replaces its common
    names; a user error for a name that is not a plain column name or is one of tag's own."""
    fields = dict(META_COLUMNS)
    for spec in specs:
        column, _, field = spec.partition("=")
        column, field = column.strip(), field.strip() or column.strip()
        if not _COLUMN_NAME.match(column) or column.startswith(_RESERVED_PREFIXES) or column in RESERVED_COLUMNS:
            raise StanceframeError(f"--meta-field {spec}: {column!r} cannot be a column of tag's rows (letters, "
                                   f"digits and _, not one of tag's own columns or prefixes)")
        fields[column] = (field,) if field == column else (field, column)
    return fields


def meta_values(meta: dict | None, fields: dict[str, tuple[str, ...]]) -> tuple:
    """A document's value of each metadata column (:func:`field_text`; ``None`` when none of
    its fields is there), in ``fields`` order."""
    meta = meta or {}
    values = []
    for names in fields.values():
        value = None
        for name in names:
            value = field_text(meta.get(name))
            if value is not None:
                break
        values.append(value)
    return tuple(values)


def field_text(value) -> str | None:
    """A record field as a column's text: a string as it is, ``None`` for null or empty, a
    number or a boolean as JSON writes it, an object or an array as compact JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sentence_columns(classes: dict[str, list[str]], meta: dict | None = None) -> list[str]:
    """``doc_id, id, paragraph, sentence, start, end, text, <task>..., p_<task>_<label>...``,
    then the metadata columns (``meta``: :func:`meta_fields`, default :data:`META_COLUMNS`)."""
    cols = SENTENCE_FIELDS + list(classes)
    for task, labels in classes.items():
        cols += [f"p_{task}_{label}" for label in labels]
    return cols + list(META_COLUMNS if meta is None else meta)


def article_columns(classes: dict[str, list[str]], meta: dict | None = None) -> list[str]:
    """Per document: sentence counts, shares and mean probabilities per label, and the ids
    of the strongest sentences predicted with each label (``top_<task>_<label>``); then the
    sentences in each voice (``n_voice_<voice>``) and each label's share among them
    (``share_<task>_<label>_<voice>``: "russian in the narrator's voice"); then the metadata columns."""
    cols = list(ARTICLE_FIELDS)
    for task, labels in classes.items():
        for prefix in ("n", "share", "mean_p", "top"):
            cols += [f"{prefix}_{task}_{label}" for label in labels]
    cols += [f"n_voice_{voice}" for voice in VOICES]
    for task, labels in classes.items():
        cols += [f"share_{task}_{label}_{voice}" for voice in VOICES for label in labels]
    return cols + list(META_COLUMNS if meta is None else meta)


def article_row(doc: Document, rows: list[dict], classes: dict[str, list[str]], top: int = TOP_SENTENCES,
                meta: dict | None = None) -> dict:
    """One row per document: counts, shares and mean probabilities per label, the ids of
    the ``top`` sentences predicted with each label, strongest first, and its metadata."""
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
    by_voice = {voice: [r for r in rows if r.get("voice") == voice] for voice in VOICES}
    for voice in VOICES:
        out[f"n_voice_{voice}"] = len(by_voice[voice])
    for task, labels in classes.items():
        for voice in VOICES:
            counts, n_voice = Counter(r[task] for r in by_voice[voice]), len(by_voice[voice])
            for label in labels:
                out[f"share_{task}_{label}_{voice}"] = counts.get(label, 0) / n_voice if n_voice else 0.0
    meta = META_COLUMNS if meta is None else meta
    out.update(zip(meta, meta_values(doc.meta, meta)))
    return out
