"""A model folder: one fitted estimator per task plus ``manifest.json``.

    manifest.json   family, tasks and label order, encoder name/version, data hash,
                    metrics, stanceframe version, creation date
    <task>/         the estimator's own folder (estimator.json + weights)

Everything loads without running code (JSON, .npy, safetensors).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from stanceframe import __version__
from stanceframe.errors import ModelFolderError
from stanceframe.models import family_class
from stanceframe.models.base import TextClassifier, read_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class TaskPrediction:
    labels: list[str]
    proba: np.ndarray  # (n, len(classes))
    classes: list[str]


@dataclass
class ModelBundle:
    """Estimators per task that tag sentences together."""

    family: str
    estimators: dict[str, TextClassifier]
    manifest: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def tasks(self) -> list[str]:
        return list(self.estimators)

    @property
    def target_field(self) -> str | None:
        """The records' field the model conditions on (target-aware stance), if any:
        ``predict`` then takes ``(target, text)`` pairs."""
        return self.manifest.get("target_field") or None

    def classes(self, task: str) -> list[str]:
        return [str(c) for c in self.estimators[task].classes_]

    @property
    def name(self) -> str:
        return self.manifest.get("name") or self.family

    def predict(self, texts: Sequence) -> dict[str, TaskPrediction]:
        """Per task, labels and probabilities of ``texts`` (texts, or ``(target, text)``
        pairs for a target-aware model)."""
        out = {}
        for task, est in self.estimators.items():
            proba = np.asarray(est.predict_proba(texts), dtype=float)
            classes = self.classes(task)
            labels = [classes[i] for i in proba.argmax(axis=1)] if len(proba) else []
            out[task] = TaskPrediction(labels, proba, classes)
        return out

    def sort_lengths(self, texts: Sequence) -> list[int]:
        """What ``tag`` sorts inputs by before batching (the first task's estimator says:
        the tasks share one family and so one tokenizer)."""
        return next(iter(self.estimators.values())).sort_lengths(texts)

    # ---- features computed ahead of prediction (tag computes them in its segmentation worker)
    def prepare(self, texts: Sequence) -> list | None:
        """Per task, the part of prediction that depends on each text alone and is worth
        doing ahead, in another process (a tfidf family's raw n-gram counts; tasks with equal
        vectorizers share one matrix object); None when the family has none."""
        keys = [getattr(est, "counts_key", lambda: None)() for est in self.estimators.values()]
        if not keys or any(k is None for k in keys) or any(not isinstance(t, str) for t in texts):
            return None
        by_key: dict = {}
        for key, est in zip(keys, self.estimators.values()):
            if key not in by_key:
                by_key[key] = est.counts_of(texts)
        return [by_key[key] for key in keys]

    @staticmethod
    def stack_prepared(parts: Sequence[list]) -> list:
        """``prepare`` of several text lists, as one (rows in order)."""
        import scipy.sparse as sp

        out, done = [], {}
        for column in zip(*parts):
            ident = tuple(map(id, column))
            if ident not in done:
                done[ident] = sp.vstack(column, format="csr")
            out.append(done[ident])
        return out

    @staticmethod
    def take_prepared(prepared: list, rows: Sequence[int]) -> list:
        """The rows ``rows`` of ``prepare``'s result."""
        by_matrix: dict = {}
        for m in prepared:
            if id(m) not in by_matrix:
                by_matrix[id(m)] = m[list(rows)]
        return [by_matrix[id(m)] for m in prepared]

    def predict_flat(self, texts: Sequence[str], prepared: list | None = None) -> list[dict]:
        """One flat record per text: every task's label (``<task>``), then every task's
        ``p_<task>_<label>`` probabilities as Python floats: the column convention (and
        order) shared by ``tag``, MLflow serving and Spark. ``prepared``: ``prepare(texts)``
        computed ahead (same result)."""
        preds = self.predict(texts) if prepared is None else self._predict_prepared(prepared)
        rows: list[dict] = [{} for _ in range(len(texts))]
        for task, pred in preds.items():
            for row, label in zip(rows, pred.labels):
                row[task] = label
        for task, pred in preds.items():
            keys = [f"p_{task}_{label}" for label in pred.classes]
            for row, probs in zip(rows, pred.proba.tolist()):  # tolist: the floats float() gives
                row.update(zip(keys, probs))
        return rows

    def _predict_prepared(self, prepared: list) -> dict[str, TaskPrediction]:
        out = {}
        for (task, est), rows in zip(self.estimators.items(), prepared):
            proba = np.asarray(est.predict_proba_from_counts(rows), dtype=float)
            classes = self.classes(task)
            labels = [classes[i] for i in proba.argmax(axis=1)] if len(proba) else []
            out[task] = TaskPrediction(labels, proba, classes)
        return out

    def save(self, path: str | Path, **manifest_extra) -> Path:
        path = Path(path)
        if path.exists() and (path / MANIFEST).exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        for task, est in self.estimators.items():
            est.save(path / task)
        manifest = {
            "format_version": FORMAT_VERSION,
            "family": self.family,
            "tasks": {t: {"labels": self.classes(t), "path": t} for t in self.estimators},
            "stanceframe_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **{k: v for k, v in self.manifest.items() if k not in {"format_version", "tasks", "family"}},
            **manifest_extra,
        }
        (path / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
        self.manifest, self.path = manifest, str(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ModelBundle":
        path = Path(path)
        if not path.is_dir():
            raise ModelFolderError(f"{path}: model folder not found")
        manifest = read_json(path / MANIFEST)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelFolderError(f"{path}/{MANIFEST}: unsupported format_version {manifest.get('format_version')!r}")
        try:
            est_cls = family_class(manifest["family"])
            estimators = {task: est_cls.load(path / spec["path"]) for task, spec in manifest["tasks"].items()}
        except KeyError as exc:
            raise ModelFolderError(f"{path}/{MANIFEST}: missing key {exc}") from None
        except Exception as exc:  # noqa: BLE001 - surfaced as one line naming the folder
            if isinstance(exc, ModelFolderError):
                raise
            raise ModelFolderError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None
        return cls(manifest["family"], estimators, manifest, str(path))
