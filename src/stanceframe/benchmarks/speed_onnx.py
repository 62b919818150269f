"""``benchmark speed``'s ONNX section: for one encoder model folder, on the same sentences
and in alternating rounds (PyTorch, ONNX fp32, ONNX int8, then again), end-to-end ``tag``
on each path; the ``transformers.pipeline`` peer on the same model; the ONNX forward pass
alone (pre-tokenized, length-sorted batches, run as ``tag`` runs them); peak RSS of a
fresh ``tag`` process over the same corpus; and the whole-process start-up of ``stanceframe
tag ONE-ARTICLE`` per path (median of fresh processes, alternating)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from stanceframe.benchmarks.speed_settings import PIPELINE_BATCH_SIZE

PATHS = ("torch", "onnx-fp32", "onnx-int8")


@contextmanager
def runtime(name: str):
    from stanceframe.models.onnx_runtime import RUNTIME_ENV

    before = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = before


def load_path(folder: Path, path: str):
    from stanceframe.models.bundle import ModelBundle

    if path == "torch":
        with runtime("torch"):
            return ModelBundle.load(folder)
    with runtime("onnx"):
        return ModelBundle.load(folder, precision=path.split("-")[1])


def forget(bundle) -> None:
    """Drop a multi-task network's memo of its last answer (a repeated run must compute)."""
    for est in bundle.estimators.values():
        for shared in (getattr(est, "shared_", None), getattr(getattr(est, "encoder_", None), "shared_", None)):
            if shared is not None:
                shared._last = None


def networks(bundle) -> list:
    """The distinct ONNX networks of a bundle loaded for ONNX Runtime."""
    out = []
    for est in bundle.estimators.values():
        for owner in (est, getattr(est, "encoder_", None)):
            net = getattr(getattr(owner, "shared_", None), "network", None) or getattr(owner, "network_", None)
            if net is not None and all(net is not n for n in out):
                out.append(net)
    return out


def forward_rate(bundle, sentences: list[str], repeats: int) -> dict:
    """The ONNX forward pass alone: batches tokenized and padded beforehand, run the way
    ``predict`` runs them (side by side, one ONNX Runtime thread each)."""
    from stanceframe.benchmarks.speed import median_rate

    jobs = [(net, [feed for _, feed in net.batches(sentences)]) for net in networks(bundle)]
    for net, feeds in jobs:
        list(net._map(feeds[:2]))
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for net, feeds in jobs:
            list(net._map(feeds))
        runs.append((time.perf_counter() - started, len(sentences)))
    return {"sentences_per_s": median_rate(runs), "sentences": len(sentences), "runs_s": [round(s, 3) for s, _ in runs]}


def pipeline_rate(torch_bundle, sentences: list[str], repeats: int) -> dict | None:
    """The peer on the same model: ``transformers.pipeline`` over the PyTorch network
    (text-classification for a fine-tuned model; for a multi-task model, feature-extraction
    of the merged encoder, then its mean pooling and heads in NumPy)."""
    import numpy as np
    from transformers import pipeline

    from stanceframe.benchmarks.speed import median_rate
    from stanceframe.benchmarks.speed import pipeline_rate as classification_rate

    ests = list(torch_bundle.estimators.values())
    if all(hasattr(e, "model_") and hasattr(e.model_, "classifier") for e in ests):
        return classification_rate(torch_bundle, sentences, repeats)
    shared = next((getattr(e, "shared_", None) or getattr(getattr(e, "encoder_", None), "shared_", None)
                   for e in ests), None)
    if shared is None:
        return None
    pipe = pipeline("feature-extraction", model=shared.model, tokenizer=shared.tokenizer, device=-1,
                    batch_size=PIPELINE_BATCH_SIZE)
    heads = {t: (h.weight.detach().numpy().astype(np.float64), h.bias.detach().numpy()) for t, h in shared.heads.items()}
    kwargs = {"truncation": True, "max_length": shared.settings["max_length"]}

    def run(texts):
        for hidden in pipe(texts, tokenize_kwargs=kwargs):
            pooled = np.asarray(hidden[0]).mean(axis=0)
            for w, b in heads.values():
                pooled @ w.T + b

    run(sentences[:PIPELINE_BATCH_SIZE])
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(sentences)
        runs.append((time.perf_counter() - started, len(sentences)))
    return {"sentences_per_s": median_rate(runs), "sentences": len(sentences), "runs_s": [round(s, 3) for s, _ in runs]}


def startup_seconds(folder: Path, article: Path, scratch: Path, rounds: int) -> dict:
    """Whole-process ``stanceframe tag ARTICLE --model FOLDER`` per path: the median of
    ``rounds`` fresh processes, the paths alternating."""
    times: dict[str, list[float]] = {p: [] for p in PATHS}
    folders = folders_per_path(folder, scratch)
    for _ in range(rounds):
        for path in PATHS:
            env = {**os.environ, "STANCEFRAME_RUNTIME": "torch" if path == "torch" else "onnx"}
            cmd = [sys.executable, "-m", "stanceframe", "tag", str(article), "--model", str(folders[path]), "--quiet",
                   "--out", str(scratch / "startup.jsonl"), "--force"]
            started = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            times[path].append(time.perf_counter() - started)
    return {p: {"median_s": round(statistics.median(v), 3), "runs_s": [round(x, 3) for x in v]}
            for p, v in times.items()}


def onnx_comparison(folder: Path, corpus: Path, warmup: Path, sentences: list[str], article: Path, scratch: Path,
                    repeats: int, startup_rounds: int, log: Callable[[str], None]) -> dict:
    """Every measurement of the module docstring for the model in ``folder``."""
    from stanceframe.benchmarks.memory import peak_rss
    from stanceframe.benchmarks.speed import median_rate, time_tag

    bundles = {p: load_path(folder, p) for p in PATHS}  # exports and quantises what is not cached
    for bundle in bundles.values():
        time_tag(bundle, warmup, scratch, None)
    runs: dict[str, list] = {p: [] for p in PATHS}
    for r in range(repeats):
        for path, bundle in bundles.items():
            forget(bundle)
            log(f"ONNX section, {folder.name}: round {r + 1}/{repeats}, {path}...")
            runs[path].append(time_tag(bundle, corpus, scratch, None)[:2])
    out: dict = {"model": str(folder), "family": bundles["torch"].family, "sentences": len(sentences),
                 "end_to_end": {p: {"sentences_per_s": median_rate(v), "runs_s": [round(s, 3) for s, _ in v]}
                                for p, v in runs.items()}}
    log("ONNX section: the forward pass alone, the pipeline peer...")
    out["forward"] = {p: forward_rate(bundles[p], sentences, repeats) for p in PATHS[1:]}
    out["pipeline"] = pipeline_rate(bundles["torch"], sentences, repeats)
    e2e = out["end_to_end"]
    if out["pipeline"]:
        out["ratio_vs_pipeline"] = {p: round(e2e[p]["sentences_per_s"] / out["pipeline"]["sentences_per_s"], 3)
                                    for p in PATHS}
    out["ratio_vs_forward"] = {p: round(e2e[p]["sentences_per_s"] / out["forward"][p]["sentences_per_s"], 3)
                               for p in PATHS[1:]}
    out["ratio_vs_torch"] = {p: round(e2e[p]["sentences_per_s"] / e2e["torch"]["sentences_per_s"], 3) for p in PATHS}
    if startup_rounds:
        log("ONNX section: start-up of `tag` on one article, fresh processes...")
        out["startup"] = startup_seconds(folder, article, scratch, startup_rounds)
        log("ONNX section: peak RSS of `tag`, fresh processes...")
        out["peak_rss_mb"] = {}
        for path, path_folder in folders_per_path(folder, scratch).items():
            with runtime("torch" if path == "torch" else "onnx"):
                out["peak_rss_mb"][path] = peak_rss(path_folder, corpus, scratch)["peak_rss_mb"]
    return out


def folders_per_path(folder: Path, scratch: Path) -> dict[str, Path]:
    """The model folder a fresh process loads for each path: for int8 a copy in ``scratch``
    whose manifest asks for int8 (measured as is, without ``stanceframe onnx``'s guard)."""
    import json
    import shutil

    copy = scratch / f"{folder.name}-int8"
    if not copy.exists():
        shutil.copytree(folder, copy)
        manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
        manifest["onnx"] = {"precision": "int8", "note": "benchmark copy, unguarded"}
        (copy / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {"torch": folder, "onnx-fp32": folder, "onnx-int8": copy}

