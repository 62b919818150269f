"""Encoder models loaded for the ONNX runtime: a task's folder of ``encoder-multitask``,
``fusion``, ``encoder-finetune`` or ``encoder-logreg`` as a :class:`FittedModel` whose
network runs in ONNX Runtime, with neither torch, transformers nor scikit-learn imported
(what ``tag``, ``inspect``, Spark and the annotation app load by default).

Each network is found in the ONNX cache by a digest of the weights it was exported from:

- multi-task: the encoder's weights sha256 (recorded in ``multitask.json``) and the bytes
  of the adapters, heads and settings (the cache is beside the encoder cache; the model
  folder holds only adapters);
- fine-tuned: the sha256 of the ``transformer/`` folder's files;
- logreg: the encoder's weights sha256 (one export serves every model on that encoder).

When the cache has no export yet, the PyTorch model is loaded once and exported
(:mod:`.onnx_export`, parity-checked); every later load is torch-free.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.encoder import leave_one_out
from stanceframe.models.fitted import FittedModel, aligned_proba, read_per_target
from stanceframe.models.folder import PARAMS_FILE, read_json
from stanceframe.models.inputs import split_inputs
from stanceframe.models.onnx_runtime import (
    _ON_CLEAR,
    OnnxNetwork,
    cache_folder,
    load_network,
    read_meta,
    softmax64,
)

ONNX_FAMILIES = ("encoder-multitask", "fusion", "encoder-finetune", "encoder-logreg")
SHARED_DIR = "shared"  # multitask.SHARED_DIR (not imported: multitask.py imports scikit-learn)
TRANSFORMER_DIR = "transformer"  # finetune.TRANSFORMER_DIR


def _sha256_files(paths: Sequence[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for part in extra:
        h.update(part.encode() + b"\0")
    for path in paths:
        if not path.is_file():
            raise ModelFolderError(f"{path}: missing")
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            h.update(hashlib.file_digest(handle, "sha256").digest())
    return h.hexdigest()


def multitask_digest(shared: Path) -> str:
    from stanceframe.models.lora_encoder import ADAPTER_FILE, CONFIG_FILE, HEADS_FILE

    config = read_json(shared / CONFIG_FILE)
    sha = str((config.get("encoder") or {}).get("sha256") or "")
    return _sha256_files([shared / CONFIG_FILE, shared / ADAPTER_FILE, shared / HEADS_FILE], "multitask", sha)


def finetune_digest(folder: Path) -> str:
    files = sorted(p for p in (folder / TRANSFORMER_DIR).iterdir() if p.is_file())
    return _sha256_files(files, "finetune")


def embedder_digest(encoder: str) -> str:
    from stanceframe.encoder_store import weights_sha256
    from stanceframe.models.encoder import resolve_encoder

    sha = weights_sha256(resolve_encoder(encoder))
    if not sha:
        raise ModelFolderError(f"encoder {encoder!r}: no model.safetensors to export")
    return hashlib.sha256(f"embed\0{sha}".encode()).hexdigest()


def exported(digest: str, export) -> Path:
    """The cache folder of ``digest``, exported now by ``export(digest)`` when missing."""
    folder = cache_folder(digest)
    if read_meta(folder) is None:
        export(digest)
    return folder


def network(folder: Path, precision: str, batch_size: int) -> OnnxNetwork:
    if precision == "int8":
        from stanceframe.models.onnx_quantize import quantized

        quantized(folder)
    return load_network(folder, precision, batch_size)


# --------------------------------------------------------------------------- multi-task


class OnnxMultiTask:
    """The shared multi-task network (``MultiTaskEncoder``'s prediction side): every task's
    probabilities from one pass; the last call's answer kept for the other tasks."""

    def __init__(self, net: OnnxNetwork):
        self.network = net
        self.classes = {str(t): [str(c) for c in labels] for t, labels in net.meta["tasks"].items()}
        self._lock = threading.Lock()
        self._last = None

    def predict(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        texts = [str(t) for t in texts]
        key = (tuple(texts), None if pairs is None else tuple(pairs))
        with self._lock:
            if self._last is None or self._last[0] != key:
                self._last = (key, self._proba(texts, pairs))
            return self._last[1]

    def _proba(self, texts: list[str], pairs) -> dict[str, np.ndarray]:
        if not texts:
            return {task: np.zeros((0, len(c))) for task, c in self.classes.items()}
        raw = self.network.outputs(list(pairs), texts) if pairs is not None else self.network.outputs(texts)
        return {task: softmax64(raw[f"logits_{task}"]) for task in self.classes}

    def forward_proba(self, feed: dict) -> dict[str, np.ndarray]:
        raw = self.network.run(feed)
        return {task: softmax64(raw[f"logits_{task}"]) for task in self.classes}

    def token_lengths(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> list[int]:
        firsts, seconds = (list(pairs), list(texts)) if pairs is not None else (list(texts), None)
        return self.network.token_lengths(firsts, seconds)


_SHARED: dict[tuple, OnnxMultiTask] = {}
_SHARED_LOCK = threading.Lock()
_ON_CLEAR.append(_SHARED.clear)


def load_multitask(shared: Path, precision: str = "fp32") -> OnnxMultiTask:
    from stanceframe.models.lora_encoder import CONFIG_FILE

    def export(digest):
        from stanceframe.models.lora_encoder import MultiTaskEncoder
        from stanceframe.models.onnx_export import export_multitask

        export_multitask(MultiTaskEncoder.load(shared), digest)

    digest = multitask_digest(shared)
    folder = exported(digest, export)
    batch = int(read_json(shared / CONFIG_FILE).get("predict_batch_size", 32))
    with _SHARED_LOCK:
        key = (digest, precision, batch)
        if key not in _SHARED:
            _SHARED[key] = OnnxMultiTask(network(folder, precision, batch))
        return _SHARED[key]


class _EncoderPredictor(FittedModel):
    """What the ONNX predictors share: parameters from ``estimator.json``, pairs when the
    model reads targets, leave-one-out explanations."""

    def __init__(self, family: str, meta: dict, folder: Path):
        self.family, self.source_ = family, Path(folder)
        self.params = dict(meta.get("params") or {})
        self.classes_ = np.asarray([str(c) for c in meta["classes"]], dtype=object)
        self.paired_ = bool(meta.get("paired", False))
        self.target_models_ = None

    def get_params(self, deep: bool = False) -> dict:
        return dict(self.params)

    def _pairs(self, X) -> list[str] | None:
        texts, targets = split_inputs(X)
        if not self.paired_:
            return None
        return [t or "" for t in (targets or [None] * len(texts))]

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        texts, targets = split_inputs([text])
        if targets is None:
            return leave_one_out(texts[0], self.predict_proba, top_k)
        return leave_one_out(texts[0], lambda vs: self.predict_proba([(targets[0], v) for v in vs]), top_k)

    def save(self, path: str | Path) -> Path:
        """The task folder it was loaded from, copied as it is (its weights are PyTorch's)."""
        import shutil

        path = Path(path)
        if path.resolve() != self.source_.resolve():
            shutil.copytree(self.source_, path, dirs_exist_ok=True)
        return path


class OnnxMultiTaskPredictor(_EncoderPredictor):
    def __init__(self, folder: Path, meta: dict, precision: str):
        super().__init__("encoder-multitask", meta, folder)
        shared = folder / SHARED_DIR
        if not shared.is_dir():
            raise ModelFolderError(f"{shared}: missing (the multi-task encoder's adapters and heads)")
        self.shared_ = load_multitask(shared, precision)
        self.task_ = str(meta.get("task", ""))
        if self.task_ not in self.shared_.classes:
            raise ModelFolderError(f"{folder}: task {self.task_!r} has no head in {shared}")
        if [str(c) for c in self.classes_] != self.shared_.classes[self.task_]:
            raise ModelFolderError(f"{folder}: classes do not match the head of task {self.task_!r}")

    def predict_proba(self, X) -> np.ndarray:
        texts, _ = split_inputs(X)
        return self.shared_.predict(texts, self._pairs(X))[self.task_]

    def sort_lengths(self, X) -> list[int]:
        texts, _ = split_inputs(X)
        return self.shared_.token_lengths(texts, self._pairs(X))

    def forward_proba(self, feed: dict) -> np.ndarray:
        return self.shared_.forward_proba(feed)[self.task_]


class OnnxFusionPredictor(_EncoderPredictor):
    def __init__(self, folder: Path, meta: dict, precision: str):
        from stanceframe.models.bundle import task_loader

        super().__init__("fusion", meta, folder)
        self.encoder_ = OnnxMultiTaskPredictor(folder / "encoder", read_json(folder / "encoder" / PARAMS_FILE),
                                               precision)
        self.ngram_ = task_loader(str(self.params.get("ngram_family", "tfidf-svm")))(folder / "ngram")
        self.weight_ = float(meta.get("weight", 0.5))

    def predict_proba(self, X) -> np.ndarray:
        classes = [str(c) for c in self.classes_]
        X = list(X)
        p_enc = aligned_proba(self.encoder_.predict_proba(X), self.encoder_.classes_, classes)
        p_ngram = aligned_proba(self.ngram_.predict_proba(X), self.ngram_.classes_, classes)
        return self.weight_ * p_enc + (1 - self.weight_) * p_ngram

    def sort_lengths(self, X) -> list[int]:
        return self.encoder_.sort_lengths(X)

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        return [(w, s * (1 - self.weight_)) for w, s in self.ngram_.explain(text, top_k)]


class OnnxFineTunePredictor(_EncoderPredictor):
    def __init__(self, folder: Path, meta: dict, precision: str):
        super().__init__("encoder-finetune", meta, folder)
        if not (folder / TRANSFORMER_DIR).is_dir():
            raise ModelFolderError(f"{folder / TRANSFORMER_DIR}: missing (fine-tuned transformer folder)")

        def export(digest):
            from stanceframe.models.finetune import MiniLMFineTuneClassifier
            from stanceframe.models.onnx_export import export_finetune

            export_finetune(MiniLMFineTuneClassifier.load(folder), digest)

        cache = exported(finetune_digest(folder), export)
        self.network_ = network(cache, precision, int(self.params.get("predict_batch_size", 64)))
        if self.network_.meta.get("classes") != [str(c) for c in self.classes_]:
            raise ModelFolderError(f"{folder}: labels of the ONNX export do not match estimator.json classes")

    def _io(self, X):
        texts, _ = split_inputs(X)
        pairs = self._pairs(X)
        return (pairs, texts) if pairs is not None else (texts, None)

    def predict_proba(self, X) -> np.ndarray:
        firsts, seconds = self._io(X)
        if not firsts:
            return np.zeros((0, len(self.classes_)))
        return softmax64(self.network_.outputs(firsts, seconds)["logits"])

    def sort_lengths(self, X) -> list[int]:
        return self.network_.token_lengths(*self._io(X))

    def forward_proba(self, feed: dict) -> np.ndarray:
        return softmax64(self.network_.run(feed)["logits"])


class OnnxLogRegPredictor(_EncoderPredictor):
    def __init__(self, folder: Path, meta: dict, precision: str):
        from stanceframe.models.linear import load_head

        super().__init__("encoder-logreg", meta, folder)
        self.encoder = str(self.params.get("encoder") or "sentence-transformers/all-MiniLM-L6-v2")
        self.max_length = int(self.params.get("max_length", 128))
        self.targets_ = [str(t) for t in meta.get("target_vocabulary") or []]
        if "per_target" in meta:
            self.targets_, self.target_constant_, self.target_models_ = read_per_target(
                folder, meta["per_target"], self.classes_, lambda sub: load_onnx_task("encoder-logreg", sub, precision))
            return
        if self.params.get("target_mode") == "pair":
            raise ModelFolderError(f"{folder}: encoder-logreg with target_mode='pair' runs on --runtime torch only")
        self.coef_, self.intercept_ = load_head(folder, len(self.classes_), None)

        def export(digest):
            from stanceframe.models.onnx_export import export_embedder

            export_embedder(self.encoder, self.max_length, digest)

        cache = exported(embedder_digest(self.encoder), export)
        self.network_ = network(cache, precision, int(self.params.get("batch_size", 32)))

    def _features(self, X) -> np.ndarray:
        from stanceframe.models.inputs import target_crossed

        texts, targets = split_inputs(X)
        features = self.network_.outputs(texts)["sentence_embedding"].astype(np.float64)
        return target_crossed(features, targets, self.targets_) if self.targets_ else features

    def predict_proba(self, X) -> np.ndarray:
        from stanceframe.models.linear import linear_proba

        return linear_proba(self, X, self._features)


PREDICTORS = {"encoder-multitask": OnnxMultiTaskPredictor, "fusion": OnnxFusionPredictor,
              "encoder-finetune": OnnxFineTunePredictor, "encoder-logreg": OnnxLogRegPredictor}


def load_onnx_task(family: str, folder: Path, precision: str = "fp32") -> FittedModel:
    """A task folder of an encoder ``family`` as its ONNX predictor."""
    from stanceframe.models.onnx_runtime import PRECISIONS

    if precision not in PRECISIONS:
        raise ModelFolderError(f"{folder}: precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    folder = Path(folder)
    meta = read_json(folder / PARAMS_FILE)
    return PREDICTORS[family](folder, meta, precision)


def export_model_folder(folder: Path) -> None:
    """Export a model folder's encoder networks now (when it is written), so that its first
    ``tag`` is torch-free: nothing under the ``torch`` runtime."""
    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.onnx_runtime import runtime

    if runtime() == "onnx":
        ModelBundle.load(folder)

