"""What every fitted model answers, whether a scikit-learn estimator (base.TextClassifier)
or a predictor built from a model folder's arrays (tfidf_predictor.TfidfPredictor), with
no scikit-learn import: labels from ``predict_proba``, the lengths ``tag`` sorts by, the
one-model-per-target dispatch (``target_mode="per-target"``) and writing the folder.

A subclass sets ``family`` and ``classes_`` and implements ``predict_proba``,
``get_params`` and the weight writing (``_save_weights``, ``_extra_meta``); a per-target
model sets ``targets_``, ``target_constant_`` (target -> its single label) and
``target_models_`` (target -> fitted model) instead of weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.folder import PARAMS_FILE, PER_TARGET_DIR, jsonable
from stanceframe.models.inputs import split_inputs


class FittedModel:
    """The prediction side of the model interface (module docstring)."""

    family: ClassVar[str] = ""

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    def sort_lengths(self, X: Sequence[str]) -> list[int]:
        """A length per input that ``tag`` sorts by before batching, so that a batch holds
        inputs of similar cost: characters of the text here; families that pad batches of
        tokens give token counts."""
        texts, _ = split_inputs(X)
        return [len(t) for t in texts]

    def explain(self, text: str, top_k: int = 8) -> list[tuple[str, float]]:
        """Words that drove the predicted label of ``text``: (term, weight), strongest
        first. Linear/lexicon models use their term weights; transformers leave-one-out."""
        return []

    # ---- one model per target (target_mode="per-target")
    @property
    def per_target_(self) -> bool:
        return getattr(self, "target_models_", None) is not None

    def _predict_per_target(self, X) -> np.ndarray:
        texts, targets = split_inputs(X)
        targets = targets or [None] * len(texts)
        classes = [str(c) for c in self.classes_]
        out = np.zeros((len(texts), len(classes)))
        unknown = [i for i, t in enumerate(targets) if t not in self.targets_]
        for target in self.targets_:
            idx = [i for i, t in enumerate(targets) if t == target]
            if idx:
                out[idx] = self._target_proba(target, [texts[i] for i in idx], classes)
        if unknown:  # no model for this target: the mean of every target's model
            sub = [texts[i] for i in unknown]
            out[unknown] = np.mean([self._target_proba(t, sub, classes) for t in self.targets_], axis=0)
        return out

    def _target_proba(self, target: str, texts: list[str], classes: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(classes)))
        if target in self.target_constant_:
            out[:, classes.index(self.target_constant_[target])] = 1.0
            return out
        model = self.target_models_[target]
        proba = np.asarray(model.predict_proba(texts), dtype=float)
        for j, c in enumerate(model.classes_):
            out[:, classes.index(str(c))] = proba[:, j]
        return out

    # ---- persistence
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "params": jsonable(self.get_params()), "classes": list(map(str, self.classes_))}
        if self.per_target_:
            meta["per_target"] = {"targets": list(self.targets_), "constant": dict(self.target_constant_)}
            for i, target in enumerate(self.targets_):
                if target in self.target_models_:
                    self.target_models_[target].save(path / PER_TARGET_DIR / f"{i:03d}")
        else:
            meta.update(self._extra_meta())
            self._save_weights(path)
        (path / PARAMS_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        return path

    def _extra_meta(self) -> dict:
        return {}

    def _save_weights(self, path: Path) -> None:
        raise NotImplementedError


def aligned_proba(proba: np.ndarray, classes: Sequence[str], to: Sequence[str]) -> np.ndarray:
    """``proba`` (columns in ``classes`` order) with its columns in ``to``'s order (a class
    missing from ``classes``: zeros)."""
    out = np.zeros((len(proba), len(to)))
    for j, c in enumerate(map(str, classes)):
        if c in to:
            out[:, list(to).index(c)] = proba[:, j]
    return out


def read_per_target(path: Path, spec: dict, classes: Sequence[str],
                    load: Callable[[Path], FittedModel]) -> tuple[list[str], dict[str, str], dict[str, FittedModel]]:
    """``(targets, constant, models)`` of a per-target folder: ``spec`` is its
    ``estimator.json``'s ``per_target``, each target's model is ``load(path / targets /
    NNN)``; a spec or a model whose labels do not fit ``classes`` is refused."""
    try:
        targets = [str(t) for t in spec["targets"]]
        constant = {str(k): str(v) for k, v in spec["constant"].items()}
    except (KeyError, AttributeError, TypeError) as exc:
        raise ModelFolderError(f"{path / PARAMS_FILE}: malformed per_target ({exc})") from None
    classes = set(map(str, classes))
    if not set(constant) <= set(targets) or not set(constant.values()) <= classes:
        raise ModelFolderError(f"{path / PARAMS_FILE}: per_target does not match the classes / targets")
    models = {}
    for i, target in enumerate(targets):
        if target in constant:
            continue
        model = load(path / PER_TARGET_DIR / f"{i:03d}")
        if not {str(c) for c in model.classes_} <= classes:
            raise ModelFolderError(f"{path / PER_TARGET_DIR / f'{i:03d}'}: classes not among {sorted(classes)}")
        models[target] = model
    return targets, constant, models
