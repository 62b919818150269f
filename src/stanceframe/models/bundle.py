"""A model folder: one fitted estimator per task plus ``manifest.json``.

    manifest.json   family, tasks and label order, encoder name/version, data hash,
                    metrics, stanceframe version, creation date
    <task>/         the estimator's own folder (estimator.json + weights)

Everything loads without running code (JSON, .npy, safetensors). A tfidf family's tasks
load as :class:`~stanceframe.models.tfidf_predictor.TfidfPredictor` (arrays, no
scikit-learn import); the other families' as their estimators.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe import __version__
from stanceframe.errors import ModelFolderError
from stanceframe.models import family_class
from stanceframe.models.fitted import FittedModel
from stanceframe.models.folder import check_folder_files, read_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class TaskPrediction:
    labels: list[str]
    proba: np.ndarray  # (n, len(classes))
    classes: list[str]


@dataclass
class ModelBundle:
    """Fitted models per task that tag sentences together: estimators, or for a loaded
    tfidf model its predictors (the same ``predict_proba``, ``explain``, ``save``)."""

    family: str
    estimators: dict[str, FittedModel]
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

    @property
    def prediction_columns(self) -> list[str]:
        """What :meth:`predict_values` gives per text: every task's label (``<task>``), then
        every task's ``p_<task>_<label>``, labels in :meth:`classes` order: the column
        convention (and order) shared by ``tag``, MLflow serving and Spark."""
        return self.tasks + [f"p_{task}_{label}" for task in self.tasks for label in self.classes(task)]

    def predict_values(self, texts: Sequence[str]) -> list[tuple]:
        """One tuple per text in :attr:`prediction_columns` order; probabilities as Python
        floats (``tolist``: the floats ``float()`` gives)."""
        preds = self.predict(texts)
        if not len(texts):
            return []
        labels = [pred.labels for pred in preds.values()]
        proba = np.hstack([pred.proba for pred in preds.values()]).tolist()
        return [(*task_labels, *probs) for task_labels, probs in zip(zip(*labels), proba)]

    def predict_flat(self, texts: Sequence[str]) -> list[dict]:
        """:meth:`predict_values` as one record per text (keys: :attr:`prediction_columns`)."""
        columns = self.prediction_columns
        return [dict(zip(columns, values)) for values in self.predict_values(texts)]

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
    def load(cls, path: str | Path) -> ModelBundle:
        path = Path(path)
        if not path.is_dir():
            raise ModelFolderError(f"{path}: model folder not found")
        check_folder_files(path)
        manifest = read_json(path / MANIFEST)
        tasks = manifest.get("tasks") if isinstance(manifest, dict) else None
        if not isinstance(tasks, dict) or not tasks or not all(isinstance(spec, dict) for spec in tasks.values()):
            raise ModelFolderError(f"{path}/{MANIFEST}: not a stanceframe model manifest (a JSON object whose "
                                   "\"tasks\" names at least one task and its folder)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelFolderError(f"{path}/{MANIFEST}: unsupported format_version {manifest.get('format_version')!r}")
        try:
            load = task_loader(manifest["family"])
            estimators = {task: load(task_folder(path, spec["path"])) for task, spec in manifest["tasks"].items()}
        except KeyError as exc:
            raise ModelFolderError(f"{path}/{MANIFEST}: missing key {exc}") from None
        except Exception as exc:  # noqa: BLE001 - surfaced as one line naming the folder
            if isinstance(exc, ModelFolderError):
                raise
            raise ModelFolderError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None
        return cls(manifest["family"], estimators, manifest, str(path))


def task_loader(family: str):
    """What loads one task's folder of ``family``: the sklearn-free predictor for the tfidf
    families, else the family's estimator class's ``load``."""
    from stanceframe.models.tfidf_predictor import TFIDF_FAMILIES, TfidfPredictor

    if family in TFIDF_FAMILIES:
        return lambda folder: TfidfPredictor.load(folder, family)
    return family_class(family).load


def task_folder(folder: Path, relative) -> Path:
    """``folder / relative`` when that stays inside the model folder (symbolic links
    resolved); a manifest that names an absolute path or one that leaves the folder
    (``../../x``) is refused."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise ModelFolderError(f"{folder}/{MANIFEST}: task path {relative!r} must be a folder name inside the model "
                               "folder")
    inside = (folder / relative).resolve()
    if not inside.is_relative_to(folder.resolve()) or inside == folder.resolve():
        raise ModelFolderError(f"{folder}/{MANIFEST}: task path {relative!r} leaves the model folder; refused")
    return inside
