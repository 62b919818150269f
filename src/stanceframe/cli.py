"""The ``stanceframe`` command: parsing, messages and exit codes only.

Every handler is a few lines over functions of the modules that tests call directly.
Exit status: 0 all done, 1 some input skipped, 2 a user mistake (any
:class:`StanceframeError`: one line on stderr), 3 an internal error (an uncaught exception:
one line and a hint to rerun with ``--debug``), 130 interrupted. ``--debug`` shows the
traceback instead. Every message printed for a person goes through
:func:`stanceframe.terminal.printable` (control characters escaped).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from stanceframe import __version__
from stanceframe.errors import StanceframeError, UnlabelledSentencesError
from stanceframe.paths import project_root
from stanceframe.terminal import printable

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


# --------------------------------------------------------------------------- data


def cmd_data_build(args) -> int:
    from stanceframe.dataset import build_corpora, build_seed_set
    from stanceframe.paths import contrast_file, corpora

    root = project_root()
    if args.seeds or args.sentences or args.labels:  # one folder of articles (the seed's paths by default)
        seed = corpora(root)[0]
        reports = [build_seed_set(args.seeds or seed.articles, args.sentences or seed.sentences,
                                  args.labels or seed.labels)]
    else:
        reports = build_corpora([c for c in corpora(root) if c.articles.is_dir()], also_labelled=[contrast_file(root)])
    for r in reports:
        print(f"{r.name}: segmented {r.documents} document(s) into {r.sentences} sentences -> {r.sentences_path}; "
              f"all carry labels in {r.labels_path}", file=sys.stderr)
    if len(reports) > 1:
        print(f"no sentence text repeats across the {sum(r.documents for r in reports)} articles or the contrast set",
              file=sys.stderr)
    return EXIT_OK


def cmd_data_stats(args) -> int:
    from stanceframe.dataset import load_catalog, load_labelled
    from stanceframe.paths import corpora, labelled_files
    from stanceframe.report import catalog_stats_table, label_stats_table

    root = project_root()
    if args.by:  # the written corpus's label counts per catalog field
        written = corpora(root)[1]
        catalog = load_catalog(args.catalog or written.catalog)
        labelled = load_labelled(args.data[0] if args.data else written.labels)
        print(catalog_stats_table(labelled, catalog, args.by))
        return EXIT_OK
    paths = args.data or labelled_files(root)
    sets = [load_labelled(p) for p in paths]
    print(label_stats_table(sets))
    return EXIT_OK



# --------------------------------------------------------------------------- train / compare / evaluate


def _tasks_arg(value: str | None) -> list[str] | None:
    if value in (None, "all"):
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def _tracker(args, experiment: str):
    from stanceframe.tracking import Tracker, resolve_tracking_uri

    root = project_root()
    uri = resolve_tracking_uri(getattr(args, "tracking_uri", None), root)
    return Tracker(uri, experiment, root=root, enabled=not getattr(args, "no_track", False))


def _data_fields(args, user_data: bool) -> dict:
    """load_labelled keywords from --text-field/--id-field/--target-field/--schema: with
    the user's --data and no --schema, labels come from the data."""
    from stanceframe.schema import load_schema

    fields = {"text_field": args.text_field, "id_field": args.id_field, "target_field": args.target_field}
    if args.schema:
        fields["schema"] = load_schema(args.schema)
    elif user_data:
        fields["labels_from_data"] = True
    return fields


def _data_paths(values) -> list:
    """--data values: files as Paths, ``hf:...`` datasets as strings."""
    return [v if str(v).startswith("hf:") else Path(v) for v in values]


def cmd_train(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.paths import labelled_files

    paths = _data_paths(args.data) if args.data else labelled_files(project_root())
    tracker = _tracker(args, ex.experiment_name(paths))  # fails fast before loading or training
    data = ex.load_training_data(paths, _tasks_arg(args.task), **_data_fields(args, bool(args.data)))
    tasks = _tasks_arg(args.task) or data.tasks
    params, params_source = _family_params(args)
    result = ex.train(args.family, data, tasks=tasks, tracker=tracker, export=args.export, seed=args.seed,
                      params=params)
    secs = ", ".join(f"{t} {s:.1f}s" for t, s in result.fit_seconds.items())
    print(f"trained {args.family} on {len(data)} sentences ({secs})", file=sys.stderr)
    if params:
        print(f"hyperparameters from {params_source}: {json.dumps(params)}", file=sys.stderr)
    if result.export_dir:
        print(f"model folder: {printable(result.export_dir)}", file=sys.stderr)
    if result.model_uri:
        print(f"MLflow model: {result.model_uri} (registered version {result.version})", file=sys.stderr)
    return EXIT_OK


def _family_params(args) -> tuple[dict | None, str | None]:
    """The family's hyperparameters and where they came from: the ``[families.F]`` table of
    ``--config`` (default: the project's training/experiments.toml, when it names the
    family), else the family's defaults (``None``)."""
    from stanceframe import experiments as ex

    if args.config and str(args.config) == "none":
        return None, None
    path = args.config or project_root() / ex.DEFAULT_CONFIG
    if not args.config and not Path(path).is_file():
        return None, None
    config = ex.load_config(path)
    if args.family not in config.families:
        if args.config:
            raise StanceframeError(f"{path}: no [families.{args.family}] table")
        return None, None
    return config.families[args.family], f"{path} [families.{args.family}]"


def cmd_compare(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.report import format_table

    root = project_root()
    config = ex.load_config(args.config or root / ex.DEFAULT_CONFIG)
    paths = _data_paths(args.data) if args.data else ex.resolve(root, config.gold)
    tracker = _tracker(args, ex.experiment_name(paths))
    data = None
    if args.data:  # the user's labelled set replaces the config's data
        data = ex.load_training_data(paths, _tasks_arg(args.task), **_data_fields(args, True))
    elif args.task or args.target_field or args.schema:
        raise StanceframeError("--task, --target-field and --schema go with --data (the config names its own data)")
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = ex.compare(config, tracker=tracker, root=root, promote=args.promote, families=args.family or None,
                        progress=progress, data=data)
    rows = [[r["family"], r["task"], f"{r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f}",
             " ".join(f"{k}:{v:.2f}" for k, v in r["per_class_f1"].items()), r["accuracy"], r["ece"],
             f"{r['fit_seconds']:.2f}", f"{r['sentences_per_s']:,.0f}"] for r in result.leaderboard]
    print(format_table(["family", "task", "macro-F1", "per-class F1", "accuracy", "ECE", "fit s", "sent/s"], rows))
    print(f"\nbest ({config.promote_rule}): {result.best}", file=sys.stderr)
    print(f"leaderboard: {result.report_paths['markdown']}, {result.report_paths['png']}", file=sys.stderr)
    if result.promoted:
        print(f"promoted {result.promoted['family']} -> {result.promoted['export']} "
              f"(registry alias champion -> version {result.promoted['version']})", file=sys.stderr)
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.models.loading import load_model
    from stanceframe.report import format_table

    bundle = load_model(args.model)
    args.target_field = args.target_field or bundle.target_field  # the field the model was trained with
    data = ex.load_training_data(_data_paths([args.data]), _tasks_arg(args.task) or bundle.tasks,
                                 **_data_fields(args, True))
    metrics = ex.evaluate_bundle(bundle, data, _tasks_arg(args.task))
    print(format_table(["task", "label", "F1 / macro-F1", "precision / acc", "recall / ECE", "support / n"],
                       ex.metrics_table_rows(metrics)))
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))
    return EXIT_OK


def cmd_benchmark_tweeteval(args) -> int:
    from stanceframe.benchmarks.tweeteval import EXPERIMENT, run_tweeteval

    tracker = _tracker(args, EXPERIMENT)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_tweeteval(args.data, tracker=tracker, out_dir=args.out, families=_tasks_arg(args.families),
                           seed=args.seed, cv_folds=args.cv_folds, export=args.export, progress=progress)
    print(result.markdown)
    print(f"table: {result.paths['markdown']}, {result.paths['json']}; best model: {result.paths['model']}",
          file=sys.stderr)
    return EXIT_OK


def cmd_benchmark_active_learning(args) -> int:
    from stanceframe.benchmarks.active_learning import ALSettings, run_active_learning
    from stanceframe.paths import corpora

    data = args.data or corpora(project_root())[1].labels
    settings = ALSettings(batch=args.batch, max_labels=args.max_labels, seeds=tuple(args.seeds))
    if args.max_labels < args.batch:
        raise StanceframeError("--max-labels must be at least --batch")
    progress = None if args.quiet else (lambda line: print(f"active learning: {line}", file=sys.stderr, flush=True))
    _, paths = run_active_learning(data, args.out, settings, progress)
    print(paths["markdown"].read_text())
    print(f"chart: {printable(paths['png'])}; figures: {printable(paths['json'])}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- tag / inspect


def cmd_tag(args) -> int:
    from stanceframe.tagging import run_tag

    if args.engine == "spark":
        return cmd_tag_spark(args)
    if args.partition_by or args.master:
        raise StanceframeError("--partition-by and --master need --engine spark")
    model = _load_model(args.model)
    try:
        summary = run_tag(
            args.paths, model, out=args.out, fmt=args.format or "jsonl", per=args.per, unit=args.unit,
            text_field=args.text_field, id_field=args.id_field, batch_size=args.batch_size,
            resume=args.resume, strict=args.strict, progress=not args.quiet and sys.stderr.isatty(),
            target_field=args.target_field, force=args.force,
        )
    except KeyboardInterrupt:
        if args.out:
            print(f"stanceframe tag: stopped; the rows done so far are kept in {printable(args.out)}.part; "
                  "run the same command with --resume to complete it", file=sys.stderr)
        raise
    print(f"stanceframe tag: {printable(summary.text())}", file=sys.stderr)
    return summary.exit_code


def cmd_tag_spark(args) -> int:
    from stanceframe.spark import run_spark_tag

    if args.target_field:
        raise StanceframeError("--target-field (target-aware models) works with the local engine only, "
                               "not yet with --engine spark")

    summary = run_spark_tag(
        args.paths, args.model, out=args.out, fmt=args.format, per=args.per, unit=args.unit,
        text_field=args.text_field, id_field=args.id_field, batch_size=args.batch_size, resume=args.resume,
        strict=args.strict, partition_by=args.partition_by, master=args.master,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    print(f"stanceframe tag: {printable(summary.text())}", file=sys.stderr)
    return summary.exit_code


def cmd_inspect(args) -> int:
    from stanceframe import report
    from stanceframe.tagging import read_article, tag_article

    model = _load_model(args.model)
    doc = read_article(args.article, text_field=args.text_field, id_field=args.id_field)
    article = tag_article(doc, model, spec=args.model or "models/default", explain=bool(args.html or args.open),
                          progress=sys.stderr.isatty())
    print(report.sentence_table(article.rows, article.classes))
    if args.html or args.open:
        page = report.write_inspection_html(article, args.html or Path(f"{doc.doc_id}.inspect.html"))
        print(f"inspection page: {printable(page)}", file=sys.stderr)
        if args.open:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())
    return EXIT_OK


def cmd_benchmark_speed(args, command_words: tuple[str, ...] = ("benchmark", "speed")) -> int:
    from stanceframe.benchmarks.speed import run_bench
    from stanceframe.benchmarks.speed_report import to_markdown
    from stanceframe.benchmarks.speed_settings import BenchSettings

    settings = BenchSettings.from_options(
        quick=args.quick, rss=not args.no_rss, sentences=args.sentences,
        transformer_sentences=args.transformer_sentences, repeats=args.repeats,
        families=tuple(args.family) if args.family else None, input=args.input or None, model=args.model,
        refit=args.refit, batch_size=args.batch_size)
    log = lambda line: print(f"bench: {line}", file=sys.stderr, flush=True)  # noqa: E731
    report = run_bench(settings, project_root(), log=log)
    if args.f1:
        from stanceframe.benchmarks.inference_f1 import inference_path_f1

        report["f1"] = inference_path_f1(project_root(), log=log)
    argv = sys.argv[1:]
    first = command_words[0]
    command = "stanceframe " + " ".join(argv[argv.index(first):] if first in argv else command_words)
    report["command"] = command
    print(to_markdown(report, command))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"bench: wrote {printable(args.json)}", file=sys.stderr)
    return EXIT_OK


BENCH_DEPRECATED = ("stanceframe: `stanceframe bench` is deprecated and will be removed in the next release; "
                    "use `stanceframe benchmark speed` (same options)")


def cmd_bench(args) -> int:
    """``stanceframe bench``: the deprecated alias of ``benchmark speed`` (removed in the next release)."""
    print(BENCH_DEPRECATED, file=sys.stderr, flush=True)
    return cmd_benchmark_speed(args, command_words=("bench",))


# --------------------------------------------------------------------------- annotate / agreement


def _schema_tasks() -> list[str]:
    from stanceframe.schema import load_schema

    return load_schema().task_names


def cmd_annotate(args) -> int:
    from stanceframe.annotate.serve import check_port, open_session, safe_settings, serve

    settings = safe_settings(args.host, args.port, args.token)  # refused before anything is read
    check_port(settings.host, settings.port)
    model = None if args.no_model else _load_model(args.model)
    log = lambda line: print(f"stanceframe annotate: {printable(line)}", file=sys.stderr, flush=True)  # noqa: E731
    session = open_session(args.paths, args.store, args.annotator, model=model, order=args.order,
                           refit_every=args.refit_every, text_field=args.text_field, id_field=args.id_field, log=log)
    serve(session, settings)
    return EXIT_OK


def cmd_annotate_export(args) -> int:
    from stanceframe.annotate.export import export_labels
    from stanceframe.annotate.store import Store

    store = Store(args.store, create=False)
    summary = export_labels(store, args.out, _schema_tasks())
    print(f"stanceframe annotate export: {printable(summary.text())}", file=sys.stderr)
    return EXIT_OK


def cmd_annotate_import(args) -> int:
    from stanceframe.annotate.export import import_labels
    from stanceframe.annotate.store import Store

    store = Store(args.store)
    total = sum(import_labels(store, path, args.annotator) for path in args.labels)
    print(f"stanceframe annotate import: {total} labelled sentence(s) imported as {printable(args.annotator)} "
          f"into {printable(args.store)}", file=sys.stderr)
    return EXIT_OK


def cmd_agreement(args) -> int:
    from stanceframe.annotate.agreement import agreement, format_report
    from stanceframe.annotate.store import Store

    store = Store(args.store, create=False)
    pairs, overall = agreement(store, _schema_tasks())
    print(format_report(pairs, overall))
    return EXIT_OK


def _load_model(spec):
    from stanceframe.models.loading import load_model

    return load_model(spec)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stanceframe", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"stanceframe {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{data,train,compare,evaluate,benchmark,tag,inspect,bench,annotate,agreement}")

    data = sub.add_parser("data", help="build and describe the labelled data (seed, written corpus, contrast set)")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="segment the seed (seeds/) and the written corpus (data/written/articles/) "
                                              "into their sentences files and validate every label")
    build.add_argument("--seeds", type=Path, help="instead, one folder of articles (default: seeds/)")
    build.add_argument("--sentences", type=Path, help="with --seeds: the sentences file to write "
                                                      "(default: data/seed/sentences.jsonl)")
    build.add_argument("--labels", type=Path, help="with --seeds: their labels (default: data/seed/labels.jsonl)")
    build.set_defaults(func=cmd_data_build)
    stats = data_sub.add_parser("stats", help="label counts per task")
    stats.add_argument("data", nargs="*", type=Path, help="labelled files (default: the seed, the written corpus and the contrast set)")
    stats.add_argument("--by", choices=["voice", "form", "topic", "year", "writer"],
                       help="the written corpus's counts per catalog field (one labelled file: default "
                            "data/written/labels.jsonl)")
    stats.add_argument("--catalog", type=Path, help="with --by: the catalog (default: data/written/catalog.jsonl)")
    stats.set_defaults(func=cmd_data_stats)

    from stanceframe.models import FAMILIES

    train = sub.add_parser("train", help="fit a model family on labelled data (all of it)")
    train.add_argument("--family", required=True, choices=list(FAMILIES))
    train.add_argument("--task", default="all", help="stance, framing, a comma list, or all (default)")
    _data_args(train, "labelled JSONL/CSV files or hf:FOLDER[#split] datasets (default: the seed, the written corpus and the contrast set)")
    train.add_argument("--export", type=Path, help="write a model folder here (what tag/inspect accept)")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--config", type=Path, help="take the family's hyperparameters from this experiments config "
                                                   "(default: training/experiments.toml when it names the family; "
                                                   "'none': the family's defaults)")
    _tracking_args(train)
    train.set_defaults(func=cmd_train)

    compare = sub.add_parser("compare", help="cross-validate every family of the config; leaderboard; --promote the best")
    compare.add_argument("--config", type=Path, help="experiments config (default: training/experiments.toml)")
    compare.add_argument("--family", action="append", help="only these families (repeatable)")
    compare.add_argument("--promote", action="store_true", help="export the best family to models/ and alias it champion")
    compare.add_argument("--quiet", action="store_true", help="no per-fold progress lines")
    _data_args(compare, "labelled JSONL/CSV files or hf:FOLDER[#split]: cross-validate on these instead of the "
                        "config's data (folds grouped by a 'paragraph' field if present, else one record per group)")
    compare.add_argument("--task", default=None, help="with --data: the label field(s), comma-separated")
    _tracking_args(compare)
    compare.set_defaults(func=cmd_compare)

    evaluate = sub.add_parser("evaluate", help="metrics of any model on any labelled file")
    evaluate.add_argument("--model", required=True, help="model folder, runs:/... or models:/name@alias")
    evaluate.add_argument("--data", required=True, help="labelled JSONL/CSV file or hf:FOLDER[#split]")
    evaluate.add_argument("--task", default=None)
    evaluate.add_argument("--text-field", default="text")
    evaluate.add_argument("--id-field", default="id")
    evaluate.add_argument("--target-field", default=None,
                          help="records' target field (default: the one the model was trained with)")
    evaluate.add_argument("--schema", type=Path, help="TOML schema naming tasks and labels (default: labels from the data)")
    evaluate.add_argument("--json", type=Path, help="also write the metrics as JSON")
    evaluate.set_defaults(func=cmd_evaluate)

    benchmark = sub.add_parser("benchmark", help="benchmarks: tagging speed, TweetEval stance (public), "
                                                   "active learning (a simulated annotator)")
    benchmark_sub = benchmark.add_subparsers(dest="benchmark", required=True)
    speed = benchmark_sub.add_parser(
        "speed", help="tagging speed per family vs the transformers pipeline and the forward pass; memory; fit cost "
                      "(Markdown table)")
    _speed_args(speed)
    speed.set_defaults(func=cmd_benchmark_speed)
    tweeteval = benchmark_sub.add_parser(
        "tweeteval", help="TweetEval stance (SemEval-2016 Task 6): every family, target-aware",
        description="Train every family on DIR/train.jsonl with the tweets' targets, select hyperparameters on "
                    "DIR/val.jsonl, report mean F1(against, favor) beside the published test results; log to "
                    "MLflow (experiment stanceframe-tweeteval).")
    tweeteval.add_argument("--data", required=True, type=Path, help="folder with train.jsonl and val.jsonl")
    tweeteval.add_argument("--families", default=None,
                           help=f"comma-separated subset (default: all: {', '.join(FAMILIES)})")
    tweeteval.add_argument("--out", type=Path, default=Path("out/benchmark"),
                           help="where tweeteval.md / tweeteval.json go (default: out/benchmark)")
    tweeteval.add_argument("--export", type=Path, help="the best model's folder (default: OUT/tweeteval-best)")
    tweeteval.add_argument("--seed", type=int, default=13)
    tweeteval.add_argument("--cv-folds", type=_positive_int, default=5, help="folds of the CV estimate on train")
    tweeteval.add_argument("--quiet", action="store_true", help="no progress lines")
    _tracking_args(tweeteval)
    tweeteval.set_defaults(func=cmd_benchmark_tweeteval)
    al = benchmark_sub.add_parser(
        "active-learning", help="does active learning pay? a simulated annotator on the written corpus",
        description="Simulate an annotator on a labelled corpus grouped by article (default: the written corpus): "
                    "pool and held-out articles split per seed, batches of labels chosen by random / article / "
                    "uncertain / diverse order, tfidf-logreg refitted after each batch and scored on the held-out "
                    "articles; learning curves (PNG), and the labels each strategy needs to reach 95 %% of the "
                    "full-pool score.")
    al.add_argument("--data", type=Path, help="labelled file with doc_id (default: data/written/labels.jsonl)")
    al.add_argument("--batch", type=_positive_int, default=20, help="labels per batch (default 20)")
    al.add_argument("--max-labels", type=_positive_int, default=600, help="labels at the end (default 600)")
    al.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    al.add_argument("--out", type=Path, default=Path("out/benchmark"),
                    help="where active-learning.{md,json,png} go (default: out/benchmark)")
    al.add_argument("--quiet", action="store_true", help="no progress lines")
    al.set_defaults(func=cmd_benchmark_active_learning)

    model_help = "model folder, runs:/<id>/model or models:/<name>@<alias> (default: models/default/)"
    tag = sub.add_parser(
        "tag", help="tag articles sentence by sentence (JSONL/CSV/Parquet)",
        description="Tag articles with stance and framing, sentence by sentence. Exit status: 0 all tagged, "
                    "1 some input skipped (reasons on stderr), 2 usage or user error (one line), 3 internal "
                    "error (a bug: rerun with --debug), 130 interrupted.",
    )
    tag.add_argument("paths", nargs="+", metavar="PATH",
                     help="files (.txt .md .html .jsonl .csv), folders (recursive), globs, or - for stdin "
                          "(JSONL when its first line starts with '{', else one text)")
    tag.add_argument("--model", help=model_help)
    tag.add_argument("--unit", choices=["document", "record"], default="document",
                     help="document: split each input into sentences (default); record: tag each record whole, "
                          "its id as the row id (pre-segmented data)")
    tag.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default: text)")
    tag.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default: id)")
    tag.add_argument("--target-field", default=None,
                     help="records' field holding the stance target, for a target-aware model (default: the field "
                          "the model was trained with); records without it are skipped")
    tag.add_argument("--format", choices=["jsonl", "csv", "parquet"], default=None,
                     help="jsonl (default), csv or parquet; --engine spark always writes a Parquet folder")
    tag.add_argument("--out", type=Path,
                     help="output file (default: stdout); written as FILE.part + FILE.part.json while running, "
                          "renamed to FILE when complete")
    tag.add_argument("--per", choices=["sentence", "article"], default="sentence",
                     help="one row per sentence (default) or per article (counts, shares, mean probabilities, "
                          "strongest sentences per label)")
    tag.add_argument("--resume", action="store_true",
                     help="complete an interrupted run's --out FILE (same inputs and options)")
    tag.add_argument("--force", action="store_true",
                     help="replace an existing --out FILE that tag did not write, or start an unfinished one over "
                          "(never an input file)")
    tag.add_argument("--batch-size", type=_positive_int,
                     help="sentences per model call (default: 64 for transformer models, 1024 for the others)")
    tag.add_argument("--quiet", action="store_true", help="no progress bar")
    tag.add_argument("--strict", action="store_true",
                     help="a document with a warning (e.g. decoded with a non-UTF-8 fallback) is skipped, "
                          "so it makes the exit status 1")
    tag.add_argument("--engine", choices=["local", "spark"], default="local",
                     help="local: stream on this machine (default); spark: run on Apache Spark and write a Parquet "
                          "folder at --out DIR (needs pip install 'stanceframe[spark]' and Java 17)")
    tag.add_argument("--master", help="Spark master URL for --engine spark (default: local[2]; under spark-submit, "
                                      "spark-submit's --master)")
    tag.add_argument("--partition-by", metavar="COLUMN",
                     help="--engine spark: partition the Parquet output by an output column, 'source' (the input "
                          "file) or a field of the input records such as 'date'")
    tag.set_defaults(func=cmd_tag)

    inspect = sub.add_parser("inspect", help="one article's sentences with stance, framing and why; --html page")
    inspect.add_argument("article", metavar="ARTICLE", help="a .txt/.md/.html file (first record of JSONL/CSV), or -")
    inspect.add_argument("--model", help=model_help)
    inspect.add_argument("--html", type=Path, help="write a self-contained inspection page here")
    inspect.add_argument("--open", action="store_true",
                         help="open the page in a browser (written to <doc_id>.inspect.html without --html)")
    inspect.add_argument("--text-field", default="text", help=argparse.SUPPRESS)
    inspect.add_argument("--id-field", default="id", help=argparse.SUPPRESS)
    inspect.set_defaults(func=cmd_inspect)

    bench = sub.add_parser("bench", help="deprecated alias of `benchmark speed` (same options; removed in the next "
                                         "release)")
    _speed_args(bench)
    bench.set_defaults(func=cmd_bench)

    annotate = sub.add_parser(
        "annotate", help="label your own articles in a local web app (model suggestions, keyboard first); "
                         "'annotate export' / 'annotate import' move labels out of and into the store",
        description="Open a local labelling app on the sentences of ARTICLE_OR_FOLDER (the project's reader and "
                    "segmenter). Every key press is saved at once in the store (SQLite). Also: stanceframe annotate "
                    "export --store FILE --out labels.jsonl; stanceframe annotate import --store FILE LABELS...")
    annotate.add_argument("paths", nargs="+", metavar="ARTICLE_OR_FOLDER", help="files (.txt .md .html .jsonl .csv), "
                                                                                 "folders (recursive) or globs")
    annotate.add_argument("--store", type=Path, default=Path("annotations.sqlite"),
                          help="the annotation store (default: annotations.sqlite; created when missing)")
    annotate.add_argument("--annotator", default=os.environ.get("USER") or "annotator",
                          help="who is labelling (default: $USER)")
    annotate.add_argument("--model", help="the model whose suggestions are shown: " + model_help)
    annotate.add_argument("--no-model", action="store_true", help="show no suggestions")
    annotate.add_argument("--order", choices=["article", "uncertain", "diverse"], default="article",
                          help="article order (default), least-margin first, or least-margin spread over clusters")
    annotate.add_argument("--refit-every", type=_positive_int, default=20,
                          help="refit the fast model that orders the queue every N new labels (default 20)")
    annotate.add_argument("--host", default="127.0.0.1",
                          help="address to bind (default 127.0.0.1); any other needs a token")
    annotate.add_argument("--port", type=_positive_int, default=8765, help="port (default 8765)")
    annotate.add_argument("--token", help="access token (off loopback: generated and printed in the URL when left out)")
    annotate.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default: text)")
    annotate.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default: id)")
    annotate.set_defaults(func=cmd_annotate)

    export = sub.add_parser("annotate-export",
                            description="Write the store's labels (adjudicated label per sentence) in the project's "
                                        "labelled format, which train, compare and data stats read.")
    export.prog = "stanceframe annotate export"
    export.add_argument("--store", type=Path, required=True, help="the annotation store")
    export.add_argument("--out", type=Path, required=True, help="the labels file to write (JSONL)")
    export.set_defaults(func=cmd_annotate_export)

    imp = sub.add_parser("annotate-import",
                         description="Load existing labelled files into a store, as one annotator's answers.")
    imp.prog = "stanceframe annotate import"
    imp.add_argument("labels", nargs="+", type=Path, help="labelled JSONL/CSV files (the project's format)")
    imp.add_argument("--store", type=Path, required=True, help="the annotation store (created when missing)")
    imp.add_argument("--annotator", default="import", help="whose answers they are (default: import)")
    imp.set_defaults(func=cmd_annotate_import)

    agree = sub.add_parser("agreement", help="agreement between annotators of a store: Cohen's kappa per pair, "
                                             "Krippendorff's alpha per task, with counts")
    agree.add_argument("--store", type=Path, required=True, help="the annotation store")
    agree.set_defaults(func=cmd_agreement)
    return parser


def _data_args(p, data_help: str) -> None:
    p.add_argument("--data", nargs="+", help=data_help)
    p.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    p.add_argument("--id-field", default="id", help="field holding the record id (default: id; missing ids are numbered)")
    p.add_argument("--target-field", default=None,
                   help="records' target field: target-aware stance (every family conditions on it)")
    p.add_argument("--schema", type=Path,
                   help="TOML schema naming tasks and labels (default with --data: each task's labels from the data)")


def _speed_args(p) -> None:
    """The options of ``benchmark speed`` (and of its deprecated alias ``bench``)."""
    p.add_argument("--quick", action="store_true",
                   help="under a minute: few sentences and families, 3 runs, no 1M-sentence memory run")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.add_argument("--sentences", type=_positive_int, help="sentences of the synthetic corpus (default: 20000)")
    p.add_argument("--transformer-sentences", type=_positive_int,
                   help="its first sentences that transformer families, the pipeline and the ceiling run on "
                        "(default: 2000)")
    p.add_argument("--input", nargs="+", metavar="PATH", help="benchmark on these files instead of synthetic text")
    p.add_argument("--family", action="append", help="only these families (repeatable); \"default\" times the shipped models/default/")
    p.add_argument("--model", help="a fine-tuned minilm-finetune model folder for the pipeline and the ceiling "
                                   "(default: fit one on the seed set, cached in out/bench/models/)")
    p.add_argument("--repeats", type=_positive_int, help="timed runs per measurement (median; default 3)")
    p.add_argument("--batch-size", type=_positive_int,
                   help="tag's --batch-size (default: tag's own, 64 for transformer models, 1024 for the others)")
    p.add_argument("--refit", action="store_true", help="fit the transformer families again instead of the cache")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--f1", action="store_true",
                   help="also cross-validate minilm-finetune on the seed set and compare macro-F1 of tag's "
                        "inference path with the transformers pipeline's (fits 10 models: slow)")


def _tracking_args(p) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or the local store under mlruns/)")
    group.add_argument("--no-track", action="store_true", help="do not log to MLflow")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(_subcommand_argv(sys.argv[1:] if argv is None else list(argv)))
    try:
        return int(args.func(args) or 0)
    except StanceframeError as exc:
        if args.debug:
            raise
        print(f"stanceframe: error: {printable(exc)}", file=sys.stderr)
        if isinstance(exc, UnlabelledSentencesError):
            for sentence_id in exc.ids:
                print(f"  unlabelled: {printable(sentence_id)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stanceframe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug, not a user mistake: its own exit status
        if args.debug:
            raise
        print(internal_error_line(exc), file=sys.stderr)
        return EXIT_INTERNAL


def _subcommand_argv(argv: list[str]) -> list[str]:
    """``annotate export ...`` and ``annotate import ...`` are their own parsers (``annotate``
    itself takes article paths)."""
    for i, word in enumerate(argv):
        if word == "annotate":
            if i + 1 < len(argv) and argv[i + 1] in ("export", "import"):
                return argv[:i] + [f"annotate-{argv[i + 1]}"] + argv[i + 2:]
            break
        if not word.startswith("-"):
            break
    return argv


def internal_error_line(exc: BaseException) -> str:
    """One line for an uncaught exception: what it was and how to see more."""
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return (f"stanceframe: internal error: {printable(what)} (exit status {EXIT_INTERNAL}; rerun with --debug "
            "for the traceback and report it)")


if __name__ == "__main__":
    raise SystemExit(main())
