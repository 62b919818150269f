"""The ``stanceframe`` command: parsing, messages and exit codes only.

Every handler is a few lines over functions of the modules that tests call directly.
A user mistake (any :class:`StanceframeError`) exits 2 with one line on stderr; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stanceframe import __version__
from stanceframe.errors import StanceframeError, UnlabelledSentencesError
from stanceframe.paths import project_root

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2


# --------------------------------------------------------------------------- data


def cmd_data_build(args) -> int:
    from stanceframe.dataset import build_seed_set

    root = project_root()
    report = build_seed_set(
        args.seeds or root / "seeds",
        args.sentences or root / "data" / "sentences.jsonl",
        args.labels or root / "data" / "labels.jsonl",
    )
    print(
        f"segmented {report.documents} seed document(s) into {report.sentences} sentences -> {report.sentences_path}; "
        f"all carry gold labels in {report.labels_path}",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_data_stats(args) -> int:
    from stanceframe.dataset import load_labelled
    from stanceframe.report import label_stats_table

    root = project_root()
    paths = args.data or [root / "data" / "labels.jsonl", root / "data" / "contrast.jsonl"]
    sets = [load_labelled(p) for p in paths if Path(p).exists() or args.data]
    print(label_stats_table(sets))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stanceframe", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"stanceframe {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build and describe the labelled seed set")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="segment seeds/ into data/sentences.jsonl and check every sentence is labelled")
    build.add_argument("--seeds", type=Path, help="folder of seed articles (default: seeds/)")
    build.add_argument("--sentences", type=Path, help="output (default: data/sentences.jsonl)")
    build.add_argument("--labels", type=Path, help="gold labels (default: data/labels.jsonl)")
    build.set_defaults(func=cmd_data_build)
    stats = data_sub.add_parser("stats", help="label counts per task")
    stats.add_argument("data", nargs="*", type=Path, help="labelled files (default: data/labels.jsonl data/contrast.jsonl)")
    stats.set_defaults(func=cmd_data_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StanceframeError as exc:
        if args.debug:
            raise
        print(f"stanceframe: error: {exc}", file=sys.stderr)
        if isinstance(exc, UnlabelledSentencesError):
            for sentence_id in exc.ids:
                print(f"  unlabelled: {sentence_id}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stanceframe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
