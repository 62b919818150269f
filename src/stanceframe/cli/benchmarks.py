"""``stanceframe benchmark speed|tweeteval|active-learning`` and ``bench``, the deprecated alias
of ``benchmark speed``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.cli.options import open_tracker, tasks_arg
from stanceframe.errors import StanceframeError
from stanceframe.paths import project_root
from stanceframe.terminal import printable


def cmd_benchmark_speed(args, command_words: tuple[str, ...] = ("benchmark", "speed")) -> int:
    from stanceframe.benchmarks.speed import run_bench
    from stanceframe.benchmarks.speed_report import to_markdown
    from stanceframe.benchmarks.speed_settings import BenchSettings

    settings = BenchSettings.from_options(
        quick=args.quick, rss=not args.no_rss, sentences=args.sentences,
        transformer_sentences=args.transformer_sentences, repeats=args.repeats,
        families=tuple(args.family) if args.family else None, input=args.input or None, model=args.model,
        refit=args.refit, batch_size=args.batch_size, onnx_models=tuple(args.onnx) if args.onnx else None,
        startup_rounds=args.startup_rounds, rss_model=args.rss_model,
        rss_sizes=tuple(args.rss_sizes) if args.rss_sizes else None)
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


def cmd_benchmark_tweeteval(args) -> int:
    from stanceframe.benchmarks.tweeteval import EXPERIMENT, run_tweeteval

    tracker = open_tracker(args, EXPERIMENT)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_tweeteval(args.data, tracker=tracker, out_dir=args.out, families=tasks_arg(args.families),
                           seed=args.seed, cv_folds=args.cv_folds, export=args.export, progress=progress,
                           cv_costly=args.cv_costly)
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


def cmd_benchmark_report(args) -> int:
    from stanceframe.benchmarks.report_bench import run_report_bench, write

    log = lambda line: print(f"benchmark report: {line}", file=sys.stderr, flush=True)  # noqa: E731
    out = Path(args.out)
    report = run_report_bench(args.rows, out, tuple(args.format or ("parquet", "jsonl")), log=log)
    argv = sys.argv[1:]
    command = "stanceframe " + " ".join(argv[argv.index("benchmark"):] if "benchmark" in argv else
                                        ["benchmark", "report"])
    print(write(report, out, command))
    return EXIT_OK
