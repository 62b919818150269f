"""The ``ensemble`` family: a weighted average of the class probabilities of member
families (by default the target-crossed ``tfidf-svm`` and ``encoder-logreg``: sparse
n-grams and a sentence encoder make different mistakes).

Each member is a full estimator of its own family, fitted on the same inputs (texts or
``(target, text)`` pairs) and saved in its own folder ``members/<i>/`` with that family's
pickle-free format; the ensemble's ``estimator.json`` names the members and weights, and
loading goes through each member family's own ``load`` (which checks the family).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.base import TextClassifier
from stanceframe.models.folder import jsonable
from stanceframe.models.inputs import split_inputs

DEFAULT_MEMBERS = ["tfidf-svm", "encoder-logreg"]
MEMBERS_DIR = "members"


class EnsembleClassifier(TextClassifier):
    """Parameters: ``members`` (family names; None: tfidf-svm + encoder-logreg),
    ``member_params`` (one dict of hyperparameters per member, None: defaults),
    ``weights`` (one per member, None: equal), ``random_state`` (passed to members
    that take one)."""

    family = "ensemble"

    def __init__(self, members: list[str] | None = None, member_params: list[dict] | None = None,
                 weights: list[float] | None = None, random_state: int = 0):
        self.members = members
        self.member_params = member_params
        self.weights = weights
        self.random_state = random_state

    # ---- members
    def _member_names(self) -> list[str]:
        names = list(self.members or DEFAULT_MEMBERS)
        if not names:
            raise ValueError("an ensemble needs at least one member family")
        if "ensemble" in names:
            raise ValueError("an ensemble cannot contain an ensemble")
        return names

    def _member_params(self) -> list[dict]:
        names = self._member_names()
        params = list(self.member_params) if self.member_params is not None else [{} for _ in names]
        if len(params) != len(names):
            raise ValueError(f"member_params has {len(params)} entries for {len(names)} members")
        return [dict(p or {}) for p in params]

    def _weights(self) -> np.ndarray:
        names = self._member_names()
        w = np.ones(len(names)) if self.weights is None else np.asarray(self.weights, dtype=float)
        if w.shape != (len(names),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(names)} non-negative numbers, not all zero")
        return w / w.sum()

    def _new_member(self, name: str, params: dict) -> TextClassifier:
        from stanceframe.models import family_class

        cls = family_class(name)
        accepted = set(cls().get_params())
        params = dict(params)
        if "random_state" in accepted:
            params.setdefault("random_state", self.random_state)
        return cls(**params)

    @classmethod
    def from_fitted(cls, members: Sequence[TextClassifier], weights: Sequence[float] | None = None,
                    random_state: int = 0) -> EnsembleClassifier:
        """An ensemble of already fitted estimators (same label set), without refitting."""
        classes = [list(map(str, m.classes_)) for m in members]
        if any(c != classes[0] for c in classes):
            raise ValueError(f"members disagree on the labels: {classes}")
        est = cls(members=[m.family for m in members], member_params=[_plain(m.get_params()) for m in members],
                  weights=None if weights is None else [float(w) for w in weights], random_state=random_state)
        est.members_ = list(members)
        est.classes_ = np.asarray(classes[0], dtype=object)
        return est

    # ---- fit / predict
    def fit(self, X, y) -> EnsembleClassifier:
        y = np.asarray([str(v) for v in y], dtype=object)
        self._weights()
        self.classes_ = np.asarray(sorted(set(y)), dtype=object)
        self.members_ = [self._new_member(name, params).fit(X, y)
                         for name, params in zip(self._member_names(), self._member_params())]
        return self

    def predict_proba(self, X) -> np.ndarray:
        texts, _ = split_inputs(X)
        classes = [str(c) for c in self.classes_]
        out = np.zeros((len(texts), len(classes)))
        if not texts:
            return out
        for weight, member in zip(self._weights(), self.members_):
            proba = np.asarray(member.predict_proba(X), dtype=float)
            for j, c in enumerate(member.classes_):
                out[:, classes.index(str(c))] += weight * proba[:, j]
        return out

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        """The explanation of the most heavily weighted member that gives one."""
        for i in np.argsort(-self._weights(), kind="stable"):
            terms = self.members_[int(i)].explain(text, top_k)
            if terms:
                return terms
        return []

    def encoder_info(self) -> dict | None:
        for member in self.members_:
            info = getattr(member, "encoder_info", None)
            if callable(info):
                return info()
        return None

    # ---- persistence
    def _save_weights(self, path: Path) -> None:
        for i, member in enumerate(self.members_):
            member.save(path / MEMBERS_DIR / str(i))

    def _load_weights(self, path: Path, meta: dict) -> None:
        from stanceframe.models import family_class

        members = []
        for i, name in enumerate(self._member_names()):
            member = family_class(name).load(path / MEMBERS_DIR / str(i))
            if list(map(str, member.classes_)) != list(map(str, self.classes_)):
                raise ModelFolderError(f"{path / MEMBERS_DIR / str(i)}: labels do not match estimator.json classes")
            members.append(member)
        self.members_ = members


def _plain(params: dict) -> dict:
    """JSON-able hyperparameters (what estimator.json will hold), so a fitted-then-saved
    ensemble and its reload report the same ``get_params``."""
    import json

    return json.loads(json.dumps(jsonable(params)))
