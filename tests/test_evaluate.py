"""Metrics, calibration, grouped cross-validation and the leaderboard."""

from __future__ import annotations

import numpy as np
import pytest
from support.paths import REPO

from stanceframe.dataset import grouped_folds, load_labelled
from stanceframe.evaluate import (
    cross_validate,
    expected_calibration_error,
    leaderboard_rows,
    misclassified_rows,
    official_stance_score,
    pick_best,
    task_metrics,
)
from stanceframe.experiments import build_estimator


def test_task_metrics_by_hand():
    classes = ["a", "b", "c"]
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    m = task_metrics(["a", "b", "b", "c"], proba, classes)
    # predictions a, b, a, c: a P=1/2 R=1 F=2/3; b P=1 R=1/2 F=2/3; c F=1
    assert m["per_class"]["a"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def test_expected_calibration_error_by_hand():
    # two confident right answers (0.9) and two half-right at 0.6: bins 0.9 -> |1-0.9|, 0.6 -> |0.5-0.6|
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    ece = expected_calibration_error(["x", "x", "x", "y"], proba, ["x", "y"])
    assert ece == pytest.approx(0.5 * 0.1 + 0.5 * 0.1)
    assert expected_calibration_error(["x"], np.array([[1.0, 0.0]]), ["x", "y"]) == pytest.approx(0.0)


def test_official_stance_score_ignores_none():
    y_true = ["against", "favor", "none", "against"]
    y_pred = ["against", "none", "none", "favor"]
    # against: P=1 R=1/2 F=2/3; favor: P=0 R=0 F=0 -> mean 1/3; none is not averaged
    assert official_stance_score(y_true, y_pred) == pytest.approx(1 / 3)


def test_folds_never_split_a_paragraph_and_are_deterministic():
    gold = load_labelled(REPO / "data" / "seed" / "labels.jsonl")
    groups = np.asarray(gold.groups)
    folds = grouped_folds(gold.labels("stance"), gold.groups, n_splits=5, n_repeats=2, seed=13)
    assert len(folds) == 10
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(set(train) | set(test)) == len(gold)
    again = grouped_folds(gold.labels("stance"), gold.groups, n_splits=5, n_repeats=2, seed=13)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    other = grouped_folds(gold.labels("stance"), gold.groups, n_splits=5, n_repeats=2, seed=14)
    assert any(len(a[1]) != len(b[1]) or (a[1] != b[1]).any() for a, b in zip(folds, other))


def _cv(task="framing", family="tfidf-logreg"):
    gold = load_labelled(REPO / "data" / "seed" / "labels.jsonl")
    extra = load_labelled(REPO / "data" / "contrast" / "contrast.jsonl")
    folds = grouped_folds(gold.labels(task), gold.groups, n_splits=3, n_repeats=1, seed=1)
    return gold, cross_validate(lambda: build_estimator(family, task, None, 1), gold, task, folds, train_only=extra)


def test_cross_validation_scores_gold_only_and_is_repeatable():
    gold, cv = _cv()
    tested = np.concatenate([f.test_index for f in cv.folds])
    assert sorted(tested) == list(range(len(gold)))  # every gold sentence scored once, contrast never
    s1 = cv.summary()
    _, cv2 = _cv()
    assert s1["macro_f1"]["mean"] == pytest.approx(cv2.summary()["macro_f1"]["mean"], abs=1e-12)
    assert np.sum(s1["confusion"]) == len(gold)
    assert set(s1["per_class"]) == {"western", "russian", "neutral"}


def test_misclassified_rows_and_leaderboard():
    gold, cv = _cv()
    rows = misclassified_rows(gold, cv)
    assert all(r["gold"] != r["predicted"] for r in rows)
    assert all(set(r) >= {"id", "text", "confidence", "p_western"} for r in rows)
    results = {"tfidf-logreg": {"framing": cv.summary()}, "weak": {"framing": {**cv.summary(), "macro_f1": {"mean": 0.0, "std": 0.0}}}}
    board = leaderboard_rows(results)
    assert board[0]["family"] == "tfidf-logreg"
    assert pick_best(results) == "tfidf-logreg"
    with pytest.raises(ValueError):
        pick_best(results, "nonsense")
