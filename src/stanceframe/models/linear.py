"""Linear heads shared by the families: probabilities computed from saved arrays only,
so a fitted head and a reloaded one give the same numbers, and weight files checked
for shape and dtype on load. Fitting imports scikit-learn; scoring does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import expit, softmax

from stanceframe.models.folder import read_array, save_array
from stanceframe.models.inputs import split_inputs


def fit_logreg(features, y, classes, C: float, class_weight, random_state: int, max_iter: int = 2000):
    """A LogisticRegression on ``features``; returns (coef, intercept) with rows in
    ``classes`` order (one row for two classes, scored for ``classes[1]``).

    newton-cg: on these small sets (a few hundred rows, sparse n-grams or 384-d
    embeddings) it converges in ~5 iterations, 10-50x faster than lbfgs on 2 cores."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state,
                             solver="newton-cg")
    clf.fit(features, y)
    if list(clf.classes_) != list(classes):  # pragma: no cover - both are sorted label sets
        raise RuntimeError("label order mismatch")
    return clf.coef_.astype(np.float64), clf.intercept_.astype(np.float64)


def decision_scores(features, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(n, rows) ``features @ coef.T + intercept`` for dense or sparse features."""
    scores = features @ coef.T
    return np.asarray(scores, dtype=np.float64) + intercept


def logreg_proba(scores: np.ndarray) -> np.ndarray:
    """LogisticRegression's probabilities from decision scores: sigmoid for one score
    column (binary), softmax otherwise."""
    if scores.shape[1] == 1:
        p = expit(scores[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(scores, axis=1)


def sigmoid_calibrated_proba(scores: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """Probabilities from one-vs-rest decision scores and a Platt sigmoid ``(a, b)`` per
    score column (``calibration``, (rows, 2)), as CalibratedClassifierCV(method="sigmoid")
    computes them: one column is P(classes[1]); several are normalised to sum to one
    (uniform where they are all 0)."""
    a, b = calibration[:, 0], calibration[:, 1]
    p = expit(-(a * scores + b))
    if p.shape[1] == 1:
        return np.column_stack([1.0 - p[:, 0], p[:, 0]])
    total = p.sum(axis=1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[1])
    return np.divide(p, total, out=uniform, where=total != 0)


def linear_proba(model, X, features, proba=logreg_proba) -> np.ndarray:
    """What a linear-head model's ``predict_proba(X)`` is: its per-target models' answer
    when it has them (``model.per_target_``), no rows for no inputs, else
    ``proba(features(X) @ model.coef_.T + model.intercept_)``."""
    if model.per_target_:
        return model._predict_per_target(X)
    texts, _ = split_inputs(X)
    if not texts:
        return np.zeros((0, len(model.classes_)))
    return proba(decision_scores(features(X), model.coef_, model.intercept_))


def class_direction(coef: np.ndarray, class_index: int) -> np.ndarray:
    """The weight vector that pushes towards class ``class_index``."""
    if coef.shape[0] == 1:  # binary: the one row scores classes_[1]
        return coef[0] if class_index == 1 else -coef[0]
    return coef[class_index]


def n_score_rows(n_classes: int) -> int:
    return 1 if n_classes == 2 else n_classes


def save_head(path: Path, coef: np.ndarray, intercept: np.ndarray, prefix: str = "") -> None:
    save_array(path / f"{prefix}coef.npy", coef)
    save_array(path / f"{prefix}intercept.npy", intercept)


def load_head(path: Path, n_classes: int, n_features: int | None, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    rows = n_score_rows(n_classes)
    coef = read_array(path / f"{prefix}coef.npy", (rows, n_features))
    intercept = read_array(path / f"{prefix}intercept.npy", (rows,))
    return coef, intercept
