"""The one interface every model family implements, and the no-pickle folder helpers.

A family is a scikit-learn classifier over sentences: ``fit(X, y)`` with ``X`` a sequence
of texts, ``predict_proba(X)`` with columns in ``classes_`` order, ``get_params`` for
MLflow, and ``save(dir)`` / ``load(dir)`` writing JSON and ``.npy``/safetensors only, so a
model folder from a stranger can never execute code when loaded.

Target-aware stance: ``X`` may instead hold ``(target, text)`` pairs (``split_inputs``
separates them). Each family's ``target_mode`` says how it conditions on the target:
``cross`` (features crossed with the target, one model), ``per-target`` (one model per
target, generic here: ``_fit_per_target``), ``pair`` (the transformer encodes target and
text together) or ``none`` (targets ignored). A plain text, or a target the model never
saw, gets the model's target-free behaviour (shared features / the mean of the targets'
models).
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
PER_TARGET_DIR = "targets"  # target_mode="per-target": one estimator folder per target
TARGET_MODES = ("cross", "per-target", "pair", "none")


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

    # ---- persistence
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "params": _jsonable(self.get_params()), "classes": list(map(str, self.classes_))}
        if getattr(self, "target_models_", None) is not None:
            meta["per_target"] = {"targets": list(self.targets_), "constant": dict(self.target_constant_)}
            for i, target in enumerate(self.targets_):
                if target in self.target_models_:
                    self.target_models_[target].save(path / PER_TARGET_DIR / f"{i:03d}")
        else:
            meta.update(self._extra_meta())
            self._save_weights(path)
        (path / PARAMS_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
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
    def _fit_per_target(self, X, y) -> "TextClassifier":
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

    def _load_per_target(self, path: Path, spec: dict) -> None:
        try:
            targets = [str(t) for t in spec["targets"]]
            constant = {str(k): str(v) for k, v in spec["constant"].items()}
        except (KeyError, AttributeError, TypeError) as exc:
            raise ModelFolderError(f"{path / PARAMS_FILE}: malformed per_target ({exc})") from None
        classes = set(map(str, self.classes_))
        if not set(constant) <= set(targets) or not set(constant.values()) <= classes:
            raise ModelFolderError(f"{path / PARAMS_FILE}: per_target does not match the classes / targets")
        models = {}
        for i, target in enumerate(targets):
            if target in constant:
                continue
            model = type(self).load(path / PER_TARGET_DIR / f"{i:03d}")
            if not {str(c) for c in model.classes_} <= classes:
                raise ModelFolderError(f"{path / PER_TARGET_DIR / f'{i:03d}'}: classes not among {sorted(classes)}")
            models[target] = model
        self.targets_, self.target_constant_, self.target_models_ = targets, constant, models

    @property
    def per_target_(self) -> bool:
        return getattr(self, "target_models_", None) is not None

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


MAX_UNCHECKED_ELEMENTS = 1 << 26  # an array whose expected size is not known may hold at most this many values


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a ``.npy`` file's header, reading nothing of the data."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as handle:
            version = fmt.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(handle)
            else:
                raise ModelFolderError(f"{path}: unsupported .npy format version {version}")
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing weight file") from None
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ModelFolderError(f"{path}: not a .npy file ({exc})") from None
    return tuple(shape), dtype


def load_array(path: Path, shape: tuple | None = None, kind: str | None = None) -> np.ndarray:
    """A ``.npy`` array without pickle, its header (``kind``: dtype kind; ``shape``, with
    ``None`` for any size) checked before the data is read: a 3 GB file with the wrong
    shape is refused at once, and one of unknown size may hold at most
    :data:`MAX_UNCHECKED_ELEMENTS` values."""
    found, dtype = npy_header(path)
    if dtype.hasobject:
        raise ModelFolderError(f"{path}: holds Python objects (needs pickle), refused")
    if kind is not None and dtype.kind != kind:
        raise ModelFolderError(f"{path}: expected a numeric array of kind {kind!r}, found {dtype}")
    if shape is not None and (len(found) != len(shape) or any(s is not None and s != a for s, a in zip(shape, found))):
        raise ModelFolderError(f"{path}: expected shape {shape}, found {found}")
    if (shape is None or None in shape) and int(np.prod(found, dtype=np.float64)) > MAX_UNCHECKED_ELEMENTS:
        raise ModelFolderError(f"{path}: {found} is larger than any stanceframe weight ({MAX_UNCHECKED_ELEMENTS:,} "
                               "values at most)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFolderError(f"{path}: refused to load ({exc})") from None


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
