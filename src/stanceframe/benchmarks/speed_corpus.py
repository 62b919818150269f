"""The speed benchmark's sentences: a synthetic corpus of news-like articles (the labelled
seed and contrast sentences with their numbers, places, people and dates varied, shuffled
into articles of 10-40 sentences in paragraphs), cached by size, and the first whole
documents of a corpus as a smaller JSONL file."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

from stanceframe.benchmarks.speed_settings import SEED
from stanceframe.data_build import write_jsonl
from stanceframe.errors import StanceframeError
from stanceframe.paths import contrast_file, corpora

_PLACES = ["Seoul", "Moscow", "Kyiv", "Washington", "Pyongyang", "Tokyo", "Berlin", "Warsaw", "Paris", "London",
           "Beijing", "Ankara", "Vienna", "Rome", "Madrid", "Ottawa", "Canberra", "Brussels", "Prague", "Helsinki"]
_PEOPLE = ["Yoon", "Putin", "Kim", "Rutte", "Biden", "Zelensky", "Umerov", "Chang", "Park", "Scholz", "Macron",
           "Sunak", "Kishida", "Duda", "Meloni", "Erdogan", "Stoltenberg", "Blinken", "Lavrov", "Shoigu"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_SWAPS = {name: pool for pool in (_PLACES, _PEOPLE, _MONTHS, _DAYS) for name in pool}
_SWAP_RE = re.compile(r"\b(" + "|".join(sorted(_SWAPS, key=len, reverse=True)) + r")\b")
_NUMBER_RE = re.compile(r"\d+")
_LEADS = [
    lambda r: f"On {r.randint(1, 28)} {r.choice(_MONTHS)} {r.randint(1990, 2030)}, ",
    lambda r: f"According to {r.choice(_PEOPLE)}, ",
    lambda r: f"In {r.choice(_PLACES)} on {r.choice(_DAYS)}, ",
    lambda r: f"As {r.choice(_PEOPLE)} told reporters in {r.choice(_PLACES)}, ",
]


def bench_training_files(root: Path) -> list[Path]:
    """The seed's gold labels and the contrast set: what the bench fits and varies (kept to
    the seed-sized set so fit times and bench sentences compare across releases)."""
    return [corpora(root)[0].labels, contrast_file(root)]


def base_sentences(root: Path) -> list[str]:
    """The labelled seed and contrast sentences (the texts the families are trained on)."""
    texts = []
    for path in bench_training_files(root):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["text"])
    if not texts:
        raise StanceframeError(f"{root / 'data'}: no labelled files to build bench sentences from "
                               "(run `stanceframe data build`, or pass --input PATH)")
    return texts


def vary(sentence: str, rng: random.Random) -> str:
    """The sentence with its numbers, places, people, months and days replaced by others,
    and, half the time, a lead-in (a date, a source, a place): text that looks like
    news but is rarely the same twice, so no cache of sentences can flatter a family."""
    def number(m):
        digits = len(m.group())
        return str(rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits - 1))

    text = _NUMBER_RE.sub(number, sentence)
    text = _SWAP_RE.sub(lambda m: rng.choice(_SWAPS[m.group()]), text)
    if rng.random() < 0.5 and text[:1].isupper() and not text.startswith(("I ", "I'")):
        text = rng.choice(_LEADS)(rng) + text[0].lower() + text[1:] if _lowercase_ok(text) else text
    return text


def _lowercase_ok(text: str) -> bool:
    """A sentence-initial word that may be lowercased after a lead-in (not a name)."""
    first = text.split(" ", 1)[0].strip("\"'“”")
    return first in {"The", "A", "An", "It", "He", "She", "They", "We", "This", "That", "These", "Those", "Since",
                     "After", "During", "Despite", "However", "Officials", "Both", "Some", "Many", "Its", "Their"}


def synthetic_articles(sentences: Sequence[str], n_sentences: int, seed: int = SEED):
    """Yield ``{"id", "text"}`` records: articles of 10-40 varied sentences in paragraphs of
    1-5 sentences (blank-line separated), until about ``n_sentences`` sentences."""
    rng = random.Random(seed)
    made, i = 0, 0
    while made < n_sentences:
        k = min(rng.randint(10, 40), n_sentences - made) if n_sentences - made >= 10 else n_sentences - made
        paragraphs, left = [], k
        while left:
            p = min(left, rng.randint(1, 5))
            paragraphs.append(" ".join(vary(rng.choice(sentences), rng) for _ in range(p)))
            left -= p
        yield {"id": f"bench-{i:07d}", "text": "\n\n".join(paragraphs)}
        made += k
        i += 1


def synthetic_corpus(out_dir: Path, root: Path, n_sentences: int) -> Path:
    """The synthetic JSONL corpus of about ``n_sentences`` sentences (cached by size)."""
    path = out_dir / "corpus" / f"synthetic-{n_sentences}-seed{SEED}.jsonl"
    if not path.is_file():
        write_jsonl(path, synthetic_articles(base_sentences(root), n_sentences))
    return path


def corpus_prefix(paths: Sequence[str], n_sentences: int, target: Path) -> tuple[Path, list[str]]:
    """The first whole documents of ``paths`` holding at least ``n_sentences`` sentences,
    as a JSONL file of articles, and their sentences, split as ``tag`` splits them."""
    from stanceframe.corpus import Document
    from stanceframe.tagging.inputs import iter_documents, resolve_inputs, units_of

    records, sentences = [], []
    for doc in iter_documents(resolve_inputs(list(paths))):
        if not isinstance(doc, Document):  # skipped, or a WARC record that is not a page
            continue
        units = units_of(doc)
        if not units:
            continue
        records.append({"id": doc.doc_id, "text": doc.text})
        sentences += [u.text for u in units]
        if len(sentences) >= n_sentences:
            break
    if not sentences:
        raise StanceframeError(f"{', '.join(paths)}: no sentences to benchmark")
    return write_jsonl(target, records), sentences
