"""The columns of ``tag``'s rows (one per sentence or one per article) and the per-article
aggregation of a document's sentence rows."""

from __future__ import annotations

import math
from collections import Counter

from stanceframe.corpus import Document

SENTENCE_FIELDS = ["doc_id", "id", "paragraph", "sentence", "start", "end", "text", "voice", "quotes"]
VOICES = ("narrator", "quote", "mixed")  # stanceframe.corpus.voice.VOICES (not imported: tag starts light)
ARTICLE_FIELDS = ["doc_id", "source", "n_sentences"]
INT_FIELDS = {"paragraph", "sentence", "start", "end", "n_sentences"}
TOP_SENTENCES = 3  # strongest sentence ids per label in --per article rows


def sentence_columns(classes: dict[str, list[str]]) -> list[str]:
    """``doc_id, id, paragraph, sentence, start, end, text, <task>..., p_<task>_<label>...``"""
    cols = SENTENCE_FIELDS + list(classes)
    for task, labels in classes.items():
        cols += [f"p_{task}_{label}" for label in labels]
    return cols


def article_columns(classes: dict[str, list[str]]) -> list[str]:
    """Per document: sentence counts, shares and mean probabilities per label, and the ids
    of the strongest sentences predicted with each label (``top_<task>_<label>``); then the
    sentences in each voice (``n_voice_<voice>``) and each label's share among them
    (``share_<task>_<label>_<voice>``: "russian in the narrator's voice")."""
    cols = list(ARTICLE_FIELDS)
    for task, labels in classes.items():
        for prefix in ("n", "share", "mean_p", "top"):
            cols += [f"{prefix}_{task}_{label}" for label in labels]
    cols += [f"n_voice_{voice}" for voice in VOICES]
    for task, labels in classes.items():
        cols += [f"share_{task}_{label}_{voice}" for voice in VOICES for label in labels]
    return cols


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
    by_voice = {voice: [r for r in rows if r.get("voice") == voice] for voice in VOICES}
    for voice in VOICES:
        out[f"n_voice_{voice}"] = len(by_voice[voice])
    for task, labels in classes.items():
        for voice in VOICES:
            counts, n_voice = Counter(r[task] for r in by_voice[voice]), len(by_voice[voice])
            for label in labels:
                out[f"share_{task}_{label}_{voice}"] = counts.get(label, 0) / n_voice if n_voice else 0.0
    return out
