"""The ``minilm-logreg`` family: frozen all-MiniLM-L6-v2 sentence embeddings (mean
pooled, L2-normalised) and a class-balanced LogisticRegression.

The model folder holds only the head (.npy) and the encoder's name and package
version; the encoder itself comes from the pip package (or a local folder) at load.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from stanceframe.models.base import TextClassifier, check_texts
from stanceframe.models.encoder import DEFAULT_ENCODER, embed, encoder_version, leave_one_out
from stanceframe.models.linear import decision_scores, fit_logreg, load_head, logreg_proba, save_head


class MiniLMLogRegClassifier(TextClassifier):
    """Parameters: ``encoder`` (name or folder), ``max_length`` (tokens per sentence),
    ``batch_size`` (sentences per encoder call), ``C`` and ``class_weight`` of the
    LogisticRegression, ``random_state``."""

    family = "minilm-logreg"

    def __init__(self, encoder: str = DEFAULT_ENCODER, max_length: int = 128, batch_size: int = 32, C: float = 10.0,
                 class_weight: str | None = "balanced", random_state: int = 0):
        self.encoder = encoder
        self.max_length = max_length
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def _embed(self, texts: list[str]) -> np.ndarray:
        return embed(texts, self.encoder, int(self.max_length), int(self.batch_size))

    def fit(self, X: Sequence[str], y: Sequence[str]) -> "MiniLMLogRegClassifier":
        texts = check_texts(X)
        y = np.asarray([str(v) for v in y], dtype=object)
        if len(texts) != len(y):
            raise ValueError(f"X has {len(texts)} texts but y has {len(y)} labels")
        self.classes_ = np.asarray(sorted(set(y)), dtype=object)
        features = self._embed(texts)
        self.n_features_in_ = features.shape[1]
        self.coef_, self.intercept_ = fit_logreg(features, y, self.classes_, self.C, self.class_weight, self.random_state)
        self.encoder_version_ = encoder_version(self.encoder)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        texts = check_texts(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return logreg_proba(decision_scores(self._embed(texts).astype(np.float64), self.coef_, self.intercept_))

    def explain(self, text: str, top_k: int = 8) -> list[tuple[str, float]]:
        return leave_one_out(text, self.predict_proba, top_k)

    # ---- persistence
    def _extra_meta(self) -> dict:
        return {"encoder": {"name": self.encoder, "package_version": getattr(self, "encoder_version_", None)}}

    def _save_weights(self, path: Path) -> None:
        save_head(path, self.coef_, self.intercept_)

    def _load_weights(self, path: Path, meta: dict) -> None:
        self.coef_, self.intercept_ = load_head(path, len(self.classes_), None)
        self.n_features_in_ = self.coef_.shape[1]
        saved = (meta.get("encoder") or {}).get("package_version")
        self.encoder_version_ = encoder_version(self.encoder)
        if saved and self.encoder_version_ and saved != self.encoder_version_:
            warnings.warn(f"{path}: trained with encoder package {saved}, loading with {self.encoder_version_}",
                          stacklevel=2)
