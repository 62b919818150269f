"""Exit statuses, and running one handler with every error turned into its status and one line.

0 all done, 1 some input skipped, 2 a user mistake (any :class:`StanceframeError`), 3 an
internal error (an uncaught exception), 130 interrupted, 141 the reader of standard output
closed it early (``| head``: 128 + SIGPIPE, as other tools); ``--debug`` re-raises instead.
"""

from __future__ import annotations

import os
import sys

from stanceframe.errors import StanceframeError, UnlabelledSentencesError
from stanceframe.terminal import printable

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head -1` gives


def run_handler(args) -> int:
    """Call the parsed command's handler; its exit status, or the status of what it raised."""
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
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - a bug, not a user mistake: its own exit status
        if args.debug:
            raise
        print(internal_error_line(exc), file=sys.stderr)
        return EXIT_INTERNAL


def _quiet_stdout() -> None:
    """Standard output pointed at /dev/null: its reader is gone, and Python's flush of it
    at exit must not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to flush
        pass


def internal_error_line(exc: BaseException) -> str:
    """One line for an uncaught exception: what it was and how to see more."""
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return (f"stanceframe: internal error: {printable(what)} (exit status {EXIT_INTERNAL}; rerun with --debug "
            "for the traceback and report it)")
