"""A sentence encoder fine-tuned for several tasks at once, within two CPU cores.

One encoder pass serves every task: mean-pooled token states feed one linear head per task.
Only the top ``trainable_layers`` transformer layers learn, through LoRA adapters (``peft``);
the layers below stay frozen, so their output for each distinct sentence is computed once and
cached (as float16, per process), and every epoch, fold and refit then runs only the top
layers forward and backward: the cost of a fine-tune drops to a fraction of a full one, and
cross-validation re-uses the cache across folds.

Training: AdamW (LoRA and heads at their own learning rates), linear warm-up then linear
decay, batches of similar length, class-balanced cross-entropy summed over tasks, early
stopping on the mean macro-F1 of a validation split grouped by article (the best epoch's
adapters and heads are kept). The validation split's probabilities are kept for fusion.

What is saved (``save``): the adapters and the heads as safetensors plus ``multitask.json``
(the encoder's name and weights sha256, the LoRA settings, labels per task): a few MB. The
encoder itself comes from its installed package at load, checked against that sha256; the
adapters are merged into it for inference.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.digests import file_digest
from stanceframe.errors import ModelFolderError
from stanceframe.models.encoder import length_sorted_batches, load_pretrained, resolve_encoder

CONFIG_FILE = "multitask.json"
ADAPTER_FILE = "adapter.safetensors"
HEADS_FILE = "heads.safetensors"
CACHE_LIMIT = 60_000  # cached lower-layer outputs per process (distinct sentences)


def _layers(model):
    """The encoder's list of transformer layers (BERT, MPNet, RoBERTa... keep it at
    ``model.encoder.layer``)."""
    try:
        return model.encoder.layer
    except AttributeError:
        raise ModelFolderError(f"{type(model).__name__}: no encoder.layer list; this encoder type is not "
                               "supported for fine-tuning with adapters") from None


class _PassThrough:
    """Stands in for the embeddings module in the top-layer view: the cached hidden states
    come in as ``inputs_embeds`` and go on unchanged."""

    def __new__(cls):
        import torch

        class PassThrough(torch.nn.Module):
            def forward(self, input_ids=None, inputs_embeds=None, **_):
                return inputs_embeds

        return PassThrough()


def _view(model, start: int, stop: int):
    """A shallow copy of ``model`` that runs only layers ``start:stop`` (sharing their
    modules and parameters); with ``start > 0`` the embeddings are skipped (input: the
    hidden states after layer ``start``)."""
    import torch

    view = copy.copy(model)
    view._modules = dict(model._modules)
    encoder = copy.copy(model.encoder)
    encoder._modules = dict(model.encoder._modules)
    encoder._modules["layer"] = torch.nn.ModuleList(list(_layers(model))[start:stop])
    view._modules["encoder"] = encoder
    if start > 0:
        view._modules["embeddings"] = _PassThrough()
    if "pooler" in view._modules:
        view._modules["pooler"] = None
    return view


def fast_autocast():
    """bfloat16 autocast where the CPU computes it natively (AVX512-BF16 / AMX: training
    steps run several times faster); elsewhere a no-op (float32)."""
    import contextlib

    import torch

    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return torch.autocast("cpu", dtype=torch.bfloat16) if native else contextlib.nullcontext()


def _mean_pool(hidden, mask):
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    f1s = []
    for c in range(n_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s)) if f1s else 0.0


def grouped_validation(n: int, groups: Sequence | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: whole groups (articles) on one side, about ``fraction``
    of the examples in validation; without groups, examples are drawn one by one."""
    rng = np.random.default_rng(seed)
    if fraction <= 0 or n < 10:
        return np.arange(n), np.arange(0)
    if groups is None:
        order = rng.permutation(n)
        k = max(1, int(round(fraction * n)))
        return np.sort(order[k:]), np.sort(order[:k])
    groups = np.asarray([str(g) for g in groups])
    names = np.unique(groups)
    rng.shuffle(names)
    chosen, size = [], 0
    for name in names:
        if size >= fraction * n:
            break
        chosen.append(name)
        size += int(np.sum(groups == name))
    val = np.isin(groups, chosen)
    if val.all() or not val.any():
        return np.arange(n), np.arange(0)
    return np.flatnonzero(~val), np.flatnonzero(val)


class MultiTaskEncoder:
    """The shared network: encoder + LoRA adapters on its top layers + one head per task.
    ``fit`` trains it; ``predict`` gives every task's probabilities from one pass."""

    def __init__(self, encoder: str, *, trainable_layers: int = 3, lora_r: int = 16, lora_alpha: int = 32,
                 lora_dropout: float = 0.1, max_length: int = 128, epochs: int = 3, batch_size: int = 16,
                 learning_rate: float = 5e-4, head_learning_rate: float = 2e-3, weight_decay: float = 0.01,
                 warmup: float = 0.06, validation_fraction: float = 0.15, patience: int = 1,
                 class_weight: str | None = "balanced", predict_batch_size: int = 32, random_state: int = 0):
        self.encoder = encoder
        self.settings = dict(trainable_layers=int(trainable_layers), lora_r=int(lora_r), lora_alpha=int(lora_alpha),
                             lora_dropout=float(lora_dropout), max_length=int(max_length))
        self.train_settings = dict(epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
                                   head_learning_rate=float(head_learning_rate), weight_decay=float(weight_decay),
                                   warmup=float(warmup), validation_fraction=float(validation_fraction),
                                   patience=int(patience), class_weight=class_weight, random_state=int(random_state))
        self.predict_batch_size = int(predict_batch_size)
        self.classes: dict[str, list[str]] = {}
        self.history: list[dict] = []
        self.val_index = np.arange(0)
        self.val_proba: dict[str, np.ndarray] = {}
        self.fit_seconds = 0.0
        self._lock = threading.Lock()
        self._last: tuple | None = None
        self._encoder_sha256: str | None = None

    # ---- building the network
    def _build(self, source: str):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel, AutoTokenizer

        tokenizer, base = load_pretrained(source, AutoModel, AutoTokenizer)
        layers = _layers(base)
        k = min(max(int(self.settings["trainable_layers"]), 1), len(layers))
        self.first_trainable = len(layers) - k
        targets = sorted({f"encoder.layer.{i}.{name}" for i in range(self.first_trainable, len(layers))
                          for name, mod in layers[i].named_modules() if isinstance(mod, torch.nn.Linear)})
        config = LoraConfig(r=self.settings["lora_r"], lora_alpha=self.settings["lora_alpha"],
                            lora_dropout=self.settings["lora_dropout"], target_modules=targets, bias="none")
        model = get_peft_model(base, config)
        hidden = int(base.config.hidden_size)
        heads = torch.nn.ModuleDict({task: torch.nn.Linear(hidden, len(labels)) for task, labels in self.classes.items()})
        self.tokenizer, self.peft_model, self.heads = tokenizer, model, heads
        self.model = model.base_model.model  # the encoder with the adapters injected
        self.n_layers = len(layers)

    # ---- training
    def fit(self, texts: Sequence[str], labels: dict[str, Sequence[str]], groups: Sequence | None = None,
            pairs: Sequence[str] | None = None) -> MultiTaskEncoder:
        import torch

        t0 = time.perf_counter()
        ts = self.train_settings
        torch.manual_seed(ts["random_state"])
        self.classes = {task: sorted(set(map(str, y))) for task, y in labels.items()}
        if any(len(c) < 2 for c in self.classes.values()):
            raise ValueError("need at least two labels per task to fit")
        source = resolve_encoder(self.encoder)
        self._build(source)
        texts = [str(t) for t in texts]
        y = {task: np.array([self.classes[task].index(str(v)) for v in vals]) for task, vals in labels.items()}
        train_idx, val_idx = grouped_validation(len(texts), groups, ts["validation_fraction"], ts["random_state"])
        features = self._lower_states(source, texts, pairs)
        weights = {}
        for task, ids in y.items():
            counts = np.bincount(ids[train_idx], minlength=len(self.classes[task])).astype(float)
            w = len(train_idx) / (len(counts) * np.maximum(counts, 1.0)) if ts["class_weight"] == "balanced" \
                else np.ones(len(counts))
            weights[task] = torch.tensor(w, dtype=torch.float32)
        top = _view(self.model, self.first_trainable, self.n_layers)
        lora = [p for n, p in self.model.named_parameters() if "lora_" in n]
        for n, p in self.model.named_parameters():
            p.requires_grad = "lora_" in n
        optimizer = torch.optim.AdamW([
            {"params": lora, "lr": ts["learning_rate"], "weight_decay": ts["weight_decay"]},
            {"params": list(self.heads.parameters()), "lr": ts["head_learning_rate"], "weight_decay": 0.0},
        ])
        bs = ts["batch_size"]
        steps_per_epoch = math.ceil(len(train_idx) / bs)
        total = max(1, steps_per_epoch * ts["epochs"])
        warm = max(1, int(ts["warmup"] * total))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
        rng = np.random.default_rng(ts["random_state"])
        best, best_score, bad = None, -1.0, 0
        self.history = []
        for epoch in range(ts["epochs"]):
            top.train()
            self.heads.train()
            losses = []
            for batch in self._train_batches(train_idx, features, rng, bs):
                hidden, mask = self._stack(features, batch)
                with fast_autocast():
                    pooled = _mean_pool(top(inputs_embeds=hidden, attention_mask=mask).last_hidden_state, mask)
                    logits = {task: self.heads[task](pooled).float() for task in y}
                loss = sum(torch.nn.functional.cross_entropy(logits[task], torch.as_tensor(y[task][batch]),
                                                             weight=weights[task]) for task in y)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(lora + list(self.heads.parameters()), 1.0)
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
            record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None}
            if len(val_idx):
                proba = self._top_predict(top, features, val_idx)
                scores = {task: _macro_f1(y[task][val_idx], proba[task].argmax(1), len(self.classes[task]))
                          for task in y}
                score = float(np.mean(list(scores.values())))
                record.update({f"val_macro_f1_{t}": s for t, s in scores.items()}, val_macro_f1=score)
                if score > best_score:
                    best_score, bad = score, 0
                    best = (self._trainable_state(), proba, epoch + 1)
                else:
                    bad += 1
            self.history.append(record)
            if len(val_idx) and bad >= max(1, ts["patience"]):
                break
        if best is not None:
            self._load_trainable_state(best[0])
            self.val_proba, self.best_epoch = best[1], best[2]
        else:
            self.val_proba, self.best_epoch = {}, ts["epochs"]
        self.val_index = val_idx
        with torch.no_grad():  # the adapters as they are saved (float16), so a reloaded model predicts the same
            for name, param in self.model.named_parameters():
                if "lora_" in name:
                    param.copy_(param.to(torch.float16).to(param.dtype))
        top.eval()
        self.heads.eval()
        self.model.eval()
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _lower_states(self, source: str, texts: list[str], pairs) -> dict:
        """Per distinct input, the frozen lower layers' output (float16, unpadded), from the
        process cache or computed now in length-sorted batches."""
        import torch

        key = (source, self.first_trainable, self.settings["max_length"])
        store = _LOWER_CACHE.setdefault(key, OrderedDict())
        inputs = [(p or "", t) if pairs is not None else t for t, p in zip(texts, pairs or [None] * len(texts))]
        missing = list(dict.fromkeys(i for i in inputs if i not in store))
        if missing:
            lower = _view(self.model, 0, self.first_trainable)
            firsts = [m[0] for m in missing] if pairs is not None else [m for m in missing]
            seconds = [m[1] for m in missing] if pairs is not None else None
            with torch.inference_mode():
                for idx, batch in length_sorted_batches(self.tokenizer, firsts, self.settings["max_length"], 64,
                                                        text_pairs=seconds):
                    out = lower(**batch).last_hidden_state
                    lengths = batch["attention_mask"].sum(dim=1)
                    for row, i in enumerate(idx):
                        store[missing[i]] = out[row, : int(lengths[row])].to(torch.float16).clone()
            while len(store) > CACHE_LIMIT:
                store.popitem(last=False)
        return {"inputs": inputs, "store": store}

    @staticmethod
    def _stack(features: dict, idx) -> tuple:
        import torch

        states = [features["store"][features["inputs"][i]] for i in idx]
        longest = max(s.shape[0] for s in states)
        hidden = torch.zeros(len(states), longest, states[0].shape[1])
        mask = torch.zeros(len(states), longest, dtype=torch.long)
        for row, s in enumerate(states):
            hidden[row, : s.shape[0]] = s.float()
            mask[row, : s.shape[0]] = 1
        return hidden, mask

    @staticmethod
    def _train_batches(idx: np.ndarray, features: dict, rng, bs: int):
        """Shuffled batches of similar length: shuffle, sort chunks of 50 batches by length,
        then shuffle the batches."""
        order = rng.permutation(idx)
        lengths = {i: features["store"][features["inputs"][i]].shape[0] for i in order}
        batches = []
        chunk = bs * 50
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
            batches.extend(part[b:b + bs] for b in range(0, len(part), bs))
        rng.shuffle(batches)
        return batches

    def _top_predict(self, top, features: dict, idx: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        top.eval()
        self.heads.eval()
        order = sorted(idx, key=lambda i: features["store"][features["inputs"][i]].shape[0])
        out = {task: np.zeros((len(idx), len(c))) for task, c in self.classes.items()}
        where = {i: n for n, i in enumerate(idx)}
        with torch.inference_mode():
            for b in range(0, len(order), 64):
                batch = order[b:b + 64]
                hidden, mask = self._stack(features, batch)
                with fast_autocast():
                    pooled = _mean_pool(top(inputs_embeds=hidden, attention_mask=mask).last_hidden_state, mask).float()
                rows = [where[i] for i in batch]
                for task in self.classes:
                    out[task][rows] = torch.softmax(self.heads[task](pooled).double(), -1).numpy()
        return out

    def _trainable_state(self) -> dict:
        if self.peft_model is None:  # loaded: the adapters are merged; save what was read
            return self._loaded_state
        from peft import get_peft_model_state_dict

        adapter = {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.peft_model).items()}
        heads = {k: v.detach().clone() for k, v in self.heads.state_dict().items()}
        return {"adapter": adapter, "heads": heads}

    def _load_trainable_state(self, state: dict) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.peft_model, state["adapter"])
        self.heads.load_state_dict(state["heads"])

    # ---- prediction
    def predict(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Every task's probabilities (columns in ``classes[task]`` order) from one pass; the
        last call's answer is kept, so the tasks of one batch share it."""
        import torch

        texts = [str(t) for t in texts]
        key = (tuple(texts), tuple(pairs) if pairs is not None else None)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            out = {task: np.zeros((len(texts), len(c))) for task, c in self.classes.items()}
            if texts:
                firsts, seconds = (list(pairs), texts) if pairs is not None else (texts, None)
                batches = list(length_sorted_batches(self.tokenizer, firsts, self.settings["max_length"],
                                                     self.predict_batch_size, text_pairs=seconds))
                with torch.inference_mode():
                    for idx, batch in batches:
                        for task, proba in self.forward_proba(batch).items():
                            out[task][idx] = proba
            self._last = (key, out)
            return out

    def forward_proba(self, batch: dict) -> dict[str, np.ndarray]:
        """One tokenized, padded batch through the encoder and every head (the forward pass
        alone: the speed benchmark's ceiling)."""
        import torch

        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            pooled = _mean_pool(hidden, batch["attention_mask"])
            return {task: torch.softmax(self.heads[task](pooled).double(), -1).numpy() for task in self.classes}

    def token_lengths(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> list[int]:
        with self._lock:
            enc = (self.tokenizer(list(texts), truncation=True, max_length=self.settings["max_length"])
                   if pairs is None else
                   self.tokenizer(list(pairs), list(texts), truncation=True, max_length=self.settings["max_length"]))
        return [len(ids) for ids in enc["input_ids"]]

    # ---- persistence
    def save(self, folder: Path, encoder_sha256: str | None) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        import torch

        state = self._trainable_state()
        # adapters stored as float16 (half the bytes of a model folder that git holds; loaded back into
        # the float32 layers, the merged weights differ by far less than the training noise)
        save_file({k: v.to(torch.float16).contiguous() for k, v in state["adapter"].items()}, str(folder / ADAPTER_FILE))
        save_file({k: v.contiguous() for k, v in state["heads"].items()}, str(folder / HEADS_FILE))
        config = {"encoder": {"name": self.encoder, "sha256": encoder_sha256 or self._encoder_sha256}, **self.settings,
                  "first_trainable": self.first_trainable, "classes": self.classes,
                  "predict_batch_size": self.predict_batch_size,
                  "training": {**{k: v for k, v in self.train_settings.items()}, "history": self.history,
                               "best_epoch": getattr(self, "best_epoch", None), "fit_seconds": self.fit_seconds}}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> MultiTaskEncoder:
        """The saved network, adapters merged into the encoder (plain layers, fast), loaded
        once per process for identical folders (the tasks of one model share it)."""
        folder = Path(folder)
        digest = folder_digest(folder)
        with _LOADED_LOCK:
            if digest in _LOADED:
                return _LOADED[digest]
        from safetensors.torch import load_file

        from stanceframe.encoder_store import check_encoder_identity
        from stanceframe.models.folder import read_json

        config = read_json(folder / CONFIG_FILE)
        try:
            settings = {k: config[k] for k in ("trainable_layers", "lora_r", "lora_alpha", "lora_dropout", "max_length")}
            self = cls(config["encoder"]["name"], **settings, predict_batch_size=config.get("predict_batch_size", 32))
            self.classes = {str(t): [str(c) for c in labels] for t, labels in config["classes"].items()}
        except (KeyError, TypeError) as exc:
            raise ModelFolderError(f"{folder}/{CONFIG_FILE}: missing or bad setting ({exc})") from None
        source = resolve_encoder(self.encoder)
        check_encoder_identity(source, config["encoder"], str(folder))
        self._encoder_sha256 = config["encoder"].get("sha256")
        self.first_trainable = config.get("first_trainable")
        self._build(source)
        self._loaded_state = {"adapter": load_file(str(folder / ADAPTER_FILE)), "heads": load_file(str(folder / HEADS_FILE))}
        self._load_trainable_state(self._loaded_state)
        self.model = self.peft_model.merge_and_unload()
        self.peft_model = None
        self.model.eval()
        self.heads.eval()
        self.history = (config.get("training") or {}).get("history", [])
        self.fit_seconds = (config.get("training") or {}).get("fit_seconds", 0.0)
        with _LOADED_LOCK:
            _LOADED[digest] = self
        return self


_LOWER_CACHE: dict[tuple, OrderedDict] = {}
_LOADED: dict[str, MultiTaskEncoder] = {}
_LOADED_LOCK = threading.Lock()


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in (CONFIG_FILE, ADAPTER_FILE, HEADS_FILE):
        path = folder / name
        if not path.is_file():
            raise ModelFolderError(f"{path}: missing (multi-task encoder folder)")
        h.update(name.encode() + b"\0" + file_digest(path).encode())
    return h.hexdigest()


def clear_caches() -> None:
    _LOWER_CACHE.clear()
    with _LOADED_LOCK:
        _LOADED.clear()
