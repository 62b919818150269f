"""sklearn's ``char_wb`` n-gram counting (``TfidfVectorizer(analyzer="char_wb")``,
lowercased) for a whole batch at once, with numpy instead of one Python string per
n-gram. Exact: the (row, column) pairs are those sklearn counts.

sklearn (``_VectorizerMixin._char_wb_ngrams``) lowercases a text, splits it into words
(``str.split()``: runs of characters that are not ``str.isspace``; its whitespace
normalisation changes no word), pads each word with one space on both sides and takes,
for each n of the n-gram range, every n characters of the padded word; a padded word
of at most n characters is taken whole, once, and no longer n-grams of it follow.

- :func:`batch_words`: the words of a batch as positions in one array of code points in
  which every word has a whitespace character on both sides (its padding).
- :class:`CharNgramIndex`: a fitted vocabulary as numbers. Each character of the
  vocabulary's terms gets a digit 1..A; an n-gram is the base-(A+1) number of its digits
  (a character of no term is digit 0, so an n-gram holding one is in no vocabulary), found
  by binary search among the vocabulary's numbers of the same length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stanceframe.models.word_ngrams import code_points, text_groups

_DIGIT_TABLE_SIZE = 0x3000  # code points below this get their digit from a table, the others by binary search
_DENSE_KEYS = 1 << 21  # n-gram numbers below this are looked up in a table of columns, not by binary search
_SPACE_TABLE_SIZE = 0x3001  # every whitespace code point is below this (U+3000 is the last)
_SPACE_TABLE = np.fromiter((chr(i).isspace() for i in range(_SPACE_TABLE_SIZE)), dtype=bool, count=_SPACE_TABLE_SIZE)


def is_space(codes: np.ndarray) -> np.ndarray:
    """``chr(c).isspace()`` (what ``str.split()`` splits on) for each code point."""
    return _SPACE_TABLE[np.minimum(codes, _SPACE_TABLE_SIZE - 1)] & (codes < _SPACE_TABLE_SIZE)


@dataclass
class BatchWords:
    """The words of a batch of texts: word i is ``codes[starts[i]:starts[i] + lengths[i]]``,
    of text ``rows[i]``; ``codes[starts[i] - 1]`` and ``codes[starts[i] + lengths[i]]`` are
    whitespace (what sklearn pads the word with)."""

    codes: np.ndarray  # uint32 code points of the lowercased texts, joined and surrounded by spaces
    space: np.ndarray  # bool, per code point
    starts: np.ndarray
    lengths: np.ndarray
    rows: np.ndarray


def batch_words(texts: list[str]) -> list[BatchWords]:
    """The words of ``texts``, lowercased as sklearn lowercases them, in groups of texts of
    bounded size (``rows`` count from the batch's first text)."""
    return [_group_words(texts[first:last], first) for first, last in text_groups(texts)]


def _group_words(texts: list[str], first_row: int) -> BatchWords:
    lowered = list(map(str.lower, texts))
    codes = code_points(" " + " ".join(lowered) + " ")
    space = is_space(codes)
    edges = np.diff((~space).view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    lengths = np.flatnonzero(edges == -1).astype(np.int64) - starts
    text_starts = np.cumsum([1] + [len(t) + 1 for t in lowered[:-1]], dtype=np.int64)
    rows = np.searchsorted(text_starts, starts, side="right") - 1 + first_row
    return BatchWords(codes, space, starts, lengths, rows.astype(np.int64))


class CharNgramIndex:
    """A char_wb vocabulary (n-gram -> column) as numbers (see the module docstring);
    ``fits`` is False when its numbers would not fit 63 bits (more than about 6,000
    distinct characters for 5-grams): the caller then counts with Python strings."""

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int]):
        self.min_n, self.max_n = int(ngram_range[0]), int(ngram_range[1])
        terms = list(vocabulary)
        self.alphabet = np.unique(code_points("".join(terms)))
        self.base = len(self.alphabet) + 1
        self.longest = max(map(len, terms), default=0)
        self.fits = self.base ** max(1, self.max_n, self.longest) < 2**63
        if not self.fits:
            return
        self.digit_table = np.zeros(_DIGIT_TABLE_SIZE, dtype=np.int64)
        common = self.alphabet < _DIGIT_TABLE_SIZE
        self.digit_table[self.alphabet[common]] = np.flatnonzero(common) + 1
        self.space_digit = self._digits(np.array([ord(" ")], dtype=np.uint32))[0]
        self.keys, self.cols, self.tables = {}, {}, {}
        by_length: dict[int, list[str]] = {}
        for term in terms:
            by_length.setdefault(len(term), []).append(term)
        for n, group in by_length.items():
            digits = self._digits(code_points("".join(group))).reshape(len(group), n)
            numbers = np.zeros(len(group), dtype=np.int64)
            for i in range(n):
                numbers = numbers * self.base + digits[:, i]
            order = np.argsort(numbers, kind="stable")
            self.keys[n] = numbers[order]
            self.cols[n] = np.fromiter((vocabulary[t] for t in group), dtype=np.int64, count=len(group))[order]
            if self.base ** n <= _DENSE_KEYS:  # every number of n digits indexes a table (-1: no column)
                self.tables[n] = np.full(self.base ** n, -1, dtype=np.int64)
                self.tables[n][self.keys[n]] = self.cols[n]

    def _digits(self, codes: np.ndarray) -> np.ndarray:
        """Each code point's digit: 1 + its place in the alphabet, 0 when it is in no term."""
        digits = self.digit_table[np.minimum(codes, _DIGIT_TABLE_SIZE - 1)]
        rare = np.flatnonzero(codes >= _DIGIT_TABLE_SIZE)
        if len(rare):
            digits[rare] = 0
            if len(self.alphabet):
                at = np.minimum(np.searchsorted(self.alphabet, codes[rare]), len(self.alphabet) - 1)
                digits[rare] = np.where(self.alphabet[at] == codes[rare], at + 1, 0)
        return digits

    def lookup(self, words: BatchWords) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every vocabulary n-gram of the batch's words; a repeated n-gram
        appears once per time."""
        digits = self._digits(words.codes)
        digits[words.space] = self.space_digit  # any whitespace pads as sklearn's " "
        padded_starts, padded_lengths = words.starts - 1, words.lengths + 2
        rows_out, cols_out = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        number = np.zeros(len(digits), dtype=np.int64)
        for n in range(1, min(self.max_n, self.longest) + 1):
            number = number[: len(digits) - n + 1] * self.base + digits[n - 1:]  # the n-gram at each position
            if n >= self.min_n:  # every n characters of each padded word longer than n, or the whole word
                counts = np.maximum(padded_lengths - n + 1, 0)
            else:  # a padded word shorter than the range's smallest n: once, whole
                counts = (padded_lengths == n).astype(np.int64)
            keys = self.keys.get(n)
            if keys is None or not counts.any():
                continue
            first = np.cumsum(counts) - counts
            positions = np.repeat(padded_starts - first, counts) + np.arange(int(first[-1] + counts[-1]))
            grams = number[positions]
            if n in self.tables:
                found = self.tables[n][grams]
            else:
                at = np.minimum(np.searchsorted(keys, grams), len(keys) - 1)
                found = np.where(keys[at] == grams, self.cols[n][at], -1)
            hit = found >= 0
            rows_out.append(np.repeat(words.rows, counts)[hit])
            cols_out.append(found[hit])
        return np.concatenate(rows_out), np.concatenate(cols_out)


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """sklearn's char_wb n-grams of one lowercased ``text``, one Python string each (the
    reference, and the path for alphabets too large for :class:`CharNgramIndex`)."""
    min_n, max_n = ngram_range
    grams = []
    for word in text.split():
        padded = f" {word} "
        for n in range(min_n, max_n + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams
