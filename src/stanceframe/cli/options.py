"""Parsed options -> what the rooms take: a task list, the MLflow tracker, the model to load.

Shared by the handler modules; imports of the rooms stay inside the functions (start-up).
"""

from __future__ import annotations

from stanceframe.paths import project_root


def tasks_arg(value: str | None) -> list[str] | None:
    """A comma list option (``--task``, ``--families``) as names; ``None`` for all (left out or ``all``)."""
    if value in (None, "all"):
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def open_tracker(args, experiment: str):
    """The MLflow tracker of ``--tracking-uri`` / ``--no-track`` for ``experiment``."""
    from stanceframe.tracking import Tracker, resolve_tracking_uri

    root = project_root()
    uri = resolve_tracking_uri(getattr(args, "tracking_uri", None), root)
    return Tracker(uri, experiment, root=root, enabled=not getattr(args, "no_track", False))


def load_model_option(spec, runtime: str | None = None):
    """The model of a ``--model`` value (``None``: the default model), its encoder networks on
    ``--runtime`` (``None``: ``$STANCEFRAME_RUNTIME``, else ONNX Runtime)."""
    from stanceframe.models.loading import load_model
    from stanceframe.models.onnx_runtime import use_runtime

    use_runtime(runtime)
    return load_model(spec)
