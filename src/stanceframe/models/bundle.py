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
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe import __version__
from stanceframe.errors import ModelFolderError
from stanceframe.models import family_class
from stanceframe.models.fitted import FittedModel
from stanceframe.models.folder import check_folder_files, read_json
from stanceframe.safe_paths import lstat_or_none, replace_file, replace_own_entries

MANIFEST = "manifest.json"
PER_TASK = "per-task"  # the family of a model whose tasks come from different families
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
    task_families: dict[str, str] = field(default_factory=dict)  # task -> family, where tasks differ

    def family_of(self, task: str) -> str:
        """The family of ``task``'s model (a promoted model may hold a different family per task)."""
        return self.task_families.get(task, self.family)

    @classmethod
    def per_task(cls, bundles: dict[str, ModelBundle], manifest: dict | None = None) -> ModelBundle:
        """One model from each task's own bundle (``{task: bundle}``): the family is
        ``per-task`` when they differ."""
        families = {task: b.family_of(task) for task, b in bundles.items()}
        estimators = {task: b.estimators[task] for task, b in bundles.items()}
        family = next(iter(families.values())) if len(set(families.values())) == 1 else PER_TASK
        return cls(family, estimators, dict(manifest or {}), None, families if family == PER_TASK else {})

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
        """What ``tag`` sorts inputs by before batching: the first task's estimator says,
        unless another task's model reads tokens (an encoder's lengths matter most)."""
        ests = list(self.estimators.values())
        reader = next((e for e in ests if hasattr(e, "shared_") or hasattr(e, "encoder_")), ests[0])
        return reader.sort_lengths(texts)

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
        """Write the model folder at ``path``: a new or empty folder, or a stanceframe model
        folder whose own entries (its manifest and task folders) are replaced; anything else
        in it is kept, and a folder that is not a model's is refused (``train --export``,
        ``compare --promote``)."""
        path = replace_own_entries(Path(path), what="model folder", own=model_entries,
                                   new=[MANIFEST, *self.estimators],
                                   not_own=f"is not a stanceframe model folder (no {MANIFEST} of one)")
        for task, est in self.estimators.items():
            est.save(path / task)
        manifest = {
            "format_version": FORMAT_VERSION,
            "family": self.family,
            "tasks": {t: {"labels": self.classes(t), "path": t, **({"family": self.family_of(t)}
                                                                   if self.task_families else {})}
                      for t in self.estimators},
            "stanceframe_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **{k: v for k, v in self.manifest.items() if k not in {"format_version", "tasks", "family"}},
            **manifest_extra,
        }
        replace_file(path / MANIFEST,
                     lambda handle: handle.write(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"))
        self.manifest, self.path = manifest, str(path)
        return path

    @classmethod
    def load(cls, path: str | Path, precision: str | None = None) -> ModelBundle:
        """The model folder ``path``; its encoder networks run in ONNX Runtime unless the
        process's runtime is ``torch`` (:func:`.onnx_runtime.runtime`), at ``precision``
        (default: the manifest's ``onnx.precision``, else fp32)."""
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
            families = {task: str(spec.get("family") or manifest["family"]) for task, spec in manifest["tasks"].items()}
            precision = precision or str((manifest.get("onnx") or {}).get("precision") or "fp32")
            estimators = {task: task_loader(families[task], precision)(task_folder(path, spec["path"]))
                          for task, spec in manifest["tasks"].items()}
        except KeyError as exc:
            raise ModelFolderError(f"{path}/{MANIFEST}: missing key {exc}") from None
        except Exception as exc:  # noqa: BLE001 - surfaced as one line naming the folder
            if isinstance(exc, ModelFolderError):
                raise
            raise ModelFolderError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None
        mixed = families if manifest["family"] == PER_TASK else {}
        return cls(manifest["family"], estimators, manifest, str(path), mixed)


def model_entries(folder: Path) -> list[str] | None:
    """The entries of ``folder`` that a saved model owns (its manifest and the task folders
    it names), or None when ``folder`` holds no stanceframe model's manifest (a regular
    file, a JSON object with this format's version, a family and tasks inside the folder)."""
    manifest = folder / MANIFEST
    st = lstat_or_none(manifest)
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:
        return None
    try:
        data = json.loads(manifest.read_bytes())
    except (OSError, ValueError):
        return None
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if (not isinstance(tasks, dict) or not tasks or data.get("format_version") != FORMAT_VERSION
            or not isinstance(data.get("family"), str)):
        return None
    paths = [spec.get("path") if isinstance(spec, dict) else None for spec in tasks.values()]
    if not all(isinstance(p, str) and p and "/" not in p and "\\" not in p and p not in (".", "..") for p in paths):
        return None
    return [MANIFEST, *paths]


MAX_MANIFEST_BYTES = 1 << 20


def task_loader(family: str, precision: str = "fp32"):
    """What loads one task's folder of ``family``: the sklearn-free predictor for the tfidf
    families; for the encoder families under the ONNX runtime their ONNX predictor
    (torch-free, at ``precision``); else the family's estimator class's ``load``."""
    from stanceframe.models import canonical_family
    from stanceframe.models.tfidf_predictor import TFIDF_FAMILIES, TfidfPredictor

    family = canonical_family(family)
    if family == PER_TASK:
        raise ModelFolderError(f"family {PER_TASK!r} names no estimator: each task of the manifest needs its own 'family'")
    if family in TFIDF_FAMILIES:
        return lambda folder: TfidfPredictor.load(folder, family)
    from stanceframe.models.onnx_predictors import ONNX_FAMILIES, load_onnx_task
    from stanceframe.models.onnx_runtime import runtime

    if family in ONNX_FAMILIES and runtime() == "onnx":
        return lambda folder: load_onnx_task(family, folder, precision)
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
