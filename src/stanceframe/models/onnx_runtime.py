"""Encoder networks run through ONNX Runtime, without torch or transformers: which runtime
a process uses, where the exported networks are cached, and the session that tokenizes
(the ``tokenizers`` library, from the tokenizer the export saved) and runs them.

The runtime is ``onnx`` unless ``--runtime torch`` or ``STANCEFRAME_RUNTIME=torch`` asks
for the PyTorch path. An exported network lives in ``<cache>/onnx/<digest>/`` (``<cache>``:
``$STANCEFRAME_CACHE`` or ``~/.cache/stanceframe``, beside the installed encoders), the
digest naming the weights it was exported from (:mod:`.onnx_export` writes it):

    model.onnx       the float32 network (encoder + pooling, + heads where the family has them)
    model.int8.onnx  its dynamically quantised copy, when asked for
    tokenizer.json   the tokenizer that produced the PyTorch path's ids
    onnx.json        what the network outputs, max_length, the parity check's figures

A batch runs on one ONNX Runtime thread (so it is computed the same way whatever the load,
and a run and its ``--resume`` give the same bytes); the batches of one call run side by
side, one per usable core.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError, StanceframeError

RUNTIME_ENV = "STANCEFRAME_RUNTIME"
RUNTIMES = ("onnx", "torch")
MODEL_FILE = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "onnx.json"
PRECISIONS = tuple(MODEL_FILE)


def runtime() -> str:
    """``onnx`` (the default) or ``torch``: what encoder models predict with in this process."""
    value = os.environ.get(RUNTIME_ENV, "").strip().lower() or "onnx"
    if value not in RUNTIMES:
        raise StanceframeError(f"{RUNTIME_ENV}={value!r}: not a runtime; use one of {', '.join(RUNTIMES)}")
    return value


def use_runtime(value: str | None) -> None:
    """Make ``value`` (``--runtime``) this process's runtime and its children's (Spark
    workers, segmentation workers); None leaves it as it is."""
    if value is None:
        return
    if value not in RUNTIMES:
        raise StanceframeError(f"--runtime {value!r}: use one of {', '.join(RUNTIMES)}")
    os.environ[RUNTIME_ENV] = value


_CACHE_OVERRIDE: list[Path] = []  # a scratch cache (compare's int8 checks of fold models), innermost last


def onnx_cache_root() -> Path:
    if _CACHE_OVERRIDE:
        return _CACHE_OVERRIDE[-1]
    from stanceframe.encoder_store import cache_root

    return cache_root().parent / "onnx"


@contextlib.contextmanager
def scratch_cache(folder: Path):
    """Exports made inside the block go to ``folder`` (models that are not kept, e.g. the
    fold models of a cross-validation), not to the user's cache; the sessions loaded
    inside are dropped when it ends."""
    _CACHE_OVERRIDE.append(Path(folder))
    try:
        yield Path(folder)
    finally:
        _CACHE_OVERRIDE.pop()
        clear_networks()


def cache_folder(digest: str) -> Path:
    return onnx_cache_root() / digest


def read_meta(folder: Path) -> dict | None:
    """A cache folder's ``onnx.json`` when its export is complete (written last), else None."""
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class OnnxNetwork:
    """One exported network: ``outputs(firsts, seconds)`` gives each graph output for every
    input (rows in input order), from length-sorted, padded batches of ``batch_size``."""

    def __init__(self, folder: Path, precision: str = "fp32", batch_size: int = 32):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = read_meta(folder)
        if meta is None:
            raise ModelFolderError(f"{folder}: no complete ONNX export ({META_FILE} missing)")
        path = folder / MODEL_FILE[precision]
        if not path.is_file():
            raise ModelFolderError(f"{path}: missing ({precision} export)")
        self.folder, self.meta, self.precision = folder, meta, precision
        self.max_length = int(meta["max_length"])
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.pad_id = int(meta.get("pad_id", 0))
        self._pool = None
        self._pool_lock = threading.Lock()

    # ---- tokens
    def encode(self, firsts: Sequence[str], seconds: Sequence[str] | None = None) -> list:
        if seconds is None:
            return self.tokenizer.encode_batch(list(firsts))
        return self.tokenizer.encode_batch(list(zip(firsts, seconds)))

    def token_lengths(self, firsts: Sequence[str], seconds: Sequence[str] | None = None) -> list[int]:
        return [len(e.ids) for e in self.encode(firsts, seconds)]

    def batches(self, firsts: Sequence[str], seconds: Sequence[str] | None = None):
        """(indices, feed) per batch, inputs sorted by token length (ties: input order) and
        each batch padded to its longest: the PyTorch path's ``length_sorted_batches``."""
        encoded = self.encode(firsts, seconds)
        order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i].ids), i))
        out = []
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            out.append((idx, self.feed([encoded[i] for i in idx])))
        return out

    def feed(self, encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name] for name in self.input_names}

    # ---- running
    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One padded batch through the network (the forward pass alone)."""
        return dict(zip(self.output_names, self.session.run(self.output_names, feed)))

    def outputs(self, firsts: Sequence[str], seconds: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        batches = self.batches(firsts, seconds)
        out: dict[str, np.ndarray] = {}
        for idx, result in zip((idx for idx, _ in batches), self._map([feed for _, feed in batches])):
            for name, values in result.items():
                if name not in out:
                    out[name] = np.zeros((len(firsts), *values.shape[1:]), dtype=values.dtype)
                out[name][idx] = values
        return out

    def _map(self, feeds: list):
        cores = _usable_cores()
        if len(feeds) <= 1 or cores <= 1 or threading.current_thread().name.startswith("stanceframe-onnx"):
            return map(self.run, feeds)
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(cores, thread_name_prefix="stanceframe-onnx")
        return self._pool.map(self.run, feeds)


def softmax64(logits: np.ndarray) -> np.ndarray:
    """Row softmax in float64 (the PyTorch path's ``torch.softmax(logits.double(), -1)``)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


_NETWORKS: dict[tuple, OnnxNetwork] = {}
_NETWORKS_LOCK = threading.Lock()


def load_network(folder: Path, precision: str = "fp32", batch_size: int = 32) -> OnnxNetwork:
    """The session of ``folder``'s export, once per process (the tasks of a model share it)."""
    key = (str(folder), precision, int(batch_size))
    with _NETWORKS_LOCK:
        if key not in _NETWORKS:
            _NETWORKS[key] = OnnxNetwork(folder, precision, batch_size)
        return _NETWORKS[key]


_ON_CLEAR: list = []  # other per-process caches of sessions (the multi-task predictors')


def clear_networks() -> None:
    with _NETWORKS_LOCK:
        _NETWORKS.clear()
    for clear in _ON_CLEAR:
        clear()
