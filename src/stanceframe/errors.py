"""One error type per kind of user mistake; the CLI turns each into exit code 2 and one line."""

from __future__ import annotations


class StanceframeError(Exception):
    """A mistake the user can fix; its message says where and what to do."""


class DataFileError(StanceframeError):
    """A labelled or input data file is malformed."""

    def __init__(self, path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class SchemaError(StanceframeError):
    """The label schema file is malformed or a task/label is unknown."""


class ModelFolderError(StanceframeError):
    """A model folder or model URI cannot be loaded."""


class UnsafeOutputError(StanceframeError):
    """An output a command refuses to write: a link, a device, an input, or a file or folder
    the command did not create (``safe_paths``)."""


class TrackingError(StanceframeError):
    """The MLflow tracking server cannot be reached or refused a request."""


class UnlabelledSentencesError(StanceframeError):
    """Some sentences of an article corpus (the seed, the written corpus) carry no labels."""

    def __init__(self, ids: list[str], labels_path):
        self.ids = ids
        shown = ", ".join(ids[:20]) + (f" ... (+{len(ids) - 20} more)" if len(ids) > 20 else "")
        super().__init__(f"{labels_path}: {len(ids)} sentence(s) have no labels: {shown}")


class AnnotationStoreError(StanceframeError):
    """An annotation store (SQLite file) is missing, not a store, or cannot be written."""


class ServeSafetyError(StanceframeError):
    """The annotation server was asked to listen in an unsafe way (e.g. off loopback without a token)."""


class AnnotationRequestError(StanceframeError):
    """A request to the annotation app names an unknown sentence, task or label (HTTP 400)."""


class AnnotationStaleError(AnnotationRequestError):
    """A key press for a sentence that is no longer the one the annotator is shown (HTTP 409):
    refused, so that a quick second press never lands on a sentence nobody saw."""
