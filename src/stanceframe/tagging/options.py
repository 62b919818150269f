"""The ``tag`` options that go together, checked before anything is read, for either
engine: the local one (JSONL, CSV or Parquet to stdout or ``--out FILE``, resumable) and
Spark (a Parquet folder at ``--out DIR``, one row per sentence, committed whole)."""

from __future__ import annotations

from stanceframe.errors import StanceframeError

FORMATS = ("jsonl", "csv", "parquet")
UNITS = ("document", "record")
PER = ("sentence", "article")


def check_options(*, fmt: str | None, per: str, unit: str, out, resume: bool, batch_size: int | None,
                  engine: str = "local", partition_by: str | None = None) -> None:
    """A one-line user error for the first option that does not fit (the engine's own
    limits first, then the rules of both, then what only the local engine checks)."""
    if engine == "spark":
        if out is None:
            raise StanceframeError("--engine spark needs --out DIR (it writes a Parquet folder)")
        if fmt not in (None, "parquet"):
            raise StanceframeError(f"--engine spark writes a Parquet folder; drop --format {fmt} or use "
                                   f"--format parquet")
        if per != "sentence":
            raise StanceframeError("--engine spark writes one row per sentence; use the local engine for "
                                   "--per article")
        if resume:
            raise StanceframeError("--engine spark does not --resume: its output folder is committed whole or "
                                   "not at all, so rerun the command")
    else:
        if fmt not in FORMATS:
            raise StanceframeError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if per not in PER:
            raise StanceframeError(f"--per must be one of {', '.join(PER)}, not {per!r}")
    if unit not in UNITS:
        raise StanceframeError(f"--unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if batch_size is not None and batch_size < 1:
        raise StanceframeError(f"--batch-size must be at least 1, not {batch_size}")
    if engine == "spark":
        if partition_by is not None and not partition_by.strip():
            raise StanceframeError("--partition-by needs a column name (e.g. date or source)")
        return
    if fmt == "parquet" and out is None:
        raise StanceframeError("--format parquet needs --out FILE (Parquet cannot stream to stdout)")
    if resume and out is None:
        raise StanceframeError("--resume needs --out FILE (the output to complete)")
    if per == "article" and unit == "record":
        raise StanceframeError("--per article aggregates each document's sentences; with --unit record every "
                               "record is its own unit, so use --per sentence")
