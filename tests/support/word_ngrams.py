"""The test-side oracle of :mod:`stanceframe.models.word_ngrams`' token hashes."""

from __future__ import annotations

import numpy as np

from stanceframe.models.word_ngrams import code_points, run_hashes


def string_hash(text: str) -> int:
    """The hash :func:`~stanceframe.models.word_ngrams.batch_tokens` gives a token equal to ``text``."""
    codes = code_points(text)
    return int(run_hashes(codes, np.zeros(1, dtype=np.int64), np.array([len(codes)], dtype=np.int64))[0])
