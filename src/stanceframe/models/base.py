"""The one interface every model family implements, and the no-pickle folder helpers.

A family is a scikit-learn classifier over sentences: ``fit(X, y)`` with ``X`` a sequence
of texts, ``predict_proba(X)`` with columns in ``classes_`` order, ``get_params`` for
MLflow, and ``save(dir)`` / ``load(dir)`` writing JSON and ``.npy``/safetensors only, so a
model folder from a stranger can never execute code when loaded.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from stanceframe.errors import ModelFolderError

PARAMS_FILE = "estimator.json"


class TextClassifier(ClassifierMixin, BaseEstimator, ABC):
    """Base of all families. Subclasses set ``family`` and implement fit/predict_proba and
    the weight I/O (``_save_weights`` / ``_load_weights``)."""

    family: ClassVar[str] = ""

    # ---- scikit-learn API
    @abstractmethod
    def fit(self, X: Sequence[str], y: Sequence[str]) -> "TextClassifier": ...

    @abstractmethod
    def predict_proba(self, X: Sequence[str]) -> np.ndarray: ...

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    def explain(self, text: str, top_k: int = 8) -> list[tuple[str, float]]:
        """Words that drove the predicted label of ``text``: (term, weight), strongest
        first. Linear/lexicon models use their term weights; transformers leave-one-out."""
        return []

    # ---- persistence
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "params": _jsonable(self.get_params()), "classes": list(map(str, self.classes_))}
        meta.update(self._extra_meta())
        (path / PARAMS_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        self._save_weights(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        if meta.get("family") != cls.family:
            raise ModelFolderError(f"{path}: holds family {meta.get('family')!r}, not {cls.family!r}")
        try:
            est = cls(**meta.get("params", {}))
        except TypeError as exc:
            raise ModelFolderError(f"{path}: parameters do not fit {cls.__name__}: {exc}") from None
        est.classes_ = np.asarray(meta["classes"], dtype=object)
        est._load_weights(path, meta)
        return est

    def _extra_meta(self) -> dict:
        return {}

    @abstractmethod
    def _save_weights(self, path: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, path: Path, meta: dict) -> None: ...


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing (not a stanceframe model folder?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path}: not valid JSON: {exc}") from None


def save_array(path: Path, array: np.ndarray) -> None:
    np.save(path, np.asarray(array), allow_pickle=False)


def load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing weight file") from None
    except ValueError as exc:
        raise ModelFolderError(f"{path}: refused to load ({exc})") from None


def check_texts(X: Sequence[str]) -> list[str]:
    if isinstance(X, str):
        raise TypeError("X must be a sequence of texts, not one string")
    return [str(x) for x in X]
