"""SHA-256 digests of a file's bytes and of a folder's files: what tells a ``--resume``
that its inputs or its model's weights changed under the same names."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (``unreadable`` when it cannot be read: the reader says why)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "unreadable"


def folder_digest(folder: Path) -> str:
    """SHA-256 over the relative names and contents of every file below ``folder``: the
    model's weights, whatever its manifest says."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode("utf-8", "surrogatepass") + b"\0")
        h.update(file_digest(path).encode("ascii") + b"\n")
    return h.hexdigest()[:16]
