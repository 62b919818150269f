"""What a model is given: texts, or ``(target, text)`` pairs for target-aware stance, and
the target modes' helpers (the target vocabulary, crossed features)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TARGET_MODES = ("cross", "per-target", "pair", "none")


def check_texts(X: Sequence[str]) -> list[str]:
    if isinstance(X, str):
        raise TypeError("X must be a sequence of texts, not one string")
    return [str(x) for x in X]


def split_inputs(X) -> tuple[list[str], list[str | None] | None]:
    """``(texts, targets)`` of a model input: ``X`` holds texts, or ``(target, text)``
    pairs (tuples, lists or 2-element arrays; a ``None`` target is allowed). ``targets``
    is None when no element is a pair."""
    if isinstance(X, str):
        raise TypeError("X must be a sequence of texts or (target, text) pairs, not one string")
    if isinstance(X, list) and set(map(type, X)) <= {str}:  # plain texts: the common case, fast
        return list(X), None
    texts: list[str] = []
    targets: list[str | None] = []
    paired = False
    for x in X:
        if isinstance(x, (tuple, list, np.ndarray)):
            if len(x) != 2:
                raise ValueError(f"expected a text or a (target, text) pair, got {len(x)} items")
            target, text = x
            targets.append(None if target is None else str(target))
            texts.append(str(text))
            paired = True
        else:
            targets.append(None)
            texts.append(str(x))
    return texts, (targets if paired else None)


def string_labels(texts: Sequence[str], y: Sequence) -> np.ndarray:
    """``y`` as an object array of strings, one per text (a ValueError when the counts differ)."""
    y = np.asarray([str(v) for v in y], dtype=object)
    if len(texts) != len(y):
        raise ValueError(f"X has {len(texts)} texts but y has {len(y)} labels")
    return y


def check_target_mode(mode: str, allowed: Sequence[str] = TARGET_MODES) -> str:
    if mode not in allowed:
        raise ValueError(f"target_mode must be one of {', '.join(allowed)}, not {mode!r}")
    return mode


def fit_target_vocabulary(targets: Sequence[str | None] | None) -> list[str]:
    """The sorted distinct targets of the training data (the crossed feature blocks)."""
    return sorted({t for t in (targets or []) if t is not None})


def target_crossed(features, targets: Sequence[str | None] | None, vocabulary: Sequence[str]):
    """Daume's feature augmentation with the target as the domain: ``[X, X·1[t=t_1], ...,
    X·1[t=t_k], one-hot(t)]``: every feature once shared and once specific to the row's
    target, plus a per-target bias. A row with no or an unknown target has only the
    shared block. Sparse in, CSR out; dense in, dense out. (n, d) -> (n, d·(k+1)+k)."""
    import scipy.sparse as sp

    index = {t: i for i, t in enumerate(vocabulary)}
    n, d = features.shape
    k = len(vocabulary)
    block = np.asarray([index.get(t, -1) for t in (targets or [None] * n)], dtype=np.int64)
    rows = np.flatnonzero(block >= 0)
    if sp.issparse(features):
        coo = features.tocoo()
        kb = block[coo.row]
        keep = kb >= 0
        crossed = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep] + kb[keep] * d)),
                                shape=(n, k * d), dtype=features.dtype)
        onehot = sp.csr_matrix((np.ones(len(rows), dtype=features.dtype), (rows, block[rows])), shape=(n, k))
        return sp.hstack([features.tocsr(), crossed, onehot], format="csr")
    dense = np.asarray(features)
    out = np.zeros((n, d * (k + 1) + k), dtype=dense.dtype)
    out[:, :d] = dense
    for i in rows:
        b = block[i]
        out[i, d * (1 + b):d * (2 + b)] = dense[i]
        out[i, d * (k + 1) + b] = 1.0
    return out


def crossed_to_base(index: np.ndarray, n_base: int, n_targets: int) -> np.ndarray:
    """The shared feature column a crossed column stands for (-1 for the target biases)."""
    index = np.asarray(index)
    return np.where(index < n_base * (n_targets + 1), index % n_base, -1)
