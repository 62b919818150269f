"""sklearn's word n-gram counting (``TfidfVectorizer(analyzer="word")`` with its default
token pattern, lowercased) for a whole batch at once, with numpy instead of one Python
string per token and per n-gram. Exact: the (row, column) pairs are those sklearn counts.

- :func:`batch_tokens`: the tokens of a batch (maximal runs of two or more word
  characters, what ``(?u)\\b\\w\\w+\\b`` finds in the lowercased text) as positions in one
  array of code points, each with a 64-bit polynomial hash of its characters.
- :class:`NgramIndex`: a fitted vocabulary as numbers. Each token of a vocabulary term gets
  an id 1..T; a batch token gets its id when its hash, its length and then every one of
  its code points equal those of a vocabulary token (the hash only picks the candidate,
  the comparison decides, so a collision can never count a wrong token); an n-gram of ids is
  the base-(T+1) number of its digits, found by binary search among the vocabulary's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2**64
_HASH_BASE_INVERSE = np.uint64(pow(int(_HASH_BASE), -1, 2**64))
_WORD_TABLE_SIZE = 0x3000  # code points below this are classified by a table, the others one by one
_GROUP_CHARS = 1 << 22  # a batch is tokenized in groups of texts of at most this many characters
_POWERS_LOCK = threading.Lock()
_powers = np.ones(1, dtype=np.uint64)  # base**i, then base**-i, modulo 2**64, grown as needed
_inverse_powers = np.ones(1, dtype=np.uint64)


def is_word_char(char: str) -> bool:
    """What ``\\w`` matches in a ``str`` pattern: ``str.isalnum()`` or the underscore."""
    return char.isalnum() or char == "_"


_WORD_TABLE = np.fromiter((is_word_char(chr(i)) for i in range(_WORD_TABLE_SIZE)), dtype=bool,
                          count=_WORD_TABLE_SIZE)


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(base**i, base**-i) for i < n, modulo 2**64."""
    global _powers, _inverse_powers
    if len(_powers) < n:
        with _POWERS_LOCK:
            if len(_powers) < n:
                size = max(n, 2 * len(_powers))
                powers = np.full(size, _HASH_BASE, dtype=np.uint64)
                inverse = np.full(size, _HASH_BASE_INVERSE, dtype=np.uint64)
                powers[0] = inverse[0] = 1
                _powers, _inverse_powers = np.cumprod(powers, dtype=np.uint64), np.cumprod(inverse, dtype=np.uint64)
    return _powers, _inverse_powers


def code_points(text: str) -> np.ndarray:
    """``text``'s code points (an unpaired surrogate as its own value, as ``re`` sees it)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def run_hashes(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The hash of each run ``codes[start:start + length]``: the sum of code * base**(position
    in the run), modulo 2**64, from one prefix sum over ``codes``."""
    powers, inverse = _power_tables(len(codes) + 1)
    prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes.astype(np.uint64) * powers[: len(codes)], out=prefix[1:])
    return (prefix[starts + lengths] - prefix[starts]) * inverse[starts]


@dataclass
class BatchTokens:
    """The word tokens of a batch of texts, in order: token i is
    ``codes[starts[i]:starts[i] + lengths[i]]``, of text ``rows[i]``."""

    codes: np.ndarray  # uint32 code points of the lowercased texts, joined by NUL
    starts: np.ndarray
    lengths: np.ndarray
    rows: np.ndarray
    hashes: np.ndarray  # uint64: sum of code * base**(position in the token), modulo 2**64

    def per_text(self, n_texts: int) -> np.ndarray:
        return np.bincount(self.rows, minlength=n_texts)


def text_groups(texts: list[str]) -> list[tuple[int, int]]:
    """``(first, last)`` slices of ``texts`` of at most about ``_GROUP_CHARS`` characters
    each (one text at least): batches are analysed group by group, which bounds the
    memory of the per-character arrays."""
    groups, first = [], 0
    while first < len(texts):
        last, chars = first, 0
        while last < len(texts) and (last == first or chars + len(texts[last]) < _GROUP_CHARS):
            chars += len(texts[last]) + 1
            last += 1
        groups.append((first, last))
        first = last
    return groups


def batch_tokens(texts: list[str]) -> BatchTokens:
    """The tokens of ``texts``, lowercased as sklearn lowercases them (each text on its own)."""
    parts, base = [], 0
    for first, last in text_groups(texts):
        part = _group_tokens(texts[first:last])
        part.starts += base
        part.rows += first
        parts.append(part)
        base += len(part.codes)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return BatchTokens(np.zeros(0, dtype=np.uint32), empty, empty, empty, np.zeros(0, dtype=np.uint64))
    if len(parts) == 1:
        return parts[0]
    return BatchTokens(*(np.concatenate([getattr(p, name) for p in parts])
                         for name in ("codes", "starts", "lengths", "rows", "hashes")))


def _group_tokens(texts: list[str]) -> BatchTokens:
    lowered = list(map(str.lower, texts))
    codes = code_points("\0".join(lowered))  # NUL is not a word character: no token spans two texts
    word = _WORD_TABLE[np.minimum(codes, _WORD_TABLE_SIZE - 1)]
    rare = codes >= _WORD_TABLE_SIZE
    if rare.any():
        distinct = np.unique(codes[rare])
        verdict = np.fromiter((is_word_char(chr(c)) for c in distinct.tolist()), dtype=bool, count=len(distinct))
        word[rare] = verdict[np.searchsorted(distinct, codes[rare])]
    edges = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    keep = lengths >= 2
    starts, lengths = starts[keep], lengths[keep]
    text_starts = np.cumsum([0] + [len(t) + 1 for t in lowered[:-1]], dtype=np.int64)
    rows = np.searchsorted(text_starts, starts, side="right") - 1
    starts, lengths = starts.astype(np.int64), lengths.astype(np.int64)
    return BatchTokens(codes, starts, lengths, rows.astype(np.int64), run_hashes(codes, starts, lengths))


class NgramIndex:
    """A word vocabulary (``"term"`` or ``"term term ..."`` -> column) as numbers (see the
    module docstring). An n-gram of a text is in the vocabulary exactly when its number is
    among the vocabulary's (tokens hold no spaces, so joining them is one-to-one; a number
    with a 0 digit, an unknown token, is in no vocabulary)."""

    def __init__(self, vocabulary: dict[str, int], ngram_max: int):
        self.ngram_max = int(ngram_max)
        terms = [(term.split(" "), int(col)) for term, col in vocabulary.items()]
        terms = [(parts, col) for parts, col in terms if len(parts) <= self.ngram_max]
        token_ids: dict[str, int] = {}
        for parts, _ in terms:
            for part in parts:
                token_ids.setdefault(part, len(token_ids) + 1)
        self.base = len(token_ids) + 1
        self.fits = self.base ** max(1, self.ngram_max) < 2**63 and self._index_tokens(token_ids)
        if not self.fits:
            return
        self.unigram_cols = np.full(self.base, -1, dtype=np.int64)  # token id -> column (-1: none)
        keyed: dict[int, list[tuple[int, int]]] = {n: [] for n in range(2, self.ngram_max + 1)}
        for parts, col in terms:
            ids = [token_ids[part] for part in parts]
            if len(ids) == 1:
                self.unigram_cols[ids[0]] = col
            else:
                number = 0
                for i in ids:
                    number = number * self.base + i
                keyed[len(ids)].append((number, col))
        self.keys, self.cols = {}, {}
        for n, pairs in keyed.items():
            pairs.sort()
            self.keys[n] = np.array([k for k, _ in pairs], dtype=np.int64)
            self.cols[n] = np.array([c for _, c in pairs], dtype=np.int64)

    def _index_tokens(self, token_ids: dict[str, int]) -> bool:
        """The vocabulary tokens' code points one after the other and, sorted by hash, each
        token's hash, id, start and length there; False when two of them share a hash (then
        the caller uses sklearn's transform)."""
        tokens = list(token_ids)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))  # code points
        starts = np.cumsum(lengths) - lengths
        self.token_codes = code_points("".join(tokens))
        hashes = run_hashes(self.token_codes, starts, lengths)
        order = np.argsort(hashes, kind="stable")
        self.token_hashes = hashes[order]
        if len(np.unique(self.token_hashes)) != len(tokens):
            return False
        self.token_id_of = np.fromiter(token_ids.values(), dtype=np.int64, count=len(tokens))[order]
        self.token_starts, self.token_lengths = starts[order], lengths[order]
        return True

    def token_ids(self, tokens: BatchTokens) -> np.ndarray:
        """Each batch token's vocabulary id, 0 for tokens of no vocabulary term."""
        ids = np.zeros(len(tokens.hashes), dtype=np.int64)
        if not len(self.token_hashes) or not len(ids):
            return ids
        at = np.minimum(np.searchsorted(self.token_hashes, tokens.hashes), len(self.token_hashes) - 1)
        candidates = np.flatnonzero((self.token_hashes[at] == tokens.hashes) & (self.token_lengths[at] == tokens.lengths))
        if not len(candidates):
            return ids
        which = at[candidates]
        lengths = tokens.lengths[candidates]
        first = np.cumsum(lengths) - lengths  # where each candidate's characters start in the comparison
        position = np.arange(int(first[-1] + lengths[-1]), dtype=np.int64)
        ours = tokens.codes[np.repeat(tokens.starts[candidates] - first, lengths) + position]
        theirs = self.token_codes[np.repeat(self.token_starts[which] - first, lengths) + position]
        same = ~np.logical_or.reduceat(ours != theirs, first)
        ids[candidates[same]] = self.token_id_of[which[same]]
        return ids

    def lookup(self, tokens: BatchTokens, n_texts: int) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every vocabulary n-gram of a batch of ``n_texts`` texts; a
        repeated n-gram appears once per time."""
        ids = self.token_ids(tokens)
        total = len(ids)
        rows = tokens.rows
        cols = self.unigram_cols[ids]
        known = cols >= 0
        rows_out, cols_out = [rows[known]], [cols[known]]
        if self.ngram_max >= 2 and total:
            per_text = tokens.per_text(n_texts)
            # tokens left in its text from each position (itself included)
            left = np.repeat(np.cumsum(per_text), per_text) - np.arange(total, dtype=np.int64)
            number = ids
            for n in range(2, self.ngram_max + 1):
                number = number[:-1] * self.base + ids[n - 1:]  # the n-gram starting at each position
                keys = self.keys[n]
                if not len(keys) or not len(number):
                    continue
                at = np.minimum(np.searchsorted(keys, number), len(keys) - 1)
                hit = (keys[at] == number) & (left[: len(number)] >= n)
                rows_out.append(rows[: len(number)][hit])
                cols_out.append(self.cols[n][at[hit]])
        return np.concatenate(rows_out), np.concatenate(cols_out)
