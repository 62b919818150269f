"""The one interface every model family implements: a scikit-learn classifier over
sentences. ``fit(X, y)`` with ``X`` a sequence of texts, ``predict_proba(X)`` with columns
in ``classes_`` order, ``get_params`` for MLflow, and ``save(dir)`` / ``load(dir)``
writing JSON and ``.npy``/safetensors only (folder.py), so a model folder from a stranger
can never execute code when loaded. What a fitted model answers without scikit-learn
(``predict``, ``sort_lengths``, the per-target dispatch, ``save``) is fitted.py's.

Target-aware stance: ``X`` may instead hold ``(target, text)`` pairs (inputs.py
separates them). Each family's ``target_mode`` says how it conditions on the target:
``cross`` (features crossed with the target, one model), ``per-target`` (one model per
target, generic here: ``_fit_per_target``), ``pair`` (the transformer encodes target and
text together) or ``none`` (targets ignored). A plain text, or a target the model never
saw, gets the model's target-free behaviour (shared features / the mean of the targets'
models).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from stanceframe.errors import ModelFolderError
from stanceframe.models.fitted import FittedModel, read_per_target
from stanceframe.models.folder import PARAMS_FILE, read_json
from stanceframe.models.inputs import (
    TARGET_MODES,
    check_target_mode,
    fit_target_vocabulary,
    split_inputs,
    string_labels,
)


class TextClassifier(FittedModel, ClassifierMixin, BaseEstimator, ABC):
    """Base of all families. Subclasses set ``family`` and implement fit/predict_proba and
    the weight I/O (``_save_weights`` / ``_load_weights``); prediction, per-target
    dispatch and ``save`` come from :class:`FittedModel`."""

    # ---- scikit-learn API
    @abstractmethod
    def fit(self, X: Sequence[str], y: Sequence[str]) -> TextClassifier: ...

    @abstractmethod
    def predict_proba(self, X: Sequence[str]) -> np.ndarray: ...

    # ---- persistence
    @classmethod
    def load(cls, path: str | Path) -> TextClassifier:
        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        from stanceframe.models import canonical_family

        if canonical_family(str(meta.get("family"))) != cls.family:
            raise ModelFolderError(f"{path}: holds family {meta.get('family')!r}, not {cls.family!r}")
        try:
            est = cls(**meta.get("params", {}))
        except TypeError as exc:
            raise ModelFolderError(f"{path}: parameters do not fit {cls.__name__}: {exc}") from None
        est.classes_ = np.asarray(meta["classes"], dtype=object)
        if "per_target" in meta:
            est._load_per_target(path, meta["per_target"])
        else:
            est._load_weights(path, meta)
        return est

    def _begin_fit(self, X, y, modes: Sequence[str] = TARGET_MODES):
        """What every family's ``fit`` starts with: ``target_mode`` checked against the
        family's ``modes``; with ``per-target`` and (target, text) pairs, one model per
        target is fitted and ``None`` returned (``fit`` then returns ``self``); else
        ``(texts, targets, y)`` with ``y`` as strings, one per text, and ``classes_`` (its
        labels, sorted), ``target_models_`` (None), ``targets_`` (the target vocabulary in
        ``cross`` mode, else []) and, for families with a ``pair`` mode, ``paired_`` set."""
        check_target_mode(self.target_mode, modes)
        texts, targets = split_inputs(X)
        if targets is not None and self.target_mode == "per-target":
            self._fit_per_target(X, y)
            return None
        self.target_models_ = None
        if "pair" in modes:
            self.paired_ = targets is not None and self.target_mode == "pair"
        self.targets_ = fit_target_vocabulary(targets) if self.target_mode == "cross" else []
        y = string_labels(texts, y)
        self.classes_ = np.asarray(sorted(set(y)), dtype=object)
        return texts, targets, y

    # ---- one model per target (target_mode="per-target"), for every family
    def _fit_per_target(self, X, y) -> TextClassifier:
        """One estimator of this family per target (``target_mode="none"``) on that
        target's examples; a target with a single label predicts it with certainty."""
        texts, targets = split_inputs(X)
        if targets is None:
            raise ValueError("target_mode='per-target' needs (target, text) pairs")
        y = string_labels(texts, y)
        self.classes_ = np.asarray(sorted(set(y)), dtype=object)
        self.targets_ = sorted({t for t in targets if t is not None})
        self.target_models_, self.target_constant_ = {}, {}
        params = {**self.get_params(), "target_mode": "none"}
        for target in self.targets_:
            idx = [i for i, t in enumerate(targets) if t == target]
            labels = y[idx]
            if len(set(labels)) < 2:
                self.target_constant_[target] = str(labels[0])
                continue
            self.target_models_[target] = type(self)(**params).fit([texts[i] for i in idx], labels)
        return self

    def _load_per_target(self, path: Path, spec: dict) -> None:
        self.targets_, self.target_constant_, self.target_models_ = read_per_target(path, spec, self.classes_,
                                                                                     type(self).load)

    @abstractmethod
    def _save_weights(self, path: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, path: Path, meta: dict) -> None: ...
