"""What a Spark tag run reads: the inputs planned on the driver, files (through the local
reader, on the executors) apart from Parquet (read by Spark itself)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stanceframe.corpus import SUPPORTED_SUFFIXES, Skipped, expand_inputs
from stanceframe.errors import StanceframeError

PARQUET_SUFFIX = ".parquet"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class InputPlan:
    """What the Spark job reads: files through the local reader, Parquet through Spark."""

    files: list[tuple[str, str, str | None]] = field(default_factory=list)  # (absolute path, as named, root)
    parquet: list[str] = field(default_factory=list)  # paths or URIs (Parquet files or dataset folders)
    skipped: list[Skipped] = field(default_factory=list)  # inputs that matched nothing


def plan_inputs(paths: Sequence[str]) -> InputPlan:
    """Files, folders and globs expanded as the local engine does (same order, ids and skip
    reasons); ``.parquet`` files, folders holding Parquet files and ``scheme://`` URIs are
    read by Spark as Parquet."""
    plan = InputPlan()
    local, parquet_folders = [], set()
    for raw in map(str, paths):
        if raw == "-":
            raise StanceframeError("--engine spark cannot read standard input (-); save it to a file first")
        if _URI.match(raw) and not raw.startswith("file:"):
            if raw.lower().rstrip("/").endswith(tuple(SUPPORTED_SUFFIXES)):
                raise StanceframeError(
                    f"{raw}: --engine spark reads text, HTML, JSONL, CSV and WARC files from a path every executor can open "
                    f"(local disk in local mode, a shared mount on a cluster); on {raw.split(':', 1)[0]}:// it "
                    f"reads Parquet"
                )
            plan.parquet.append(raw)
            continue
        path = Path(raw)
        if path.suffix.lower() == PARQUET_SUFFIX and path.exists():
            plan.parquet.append(os.path.abspath(raw))
            continue
        if path.is_dir() and any(f.is_file() and not f.name.startswith(("_", ".")) for f in path.rglob("*.parquet")):
            plan.parquet.append(os.path.abspath(raw))
            parquet_folders.add(raw)
        local.append(raw)
    for item in expand_inputs(local) if local else []:
        if isinstance(item, Skipped):
            if not (item.source in parquet_folders and item.reason.startswith("folder holds no")):
                plan.skipped.append(item)
            continue
        path, root = item
        if path.suffix.lower() == PARQUET_SUFFIX:  # a glob matched Parquet files
            plan.parquet.append(os.path.abspath(path))
            continue
        plan.files.append((os.path.abspath(path), str(path), os.path.abspath(root) if root is not None else None))
    if not plan.files and not plan.parquet:
        reasons = "; ".join(str(s) for s in plan.skipped) or "no PATH given"
        raise StanceframeError(f"no input files ({reasons})")
    return plan
