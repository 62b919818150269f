"""Building the project's labelled corpora (``stanceframe data build``): segmenting each
corpus's articles into its sentences file and checking the whole set: every sentence
labelled, no stale label rows, a catalog row per written article, no sentence text in two
articles or in the contrast set."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from stanceframe.corpus import SUPPORTED_SUFFIXES, Sentence, read_documents_strict, segment
from stanceframe.dataset import checked_records, file_records, load_labelled
from stanceframe.errors import DataFileError, UnlabelledSentencesError
from stanceframe.paths import Corpus
from stanceframe.safe_paths import check_output_file, holds_jsonl_records, replace_file
from stanceframe.schema import Schema

CATALOG_FIELDS = ("doc_id", "voice", "topic", "date", "synthetic")


@dataclass
class BuildReport:
    sentences: int
    documents: int
    labelled: int
    sentences_path: str
    labels_path: str
    name: str = "seed"


@dataclass
class _Built:
    corpus: Corpus
    sentences: list  # corpus.Sentence
    files: dict  # doc_id -> the article file it came from
    report: BuildReport


def build_seed_set(seeds_dir: str | Path, sentences_path: str | Path, labels_path: str | Path,
                   schema: Schema | None = None) -> BuildReport:
    """Segment every file in ``seeds_dir`` into ``sentences_path`` and check that every
    sentence carries labels on every task in ``labels_path`` (one corpus, no catalog)."""
    corpus = Corpus("seed", Path(seeds_dir), Path(sentences_path), Path(labels_path))
    return build_corpora([corpus], schema=schema)[0]


def build_corpora(corpora: Sequence[Corpus], schema: Schema | None = None,
                  also_labelled: Sequence[str | Path] = ()) -> list[BuildReport]:
    """Segment each corpus's articles into its sentences file and validate the whole set:
    every sentence labelled on every task with a known label (``load_labelled``), no label
    row for a sentence that no longer exists or whose text changed, a catalog row for every
    article where the corpus has a catalog, and no sentence text in two articles (of any
    corpus) or in one of ``also_labelled`` (the contrast set): a repeated text would sit on
    both sides of a split. A sentences file is written once its labels file has been read, before the labels
    are matched to the sentences, so a new article's ids can be read from it."""
    built = [_build_one(c, schema) for c in corpora]
    check_unique_texts(built, also_labelled)
    return [b.report for b in built]


def _build_one(corpus: Corpus, schema: Schema | None) -> _Built:
    folder = corpus.articles
    if not folder.is_dir():
        raise DataFileError(folder, None, "not a folder of articles" if folder.exists() else "no such folder")
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
    if not files:
        raise DataFileError(folder, None, "no article files (.txt, .md, .html, .jsonl, .csv)")
    check_output_file(corpus.sentences, what="--sentences",
                      inputs=[corpus.labels, *files, *([corpus.catalog] if corpus.catalog else [])],
                      own=is_sentences_file, not_own="is not a sentences file that stanceframe data build wrote")
    sentences, origin = [], {}
    for f in files:
        for doc in read_documents_strict(f):
            if doc.doc_id in origin:
                raise DataFileError(f, None, f"doc id {doc.doc_id!r} is also the id of {origin[doc.doc_id]}; rename one")
            origin[doc.doc_id] = f
            sentences.extend(segment(doc))
    labelled = load_labelled(corpus.labels, schema=schema) if corpus.labels.exists() else None
    write_jsonl(corpus.sentences, (s.to_dict() for s in sentences))  # after the labels file proved readable
    if corpus.catalog is not None:
        check_catalog(corpus.catalog, origin)
    by_id = {e.id: e for e in labelled.examples} if labelled else {}
    missing = [s.id for s in sentences if s.id not in by_id]
    changed = [s.id for s in sentences if s.id in by_id and by_id[s.id].text != s.text]
    if missing:
        raise UnlabelledSentencesError(missing, corpus.labels)
    if changed:
        raise DataFileError(corpus.labels, None, f"{len(changed)} labelled sentence(s) no longer match the segmented "
                                                 f"text (re-check their labels): {', '.join(changed[:10])}")
    ids = {s.id for s in sentences}
    stale = [e for e in labelled.examples if e.id not in ids] if labelled else []
    if stale:
        raise DataFileError(stale[0].origin.rpartition(":")[0], int(stale[0].origin.rpartition(":")[2]),
                            f"label for {stale[0].id!r}, which is no sentence of {folder} "
                            f"({len(stale)} such row(s); an article was edited or removed?)")
    report = BuildReport(len(sentences), len(origin), len(by_id), str(corpus.sentences), str(corpus.labels), corpus.name)
    return _Built(corpus, sentences, origin, report)


def write_jsonl(path: Path, records) -> Path:
    """``records`` (dicts) as a JSONL file, one a line, written beside it under a new name and
    renamed into place (never through a link)."""
    return replace_file(Path(path), lambda fh: fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


SENTENCE_KEYS = frozenset(f.name for f in fields(Sentence))


def is_sentences_file(path: Path) -> bool:
    """``path`` is empty or a sentences file as ``data build`` writes it (segmented sentences
    and nothing else: not labels, not an article)."""
    return holds_jsonl_records(path, lambda record: isinstance(record, dict) and set(record) == SENTENCE_KEYS)


def load_catalog(path: str | Path) -> dict[str, dict]:
    """The written corpus's catalog: ``{doc_id: row}``, each row with ``CATALOG_FIELDS``
    and ``synthetic: true`` (``DataFileError`` with file:line otherwise)."""
    path = Path(path)
    rows, lines = {}, {}
    for lineno, record in checked_records(path, file_records(path)):
        missing = [k for k in CATALOG_FIELDS if record.get(k) in (None, "")]
        if missing:
            raise DataFileError(path, lineno, f"missing field(s) {', '.join(missing)}")
        if record["synthetic"] is not True:
            raise DataFileError(path, lineno, "written articles are synthetic: set \"synthetic\": true")
        doc = str(record["doc_id"])
        if doc in rows:
            raise DataFileError(path, lineno, f"doc_id {doc!r} again (first on line {lines[doc]})")
        rows[doc], lines[doc] = {**record, "_line": lineno}, lineno
    return rows


def check_catalog(path: Path, articles: dict) -> None:
    """Every article (``{doc_id: file}``) has one catalog row (``load_catalog``); every row
    names an article."""
    rows = load_catalog(path)
    for doc, row in rows.items():
        if doc not in articles:
            raise DataFileError(path, row["_line"], f"doc_id {doc!r} names no article file")
    absent = [d for d in articles if d not in rows]
    if absent:
        raise DataFileError(path, None, f"{len(absent)} article(s) have no catalog row: {', '.join(absent[:10])}")


def _text_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def check_unique_texts(built: Sequence[_Built], also_labelled: Sequence[str | Path] = ()) -> None:
    """No sentence text (whitespace and case folded) in two different articles, nor in an
    article and one of ``also_labelled``. One article may repeat itself (real pages do)."""
    seen: dict[str, tuple[str, str]] = {}  # text -> (doc_id, where)
    for b in built:
        for s in b.sentences:
            key = _text_key(s.text)
            first = seen.setdefault(key, (s.doc_id, f"{s.id} ({b.files[s.doc_id]})"))
            if first[0] != s.doc_id:
                raise DataFileError(b.files[s.doc_id], None, f"sentence {s.id} repeats the text of {first[1]}: "
                                                             f"{s.text[:80]!r}; reword one of them")
    for path in also_labelled:
        path = Path(path)
        if not path.exists():
            continue
        for lineno, record in checked_records(path, file_records(path)):
            first = seen.get(_text_key(str(record.get("text", ""))))
            if first:
                raise DataFileError(path, lineno, f"text repeats the article sentence {first[1]}; reword one of them")


def voice_scores(labels_path: str | Path, articles_dir: str | Path) -> dict[str, dict]:
    """:mod:`~stanceframe.corpus.voice` against the voices labelled by reading
    (``data/voice/labels.jsonl``): per split (``development``, ``held-out``) and ``all``,
    the sentences, accuracy and each voice's precision, recall and support. A label row
    whose sentence the article no longer has is a ``DataFileError``."""
    from stanceframe.corpus.voice import VOICES, sentence_voices

    labels_path, articles_dir = Path(labels_path), Path(articles_dir)
    rows = [(lineno, r) for lineno, r in checked_records(labels_path, file_records(labels_path))]
    predicted: dict[str, str] = {}
    for doc_id in sorted({str(r["doc_id"]) for _, r in rows}):
        for doc in read_documents_strict(articles_dir / f"{doc_id}.txt"):
            units = segment(doc)
            predicted.update((u.id, v) for u, (v, _) in zip(units, sentence_voices(doc, units)))
    pairs: dict[str, list[tuple[str, str]]] = {"all": []}
    for lineno, r in rows:
        if r["id"] not in predicted:
            raise DataFileError(labels_path, lineno, f"sentence {r['id']!r} is not in {r['doc_id']}.txt (edited?)")
        if r["voice"] not in VOICES:
            raise DataFileError(labels_path, lineno, f"voice {r['voice']!r} is none of {', '.join(VOICES)}")
        pair = (r["voice"], predicted[r["id"]])
        pairs["all"].append(pair)
        pairs.setdefault(str(r.get("split") or "development"), []).append(pair)
    return {split: _voice_split_scores(p, VOICES) for split, p in pairs.items()}


def _voice_split_scores(pairs: list[tuple[str, str]], voices: Sequence[str]) -> dict:
    classes = {}
    for v in voices:
        tp = sum(g == p == v for g, p in pairs)
        said, real = sum(p == v for _, p in pairs), sum(g == v for g, _ in pairs)
        classes[v] = {"precision": tp / said if said else 0.0, "recall": tp / real if real else 0.0, "support": real}
    return {"n": len(pairs), "accuracy": sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0,
            "classes": classes}
