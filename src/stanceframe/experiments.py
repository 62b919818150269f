"""Train, compare and promote: the experiment runs behind ``stanceframe train`` /
``compare`` / ``evaluate``. Glues data loading, the model registry, cross-validation
(evaluate.py), MLflow (tracking.py), plots and compare's tables (leaderboard.py); holds no
metric or MLflow logic itself. The config it runs is read by experiment_config.py."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe.dataset import (
    LabelledSet,
    check_trainable,
    grouped_folds,
    joint_labels,
    load_labelled,
    load_many,
    source_stem,
)
from stanceframe.errors import SchemaError, StanceframeError
from stanceframe.evaluate import (
    CVResult,
    cross_validate,
    int8_figures,
    leaderboard_rows,
    misclassified_rows,
    official_stance_score,
    pick_best,
    pick_best_per_task,
    task_metrics,
)
from stanceframe.experiment_config import ExperimentConfig
from stanceframe.leaderboard import leaderboard_markdown, misclassified_csv, per_class_markdown
from stanceframe.models import family_class, fit_params_for
from stanceframe.models.bundle import PER_TASK, ModelBundle
from stanceframe.models.onnx_predictors import export_model_folder
from stanceframe.paths import project_root
from stanceframe.schema import Schema, default_schema_path, load_schema
from stanceframe.terminal import printable
from stanceframe.tracking import CHAMPION_ALIAS, Tracker, git_commit

PER_TASK_RULE = "per_task"  # [promote] rule: each task's best family, by its own score

# --------------------------------------------------------------------------- estimators


def build_estimator(family: str, task: str, params: dict | None = None, seed: int | None = None,
                    schema: Schema | None = None):
    """A fresh estimator of ``family`` for ``task``: config params, plus the task and seed
    where the family takes them. ``schema`` (the data's) decides what a schema-reading
    family (lexicon) gets: a user ``--schema`` file as ``schema_path``, and the task name
    only when the data's labels for it are that schema's (labels taken from the data have
    no cues to match)."""
    cls = family_class(family)
    accepted = set(cls().get_params())
    kwargs = {k: v for k, v in (params or {}).items() if k in accepted}
    rejected = sorted(set(params or {}) - accepted)
    if rejected:
        raise StanceframeError(f"family {family!r} has no hyperparameter(s) {rejected}; it takes {sorted(accepted)}")
    if schema is not None and "schema_path" in accepted and schema.path \
            and Path(schema.path).resolve() != default_schema_path().resolve():
        kwargs.setdefault("schema_path", schema.path)
    if "task" in accepted and _schema_has_task(kwargs.get("schema_path"), task, schema):
        kwargs.setdefault("task", task)
    if seed is not None:
        for name in ("random_state", "seed"):
            if name in accepted:
                kwargs.setdefault(name, seed)
    return cls(**kwargs)


def _schema_has_task(schema_path: str | None, task: str, data_schema: Schema | None) -> bool:
    if data_schema is None:
        return True
    try:
        known = load_schema(schema_path).tasks.get(task)
    except SchemaError:
        return False
    return known is not None and data_schema.tasks.get(task) == known


def fit_bundle(family: str, data: LabelledSet, tasks: Sequence[str], params: dict | None = None,
               seed: int | None = None, inputs=None) -> tuple[ModelBundle, dict]:
    """One estimator per task fitted on all of ``data`` (its ``(target, text)`` pairs when
    it carries targets); returns the bundle and fit seconds."""
    inputs = inputs or (lambda s: s.inputs())
    estimators, seconds = {}, {}
    for task in tasks:
        est = build_estimator(family, task, params, seed, schema=data.schema)
        t0 = time.perf_counter()
        est.fit(inputs(data), data.labels(task), **fit_params_for(est, data, task))
        seconds[task] = time.perf_counter() - t0
        estimators[task] = est
    manifest = {
        "name": family,
        "params": params or {},
        "seed": seed,
        "data_hash": data.fingerprint(),
        "label_counts": {t: data.label_counts(t) for t in tasks},
        "training_files": data.paths,
    }
    if data.has_targets:
        manifest["target_field"] = data.target_field or "target"
    encoder = _encoder_info(estimators)
    if encoder:
        manifest["encoder"] = encoder
    return ModelBundle(family, estimators, manifest), seconds


def _encoder_info(estimators: dict) -> dict | None:
    for est in estimators.values():
        info = getattr(est, "encoder_info", None)
        if callable(info):
            return info()
    return None


# --------------------------------------------------------------------------- data


def resolve(root: Path, paths: Sequence[str | Path]) -> list[Path]:
    return [p if Path(p).is_absolute() else root / p for p in map(Path, paths)]


def load_training_data(paths: Sequence[Path | str], tasks: Sequence[str] | None, **fields) -> LabelledSet:
    """Labelled files or ``hf:`` datasets (dataset.load_labelled keywords: text_field,
    target_field, schema, labels_from_data...), notices printed to stderr."""
    data = load_many(paths, tasks=tasks, **fields) if len(paths) > 1 else load_labelled(paths[0], tasks=tasks, **fields)
    for notice in data.notices:
        print(printable(f"notice: {notice}"), file=sys.stderr)
    return data


def experiment_name(paths: Sequence[Path | str]) -> str:
    return "stanceframe-" + "+".join(source_stem(p) for p in paths)


# --------------------------------------------------------------------------- train


@dataclass
class TrainResult:
    bundle: ModelBundle
    fit_seconds: dict
    export_dir: Path | None = None
    run_id: str | None = None
    model_uri: str | None = None
    version: str | None = None


def train(
    family: str,
    data: LabelledSet,
    *,
    tasks: Sequence[str],
    tracker: Tracker,
    export: Path | None = None,
    seed: int = 13,
    params: dict | None = None,
) -> TrainResult:
    """Fit ``family`` on all of ``data``, log the run and the model, optionally export."""
    check_trainable(data, tasks)
    run_params = {"family": family, "seed": seed, "data_hash": data.fingerprint(), "tasks": list(tasks),
                  "n_examples": len(data), "git_commit": git_commit(project_root()), **(params or {})}
    if data.has_targets:
        run_params["target_field"] = data.target_field
    with tracker.run(f"train-{family}", params=run_params, tags={"stanceframe.kind": "train"}) as run_id:
        bundle, seconds = fit_bundle(family, data, tasks, params, seed)
        tracker.log_params({f"label_counts_{t}": data.label_counts(t) for t in tasks})
        tracker.log_metrics({f"{t}_fit_seconds": s for t, s in seconds.items()})
        result = TrainResult(bundle, seconds, run_id=run_id)
        target = export or Path(_tmpdir()) / "bundle"
        bundle.save(target, run_id=run_id)
        if export:
            result.export_dir = export
            export_model_folder(export)
        logged = tracker.log_bundle(target, input_texts=data.texts[:3], input_columns=_target_column(data, 3))
        result.model_uri, result.version = logged.get("model_uri"), logged.get("version")
    return result


def _target_column(data: LabelledSet, n: int) -> dict | None:
    """The target column of the MLflow input example for a target-aware model."""
    if not data.has_targets:
        return None
    return {data.target_field or "target": [e.target for e in data.examples[:n]]}


def _tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="stanceframe-bundle-")


# --------------------------------------------------------------------------- compare


@dataclass
class CompareResult:
    summaries: dict[str, dict[str, dict]] = field(default_factory=dict)  # family -> task -> summary
    cv: dict[str, dict[str, CVResult]] = field(default_factory=dict)
    leaderboard: list[dict] = field(default_factory=list)
    best: str | None = None
    best_per_task: dict[str, str] = field(default_factory=dict)  # task -> the family best on it
    report_paths: dict[str, str] = field(default_factory=dict)
    promoted: dict = field(default_factory=dict)


def compare(
    config: ExperimentConfig,
    *,
    tracker: Tracker,
    root: Path,
    promote: bool = False,
    families: Sequence[str] | None = None,
    progress=None,
    data: LabelledSet | None = None,
    export: Path | None = None,
) -> CompareResult:
    """Cross-validate every family of the config on the same grouped folds; log a parent
    run per family with nested fold runs; run the real-text check; write the leaderboard;
    optionally promote.

    Folds are grouped by the config's ``group_by`` (``article``: no article on both sides).
    The real-text check (config ``[data] realtext``: the seed's real sentences) fits each
    family on every scored and train-only sentence that is not from those articles and
    scores it on them. A family's ``cv_repeats`` / ``cv_folds`` (config) keep only its first
    repeats / folds of the shared folds (costly families: the same test folds as the others'
    first ones, fewer of them). ``data`` (``compare --data``): the user's labelled
    set replaces the config's gold and train-only files; folds are grouped by paragraph
    where records have one, else one group per record; no real-text check."""
    from stanceframe import plots

    realtext = None
    if data is not None:
        check_trainable(data, data.tasks)
        gold, extra = data, None
    else:
        gold = load_training_data(resolve(root, config.gold), config.tasks)
        gold = gold.where_source({"weak"}, keep=False)  # weakly labelled rows train, never score
        extra_paths = [p for p in resolve(root, config.train_only) if p.exists()]
        extra = load_training_data(extra_paths, gold.tasks) if extra_paths else None
        if config.realtext:
            realtext = load_training_data(resolve(root, config.realtext), gold.tasks)
    tasks = list(gold.tasks if data is not None else (config.tasks or gold.tasks))
    groups = gold.groups_by(config.group_by if data is None else "paragraph")
    shared = grouped_folds(joint_labels(gold, tasks), groups, n_splits=config.n_splits,
                           n_repeats=config.n_repeats, seed=config.seed)
    folds = {t: shared for t in tasks}  # one split for every task: a multi-task fit serves both
    n_splits = len(shared) // config.n_repeats
    report_dir = root / config.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    result = CompareResult()
    everything = gold + extra if extra else gold
    data_hash = everything.fingerprint()
    chosen = [f for f in (families or config.families) if f in config.families]
    checker = int8_checker(config, chosen, progress)
    for family in chosen:
        t_family = time.perf_counter()
        params = config.families[family]
        repeats = min(config.cv_repeats.get(family, config.n_repeats), config.n_repeats)
        n_folds = min(repeats * n_splits, config.cv_folds.get(family, repeats * n_splits))
        run_params = {"family": family, **params, "cv_splits": n_splits, "cv_repeats": repeats, "cv_folds": n_folds,
                      "cv_group_by": config.group_by, "cv_seed": config.seed, "data_hash": data_hash,
                      "git_commit": git_commit(root), "n_gold": len(gold), "n_train_only": len(extra) if extra else 0}
        with tracker.run(f"compare-{family}", params=run_params, tags={"stanceframe.kind": "compare"}):
            tracker.log_params({f"label_counts_{t}": gold.label_counts(t) for t in tasks})
            result.summaries[family], result.cv[family] = {}, {}
            for task in tasks:
                def on_fold(fold, task=task):
                    with tracker.run(f"{family}-{task}-r{fold.repeat}f{fold.fold}", nested=True,
                                     params={"family": family, "task": task, "repeat": fold.repeat, "fold": fold.fold}):
                        tracker.log_metrics({"macro_f1": fold.metrics["macro_f1"], "accuracy": fold.metrics["accuracy"],
                                             "ece": fold.metrics["ece"], "fit_seconds": fold.fit_seconds})
                    if progress:
                        int8 = (f"; int8 {fold.int8['int8']:.3f}, {fold.int8['flip_share']:.1%} of labels flip"
                                if fold.int8 else "")
                        progress(f"{family:15s} {task:8s} repeat {fold.repeat} fold {fold.fold}: "
                                 f"macro-F1 {fold.metrics['macro_f1']:.3f} (fit {fold.fit_seconds:.1f}s){int8}")

                cv = cross_validate(lambda: build_estimator(family, task, params, config.seed, schema=gold.schema),
                                    gold, task, folds[task][:n_folds], train_only=extra, n_splits=n_splits,
                                    on_fold=on_fold, inputs=lambda s: s.inputs(),
                                    int8_check=int8_fold_check(checker, family))
                summary = cv.summary()
                result.summaries[family][task], result.cv[family][task] = summary, cv
                _log_task_summary(tracker, family, task, summary, gold, cv)
            if realtext is not None:
                checks = realtext_check(family, params, everything, realtext, tasks, config.seed,
                                        int8_check=int8_fold_check(checker, family))
                for task, metrics in checks.items():
                    result.summaries[family][task]["realtext"] = metrics
                    tracker.log_metrics({f"{task}_realtext_macro_f1": metrics["macro_f1"],
                                         f"{task}_realtext_accuracy": metrics["accuracy"]})
                    tracker.log_dict(metrics, f"{task}/realtext_report.json")
                    if progress:
                        progress(f"{family:15s} {task:8s} real-text check on {metrics['n']} sentences: "
                                 f"macro-F1 {metrics['macro_f1']:.3f}")
            result.summaries[family]["_model"] = {}
            if config.register == "all":  # the model: fitted on everything (gold + contrast), logged, registered
                result.summaries[family]["_model"] = _fit_and_log(family, params, everything, tasks, config, tracker,
                                                                  result.summaries[family], gold)
            seconds = time.perf_counter() - t_family
            tracker.log_metrics({"compare_seconds": seconds})
            result.summaries[family]["_model"]["compare_seconds"] = seconds
    if checker is not None:
        checker.close()
    models = {f: {t: s for t, s in tasks_.items() if not t.startswith("_")} for f, tasks_ in result.summaries.items()}
    result.leaderboard = leaderboard_rows(models)
    for row in result.leaderboard:
        row["compare_seconds"] = result.summaries[row["family"]]["_model"]["compare_seconds"]
        row["cv_folds"] = result.summaries[row["family"]][row["task"]]["n_folds"]
    result.best_per_task = pick_best_per_task(models, config.promote_protocols) if models else {}
    per_task = config.promote_rule == PER_TASK_RULE
    if not models:
        result.best = None
    elif per_task:
        chosen = set(result.best_per_task.values())
        result.best = chosen.pop() if len(chosen) == 1 else PER_TASK
    else:
        result.best = pick_best(models, config.promote_rule, config.promote_protocols)
    if result.best and config.register == "best":  # only the best family (per task) is fitted on everything
        finals = sorted(set(result.best_per_task.values())) if per_task else [result.best]
        for best in finals:
            with tracker.run(f"compare-{best}-final", params={"family": best, **config.families[best],
                                                              "data_hash": data_hash, "git_commit": git_commit(root)},
                             tags={"stanceframe.kind": "compare"}):
                register = len(finals) == 1
                result.summaries[best]["_model"].update(_fit_and_log(best, config.families[best], everything, tasks,
                                                                     config, tracker, result.summaries[best], gold,
                                                                     register=register))
    if result.best == PER_TASK:
        result.summaries[PER_TASK] = {"_model": _assemble_per_task(result, everything, config, tracker, gold, root)}
    md = leaderboard_markdown(result.leaderboard, config, best=result.best, best_per_task=result.best_per_task)
    (report_dir / "leaderboard.md").write_text(md)
    (report_dir / "leaderboard.json").write_text(json.dumps(result.leaderboard, indent=2))
    plots.leaderboard_chart(result.leaderboard, report_dir / "leaderboard.png")
    result.report_paths = {"markdown": str(report_dir / "leaderboard.md"), "png": str(report_dir / "leaderboard.png"),
                           "json": str(report_dir / "leaderboard.json")}
    if promote and result.best:
        model_info = result.summaries[result.best]["_model"]
        export = Path(export) if export else root / config.promote_export
        bundle = ModelBundle.load(model_info["bundle_dir"])
        bundle.save(export, promoted_by=config.promote_rule)
        export_model_folder(export)
        if model_info.get("version"):
            tracker.set_alias(model_info["version"], CHAMPION_ALIAS, config.registered_model)
        result.promoted = {"family": result.best, "export": str(export), "version": model_info.get("version")}
    return result


def _fit_and_log(family: str, params: dict, everything: LabelledSet, tasks: Sequence[str], config: ExperimentConfig,
                 tracker: Tracker, summaries: dict, gold: LabelledSet, register: bool = True) -> dict:
    """``family`` fitted on everything, saved with its CV summary, logged and (``register``) registered."""
    t0 = time.perf_counter()
    bundle, _ = fit_bundle(family, everything, tasks, params, config.seed)
    fit_seconds = time.perf_counter() - t0
    bundle_dir = Path(_tmpdir()) / "bundle"
    bundle.save(bundle_dir, cv_summary={t: {"macro_f1": s["macro_f1"]} for t, s in summaries.items()
                                        if not t.startswith("_")},
                **int8_evidence({t: s for t, s in summaries.items() if not t.startswith("_")}))
    logged = tracker.log_bundle(bundle_dir, registered_model_name=config.registered_model if register else None,
                                input_texts=gold.texts[:3], input_columns=_target_column(gold, 3))
    return {"bundle_dir": str(bundle_dir), "fit_seconds": fit_seconds, **logged}


def _assemble_per_task(result: CompareResult, everything: LabelledSet, config: ExperimentConfig, tracker: Tracker,
                       gold: LabelledSet, root: Path) -> dict:
    """The promoted model when the tasks' best families differ: each task's model taken from
    its family's final fit, in one folder (family ``per-task``), logged and registered."""
    parts = {task: ModelBundle.load(result.summaries[family]["_model"]["bundle_dir"])
             for task, family in result.best_per_task.items()}
    manifest = {"name": "per-task: " + ", ".join(f"{t} {f}" for t, f in result.best_per_task.items()),
                "params": {t: config.families[f] for t, f in result.best_per_task.items()}, "seed": config.seed,
                "data_hash": everything.fingerprint(), "training_files": everything.paths,
                "label_counts": {t: everything.label_counts(t) for t in result.best_per_task},
                "cv_summary": {t: {"macro_f1": result.summaries[f][t]["macro_f1"]}
                               for t, f in result.best_per_task.items()},
                **int8_evidence({t: result.summaries[f][t] for t, f in result.best_per_task.items()})}
    encoder = next((p.manifest["encoder"] for p in parts.values() if p.manifest.get("encoder")), None)
    if encoder:
        manifest["encoder"] = encoder
    bundle = ModelBundle.per_task(parts, manifest)
    bundle_dir = Path(_tmpdir()) / "bundle"
    with tracker.run("compare-per-task-final", params={"families": json.dumps(result.best_per_task),
                                                       "git_commit": git_commit(root)},
                     tags={"stanceframe.kind": "compare"}):
        bundle.save(bundle_dir)
        logged = tracker.log_bundle(bundle_dir, registered_model_name=config.registered_model,
                                    input_texts=gold.texts[:3], input_columns=_target_column(gold, 3))
    return {"bundle_dir": str(bundle_dir), "families": dict(result.best_per_task), **logged}


def aligned_proba(prediction, labels: Sequence[str]) -> np.ndarray:
    """A bundle prediction's probabilities as columns in ``labels``' order (0 for a label
    the model does not know; a model class outside ``labels`` is dropped)."""
    full = np.zeros((len(prediction.proba), len(labels)))
    for j, c in enumerate(prediction.classes):
        if c in labels:
            full[:, list(labels).index(c)] = prediction.proba[:, j]
    return full


def int8_evidence(summaries: dict[str, dict]) -> dict:
    """``{"int8_evidence": {task: {"cv": per-fold figures, "realtext": figures}}}`` for a
    manifest, from compare's per-task summaries of a checked family (``{}`` when none has
    them): what ``stanceframe onnx MODEL --precision int8`` judges the grouped-CV and
    real-text parts of its guard on."""
    evidence = {task: figures for task, summary in summaries.items() if (figures := int8_figures(summary))}
    return {"int8_evidence": evidence} if evidence else {}


def int8_checker(config: ExperimentConfig, families: Sequence[str], progress=None):
    """The int8 checker of a compare run, when a chosen family asks for it (``int8_check``)
    and the process runs the ONNX runtime (else None)."""
    from stanceframe.models import canonical_family
    from stanceframe.models.onnx_predictors import ONNX_FAMILIES
    from stanceframe.models.onnx_runtime import runtime

    wanted = [f for f in families if f in config.int8_check and canonical_family(f) in ONNX_FAMILIES]
    if not wanted:
        return None
    if runtime() != "onnx":
        if progress:
            progress(f"int8 check of {', '.join(wanted)} skipped: the torch runtime is selected")
        return None
    from stanceframe.models.onnx_quantize import Int8Checker

    return Int8Checker(wanted)


def int8_fold_check(checker, family: str):
    """``cross_validate``'s ``int8_check`` for ``family`` (None when it is not checked)."""
    from stanceframe.models import canonical_family

    if checker is None or family not in checker.families:  # int8_checker kept the ONNX families only
        return None

    def check(est, X, proba, labels, gold):
        return checker.check_task(canonical_family(family), est, X, proba, labels, gold)

    return check


def realtext_check(family: str, params: dict | None, everything: LabelledSet, realtext: LabelledSet,
                   tasks: Sequence[str], seed: int, int8_check=None) -> dict[str, dict]:
    """``family`` fitted on every sentence of ``everything`` that is not from ``realtext``'s
    articles (nor one of its ids), scored on ``realtext``: per task, ``task_metrics``
    (and, with ``int8_check``, the int8 figures of the same fit under ``"int8"``)."""
    held_docs, held_ids = set(realtext.docs), set(realtext.ids)
    keep = [i for i, e in enumerate(everything.examples) if e.doc not in held_docs and e.id not in held_ids]
    train = everything.subset(keep)
    bundle, _ = fit_bundle(family, train, tasks, params, seed)
    X = realtext.inputs() if bundle.target_field else realtext.texts
    preds = bundle.predict(X)
    out = {}
    for task in tasks:
        labels = realtext.schema.task(task).label_names
        proba = aligned_proba(preds[task], labels)
        out[task] = task_metrics(realtext.labels(task), proba, labels, labels)
        out[task]["n_train"] = len(train)
        if int8_check is not None:
            out[task]["int8"] = int8_check(bundle.estimators[task], X, proba, labels, realtext.labels(task))
    return out


def _log_task_summary(tracker: Tracker, family: str, task: str, summary: dict, gold: LabelledSet, cv: CVResult) -> None:
    from stanceframe import plots

    metrics = {f"{task}_macro_f1_mean": summary["macro_f1"]["mean"], f"{task}_macro_f1_std": summary["macro_f1"]["std"],
               f"{task}_accuracy_mean": summary["accuracy"]["mean"], f"{task}_ece_mean": summary["ece"]["mean"],
               f"{task}_fit_seconds_mean": summary["fit_seconds"]["mean"],
               f"{task}_sentences_per_s": summary["sentences_per_s"]["mean"]}
    for label, values in summary["per_class"].items():
        for k in ("precision", "recall", "f1"):
            metrics[f"{task}_{label}_{k}"] = values[k]["mean"]
    tracker.log_metrics(metrics)
    tracker.log_dict(summary, f"{task}/report.json")
    tracker.log_text(per_class_markdown(summary), f"{task}/per_class_report.md")
    tracker.log_figure(plots.confusion_matrix_figure(summary["confusion"], summary["labels"],
                                                     title=f"{family} — {task} (summed over folds)"),
                       f"{task}/confusion_matrix.png")
    rows = misclassified_rows(gold, cv)
    tracker.log_text(misclassified_csv(rows), f"{task}/misclassified.csv")


# --------------------------------------------------------------------------- evaluate


def evaluate_bundle(bundle: ModelBundle, data: LabelledSet, tasks: Sequence[str] | None = None) -> dict[str, dict]:
    """Metrics of a model on a labelled set, per task the model and the data share. A
    task whose labels include ``against`` and ``favor`` also gets ``official_stance``:
    the SemEval-2016 / TweetEval stance score (mean F1 of the two, pooled)."""
    tasks = [t for t in (tasks or data.tasks) if t in bundle.tasks]
    if not tasks:
        raise StanceframeError(f"the model's tasks ({', '.join(bundle.tasks)}) and the data's ({', '.join(data.tasks)}) do not overlap")
    if bundle.target_field and not data.has_targets:
        raise StanceframeError(f"the model conditions on the records' {bundle.target_field!r} field; "
                               f"the data has no targets (give --target-field FIELD)")
    preds = bundle.predict(data.inputs() if bundle.target_field else data.texts)
    out = {}
    for task in tasks:
        labels = list(dict.fromkeys(bundle.classes(task) + sorted(set(data.labels(task)))))
        out[task] = task_metrics(data.labels(task), aligned_proba(preds[task], labels), labels, labels)
        if {"against", "favor"} <= set(labels):
            out[task]["official_stance"] = official_stance_score(data.labels(task), preds[task].labels)
    return out


def metrics_table_rows(metrics: dict[str, dict]) -> list[list]:
    rows = []
    for task, m in metrics.items():
        rows.append([task, "(all)", m["macro_f1"], m["accuracy"], m["ece"], m["n"]])
        if "official_stance" in m:
            rows.append([task, "(official: mean F1 against/favor)", m["official_stance"], "", "", m["n"]])
        for label, v in m["per_class"].items():
            rows.append([task, label, v["f1"], v["precision"], v["recall"], v["support"]])
    return rows
