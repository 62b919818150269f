"""A fitted TF-IDF n-gram vectorizer as arrays: ``TfidfVectorizer.transform`` of the
settings the tfidf families use (lowercased text; word 1..n-grams of sklearn's default
token pattern, or char_wb n-grams; raw or sublinear tf; idf; L2-normalised rows), the
same matrix bit for bit, without importing scikit-learn.

sklearn makes a Python string of every n-gram of every text and looks each one up in a
loop; here the n-grams of a whole batch are found and numbered with numpy
(word_ngrams.py, char_ngrams.py) and looked up by binary search. The tokens of a batch
are found once for all the tasks of a bundle, and when two tasks' vectorizers are equal
(fitted on the same sentences) the second reuses the first one's matrix. A vocabulary
too large for 64-bit n-gram numbers is counted with Python strings, as sklearn does.
The tf-idf weighting is ``TfidfTransformer.transform``'s operations in its order, and
the row normalisation adds each row's squares left to right as sklearn's
``inplace_csr_row_normalize_l2`` does, so the floats are the same.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from stanceframe.models.char_ngrams import CharNgramIndex, batch_words, char_wb_ngrams
from stanceframe.models.word_ngrams import NgramIndex, batch_tokens

SKLEARN_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
ANALYZERS = ("word", "char_wb")
_ROW_SUM_CELLS = 1 << 20  # row sums are taken over padded blocks of at most this many values
_LAST_BATCH = threading.local()  # the last batch's texts, tokens and matrices, shared by a bundle's tasks


@dataclass
class NgramTfidf:
    """``analyzer`` ("word" or "char_wb"), ``ngram_range``, ``vocabulary`` (n-gram ->
    column), ``idf`` (per column) and ``sublinear_tf``: what a fitted TfidfVectorizer's
    ``transform`` needs (its ``norm`` is always "l2" here). ``vocabulary_digest``: the
    SHA-256 of the vocabulary as a model folder stores it (:func:`vocabulary_json`), when
    known (computed on first use otherwise)."""

    analyzer: str
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: np.ndarray
    sublinear_tf: bool
    vocabulary_digest: str | None = None
    _index: object = field(default=None, init=False, repr=False, compare=False)
    _key: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {ANALYZERS}, not {self.analyzer!r}")
        if self.analyzer == "word" and int(self.ngram_range[0]) != 1:
            raise ValueError("word n-grams start at 1 here")
        self.ngram_range = (int(self.ngram_range[0]), int(self.ngram_range[1]))

    @property
    def terms(self) -> np.ndarray:
        """The n-grams in column order (``TfidfVectorizer.get_feature_names_out``)."""
        names = np.empty(len(self.vocabulary), dtype=object)
        for term, column in self.vocabulary.items():
            names[column] = term
        return names

    def transform(self, texts: list[str]):
        """The (len(texts), len(vocabulary)) CSR tf-idf matrix of ``texts``."""
        texts = list(texts)
        batch = _batch(texts)
        key = self.key()
        if key in batch.features:
            return batch.features[key].copy()
        rows, cols = self._count(texts, batch)
        counts = sp.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)),
                               shape=(len(texts), len(self.vocabulary)), dtype=np.float64)
        counts.sum_duplicates()  # canonical: summed counts, sorted columns (what sklearn builds)
        features = tfidf_weighted(counts, self.idf, self.sublinear_tf)
        batch.features[key] = features.copy()
        return features

    def _count(self, texts: list[str], batch: _Batch) -> tuple[np.ndarray, np.ndarray]:
        index = self.index()
        if index is None:
            return count_with_strings(texts, self.analyze, self.vocabulary)
        if self.analyzer == "word":
            if batch.tokens is None:
                batch.tokens = batch_tokens(texts)
            return index.lookup(batch.tokens, len(texts))
        if batch.words is None:
            batch.words = batch_words(texts)
        found = [index.lookup(group) for group in batch.words]
        return np.concatenate([r for r, _ in found]), np.concatenate([c for _, c in found])

    def index(self):
        """The vocabulary as numbers (built once), or None when it does not fit 64 bits."""
        if self._index is None:
            index = (NgramIndex(self.vocabulary, self.ngram_range[1]) if self.analyzer == "word"
                     else CharNgramIndex(self.vocabulary, self.ngram_range))
            self._index = index if index.fits else False
        return self._index or None

    def analyze(self, text: str) -> list[str]:
        """sklearn's n-grams of one text, as Python strings."""
        text = text.lower()
        if self.analyzer == "char_wb":
            return char_wb_ngrams(text, self.ngram_range)
        return word_ngrams(_TOKEN.findall(text), self.ngram_range)

    def key(self) -> tuple:
        """What :meth:`transform`'s output depends on besides the texts (computed once):
        equal for a bundle's tasks fitted on the same sentences."""
        if self._key is None:
            if self.vocabulary_digest is None:
                self.vocabulary_digest = hashlib.sha256(vocabulary_json(self.vocabulary).encode("utf-8", "surrogatepass")
                                                        ).hexdigest()
            idf = hashlib.sha256(np.ascontiguousarray(self.idf, dtype=np.float64).tobytes()).hexdigest()
            self._key = (self.analyzer, self.ngram_range, bool(self.sublinear_tf), self.vocabulary_digest, idf)
        return self._key


_TOKEN = re.compile(SKLEARN_TOKEN_PATTERN)


def vocabulary_json(vocabulary: dict[str, int]) -> str:
    """A vocabulary as a model folder stores it (``vocab_<block>.json``): terms sorted."""
    return json.dumps({term: int(column) for term, column in vocabulary.items()}, ensure_ascii=False, sort_keys=True)


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """sklearn's ``_word_ngrams`` without stop words: the tokens, then every run of 2..n
    of them joined by a space."""
    grams = list(tokens)
    for n in range(2, min(ngram_range[1], len(tokens)) + 1):
        grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return grams


def count_with_strings(texts: list[str], analyze, vocabulary: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every vocabulary n-gram ``analyze`` finds in each text."""
    rows, cols = [], []
    for row, text in enumerate(texts):
        found = [vocabulary[gram] for gram in analyze(text) if gram in vocabulary]
        cols.extend(found)
        rows.extend([row] * len(found))
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def tfidf_weighted(counts, idf: np.ndarray, sublinear_tf: bool):
    """``TfidfTransformer(norm="l2").transform(counts, copy=False)``: the same in-place
    operations in the same order, so the same floats."""
    if sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    counts.data *= idf[counts.indices]
    normalize_rows_l2(counts)
    return counts


def normalize_rows_l2(matrix) -> None:
    """Each row of a CSR ``matrix`` divided by its L2 norm, in place, rows of zeros left as
    they are: sklearn's ``inplace_csr_row_normalize_l2``, whose sum of squares adds the
    row's values left to right from 0.0 (a cumulative sum does the same additions)."""
    lengths = np.diff(matrix.indptr)
    sums = row_sums_in_order(matrix.data * matrix.data, matrix.indptr)
    norms = np.sqrt(sums)
    norms[sums == 0.0] = 1.0
    matrix.data /= np.repeat(norms, lengths)


def row_sums_in_order(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The sum of each CSR row's ``values``, added left to right from 0.0 (not numpy's
    pairwise order): rows sorted by length are laid out as padded blocks and summed by
    ``cumsum`` along the row (padding adds 0.0, which changes no sum)."""
    lengths = np.diff(indptr)
    sums = np.zeros(len(lengths), dtype=np.float64)
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    first = 0
    while first < len(order):
        widths = lengths[order[first:]]
        cells = np.arange(1, len(widths) + 1) * widths  # the block's size if it ended at each row
        last = first + max(1, int(np.searchsorted(cells, _ROW_SUM_CELLS, side="right")))
        rows = order[first:last]
        row_lengths = lengths[rows]
        width = int(row_lengths[-1])
        starts = np.cumsum(row_lengths) - row_lengths
        within = np.arange(int(row_lengths.sum())) - np.repeat(starts, row_lengths)
        block = np.zeros((len(rows), width), dtype=np.float64)
        block[np.repeat(np.arange(len(rows)), row_lengths), within] = values[np.repeat(indptr[rows], row_lengths) + within]
        sums[rows] = np.cumsum(block, axis=1)[:, -1]
        first = last
    return sums


@dataclass
class _Batch:
    texts: list[str]
    tokens: object = None  # word_ngrams.BatchTokens
    words: object = None  # list of char_ngrams.BatchWords
    features: dict = field(default_factory=dict)  # NgramTfidf.key() -> its matrix of these texts


def _batch(texts: list[str]) -> _Batch:
    """What was found of this batch so far on this thread (a new record for a new batch)."""
    last = getattr(_LAST_BATCH, "value", None)
    if last is None or last.texts != texts:
        last = _LAST_BATCH.value = _Batch(list(texts))
    return last
