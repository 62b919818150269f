"""The ``stanceframe`` command for tests: :func:`run_cli` calls ``stanceframe.cli.main`` in
this process (stdin, stdout, stderr, sys.argv, cwd and the environment swapped in and put back);
:func:`run_process` starts it as a separate process, for what needs one (kill -9, a second
process holding a lock, a closed stdin, a stdin larger than a pipe holds)."""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.paths import STANCEFRAME


@dataclass
class CliResult:
    """What one in-process command gave: its exit status and what it wrote (UTF-8 text)."""

    code: int
    out: str
    err: str


def _stream() -> io.TextIOWrapper:
    """A text stream over bytes, with ``.buffer`` like sys.stdout (and never a terminal)."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _pipe_holding(data: bytes) -> io.TextIOWrapper:
    """The read end of a real pipe that already holds ``data`` and whose write end is closed
    (nothing left to feed: no thread, and no forked worker can keep the pipe open)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # a write that does not fit returns short instead of waiting
    try:
        if len(data) > 65536:
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, len(data))  # OSError above pipe-max-size
        written = os.write(write_fd, data) if data else 0
        if written != len(data):
            raise ValueError(f"{len(data)} bytes do not fit in a pipe: use run_process")
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return open(read_fd, encoding="utf-8")


def run_cli(*args, stdin: bytes | None = None, cwd: Path | str | None = None) -> CliResult:
    """``stanceframe ARGS`` in process: argparse's SystemExit becomes the exit status, as
    in the real command. ``stdin``: bytes on a real pipe (up to the pipe's size)."""
    from stanceframe.cli import main

    argv = [str(a) for a in args]
    out, err = _stream(), _stream()
    inp = _pipe_holding(stdin) if stdin is not None else sys.stdin
    saved_streams, saved_argv = (sys.stdin, sys.stdout, sys.stderr), sys.argv
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    sys.stdin, sys.stdout, sys.stderr = inp, out, err
    sys.argv = ["stanceframe", *argv]  # `benchmark speed` writes its own command line into its report
    try:
        if cwd is not None:
            os.chdir(cwd)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        if inp is not saved_streams[0]:
            inp.close()
    out.flush()
    err.flush()
    return CliResult(code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8"))


def run_process(*args, input: bytes | None = None, cwd=None, timeout: float = 300, env: dict | None = None
                ) -> subprocess.CompletedProcess:
    """``python -m stanceframe ARGS`` as a separate process (bytes in, bytes out)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([*STANCEFRAME, *map(str, args)], input=input, capture_output=True, cwd=cwd,
                          timeout=timeout, env=env)
