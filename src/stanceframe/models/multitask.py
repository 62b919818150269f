"""The ``encoder-multitask`` family: one encoder fine-tuned for every task at once (LoRA
adapters on its top layers, one head per task: lora_encoder.py), seen from one task.

scikit-learn's conventions fit one estimator per task; this family's estimator for a task
takes the other tasks' labels as a fit parameter (``task_labels``, with ``groups`` for the
grouped validation split) and trains the shared network on all of them. The network is kept
per process keyed by its training data and settings, so the second task's ``fit`` on the
same sentences (``fit_bundle``, each fold of ``compare``) re-uses the first one's instead
of training again; at tagging time the tasks of one batch share one forward pass.

Targets: ``target_mode="pair"`` reads ``[CLS] target [SEP] text [SEP]``; ``none`` ignores them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.base import TextClassifier
from stanceframe.models.encoder import DEFAULT_ENCODER, explain_by_leaving_out, resolve_encoder
from stanceframe.models.inputs import split_inputs

SHARED_DIR = "shared"
OWN_TASK = "_task"
_TRAINED: OrderedDict[str, object] = OrderedDict()  # training key -> MultiTaskEncoder (the last few)
_TRAINED_LOCK = threading.Lock()
KEEP_TRAINED = 3


def _training_key(params: dict, texts, pairs, labels: dict, groups) -> str:
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for part in (texts, pairs or [], sorted(labels.items()), [str(g) for g in (groups if groups is not None else [])]):
        h.update(json.dumps(part, default=str).encode())
    return h.hexdigest()


class EncoderMultiTaskClassifier(TextClassifier):
    """Parameters: ``encoder`` (hub id, short name such as ``mpnet``, or folder),
    ``trainable_layers`` (top layers that get adapters; the rest are frozen and cached),
    ``lora_r``, ``lora_alpha``, ``lora_dropout``, ``max_length`` (tokens), ``epochs``
    (maximum), ``batch_size``, ``learning_rate`` (adapters), ``head_learning_rate``,
    ``weight_decay``, ``warmup`` (share of steps), ``validation_fraction`` (of the articles,
    for early stopping; 0: none), ``patience`` (epochs without a better validation macro-F1),
    ``class_weight`` ("balanced" or None), ``predict_batch_size``, ``random_state``,
    ``target_mode`` ("pair" or "none")."""

    family = "encoder-multitask"

    def __init__(self, encoder: str = DEFAULT_ENCODER, trainable_layers: int = 4, lora_r: int = 16,
                 lora_alpha: int = 32, lora_dropout: float = 0.1, max_length: int = 128, epochs: int = 4,
                 batch_size: int = 16, learning_rate: float = 5e-4, head_learning_rate: float = 2e-3,
                 weight_decay: float = 0.01, warmup: float = 0.06, validation_fraction: float = 0.15,
                 patience: int = 1, class_weight: str | None = "balanced", predict_batch_size: int = 32,
                 random_state: int = 0, target_mode: str = "pair"):
        self.encoder = encoder
        self.trainable_layers = trainable_layers
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.predict_batch_size = predict_batch_size
        self.random_state = random_state
        self.target_mode = target_mode

    # what the fit of any task needs from the data beyond (X, y): see fit_params_for
    uses_task_labels = True

    def _network_params(self) -> dict:
        params = self.get_params()
        params.pop("target_mode")
        return params

    def fit(self, X: Sequence, y: Sequence[str], task_labels: dict | None = None,
            groups: Sequence | None = None) -> EncoderMultiTaskClassifier:
        """Fit on ``X``/``y``; ``task_labels`` (``{task: labels}`` for the same ``X``, this
        task's among them) trains every task's head at once; ``groups`` (article per
        example) keeps the validation split's articles whole."""
        from stanceframe.models.lora_encoder import MultiTaskEncoder

        begun = self._begin_fit(X, y, ("pair", "none"))
        if begun is None:
            return self
        texts, _, y = begun
        pairs = self._pairs(X)
        labels = {str(t): [str(v) for v in values] for t, values in (task_labels or {}).items()}
        if any(len(v) != len(texts) for v in labels.values()):
            raise ValueError("task_labels must give one label per example for every task")
        own = next((t for t, values in labels.items() if values == [str(v) for v in y]), None)
        if own is None:
            own = OWN_TASK
            labels[own] = [str(v) for v in y]
        key = _training_key(self._network_params(), texts, pairs, labels, groups)
        with _TRAINED_LOCK:
            shared = _TRAINED.get(key)
        if shared is None:
            shared = MultiTaskEncoder(**self._network_params()).fit(texts, labels, groups, pairs)
            with _TRAINED_LOCK:
                _TRAINED[key] = shared
                while len(_TRAINED) > KEEP_TRAINED:
                    _TRAINED.popitem(last=False)
        self.shared_, self.task_ = shared, own
        self.classes_ = np.asarray(shared.classes[own], dtype=object)
        return self

    def _pairs(self, X) -> list[str] | None:
        texts, targets = split_inputs(X)
        if not getattr(self, "paired_", False):
            return None
        return [t or "" for t in (targets or [None] * len(texts))]

    def predict_proba(self, X: Sequence) -> np.ndarray:
        texts, _ = split_inputs(X)
        return self.shared_.predict(texts, self._pairs(X))[self.task_]

    def sort_lengths(self, X: Sequence) -> list[int]:
        texts, _ = split_inputs(X)
        return self.shared_.token_lengths(texts, self._pairs(X))

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        return explain_by_leaving_out(self, text, top_k)

    def forward_proba(self, batch: dict) -> np.ndarray:
        return self.shared_.forward_proba(batch)[self.task_]

    @property
    def validation_(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices into the training data, this task's probabilities) of the validation
        split at the kept epoch: what fusion chooses its weights on."""
        return self.shared_.val_index, self.shared_.val_proba.get(self.task_, np.zeros((0, len(self.classes_))))

    def encoder_info(self) -> dict:
        from stanceframe.encoder_store import weights_sha256

        return {"name": self.encoder, "sha256": weights_sha256(resolve_encoder(self.encoder))}

    # ---- persistence
    def _extra_meta(self) -> dict:
        shared = self.shared_
        return {"task": self.task_, "paired": bool(getattr(self, "paired_", False)),
                "training": {"history": shared.history, "best_epoch": getattr(shared, "best_epoch", None),
                             "fit_seconds": shared.fit_seconds}}

    def _save_weights(self, path: Path) -> None:
        self.shared_.save(path / SHARED_DIR, self.encoder_info()["sha256"])

    def _load_weights(self, path: Path, meta: dict) -> None:
        from stanceframe.models.lora_encoder import MultiTaskEncoder

        folder = path / SHARED_DIR
        if not folder.is_dir():
            raise ModelFolderError(f"{folder}: missing (the multi-task encoder's adapters and heads)")
        self.shared_ = MultiTaskEncoder.load(folder)
        self.task_ = str(meta.get("task", ""))
        if self.task_ not in self.shared_.classes:
            raise ModelFolderError(f"{path}: task {self.task_!r} has no head in {folder}")
        if [str(c) for c in self.classes_] != self.shared_.classes[self.task_]:
            raise ModelFolderError(f"{path}: classes do not match the head of task {self.task_!r}")
        self.paired_ = bool(meta.get("paired", False))

