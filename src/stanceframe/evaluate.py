"""Cross-validation, macro-F1, per-class report, confusion matrix, calibration and the
leaderboard. Knows nothing about which family it scores: it takes a factory of estimators."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from stanceframe.dataset import LabelledSet
from stanceframe.models import fit_params_for


def expected_calibration_error(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], n_bins: int = 10) -> float:
    """Top-label ECE: the weighted gap between confidence and accuracy over equal-width bins."""
    proba = np.asarray(proba, dtype=float)
    if len(proba) == 0:
        return float("nan")
    conf = proba.max(axis=1)
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    correct = (pred == np.asarray(y_true)).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def task_metrics(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    """Every metric of one task on one set of predictions. ``labels`` fixes the label order
    (all labels of the task), so a label absent from a fold still has a row."""
    classes = [str(c) for c in classes]
    labels = list(labels) if labels is not None else classes
    proba = np.asarray(proba, dtype=float)
    y_pred = [classes[i] for i in proba.argmax(axis=1)] if len(proba) else []
    y_true = [str(y) for y in y_true]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [lab for lab in labels if lab in set(y_true) or lab in set(y_pred)]
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if y_true else float("nan"),
        "ece": expected_calibration_error(y_true, proba, classes),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist() if y_true else [],
        "labels": labels,
        "n": len(y_true),
        "predicted_share": {lab: (y_pred.count(lab) / len(y_pred) if y_pred else 0.0) for lab in labels},
        "true_share": {lab: (y_true.count(lab) / len(y_true) if y_true else 0.0) for lab in labels},
    }


def official_stance_score(y_true: Sequence[str], y_pred: Sequence[str], positive: Sequence[str] = ("against", "favor")) -> float:
    """SemEval-2016 Task 6 / TweetEval stance metric: mean F1 of the ``positive`` classes."""
    f = f1_score(list(y_true), list(y_pred), labels=list(positive), average=None, zero_division=0)
    return float(np.mean(f))


@dataclass
class FoldResult:
    repeat: int
    fold: int
    metrics: dict
    fit_seconds: float
    predict_seconds: float
    n_test: int
    test_index: np.ndarray
    proba: np.ndarray
    classes: list[str]
    int8: dict | None = None  # the int8 check of the fold's model (compare, encoder families)


@dataclass
class CVResult:
    task: str
    labels: list[str]
    folds: list[FoldResult] = field(default_factory=list)

    def summary(self) -> dict:
        """mean ± std over folds of the headline metrics, per-class F1 and timings; the
        confusion matrix summed over folds."""
        def stat(values):
            arr = np.asarray([v for v in values if not (isinstance(v, float) and math.isnan(v))], dtype=float)
            return {"mean": float(arr.mean()) if arr.size else float("nan"), "std": float(arr.std()) if arr.size else float("nan")}

        out = {
            "macro_f1": stat(f.metrics["macro_f1"] for f in self.folds),
            "accuracy": stat(f.metrics["accuracy"] for f in self.folds),
            "ece": stat(f.metrics["ece"] for f in self.folds),
            "fit_seconds": stat(f.fit_seconds for f in self.folds),
            "sentences_per_s": stat(f.n_test / f.predict_seconds if f.predict_seconds > 0 else float("nan") for f in self.folds),
            "per_class": {},
            "confusion": np.sum([f.metrics["confusion"] for f in self.folds], axis=0).tolist(),
            "labels": self.labels,
            "n_folds": len(self.folds),
        }
        checked = [f.int8 for f in self.folds if f.int8]
        if checked:
            out["int8"] = {"folds": checked}
        for lab in self.labels:
            out["per_class"][lab] = {
                k: stat(f.metrics["per_class"][lab][k] for f in self.folds) for k in ("precision", "recall", "f1")
            }
        return out

    def out_of_fold(self, repeat: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(indices, probabilities, classes) of one repeat's out-of-fold predictions, each
        test example once."""
        folds = [f for f in self.folds if f.repeat == repeat]
        classes = self.labels
        idx = np.concatenate([f.test_index for f in folds])
        proba = np.zeros((len(idx), len(classes)))
        row = 0
        for f in folds:
            cols = [classes.index(c) for c in f.classes]
            proba[row:row + len(f.test_index), cols] = f.proba
            row += len(f.test_index)
        return idx, proba, classes


def cross_validate(
    make_estimator: Callable[[], object],
    gold: LabelledSet,
    task: str,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    train_only: LabelledSet | None = None,
    n_splits: int | None = None,
    on_fold: Callable[[FoldResult], None] | None = None,
    inputs: Callable[[LabelledSet], list] | None = None,
    int8_check: Callable[..., dict | None] | None = None,
) -> CVResult:
    """Fit a fresh estimator per fold on the fold's gold training part plus ``train_only``
    (the contrast set: training material only, never scored) and score the gold test part.
    ``int8_check(est, X_test, proba, labels, gold)``: the fold model's int8 figures, kept
    in the fold's result (compare, encoder families)."""
    inputs = inputs or (lambda s: s.texts)
    labels = gold.schema.task(task).label_names
    result = CVResult(task, labels)
    per_repeat = n_splits or len(folds)
    for i, (train_idx, test_idx) in enumerate(folds):
        train = gold.subset(train_idx)
        if train_only is not None and len(train_only):
            train = train + train_only
        test = gold.subset(test_idx)
        est = make_estimator()
        t0 = time.perf_counter()
        est.fit(inputs(train), train.labels(task), **fit_params_for(est, train, task))
        fit_s = time.perf_counter() - t0
        X_test = inputs(test)
        t0 = time.perf_counter()
        proba = np.asarray(est.predict_proba(X_test))
        pred_s = time.perf_counter() - t0
        classes = [str(c) for c in est.classes_]
        full = np.zeros((len(test), len(labels)))
        for j, c in enumerate(classes):
            if c in labels:
                full[:, labels.index(c)] = proba[:, j]
        fold = FoldResult(
            repeat=i // per_repeat,
            fold=i % per_repeat,
            metrics=task_metrics(test.labels(task), full, labels, labels),
            fit_seconds=fit_s,
            predict_seconds=pred_s,
            n_test=len(test),
            test_index=np.asarray(test_idx),
            proba=full,
            classes=labels,
            int8=int8_check(est, X_test, full, labels, test.labels(task)) if int8_check else None,
        )
        result.folds.append(fold)
        if on_fold:
            on_fold(fold)
    return result


def misclassified_rows(gold: LabelledSet, cv: CVResult, repeat: int = 0) -> list[dict]:
    """Out-of-fold errors of one repeat with their scores, most confident first."""
    idx, proba, classes = cv.out_of_fold(repeat)
    rows = []
    for i, p in zip(idx, proba):
        ex = gold.examples[i]
        pred = classes[int(p.argmax())]
        gold_label = ex.labels[cv.task]
        if pred != gold_label:
            rows.append({
                "id": ex.id, "text": ex.text, "gold": gold_label, "predicted": pred,
                "confidence": round(float(p.max()), 4),
                **{f"p_{c}": round(float(v), 4) for c, v in zip(classes, p)},
            })
    rows.sort(key=lambda r: -r["confidence"])
    return rows


def int8_figures(summary: dict) -> dict:
    """A task summary's int8 figures (compare's int8 check): ``{"cv": per-fold figures,
    "realtext": figures}``, the keys it has ({} when the family was not checked)."""
    return {k: v for k, v in (("cv", (summary.get("int8") or {}).get("folds")),
                              ("realtext", (summary.get("realtext") or {}).get("int8"))) if v}


def leaderboard_rows(results: dict[str, dict[str, dict]]) -> list[dict]:
    """Flatten ``{family: {task: summary}}`` into rows, best macro-F1 first within each task."""
    rows = []
    for family, tasks in results.items():
        for task, s in tasks.items():
            rows.append({
                "family": family,
                "task": task,
                "macro_f1": s["macro_f1"]["mean"],
                "macro_f1_std": s["macro_f1"]["std"],
                "accuracy": s["accuracy"]["mean"],
                "ece": s["ece"]["mean"],
                "per_class_f1": {lab: v["f1"]["mean"] for lab, v in s["per_class"].items()},
                "per_class_precision": {lab: v["precision"]["mean"] for lab, v in s["per_class"].items()},
                "fit_seconds": s["fit_seconds"]["mean"],
                "sentences_per_s": s["sentences_per_s"]["mean"],
            })
            if "realtext" in s:  # compare's real-text check (task_metrics of one fit)
                rows[-1]["realtext_macro_f1"] = s["realtext"]["macro_f1"]
                rows[-1]["realtext_per_class_f1"] = {lab: v["f1"] for lab, v in s["realtext"]["per_class"].items()}
                rows[-1]["realtext_predicted_share"] = s["realtext"].get("predicted_share", {})
            int8 = int8_figures(s)
            if int8:  # compare's int8 check of the family's fold and real-text models
                rows[-1]["int8"] = int8
    rows.sort(key=lambda r: (r["task"], -r["macro_f1"]))
    return rows


def task_score(summary: dict, protocols: Sequence[str] = ("cv",)) -> float:
    """One family's score on one task: its macro-F1 averaged over ``protocols`` (``cv``:
    the cross-validation mean; ``realtext``: the real-text check)."""
    return float(np.mean([summary["macro_f1"]["mean"] if p == "cv" else summary["realtext"]["macro_f1"]
                          for p in protocols]))


def pick_best_per_task(results: dict[str, dict[str, dict]], protocols: Sequence[str] = ("cv",)) -> dict[str, str]:
    """Per task, the family with the best :func:`task_score` (ties: the first family)."""
    tasks = list(dict.fromkeys(t for fam in results.values() for t in fam))
    return {task: max((f for f in results if task in results[f]), key=lambda f: task_score(results[f][task], protocols))
            for task in tasks}


def pick_best(results: dict[str, dict[str, dict]], rule: str = "mean_macro_f1",
              protocols: Sequence[str] = ("cv",)) -> str:
    """The family to promote. A task's score is its macro-F1 averaged over ``protocols``
    (``cv``: the cross-validation mean; ``realtext``: the real-text check). Rules:
    ``mean_macro_f1`` (mean over tasks), or ``min_macro_f1`` (the worst task counts: a
    family good on both)."""
    def score(tasks):
        values = [task_score(s, protocols) for s in tasks.values()]
        return min(values) if rule == "min_macro_f1" else float(np.mean(values))

    if rule not in {"mean_macro_f1", "min_macro_f1"}:
        raise ValueError(f"unknown promote rule {rule!r}")
    unknown = set(protocols) - {"cv", "realtext"}
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)} (cv, realtext)")
    return max(results, key=lambda fam: score(results[fam]))
