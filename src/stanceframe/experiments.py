"""Train, compare and promote: the experiment runs behind ``stanceframe train`` /
``compare`` / ``evaluate``. Glues data loading, the model registry, cross-validation
(evaluate.py), MLflow (tracking.py) and plots; holds no metric or MLflow logic itself."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tomllib

from stanceframe.dataset import LabelledSet, check_trainable, grouped_folds, load_labelled, load_many, source_stem
from stanceframe.errors import SchemaError, StanceframeError
from stanceframe.evaluate import (
    CVResult,
    cross_validate,
    leaderboard_rows,
    misclassified_rows,
    official_stance_score,
    pick_best,
    task_metrics,
)
from stanceframe.markdown import markdown_table
from stanceframe.models import FAMILIES, family_class
from stanceframe.models.bundle import ModelBundle
from stanceframe.paths import project_root
from stanceframe.schema import Schema, default_schema_path, load_schema
from stanceframe.terminal import printable
from stanceframe.tracking import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, Tracker, git_commit

DEFAULT_CONFIG = Path("training") / "experiments.toml"


# --------------------------------------------------------------------------- config


@dataclass
class ExperimentConfig:
    families: dict[str, dict]
    gold: list[str]
    train_only: list[str]
    tasks: list[str] | None = None
    n_splits: int = 5
    n_repeats: int = 2
    seed: int = 13
    group_by: str = "paragraph"
    realtext: list[str] = field(default_factory=list)
    cv_repeats: dict[str, int] = field(default_factory=dict)  # family -> repeats (costly families: fewer)
    cv_folds: dict[str, int] = field(default_factory=dict)  # family -> at most this many of the shared folds
    promote_rule: str = "min_macro_f1"
    promote_protocols: list[str] = field(default_factory=lambda: ["cv"])
    promote_export: str = "models/champion"
    registered_model: str = REGISTERED_MODEL_NAME
    register: str = "all"  # "all": every family fitted on everything and registered; "best": the best only
    report_dir: str = "out/compare"
    path: str | None = None


def load_config(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceframeError(f"{path}: experiments config not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise StanceframeError(f"{path}: invalid TOML: {exc}") from None
    families = raw.get("families") or {}
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise StanceframeError(f"{path}: unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if not families:
        raise StanceframeError(f"{path}: no [families.*] tables")
    cv, data, promote = raw.get("cv", {}), raw.get("data", {}), raw.get("promote", {})
    families = {name: dict(params or {}) for name, params in families.items()}
    cv_repeats = {name: int(params.pop("cv_repeats")) for name, params in families.items() if "cv_repeats" in params}
    cv_folds = {name: int(params.pop("cv_folds")) for name, params in families.items() if "cv_folds" in params}
    if any(v < 1 for v in [*cv_repeats.values(), *cv_folds.values()]):
        raise StanceframeError(f"{path}: cv_repeats and cv_folds must be at least 1")
    group_by = str(cv.get("group_by", "paragraph"))
    if group_by not in {"paragraph", "article"}:
        raise StanceframeError(f"{path}: [cv] group_by must be \"paragraph\" or \"article\", not {group_by!r}")
    protocols = list(promote.get("protocols", ["cv"]))
    realtext = list(data.get("realtext", []))
    unknown = [p for p in protocols if p not in {"cv", "realtext"}]
    if unknown or not protocols or ("realtext" in protocols and not realtext):
        raise StanceframeError(f"{path}: [promote] protocols must name \"cv\" and/or \"realtext\" (the latter with "
                               f"[data] realtext files), not {protocols}")
    return ExperimentConfig(
        families=families,
        gold=list(data.get("gold", ["data/seed/labels.jsonl"])),
        train_only=list(data.get("train_only", ["data/contrast/contrast.jsonl"])),
        tasks=data.get("tasks"),
        n_splits=int(cv.get("n_splits", 5)),
        n_repeats=int(cv.get("n_repeats", 2)),
        seed=int(cv.get("seed", 13)),
        group_by=group_by,
        realtext=realtext,
        cv_repeats=cv_repeats,
        cv_folds=cv_folds,
        promote_rule=str(promote.get("rule", "min_macro_f1")),
        promote_protocols=protocols,
        promote_export=str(promote.get("export", "models/champion")),
        registered_model=str(promote.get("registered_model", REGISTERED_MODEL_NAME)),
        register=_register_setting(path, promote),
        report_dir=str(raw.get("report", {}).get("dir", "out/compare")),
        path=str(path),
    )


def _register_setting(path: Path, promote: dict) -> str:
    value = str(promote.get("register", "all"))
    if value not in {"all", "best"}:
        raise StanceframeError(f"{path}: [promote] register must be \"all\" or \"best\", not {value!r}")
    return value


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
        est.fit(inputs(data), data.labels(task))
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
    folds = {t: grouped_folds(gold.labels(t), groups, n_splits=config.n_splits,
                              n_repeats=config.n_repeats, seed=config.seed) for t in tasks}
    n_splits = len(folds[tasks[0]]) // config.n_repeats
    report_dir = root / config.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    result = CompareResult()
    everything = gold + extra if extra else gold
    data_hash = everything.fingerprint()
    chosen = [f for f in (families or config.families) if f in config.families]
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
                        progress(f"{family:15s} {task:8s} repeat {fold.repeat} fold {fold.fold}: "
                                 f"macro-F1 {fold.metrics['macro_f1']:.3f} (fit {fold.fit_seconds:.1f}s)")

                cv = cross_validate(lambda: build_estimator(family, task, params, config.seed, schema=gold.schema),
                                    gold, task, folds[task][:n_folds], train_only=extra, n_splits=n_splits,
                                    on_fold=on_fold, inputs=lambda s: s.inputs())
                summary = cv.summary()
                result.summaries[family][task], result.cv[family][task] = summary, cv
                _log_task_summary(tracker, family, task, summary, gold, cv)
            if realtext is not None:
                checks = realtext_check(family, params, everything, realtext, tasks, config.seed)
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
    models = {f: {t: s for t, s in tasks_.items() if not t.startswith("_")} for f, tasks_ in result.summaries.items()}
    result.leaderboard = leaderboard_rows(models)
    for row in result.leaderboard:
        row["compare_seconds"] = result.summaries[row["family"]]["_model"]["compare_seconds"]
        row["cv_folds"] = result.summaries[row["family"]][row["task"]]["n_folds"]
    result.best = pick_best(models, config.promote_rule, config.promote_protocols) if models else None
    if result.best and config.register == "best":  # only the best family is fitted on everything
        best = result.best
        with tracker.run(f"compare-{best}-final", params={"family": best, **config.families[best],
                                                          "data_hash": data_hash, "git_commit": git_commit(root)},
                         tags={"stanceframe.kind": "compare"}):
            result.summaries[best]["_model"].update(_fit_and_log(best, config.families[best], everything, tasks,
                                                                 config, tracker, result.summaries[best], gold))
    md = leaderboard_markdown(result.leaderboard, config, best=result.best)
    (report_dir / "leaderboard.md").write_text(md)
    (report_dir / "leaderboard.json").write_text(json.dumps(result.leaderboard, indent=2))
    plots.leaderboard_chart(result.leaderboard, report_dir / "leaderboard.png")
    result.report_paths = {"markdown": str(report_dir / "leaderboard.md"), "png": str(report_dir / "leaderboard.png"),
                           "json": str(report_dir / "leaderboard.json")}
    if promote and result.best:
        model_info = result.summaries[result.best]["_model"]
        export = root / config.promote_export
        bundle = ModelBundle.load(model_info["bundle_dir"])
        bundle.save(export, promoted_by=config.promote_rule)
        if model_info.get("version"):
            tracker.set_alias(model_info["version"], CHAMPION_ALIAS, config.registered_model)
        result.promoted = {"family": result.best, "export": str(export), "version": model_info.get("version")}
    return result


def _fit_and_log(family: str, params: dict, everything: LabelledSet, tasks: Sequence[str], config: ExperimentConfig,
                 tracker: Tracker, summaries: dict, gold: LabelledSet) -> dict:
    """``family`` fitted on everything, saved with its CV summary, logged and registered."""
    bundle, _ = fit_bundle(family, everything, tasks, params, config.seed)
    bundle_dir = Path(_tmpdir()) / "bundle"
    bundle.save(bundle_dir, cv_summary={t: {"macro_f1": s["macro_f1"]} for t, s in summaries.items()
                                        if not t.startswith("_")})
    logged = tracker.log_bundle(bundle_dir, registered_model_name=config.registered_model,
                                input_texts=gold.texts[:3], input_columns=_target_column(gold, 3))
    return {"bundle_dir": str(bundle_dir), **logged}


def aligned_proba(prediction, labels: Sequence[str]) -> np.ndarray:
    """A bundle prediction's probabilities as columns in ``labels``' order (0 for a label
    the model does not know; a model class outside ``labels`` is dropped)."""
    full = np.zeros((len(prediction.proba), len(labels)))
    for j, c in enumerate(prediction.classes):
        if c in labels:
            full[:, list(labels).index(c)] = prediction.proba[:, j]
    return full


def realtext_check(family: str, params: dict | None, everything: LabelledSet, realtext: LabelledSet,
                   tasks: Sequence[str], seed: int) -> dict[str, dict]:
    """``family`` fitted on every sentence of ``everything`` that is not from ``realtext``'s
    articles (nor one of its ids), scored on ``realtext``: per task, ``task_metrics``."""
    held_docs, held_ids = set(realtext.docs), set(realtext.ids)
    keep = [i for i, e in enumerate(everything.examples) if e.doc not in held_docs and e.id not in held_ids]
    train = everything.subset(keep)
    bundle, _ = fit_bundle(family, train, tasks, params, seed)
    preds = bundle.predict(realtext.inputs() if bundle.target_field else realtext.texts)
    out = {}
    for task in tasks:
        labels = realtext.schema.task(task).label_names
        out[task] = task_metrics(realtext.labels(task), aligned_proba(preds[task], labels), labels, labels)
        out[task]["n_train"] = len(train)
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
    tracker.log_text(_csv(rows), f"{task}/misclassified.csv")


def _csv(rows: list[dict]) -> str:
    import csv
    import io

    if not rows:
        return "id,text,gold,predicted,confidence\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


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


# --------------------------------------------------------------------------- tables


def leaderboard_markdown(rows: list[dict], config: ExperimentConfig | None = None, best: str | None = None) -> str:
    lines = []
    if config:
        grouping = "article" if config.group_by == "article" else "paragraph"
        costly = ", ".join([f"{f} {r}×" for f, r in config.cv_repeats.items() if r < config.n_repeats]
                           + [f"{f} first {k} fold{'s' if k > 1 else ''}" for f, k in config.cv_folds.items()
                              if k < config.n_splits * config.n_repeats])
        lines.append(f"Cross-validation: stratified {config.n_splits}-fold grouped by {grouping}, repeated "
                     f"{config.n_repeats}× (seed {config.seed}{'; ' + costly if costly else ''}); "
                     f"train-only sentences (contrast set) in training folds only.")
        if config.realtext:
            lines.append("Real-text check: each family fitted on everything except the articles of "
                         f"{', '.join(config.realtext)}, scored on their sentences.")
        lines.append("")
    has_real = any("realtext_macro_f1" in r for r in rows)
    headers = ["family", "task", "CV macro-F1 (mean ± std)", "CV per-class F1"]
    headers += ["real-text macro-F1", "real-text per-class F1"] if has_real else []
    headers += ["accuracy", "ECE", "fit s", "sentences/s"]
    lines.append(markdown_table(headers, [_leaderboard_row(r, has_real) for r in rows]))
    if best:
        rule = f"{config.promote_rule} over {' + '.join(config.promote_protocols)}" if config else "rule"
        lines.append(f"\nBest family ({rule}): **{best}**")
    return "\n".join(lines) + "\n"


def _leaderboard_row(r: dict, has_real: bool) -> list[str]:
    row = [r["family"], r["task"], f"{r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f}",
           ", ".join(f"{k} {v:.2f}" for k, v in r["per_class_f1"].items())]
    if has_real:
        rp = ", ".join(f"{k} {v:.2f}" for k, v in r.get("realtext_per_class_f1", {}).items())
        row += [f"{r['realtext_macro_f1']:.3f}", rp] if "realtext_macro_f1" in r else [None, None]
    return row + [f"{r['accuracy']:.3f}", f"{r['ece']:.3f}", f"{r['fit_seconds']:.2f}", f"{r['sentences_per_s']:,.0f}"]


def per_class_markdown(summary: dict) -> str:
    rows = [[label, *(f"{v[m]['mean']:.3f} ± {v[m]['std']:.3f}" for m in ("precision", "recall", "f1"))]
            for label, v in summary["per_class"].items()]
    return markdown_table(["label", "precision", "recall", "F1"], rows) + "\n"


def metrics_table_rows(metrics: dict[str, dict]) -> list[list]:
    rows = []
    for task, m in metrics.items():
        rows.append([task, "(all)", m["macro_f1"], m["accuracy"], m["ece"], m["n"]])
        if "official_stance" in m:
            rows.append([task, "(official: mean F1 against/favor)", m["official_stance"], "", "", m["n"]])
        for label, v in m["per_class"].items():
            rows.append([task, label, v["f1"], v["precision"], v["recall"], v["support"]])
    return rows
