"""The ``fusion`` family: context and cues together. The fine-tuned multi-task encoder
(``encoder-multitask``: reads the sentence in context) and a sparse n-gram model
(``tfidf-svm`` by default: the lens words themselves) give probabilities that are averaged
with a weight per task.

The weight is chosen on the encoder's grouped validation split only (whole articles held out
of its training): the n-gram model is fitted on the same training part, both score the
held-out articles, and the weight in a grid from 0 to 1 with the best macro-F1 there is kept
(ties: the one nearest 0.5). The n-gram model is then refitted on all the data. A fixed
``weight`` skips the search.

The model folder holds ``encoder/`` (the multi-task adapters and heads) and ``ngram/`` (the
n-gram model's arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.models import make_estimator
from stanceframe.models.base import TextClassifier
from stanceframe.models.fitted import aligned_proba as _aligned
from stanceframe.models.multitask import EncoderMultiTaskClassifier

ENCODER_DIR = "encoder"
NGRAM_DIR = "ngram"


def macro_f1(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    pred = [classes[i] for i in proba.argmax(axis=1)]
    return float(f1_score(list(y_true), pred, labels=list(classes), average="macro", zero_division=0))


def choose_weight(y_true: Sequence[str], p_encoder: np.ndarray, p_ngram: np.ndarray, classes: Sequence[str],
                  step: float = 0.1) -> tuple[float, dict]:
    """The encoder's weight (the n-gram model gets 1 - w) with the best macro-F1 on
    ``y_true``; ties go to the weight nearest 0.5. Returns it and the score per weight."""
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, step), 3)
    scores = {float(w): macro_f1(y_true, w * p_encoder + (1 - w) * p_ngram, classes) for w in grid}
    best = max(scores.values())
    weight = min((w for w, s in scores.items() if s >= best - 1e-12), key=lambda w: (abs(w - 0.5), w))
    return weight, scores


class FusionClassifier(TextClassifier):
    """Parameters: ``encoder_params`` (``encoder-multitask``'s), ``ngram_family`` and
    ``ngram_params``, ``weight`` ("validation": chosen as the module says, or a number for
    the encoder's share), ``grid_step``, ``random_state``, ``target_mode`` ("none")."""

    family = "fusion"
    uses_task_labels = True

    def __init__(self, encoder_params: dict | None = None, ngram_family: str = "tfidf-svm",
                 ngram_params: dict | None = None, weight: str | float = "validation", grid_step: float = 0.1,
                 random_state: int = 0, target_mode: str = "none"):
        self.encoder_params = encoder_params
        self.ngram_family = ngram_family
        self.ngram_params = ngram_params
        self.weight = weight
        self.grid_step = grid_step
        self.random_state = random_state
        self.target_mode = target_mode

    def _ngram(self):
        params = {"random_state": self.random_state, **(self.ngram_params or {})}
        return make_estimator(self.ngram_family, **params)

    def fit(self, X: Sequence, y: Sequence[str], task_labels: dict | None = None,
            groups: Sequence | None = None) -> FusionClassifier:
        begun = self._begin_fit(X, y, ("none",))
        texts, _, y = begun
        X = list(X)
        enc_params = {"random_state": self.random_state, **(self.encoder_params or {})}
        self.encoder_ = EncoderMultiTaskClassifier(**enc_params).fit(X, y, task_labels=task_labels, groups=groups)
        classes = [str(c) for c in self.classes_]
        val_idx, p_val = self.encoder_.validation_
        self.weight_scores_ = {}
        if self.weight != "validation":
            self.weight_ = float(self.weight)
        elif len(val_idx):
            held = set(int(i) for i in val_idx)
            train_idx = [i for i in range(len(X)) if i not in held]
            ngram = self._ngram().fit([X[i] for i in train_idx], [y[i] for i in train_idx])
            p_ngram = _aligned(ngram.predict_proba([X[i] for i in val_idx]), ngram.classes_, classes)
            p_enc = _aligned(p_val, self.encoder_.classes_, classes)
            self.weight_, self.weight_scores_ = choose_weight([y[i] for i in val_idx], p_enc, p_ngram, classes,
                                                              float(self.grid_step))
        else:
            self.weight_ = 0.5
        self.ngram_ = self._ngram().fit(X, y)
        return self

    def predict_proba(self, X: Sequence) -> np.ndarray:
        classes = [str(c) for c in self.classes_]
        X = list(X)
        p_enc = _aligned(self.encoder_.predict_proba(X), self.encoder_.classes_, classes)
        p_ngram = _aligned(self.ngram_.predict_proba(X), self.ngram_.classes_, classes)
        return self.weight_ * p_enc + (1 - self.weight_) * p_ngram

    def sort_lengths(self, X: Sequence) -> list[int]:
        return self.encoder_.sort_lengths(X)

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        """The n-gram model's words (the lens cues), weighted by its share of the vote."""
        return [(w, s * (1 - self.weight_)) for w, s in self.ngram_.explain(text, top_k)]

    def encoder_info(self) -> dict:
        return self.encoder_.encoder_info()

    # ---- persistence
    def _extra_meta(self) -> dict:
        return {"weight": self.weight_, "weight_scores": {str(k): v for k, v in self.weight_scores_.items()}}

    def _save_weights(self, path: Path) -> None:
        self.encoder_.save(path / ENCODER_DIR)
        self.ngram_.save(path / NGRAM_DIR)

    def _load_weights(self, path: Path, meta: dict) -> None:
        from stanceframe.models.bundle import task_loader

        self.encoder_ = EncoderMultiTaskClassifier.load(path / ENCODER_DIR)
        self.ngram_ = task_loader(self.ngram_family)(path / NGRAM_DIR)
        self.weight_ = float(meta.get("weight", 0.5))
        self.weight_scores_ = meta.get("weight_scores") or {}
