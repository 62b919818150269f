"""Shared test set-up: offline Hugging Face, quiet MLflow, fixed seeds, a real MLflow server."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("STANCEFRAME_SCHEMA", None)  # tests use the committed schema unless they set one
# Commands given no --model use the shipped `fast` model (n-grams: quick, no torch) in the suite; the
# tests of the shipped default itself (an encoder model) name it (test_default_model.py, marked slow).
os.environ["STANCEFRAME_MODEL"] = "fast"
# encoder models load on the PyTorch path unless a test asks for ONNX Runtime (tests/test_onnx.py):
# an ONNX export costs seconds per model; STANCEFRAME_RUNTIME=onnx runs the whole suite on ONNX
os.environ.setdefault("STANCEFRAME_RUNTIME", "torch")

import random  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from support.net import start_mlflow_server, stop_server  # noqa: E402
from support.paths import REPO  # noqa: E402


@pytest.fixture(autouse=True)
def _fixed_seeds():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass
    yield


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 with a sqlite store and local artifacts."""
    proc, uri = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    yield uri
    stop_server(proc)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throw-away project folder (seeds/, data/, training/) with the repo's data, as cwd."""
    for sub in ("seeds", "data", "training"):
        shutil.copytree(REPO / sub, tmp_path / sub)
    monkeypatch.chdir(tmp_path)
    # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; never let one test's server leak
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A real tfidf-logreg model folder fitted on the gold sentences (one per session; tests
    that change a model change a copy)."""
    from support.tagging import build_model

    return build_model(tmp_path_factory.mktemp("model") / "tfidf")


@pytest.fixture(scope="module")
def model(model_dir):
    from stanceframe.models.loading import load_model

    return load_model(str(model_dir))
