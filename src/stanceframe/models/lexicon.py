"""The ``lexicon`` family: the cue words of ``training/schema.toml`` as hand rules.

Each label's cues are counted as case-insensitive, word-boundary matches; the counts
become probabilities by a softmax: ``logit = strength * count`` per label, plus
``default_bias`` for the task's no-position label so that it wins when no cue matches
(or the log class prior when the task has no default). ``fit`` learns only the label
set, the cues of the task the labels belong to, and the class priors.

Target-aware (``(target, text)`` pairs, ``target_mode="cross"``): the no-cue base is the
log class prior *of the row's target* (add-one smoothed), so a tweet without cues gets
its target's majority stance; cues still add ``strength``. ``per-target`` fits one
lexicon per target (base.py); ``none`` ignores targets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError, SchemaError
from stanceframe.models.base import TextClassifier
from stanceframe.models.folder import load_array, read_json, save_array
from stanceframe.models.inputs import split_inputs
from stanceframe.schema import Task, load_schema

CUES_FILE = "cues.json"
PRIOR_FILE = "class_prior.npy"
TARGET_PRIOR_FILE = "target_prior.npy"


class LexiconClassifier(TextClassifier):
    """Cue-word counting per label; see the module docstring.

    Parameters
    ----------
    task : schema task whose cues to use; None infers the task whose label set equals
        the labels of ``y`` (no match: class priors only, no cues).
    schema_path : schema file; None is the default schema (``training/schema.toml``).
    strength : logit added per cue match.
    default_bias : logit of the task's default (no-position) label; below ``strength``
        so that one cue match outweighs it.
    random_state : unused (nothing random); kept so every family takes a seed.
    target_mode : "cross" (per-target priors), "per-target" or "none"; see the module docstring.
    """

    family = "lexicon"

    def __init__(self, task: str | None = None, schema_path: str | None = None, strength: float = 2.0,
                 default_bias: float = 1.0, random_state: int = 0, target_mode: str = "cross"):
        self.task = task
        self.schema_path = schema_path
        self.strength = strength
        self.default_bias = default_bias
        self.random_state = random_state
        self.target_mode = target_mode

    # ---- fit / predict
    def fit(self, X: Sequence[str], y: Sequence[str]) -> LexiconClassifier:
        begun = self._begin_fit(X, y, ("cross", "per-target", "none"))
        if begun is None:
            return self
        _, targets, y = begun
        if len(y) == 0:
            raise ValueError("cannot fit on zero examples")
        counts = np.array([(y == c).sum() for c in self.classes_], dtype=float)
        self.class_prior_ = counts / counts.sum()
        prior = np.zeros((len(self.targets_), len(self.classes_)))
        for i, target in enumerate(self.targets_):
            mine = y[[j for j, t in enumerate(targets) if t == target]]
            prior[i] = [(mine == c).sum() + 1.0 for c in self.classes_]
        self.target_prior_ = prior / prior.sum(axis=1, keepdims=True) if len(prior) else prior
        task = self._resolve_task(set(self.classes_))
        self.task_ = task.name if task else None
        self.default_ = task.default if task and task.default in set(self.classes_) else None
        cues = {lab.name: list(lab.cues) for lab in task.labels} if task else {}
        self.cues_ = {str(c): list(cues.get(str(c), [])) for c in self.classes_}
        return self

    def _resolve_task(self, labels: set[str]) -> Task | None:
        schema = load_schema(self.schema_path)
        if self.task is not None:
            task = schema.task(self.task)
            unknown = labels - set(task.label_names)
            if unknown:
                raise SchemaError(f"task {task.name!r} has no label(s) {', '.join(sorted(unknown))}")
            return task
        exact = [t for t in schema.tasks.values() if set(t.label_names) == labels]
        if exact:
            return exact[0]
        # a fold may lack a label: a unique task holding all labels of y still fits
        within = [t for t in schema.tasks.values() if labels <= set(t.label_names)]
        return within[0] if len(within) == 1 else None

    def cue_counts(self, X: Sequence[str]) -> np.ndarray:
        """(n, n_classes) number of cue matches per text and label."""
        texts, _ = split_inputs(X)
        out = np.zeros((len(texts), len(self.classes_)), dtype=float)
        for j, label in enumerate(self.classes_):
            pattern = _cue_pattern(tuple(self.cues_.get(str(label), ())))
            if pattern is None:
                continue
            out[:, j] = [len(pattern.findall(t)) for t in texts]
        return out

    def _base_logits(self) -> np.ndarray:
        if self.default_ is not None:
            base = np.zeros(len(self.classes_))
            base[list(self.classes_).index(self.default_)] = self.default_bias
            return base
        return np.log(np.clip(self.class_prior_, 1e-12, None))

    def _row_base_logits(self, targets: list[str | None] | None, n: int) -> np.ndarray:
        base = np.tile(self._base_logits(), (n, 1))
        index = {t: i for i, t in enumerate(getattr(self, "targets_", []))}
        for row, target in enumerate(targets or []):
            if target in index:
                base[row] = np.log(self.target_prior_[index[target]])
        return base

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        if self.per_target_:
            return self._predict_per_target(X)
        texts, targets = split_inputs(X)
        logits = self.strength * self.cue_counts(texts) + self._row_base_logits(targets, len(texts))
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def explain(self, text: str, top_k: int = 8) -> list[tuple[str, float]]:
        """Matched cues: positive for the predicted label's cues, negative for others'."""
        if self.per_target_:
            return []
        pred = int(self.predict_proba([text])[0].argmax())
        text = split_inputs([text])[0][0]
        weights: dict[str, float] = {}
        for j, label in enumerate(self.classes_):
            pattern = _cue_pattern(tuple(self.cues_.get(str(label), ())))
            if pattern is None:
                continue
            sign = 1.0 if j == pred else -1.0
            for match in pattern.findall(text):
                key = match.lower()
                weights[key] = weights.get(key, 0.0) + sign * float(self.strength)
        ranked = sorted(weights.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        return ranked[:top_k]

    # ---- persistence
    def _save_weights(self, path: Path) -> None:
        doc = {"task": self.task_, "default": self.default_, "cues": self.cues_, "targets": list(self.targets_)}
        (path / CUES_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
        save_array(path / PRIOR_FILE, self.class_prior_)
        if self.targets_:
            save_array(path / TARGET_PRIOR_FILE, self.target_prior_)

    def _load_weights(self, path: Path, meta: dict) -> None:
        doc = read_json(path / CUES_FILE)
        try:
            cues = {str(k): [str(c) for c in v] for k, v in doc["cues"].items()}
            default = doc["default"]
            self.task_ = doc["task"]
        except (KeyError, AttributeError, TypeError) as exc:
            raise ModelFolderError(f"{path / CUES_FILE}: malformed ({exc})") from None
        if set(cues) != set(map(str, self.classes_)) or (default is not None and default not in cues):
            raise ModelFolderError(f"{path / CUES_FILE}: labels do not match estimator.json classes")
        prior = load_array(path / PRIOR_FILE, (len(self.classes_),), "f")
        if prior.shape != (len(self.classes_),) or prior.dtype.kind != "f":
            raise ModelFolderError(f"{path / PRIOR_FILE}: expected {len(self.classes_)} floats")
        self.cues_, self.default_, self.class_prior_ = cues, default, prior
        self.targets_ = [str(t) for t in doc.get("targets") or []]
        self.target_prior_ = np.zeros((0, len(self.classes_)))
        if self.targets_:
            target_prior = load_array(path / TARGET_PRIOR_FILE, (len(self.targets_), len(self.classes_)), "f")
            if target_prior.shape != (len(self.targets_), len(self.classes_)) or target_prior.dtype.kind != "f":
                raise ModelFolderError(f"{path / TARGET_PRIOR_FILE}: expected {len(self.targets_)}x{len(self.classes_)} floats")
            self.target_prior_ = target_prior


@lru_cache(maxsize=256)
def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern | None:
    """One regex matching any cue on word boundaries, longest cue first."""
    if not cues:
        return None
    alternatives = "|".join(re.escape(c) for c in sorted(set(cues), key=lambda c: (-len(c), c)))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
