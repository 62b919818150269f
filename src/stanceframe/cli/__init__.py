"""The ``stanceframe`` command: parsing, messages and exit codes only.

Every handler is a few lines over functions of the modules that tests call directly.
Exit status: 0 all done, 1 some input skipped, 2 a user mistake (any
:class:`StanceframeError`: one line on stderr), 3 an internal error (an uncaught exception:
one line and a hint to rerun with ``--debug``), 130 interrupted. ``--debug`` shows the
traceback instead. Every message printed for a person goes through
:func:`stanceframe.terminal.printable` (control characters escaped).

Modules: :mod:`~stanceframe.cli.parser` (the parser), one handler module per command group
(:mod:`~stanceframe.cli.data`, :mod:`~stanceframe.cli.models`, :mod:`~stanceframe.cli.tagging`,
:mod:`~stanceframe.cli.benchmarks`, :mod:`~stanceframe.cli.annotate`),
:mod:`~stanceframe.cli.options` (parsed options -> what the rooms take) and
:mod:`~stanceframe.cli.exit_codes` (exit statuses, errors -> one line).
"""

from __future__ import annotations

import os
import sys

from stanceframe.cli.exit_codes import run_handler
from stanceframe.cli.parser import build_parser, subcommand_argv

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``stanceframe`` command on ``argv`` (default: ``sys.argv[1:]``); its exit status."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(subcommand_argv(sys.argv[1:] if argv is None else list(argv)))
    return run_handler(args)
