"""Exporting an encoder family's network to ONNX (PyTorch side: imports torch), checking
the export against PyTorch, and quantising it to int8.

What is exported, per family (inputs: the tokenizer's ids, attention mask and, for BERT-like
encoders, token type ids; batch and sequence length dynamic):

- ``encoder-multitask``: the encoder with its adapters merged, mean pooling and every
  task's head: one ``logits_<task>`` output per task;
- ``encoder-finetune``: the fine-tuned sequence classifier: ``logits``;
- ``encoder-logreg``: the frozen encoder, mean pooling and L2 normalisation:
  ``sentence_embedding`` (the logistic-regression head stays a NumPy product).

The export uses ``torch.onnx.export(dynamo=True)`` (the TorchScript exporter traces
transformers 5's attention masks wrongly: probabilities off by 0.4). After it, the
**parity check** runs :data:`PARITY_SENTENCES` (and each as a pair with a target, for a
paired model) through the PyTorch path (the family's own tokenizer and batches) and through
:class:`~.onnx_runtime.OnnxNetwork` (tokenizers + ONNX Runtime), and records the largest
absolute difference of probabilities (embeddings for ``encoder-logreg``); past
``tolerance`` the export is refused (:class:`~stanceframe.errors.ModelFolderError`) and
nothing is cached. The cache folder is written in a temporary folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.onnx_runtime import (
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    OnnxNetwork,
    cache_folder,
    read_meta,
    softmax64,
)

PARITY_TOLERANCE = 1e-4  # max abs difference of probabilities, float32 ONNX vs PyTorch
OPSET = 18
PARITY_SENTENCES = [
    "Moscow said the talks would resume next week.",
    "The minister rejected the proposal as a provocation by NATO.",
    "Kyiv's forces recaptured two villages near Kharkiv, the general staff reported on Tuesday.",
    "Analysts warned that sanctions alone would not end the war.",
    "No.",
    "“We will never accept these terms,” he told reporters in Brussels, adding that the alliance stood united "
    "and that any further escalation would be met with a firm and proportionate response from all members.",
    "Share this article",
    "China urged both sides to show restraint and return to dialogue.",
    "The Pentagon announced a new package of military aid worth $400 million, including air defence systems, "
    "artillery shells and armoured vehicles, to be delivered over the coming months as the front line shifts "
    "again in the east of the country and winter approaches, according to officials familiar with the plan.",
    "Ceasefire now!",
    "Western media, as usual, ignored the shelling of Donetsk.",
    "Prices for grain rose 3% in Chicago.",
]
PARITY_TARGETS = ["Russia", "NATO", "Ukraine"]


def export_cache(digest: str, kind: str, module, tokenizer, max_length: int, reference: Callable,
                 outputs: list[str], extra: dict, paired: bool, tolerance: float | None = None,
                 log: Callable[[str], None] | None = None) -> Path:
    """Export ``module`` (a torch module taking the tokenizer's inputs, returning
    ``outputs``) into the cache folder ``digest``, check it against ``reference`` (texts,
    pairs or None -> {output: probabilities or embeddings}) and return the folder."""
    import torch

    tolerance = PARITY_TOLERANCE if tolerance is None else tolerance
    final = cache_folder(digest)
    if read_meta(final) is not None:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=final.parent))
    try:
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
        sample = tokenizer(PARITY_SENTENCES[:3], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt")
        args = tuple(sample[n] for n in names)
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=max(8, int(max_length)))
        # the exporter prints its steps on stdout, where `tag` may be writing rows
        import logging

        # the exporter's registry logs a line per missing optional package (torchvision) on stderr
        quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.onnx._internal.exporter._registration")]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(_Inputs(module, names).eval(), args, dynamo=True, input_names=names,
                                        output_names=outputs, dynamic_shapes=tuple({0: batch, 1: seq} for _ in names),
                                        opset_version=OPSET, optimize=True, external_data=False, verbose=False,
                                        report=False)
            program.save(str(tmp / MODEL_FILE["fp32"]), external_data=False)
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy: the PyTorch path keeps its own
        backend.no_padding()
        backend.no_truncation()
        backend.save(str(tmp / TOKENIZER_FILE))
        meta = {"kind": kind, "outputs": outputs, "inputs": names, "max_length": int(max_length),
                "pad_id": int(tokenizer.pad_token_id or 0), **extra}
        (tmp / META_FILE).write_text(json.dumps(meta), encoding="utf-8")  # what OnnxNetwork reads
        diff = parity(OnnxNetwork(tmp), reference, paired, kind)
        if log:
            log(f"ONNX export {digest[:12]}: max abs difference vs PyTorch {diff:.2e} (tolerance {tolerance:.0e})")
        if not diff <= tolerance:
            raise ModelFolderError(f"ONNX export of {extra.get('source', kind)}: max abs difference vs PyTorch "
                                   f"{diff:.2e} on {len(PARITY_SENTENCES)} sample sentences exceeds the tolerance "
                                   f"{tolerance:.0e}; refused (use --runtime torch)")
        meta.update(parity={"fp32_max_abs_diff": diff, "sentences": len(PARITY_SENTENCES) * (2 if paired else 1),
                            "tolerance": tolerance},
                    created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    versions=_versions())
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:  # another process exported the same weights meanwhile: keep theirs
            if read_meta(final) is None:
                raise
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def network_outputs(network: OnnxNetwork, kind: str, texts: list[str], pairs: list[str] | None) -> dict:
    """The ONNX side of the comparison: probabilities per output (embeddings for ``embed``)."""
    firsts, seconds = (pairs, texts) if pairs is not None else (texts, None)
    raw = network.outputs(firsts, seconds)
    return {name: (values if kind == "embed" else softmax64(values)) for name, values in raw.items()}


def parity(network: OnnxNetwork, reference: Callable, paired: bool, kind: str) -> float:
    diff = 0.0
    sets = [(PARITY_SENTENCES, None)]
    if paired:
        sets.append((PARITY_SENTENCES, [PARITY_TARGETS[i % len(PARITY_TARGETS)] for i in range(len(PARITY_SENTENCES))]))
    for texts, pairs in sets:
        want = reference(texts, pairs)
        got = network_outputs(network, kind, texts, pairs)
        for name, values in want.items():
            diff = max(diff, float(np.max(np.abs(np.asarray(values, dtype=np.float64) - got[name]))))
    return diff


def _versions() -> dict:
    out = {}
    for name in ("torch", "transformers", "onnxruntime", "onnx", "tokenizers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


class _Inputs:
    """A torch module that takes the exported inputs positionally and calls ``module``
    with them as keywords."""

    def __new__(cls, module, names: list[str]):
        import torch

        class Inputs(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = module

            def forward(self, input_ids, attention_mask, token_type_ids=None):
                inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
                return self.inner(**{n: inputs[n] for n in names})

        return Inputs()


def _mean_pool(hidden, mask):
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


# --------------------------------------------------------------------------- per family


def export_multitask(shared, digest: str, log=None) -> Path:
    """``shared`` (a loaded :class:`~.lora_encoder.MultiTaskEncoder`, adapters merged):
    encoder + mean pooling + every head."""
    import torch

    tasks = list(shared.classes)

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.heads = shared.model, shared.heads

        def forward(self, **inputs):
            pooled = _mean_pool(self.encoder(**inputs).last_hidden_state, inputs["attention_mask"])
            return tuple(self.heads[task](pooled) for task in tasks)

    def reference(texts, pairs):
        shared._last = None
        return {f"logits_{t}": p for t, p in shared.predict(texts, pairs).items()}

    return export_cache(digest, "multitask", Network(), shared.tokenizer, shared.settings["max_length"], reference,
                        [f"logits_{t}" for t in tasks], {"tasks": shared.classes, "source": shared.encoder},
                        paired=True, log=log)


def export_finetune(est, digest: str, log=None) -> Path:
    """A fitted ``encoder-finetune`` estimator's sequence classifier: ``logits``."""
    import torch

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = est.model_

        def forward(self, **inputs):
            return self.model(**inputs).logits

    def reference(texts, pairs):
        return {"logits": est.predict_proba(list(zip(pairs, texts)) if pairs is not None else texts)}

    return export_cache(digest, "finetune", Network(), est.tokenizer_, int(est.max_length), reference, ["logits"],
                        {"classes": [str(c) for c in est.classes_], "source": str(est.encoder)},
                        paired=bool(getattr(est, "paired_", False)), log=log)


def export_embedder(encoder: str, max_length: int, digest: str, log=None) -> Path:
    """The frozen encoder of ``encoder-logreg``: mean-pooled, L2-normalised embeddings."""
    import torch

    from stanceframe.models.encoder import embed, load_encoder

    tokenizer, model = load_encoder(str(encoder))

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, **inputs):
            pooled = _mean_pool(self.model(**inputs).last_hidden_state, inputs["attention_mask"])
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def reference(texts, pairs):
        return {"sentence_embedding": embed(texts, encoder, max_length, cache=False)}

    return export_cache(digest, "embed", Network(), tokenizer, max_length, reference, ["sentence_embedding"],
                        {"source": str(encoder)}, paired=False, log=log)
