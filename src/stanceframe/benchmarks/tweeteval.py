"""A public benchmark: ``stanceframe benchmark tweeteval --data DIR``.

TweetEval stance (SemEval-2016 Task 6; train and validation splits in ``DIR``, one JSON
object a line ``{"id", "target", "text", "stance"}``). Every family is trained on train
with the tweets' targets (``(target, text)`` pairs), a small grid of hyperparameters per
family is scored on validation with the official metric (mean of F1(against) and
F1(favor), pooled over the five targets: ``evaluate.official_stance_score``), and the
best configuration of each family is reported beside the published test results.

Selecting on a 294-tweet validation set flatters the selected numbers, so the report
also gives, for the families cheap enough to refit (everything but the two fine-tuned
transformers), the selected configuration's stratified 5-fold cross-validation score on
train, and, for the linear/lexicon families, the measured effect of how they condition
on the target (crossed features vs one model per target vs no target).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe.dataset import LabelledSet, load_labelled
from stanceframe.errors import DataFileError, StanceframeError
from stanceframe.evaluate import official_stance_score
from stanceframe.experiments import build_estimator
from stanceframe.markdown import markdown_table
from stanceframe.models import FAMILIES
from stanceframe.models.bundle import ModelBundle

EXPERIMENT = "stanceframe-tweeteval"
TASK = "stance"
TARGET_FIELD = "target"
POSITIVE = ("against", "favor")

# The grids: small, so that the whole command stays near 30 minutes of 2 CPU cores.
GRIDS: dict[str, list[dict]] = {
    "lexicon": [{}],
    "tfidf-logreg": [{"char_ngrams": c, "C": C} for c in (False, True) for C in (3.0, 10.0, 30.0)],
    "tfidf-svm": [{"char_ngrams": c, "C": C} for c in (False, True) for C in (0.1, 0.3, 1.0)],
    "encoder-logreg": [{"C": C, "max_length": 64} for C in (0.3, 1.0, 3.0, 10.0)],
    # one run; the epoch is chosen on validation loss (fit_eval_set), see _fit
    "encoder-finetune": [{"epochs": 3, "learning_rate": 1e-4, "max_length": 64, "validation_fraction": 0.0}],
    "setfit": [{"max_length": 64, "C": C} for C in (1.0,)],
    # one run: all-mpnet-base-v2 with LoRA on its top 6 layers, target and tweet read as a pair; the epoch
    # is chosen on a validation tenth of train (the benchmark's own validation split stays unseen)
    "encoder-multitask": [{"encoder": "sentence-transformers/all-mpnet-base-v2", "trainable_layers": 6, "epochs": 3,
                           "max_length": 64, "validation_fraction": 0.1}],
}
# how each family may condition on the target (the other modes are measured at the selected config)
TARGET_MODES_MEASURED = {
    "lexicon": ["cross", "per-target", "none"],
    "tfidf-logreg": ["cross", "per-target", "none"],
    "tfidf-svm": ["cross", "per-target", "none"],
    "encoder-logreg": ["cross", "per-target", "pair", "none"],
    "setfit": ["cross", "per-target", "pair"],
}
CHEAP = {"lexicon", "tfidf-logreg", "tfidf-svm", "encoder-logreg"}  # refit 5x for the CV estimate
EMBEDDING_CACHED = {"encoder-logreg"}  # frozen-encoder embeddings shared by fits in one process
SPARSE = ("tfidf-svm", "tfidf-logreg")
DENSE = ("encoder-logreg", "encoder-finetune", "setfit", "encoder-multitask")
ENSEMBLE_WEIGHTS = (0.3, 0.5, 0.7)  # weight of the sparse member
ORDER = ["lexicon", "tfidf-logreg", "tfidf-svm", "encoder-logreg", "encoder-finetune", "setfit", "encoder-multitask",
         "ensemble"]

PUBLISHED_FALLBACK = {  # TweetEval leaderboard, stance, test split (the folder's README)
    "TimeLMs-2021 (twitter-roberta)": 72.9, "BERTweet": 71.2, "RoBERTa-retrained": 69.3, "RoBERTa-base": 68.0,
    "SVM": 67.3, "FastText": 65.4, "LSTM": 59.4,
}


@dataclass
class ConfigScore:
    family: str
    params: dict
    official: float
    f1: dict[str, float]
    macro_f1: float
    fit_seconds: float


@dataclass
class FamilyResult:
    family: str
    best: ConfigScore
    grid: list[ConfigScore]
    estimator: object = None
    val_proba: np.ndarray | None = None
    cv: dict | None = None  # {"mean", "std", "folds"} of the official score, 5-fold on train
    default_val: float | None = None  # the family's default hyperparameters on val: no selection
    target_modes: dict[str, dict] = field(default_factory=dict)  # mode -> {"val", "cv"}
    default_mode: str = ""


@dataclass
class BenchmarkResult:
    families: dict[str, FamilyResult]
    published: dict[str, float]
    best_family: str
    seconds: float
    markdown: str
    paths: dict[str, str] = field(default_factory=dict)
    n_train: int = 0
    n_val: int = 0


# --------------------------------------------------------------------------- data


def load_split(data_dir: Path, split: str) -> LabelledSet:
    path = Path(data_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise DataFileError(path, None, f"no {split} split (expected {split}.jsonl in the benchmark folder)")
    data = load_labelled(path, tasks=[TASK], target_field=TARGET_FIELD, labels_from_data=True)
    missing = set(POSITIVE) - set(data.labels(TASK))
    if missing:
        raise DataFileError(path, None, f"no {' / '.join(sorted(missing))} examples: not TweetEval stance data")
    return data


def published_results(data_dir: Path) -> dict[str, float]:
    """The ``| model | stance score |`` rows of the benchmark folder's README."""
    readme = Path(data_dir) / "README.md"
    if not readme.is_file():
        return dict(PUBLISHED_FALLBACK)
    rows = {}
    in_table = False
    for line in readme.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\|\s*model\s*\|\s*stance score", line, re.I):
            in_table = True
            continue
        if in_table:
            m = re.match(r"^\|\s*([^|]+?)\s*\|\s*([0-9.]+)\s*\|", line)
            if m:
                rows[m.group(1)] = float(m.group(2))
            elif not line.startswith("|"):
                in_table = False
    return rows or dict(PUBLISHED_FALLBACK)


# --------------------------------------------------------------------------- scoring


def score_predictions(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[float, dict[str, float], float]:
    from sklearn.metrics import f1_score

    labels = sorted(set(y_true) | set(y_pred))
    f1 = f1_score(list(y_true), list(y_pred), labels=labels, average=None, zero_division=0)
    per = {lab: float(v) for lab, v in zip(labels, f1)}
    return official_stance_score(y_true, y_pred, POSITIVE), per, float(np.mean(f1))


def _predict_labels(est, inputs) -> tuple[np.ndarray, list[str]]:
    proba = np.asarray(est.predict_proba(inputs), dtype=float)
    classes = [str(c) for c in est.classes_]
    return proba, [classes[i] for i in proba.argmax(axis=1)]


def _fit(family: str, params: dict, train: LabelledSet, seed: int, val: LabelledSet | None = None):
    est = build_estimator(family, TASK, params, seed, schema=train.schema)
    fit_eval = getattr(est, "fit_eval_set", None)
    if callable(fit_eval) and val is not None:  # encoder-finetune: best epoch by validation loss
        fit_eval(train.inputs(), train.labels(TASK), val.inputs(), val.labels(TASK))
    else:
        est.fit(train.inputs(), train.labels(TASK))
    return est


def fit_and_score(family: str, params: dict, train: LabelledSet, val: LabelledSet, seed: int):
    t0 = time.perf_counter()
    est = _fit(family, params, train, seed, val)
    fit_s = time.perf_counter() - t0
    proba, pred = _predict_labels(est, val.inputs())
    official, per, macro = score_predictions(val.labels(TASK), pred)
    return est, proba, ConfigScore(family, dict(params), official, per, macro, fit_s)


def cold_fit_seconds(family: str, params: dict, train: LabelledSet, val: LabelledSet, seed: int) -> float:
    """Seconds of one fit of ``params`` with the process's embedding cache emptied first:
    what training the selected configuration costs on its own."""
    from stanceframe.models.encoder import clear_embedding_cache

    clear_embedding_cache()
    started = time.perf_counter()
    _fit(family, params, train, seed, val)
    return time.perf_counter() - started


def cross_validated(make: Callable[[], object], train: LabelledSet, folds: int, seed: int) -> dict:
    """Official score of ``make()`` over stratified (target x label) k-fold CV on train."""
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{e.target}|{e.labels[TASK]}" for e in train.examples]
    counts = {s: strata.count(s) for s in set(strata)}
    strata = [s if counts[s] >= folds else f"rare|{s.split('|')[1]}" for s in strata]
    k = max(2, min(folds, min(strata.count(s) for s in set(strata))))
    scores = []
    for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(strata)), strata):
        a, b = train.subset(tr), train.subset(te)
        est = make()
        est.fit(a.inputs(), a.labels(TASK))
        _, pred = _predict_labels(est, b.inputs())
        scores.append(official_stance_score(b.labels(TASK), pred, POSITIVE))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "folds": [float(s) for s in scores]}


# --------------------------------------------------------------------------- the benchmark


def run_tweeteval(
    data_dir: str | Path,
    *,
    tracker,
    out_dir: str | Path = "out/benchmark",
    families: Sequence[str] | None = None,
    seed: int = 13,
    cv_folds: int = 5,
    export: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    cv_costly: bool = False,
) -> BenchmarkResult:
    """Train, select on validation, cross-validate the cheap families (every family with
    ``cv_costly``), compare target conditioning, build the ensemble, write ``tweeteval.md``
    / ``.json`` and log to MLflow."""
    say = progress or (lambda line: None)
    started, cpu_started = time.perf_counter(), time.process_time()
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise StanceframeError(f"{data_dir}: no such benchmark folder (expected train.jsonl and val.jsonl)")
    chosen = list(families or ORDER)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise StanceframeError(f"unknown families {unknown}; known: {', '.join(ORDER)}")
    train, val = load_split(data_dir, "train"), load_split(data_dir, "val")
    published = published_results(data_dir)
    say(f"tweeteval: {len(train)} train / {len(val)} validation tweets, targets {', '.join(sorted(set(train.targets)))}")

    results: dict[str, FamilyResult] = {}
    base = {"benchmark": "tweeteval", "seed": seed, "n_train": len(train), "n_val": len(val),
            "train_hash": train.fingerprint(), "val_hash": val.fingerprint(), "target_field": TARGET_FIELD}
    for family in [f for f in ORDER if f in chosen and f != "ensemble"]:
        with tracker.run(f"tweeteval-{family}", params={**base, "family": family, "grid": GRIDS[family]},
                         tags={"stanceframe.kind": "benchmark"}):
            result = _run_family(family, train, val, seed, cv_folds, tracker, say, cv_costly)
            results[family] = result
            metrics = {"val_official": result.best.official, "val_macro_f1": result.best.macro_f1,
                       "fit_seconds": result.best.fit_seconds,
                       **{f"val_f1_{k}": v for k, v in result.best.f1.items()}}
            if result.cv:
                metrics.update(cv_official_mean=result.cv["mean"], cv_official_std=result.cv["std"])
            for mode, scores in result.target_modes.items():
                metrics[f"target_mode_{mode}_val_official"] = scores["val"]
                if scores.get("cv"):
                    metrics[f"target_mode_{mode}_cv_official"] = scores["cv"]["mean"]
            tracker.log_params({"selected": result.best.params})
            tracker.log_metrics(metrics)
    if "ensemble" in chosen:
        ensemble = _run_ensemble(results, train, val, seed, cv_folds, tracker, say, base, cv_costly)
        if ensemble:
            results["ensemble"] = ensemble
    if not results:
        raise StanceframeError("no family was run")
    best_family = max(results, key=lambda f: results[f].best.official)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    markdown = benchmark_markdown(results, published, best_family, seconds, len(train), len(val), cv_folds,
                                  cpu_seconds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": str(out / "tweeteval.md"), "json": str(out / "tweeteval.json")}
    payload = benchmark_json(results, published, best_family, seconds, len(train), len(val))
    payload["cpu_seconds"] = cpu_seconds
    Path(paths["markdown"]).write_text(markdown, encoding="utf-8")
    Path(paths["json"]).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    bundle_dir = Path(export) if export else out / "tweeteval-best"
    bundle = _best_bundle(results[best_family], train)
    bundle.save(bundle_dir, benchmark={"name": "tweeteval", "split": "validation",
                                       "official": results[best_family].best.official})
    paths["model"] = str(bundle_dir)
    with tracker.run("tweeteval-summary", params={**base, "best_family": best_family},
                     tags={"stanceframe.kind": "benchmark"}):
        tracker.log_metrics({"best_val_official": results[best_family].best.official, "seconds": seconds,
                             **{f"{f}_val_official": r.best.official for f, r in results.items()}})
        tracker.log_text(markdown, "tweeteval.md")
        tracker.log_dict(payload, "tweeteval.json")
    say(f"tweeteval: done in {seconds / 60:.1f} min; best {best_family} "
        f"({100 * results[best_family].best.official:.1f} on validation)")
    return BenchmarkResult(results, published, best_family, seconds, markdown, paths, len(train), len(val))


def _run_family(family, train, val, seed, cv_folds, tracker, say, cv_costly=False) -> FamilyResult:
    grid: list[ConfigScore] = []
    best = best_est = best_proba = None
    for params in GRIDS[family]:
        est, proba, score = fit_and_score(family, params, train, val, seed)
        grid.append(score)
        with tracker.run(f"{family}-{_short(params)}", nested=True, params={"family": family, **params}):
            tracker.log_metrics({"val_official": score.official, "val_macro_f1": score.macro_f1,
                                 "fit_seconds": score.fit_seconds, **{f"val_f1_{k}": v for k, v in score.f1.items()}})
        say(f"{family:15s} {_short(params):32s} val {100 * score.official:5.1f}  (fit {score.fit_seconds:.1f}s)")
        if best is None or score.official > best.official:
            best, best_est, best_proba = score, est, proba
    if family in EMBEDDING_CACHED:  # the grid's later fits reused the first one's embeddings
        best.fit_seconds = cold_fit_seconds(family, best.params, train, val, seed)
        say(f"{family:15s} {_short(best.params):32s} fit from scratch (embeddings included): {best.fit_seconds:.1f}s")
    result = FamilyResult(family, best, grid, best_est, best_proba,
                          default_mode=str(best_est.get_params().get("target_mode", "")))
    if family in CHEAP:
        result.default_val = best.official if not best.params else fit_and_score(family, {}, train, val, seed)[2].official
        say(f"{family:15s} {'family defaults':32s} val {100 * result.default_val:5.1f}")
    if family in CHEAP or cv_costly:
        result.cv = cross_validated(lambda: build_estimator(family, TASK, best.params, seed, schema=train.schema),
                                    train, cv_folds, seed)
        say(f"{family:15s} selected config, {cv_folds}-fold CV on train: {100 * result.cv['mean']:.1f} "
            f"± {100 * result.cv['std']:.1f}")
    for mode in [m for m in TARGET_MODES_MEASURED.get(family, []) if m != result.default_mode]:
        params = {**best.params, "target_mode": mode}
        _, _, score = fit_and_score(family, params, train, val, seed)
        entry = {"val": score.official}
        if family in CHEAP:
            entry["cv"] = cross_validated(lambda: build_estimator(family, TASK, params, seed, schema=train.schema),
                                          train, cv_folds, seed)
        result.target_modes[mode] = entry
        cv_text = f", CV {100 * entry['cv']['mean']:.1f}" if entry.get("cv") else ""
        say(f"{family:15s} target_mode={mode:10s} val {100 * score.official:5.1f}{cv_text}")
    if TARGET_MODES_MEASURED.get(family):
        result.target_modes[result.default_mode] = {"val": best.official, "cv": result.cv}
    return result


def _run_ensemble(results, train, val, seed, cv_folds, tracker, say, base, cv_costly=False) -> FamilyResult | None:
    """The best sparse family + the best dense family by validation, probabilities
    averaged with the sparse member's weight chosen on validation (no refit)."""
    from stanceframe.models.ensemble import EnsembleClassifier

    sparse = [f for f in SPARSE if f in results]
    dense = [f for f in DENSE if f in results]
    if not sparse or not dense:
        say("ensemble: skipped (needs a tfidf family and an encoder family in --families)")
        return None
    s = max(sparse, key=lambda f: results[f].best.official)
    d = max(dense, key=lambda f: results[f].best.official)
    members = [results[s].estimator, results[d].estimator]
    probas = [results[s].val_proba, results[d].val_proba]
    classes = [str(c) for c in members[0].classes_]
    grid, best, best_w = [], None, None
    with tracker.run("tweeteval-ensemble", params={**base, "family": "ensemble", "members": [s, d],
                                                   "weights_grid": list(ENSEMBLE_WEIGHTS)},
                     tags={"stanceframe.kind": "benchmark"}):
        for w in ENSEMBLE_WEIGHTS:
            proba = w * probas[0] + (1 - w) * probas[1]
            pred = [classes[i] for i in proba.argmax(axis=1)]
            official, per, macro = score_predictions(val.labels(TASK), pred)
            params = {"members": [s, d], "weights": [w, round(1 - w, 6)]}
            score = ConfigScore("ensemble", params, official, per, macro,
                                results[s].best.fit_seconds + results[d].best.fit_seconds)
            grid.append(score)
            say(f"{'ensemble':15s} {s}+{d} w={w:.1f}{'':8s} val {100 * official:5.1f}")
            if best is None or official > best.official:
                best, best_w = score, w
        est = EnsembleClassifier.from_fitted(members, [best_w, 1 - best_w], random_state=seed)
        best = ConfigScore("ensemble", {**best.params, "member_params": est.member_params}, best.official,
                           best.f1, best.macro_f1, best.fit_seconds)
        proba = best_w * probas[0] + (1 - best_w) * probas[1]
        result = FamilyResult("ensemble", best, grid, est, proba)
        if (s in CHEAP and d in CHEAP) or cv_costly:  # a costly member's fold fits are memoised
            result.cv = cross_validated(
                lambda: EnsembleClassifier(members=[s, d], member_params=est.member_params,
                                           weights=[best_w, 1 - best_w], random_state=seed),
                train, cv_folds, seed)
            say(f"{'ensemble':15s} selected config, {cv_folds}-fold CV on train: {100 * result.cv['mean']:.1f} "
                f"± {100 * result.cv['std']:.1f}")
        tracker.log_params({"selected": best.params["weights"]})
        tracker.log_metrics({"val_official": best.official, "val_macro_f1": best.macro_f1,
                             **({"cv_official_mean": result.cv["mean"]} if result.cv else {})})
    return result


def _best_bundle(result: FamilyResult, train: LabelledSet) -> ModelBundle:
    est = result.estimator
    manifest = {"name": f"tweeteval-{result.family}", "params": result.best.params, "target_field": TARGET_FIELD,
                "data_hash": train.fingerprint(), "label_counts": {TASK: train.label_counts(TASK)},
                "training_files": train.paths}
    info = getattr(est, "encoder_info", None)
    if callable(info) and info():
        manifest["encoder"] = info()
    return ModelBundle(result.family, {TASK: est}, manifest)


def _short(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items() if k not in {"max_length", "member_params"}) or "defaults"


# --------------------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


TARGET_MODE_COLUMNS = {"cross": "cross (features × target)", "per-target": "per-target models", "pair": "pair",
                       "none": "none"}


def benchmark_markdown(results: dict[str, FamilyResult], published: dict[str, float], best_family: str,
                       seconds: float, n_train: int, n_val: int, cv_folds: int = 5,
                       cpu_seconds: float | None = None) -> str:
    lines = [
        f"TweetEval stance, official metric (mean of F1(against) and F1(favor), pooled over the five targets), "
        f"×100. Ours: trained on train ({n_train} tweets) with the tweets' targets, hyperparameters selected on "
        f"validation ({n_val} tweets). Published: the TweetEval leaderboard, **test** split (not available here).",
        "",
        markdown_table(["model", "config (selected on val)", "val (selected)", "val (family defaults)",
                        f"train {cv_folds}-fold CV", "F1 against / favor / none (val)", "fit s", "published test"],
                       _leaderboard_rows(results, published, best_family)),
    ]
    modes = {f: r for f, r in results.items() if r.target_modes}
    if modes:
        lines += ["", f"Target conditioning at each family's selected config (val / train {cv_folds}-fold CV):", "",
                  markdown_table(["family", *TARGET_MODE_COLUMNS.values()],
                                 [[family, *(_mode_cell(r, mode) for mode in TARGET_MODE_COLUMNS)]
                                  for family, r in modes.items()])]
    lines += ["", f"Validation has {n_val} tweets: one tweet moves the score by roughly 0.3-0.5 points, and picking "
                  f"the best of a grid on it flatters the selected number; the train CV column is the less "
                  f"optimistic estimate. fit s: one fit of the selected configuration on train, from scratch "
                  f"(frozen-encoder embeddings included; the ensemble: its members' fits). Whole command: {seconds / 60:.1f} min wall clock"
                  + (f", {cpu_seconds / 60:.1f} min of CPU time" if cpu_seconds is not None else "") + "."]
    return "\n".join(lines) + "\n"


def _leaderboard_rows(results: dict[str, FamilyResult], published: dict[str, float], best_family: str) -> list[list]:
    """Our families and the published results, best official score first."""
    scored = []
    for family, r in results.items():
        cv = f"{_pct(r.cv['mean'])} ± {_pct(r.cv['std'])}" if r.cv else "–"
        f1 = " / ".join(_pct(r.best.f1.get(k)) for k in ("against", "favor", "none"))
        name = f"stanceframe {family}" + (" **(best)**" if family == best_family else "")
        scored.append((r.best.official, [name, _short(r.best.params), _pct(r.best.official), _pct(r.default_val), cv,
                                         f1, f"{r.best.fit_seconds:.0f}", None]))
    for model, score in published.items():
        scored.append((score / 100, [f"{model} (published)", *[None] * 6, f"{score:.1f}"]))
    return [row for _, row in sorted(scored, key=lambda x: -x[0])]


def _mode_cell(result: FamilyResult, mode: str) -> str:
    """A target mode's validation score (and train CV), ``(default)`` for the family's own."""
    entry = result.target_modes.get(mode)
    if not entry:
        return "–"
    cv = f" / {_pct(entry['cv']['mean'])}" if entry.get("cv") else ""
    mark = " (default)" if mode == result.default_mode else ""
    return f"{_pct(entry['val'])}{cv}{mark}"


def benchmark_json(results, published, best_family, seconds, n_train, n_val) -> dict:
    return {
        "benchmark": "tweeteval-stance", "metric": "mean F1(against, favor), pooled", "split": "validation",
        "n_train": n_train, "n_val": n_val, "seconds": seconds, "best_family": best_family,
        "published_test": published,
        "families": {
            family: {
                "selected": r.best.params, "val_official": r.best.official, "val_f1": r.best.f1,
                "val_macro_f1": r.best.macro_f1, "fit_seconds": r.best.fit_seconds, "cv_train": r.cv,
                "val_family_defaults": r.default_val,
                "grid": [{"params": g.params, "val_official": g.official, "fit_seconds": g.fit_seconds} for g in r.grid],
                "target_modes": r.target_modes, "default_target_mode": r.default_mode,
            }
            for family, r in results.items()
        },
    }
