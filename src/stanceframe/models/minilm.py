"""The ``encoder-logreg`` family: frozen all-MiniLM-L6-v2 sentence embeddings (mean
pooled, L2-normalised) and a class-balanced LogisticRegression.

The model folder holds only the head (.npy) and the encoder's name and package
version; the encoder itself comes from the pip package (or a local folder) at load.

Targets (``(target, text)`` pairs): ``target_mode="per-target"`` (default) embeds the
text alone and fits one head per target (base.py); ``cross`` crosses the embedding with
the target in one head (inputs.target_crossed); ``pair`` embeds ``"target [SEP] text"``;
``none`` ignores targets. On TweetEval stance (C=1, ``stanceframe benchmark tweeteval``)
validation / train 5-fold CV: per-target 72.6 / 69.5, cross 72.5 / 68.0, pair 55.6 /
60.7 (mean pooling over a frozen encoder dilutes the text with the target's tokens),
none 62.3 / 60.3.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.base import TextClassifier
from stanceframe.models.encoder import (
    DEFAULT_ENCODER,
    embed,
    encoder_version,
    explain_by_leaving_out,
    load_encoder,
    resolve_encoder,
)
from stanceframe.models.folder import PARAMS_FILE
from stanceframe.models.inputs import split_inputs, target_crossed
from stanceframe.models.linear import fit_logreg, linear_proba, load_head, save_head


class MiniLMLogRegClassifier(TextClassifier):
    """Parameters: ``encoder`` (name or folder), ``max_length`` (tokens per sentence),
    ``batch_size`` (sentences per encoder call), ``C`` and ``class_weight`` of the
    LogisticRegression, ``random_state``, ``target_mode`` (module docstring)."""

    family = "encoder-logreg"

    def __init__(self, encoder: str = DEFAULT_ENCODER, max_length: int = 128, batch_size: int = 32, C: float = 10.0,
                 class_weight: str | None = "balanced", random_state: int = 0, target_mode: str = "per-target"):
        self.encoder = encoder
        self.max_length = max_length
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state
        self.target_mode = target_mode

    def _embed(self, texts: list[str]) -> np.ndarray:
        return embed(texts, self.encoder, int(self.max_length), int(self.batch_size))

    def _features(self, X) -> np.ndarray:
        texts, targets = split_inputs(X)
        if self.target_mode == "pair" and targets is not None:
            sep = load_encoder(str(self.encoder))[0].sep_token or "[SEP]"
            texts = [f"{t} {sep} {x}" if t is not None else x for t, x in zip(targets, texts)]
        features = self._embed(texts).astype(np.float64)
        if self.targets_:
            features = target_crossed(features, targets, self.targets_)
        return features

    def fit(self, X: Sequence[str], y: Sequence[str]) -> MiniLMLogRegClassifier:
        begun = self._begin_fit(X, y)
        if begun is None:
            return self
        _, _, y = begun
        features = self._features(X)
        self.n_features_in_ = features.shape[1]
        self.coef_, self.intercept_ = fit_logreg(features, y, self.classes_, self.C, self.class_weight, self.random_state)
        self.encoder_version_ = encoder_version(self.encoder)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return linear_proba(self, X, self._features)

    def explain(self, text: str, top_k: int = 8) -> list[tuple[str, float]]:
        return explain_by_leaving_out(self, text, top_k)

    # ---- persistence
    def _extra_meta(self) -> dict:
        return {"encoder": {"name": self.encoder, "package_version": getattr(self, "encoder_version_", None)},
                "target_vocabulary": list(self.targets_)}

    def _save_weights(self, path: Path) -> None:
        save_head(path, self.coef_, self.intercept_)

    def _load_weights(self, path: Path, meta: dict) -> None:
        try:
            resolve_encoder(self.encoder)  # installed locally? (a clear error now, no network call later)
        except ModelFolderError as exc:
            raise ModelFolderError(f"{path / PARAMS_FILE}: {exc}") from None
        self.targets_ = [str(t) for t in meta.get("target_vocabulary") or []]
        k = len(self.targets_)
        self.coef_, self.intercept_ = load_head(path, len(self.classes_), None)
        self.n_features_in_ = self.coef_.shape[1]
        if k and (self.n_features_in_ - k) % (k + 1):
            raise ModelFolderError(f"{path}: head width {self.n_features_in_} does not fit {k} crossed targets")
        saved = (meta.get("encoder") or {}).get("package_version")
        self.encoder_version_ = encoder_version(self.encoder)
        if saved and self.encoder_version_ and saved != self.encoder_version_:
            warnings.warn(f"{path}: trained with encoder package {saved}, loading with {self.encoder_version_}",
                          stacklevel=2)
