"""Loading a model for prediction, and what is said about it: the :class:`ModelBundle`
named by a folder, an MLflow URI or the project's default (:func:`load_model`); its label
order per task (:func:`model_classes`); what a report says about it (:func:`model_info`);
what a resumed ``tag`` run must find unchanged (:func:`model_identity`)."""

from __future__ import annotations

from pathlib import Path

from stanceframe.digests import folder_digest
from stanceframe.errors import ModelFolderError

MODEL_ENV = "STANCEFRAME_MODEL"  # the model commands use when --model is not given


def load_model(spec: str | Path | None = None):
    """A :class:`ModelBundle` from a model folder, ``runs:/...``, ``models:/name@alias`` or a
    named model (``default``, ``fast``); ``None`` means ``$STANCEFRAME_MODEL`` when set (any of
    those), else the project's ``models/default/``."""
    import os

    from stanceframe.models.bundle import MANIFEST, ModelBundle

    if spec in (None, "") and os.environ.get(MODEL_ENV):
        spec = os.environ[MODEL_ENV]
    if spec in (None, ""):
        from stanceframe.paths import default_model_dir

        path = default_model_dir()
        if not (path / MANIFEST).is_file():
            raise ModelFolderError(
                f"{path}: no default model yet; create it with "
                "`make default-model` (or `stanceframe train --family tfidf-svm --export models/default`) "
                "or pass --model FOLDER|runs:/...|models:/NAME@ALIAS"
            )
        return ModelBundle.load(path)
    text = str(spec)
    from stanceframe.paths import NAMED_MODELS

    if text in NAMED_MODELS and not Path(text).is_dir():  # --model fast / default (a folder of that name wins)
        path = NAMED_MODELS[text]()
        if not (path / MANIFEST).is_file():
            raise ModelFolderError(f"{path}: the {text} model is missing; rebuild it with `make {text}-model`")
        return ModelBundle.load(path)
    if text.startswith(("runs:/", "models:/")):
        try:
            from stanceframe.tracking import load_bundle_from_uri
        except ImportError as exc:
            raise ModelFolderError(
                f"{text}: MLflow model URIs need stanceframe.tracking.load_bundle_from_uri, "
                f"which cannot be imported here ({exc})"
            ) from None
        return load_bundle_from_uri(text)
    return ModelBundle.load(text)


def model_classes(model) -> dict[str, list[str]]:
    """Each task's labels, in the model's order (the order of its probability columns)."""
    return {task: list(model.classes(task)) for task in model.tasks}


def model_info(model, spec: str | Path | None = None) -> dict:
    """What a report says about the model: name, family, version, date, where from."""
    manifest = getattr(model, "manifest", {}) or {}
    return {
        "name": model.name,
        "family": model.family,
        "source": str(spec) if spec else (model.path or ""),
        "created": manifest.get("created", ""),
        "stanceframe_version": manifest.get("stanceframe_version", ""),
        "run_id": manifest.get("run_id", ""),
        "data_hash": manifest.get("data_hash", ""),
        "version": manifest.get("version") or manifest.get("registered_version") or "",
        "tasks": model_classes(model),
    }


def model_identity(model) -> dict:
    """What must not change between a run and its ``--resume``: the manifest's identity and
    a digest of every file of the model folder (new weights under the same manifest)."""
    manifest = getattr(model, "manifest", {}) or {}
    folder = getattr(model, "path", None)
    return {
        "family": model.family,
        "created": manifest.get("created", ""),
        "data_hash": manifest.get("data_hash", ""),
        "tasks": model_classes(model),
        "weights": folder_digest(Path(folder)) if folder and Path(folder).is_dir() else "",
    }
