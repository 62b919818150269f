"""Output safety for ``tag --out FILE``: the output is not one of the inputs, one run
writes it at a time (:class:`OutputLock`), a finished file is marked as ``tag``'s (an
extended attribute), and the fingerprint digests that a ``--resume`` must match (the
inputs' names and contents)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from stanceframe.corpus import Skipped
from stanceframe.digests import file_digest
from stanceframe.errors import StanceframeError


def check_output_path(out: Path, resolved) -> None:
    """Before any tagging: ``out`` is not a folder, and neither it nor its ``.part`` files
    is one of the inputs (not even through another name or a hard link)."""
    if out.is_dir():
        raise StanceframeError(f"--out {out}: is a folder; name a file (--engine spark writes folders)")
    inputs = [Path(item[0]) for item in resolved if not isinstance(item, Skipped) and str(item[0]) != "-"]
    ours = [out, out.with_name(out.name + ".part"), out.with_name(out.name + ".part.json")]
    for target in ours:
        for source in inputs:
            if _same_file(target, source):
                raise StanceframeError(f"--out {out}: is an input ({source}); it would be overwritten, so it is "
                                       "left as it is: choose another --out")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


MARK_ATTRIBUTE = "user.stanceframe.tag"  # extended attribute of a FILE that `tag --out FILE` completed


def mark_written_by_tag(path: Path, fingerprint: dict) -> None:
    """Mark ``path`` as output of ``tag`` with ``fingerprint`` (an extended attribute, so the
    file itself stays exactly the rows; nothing happens where the file system has none)."""
    try:
        os.setxattr(path, MARK_ATTRIBUTE, json.dumps(fingerprint, sort_keys=True).encode("utf-8"))
    except (AttributeError, OSError):
        pass


def written_by_tag(path: Path) -> dict | None:
    """The fingerprint of the ``tag`` run that completed ``path``, or None when it is not
    marked (another program's file, a copy, a file system without extended attributes):
    a marked file may be replaced by a new run and resumed as complete; another may not."""
    try:
        mark = json.loads(os.getxattr(path, MARK_ATTRIBUTE))
    except (AttributeError, OSError, ValueError):
        return None
    return mark if isinstance(mark, dict) else None


class OutputLock:
    """An exclusive ``flock`` on ``FILE.lock`` while a run writes ``FILE``: a second
    ``tag`` on the same ``--out`` refuses with one line instead of writing the same part
    file. The lock file is removed when the run ends (the inode check makes the removal
    safe against a run that opened it just before)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StanceframeError(f"--out {self.out}: cannot create its folder ({exc.strerror or exc})") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StanceframeError(f"--out {self.out}: cannot write in {self.out.parent} "
                                       f"({exc.strerror or exc}); choose another --out") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise StanceframeError(f"--out {self.out}: another stanceframe tag (pid {holder}) is writing it; "
                                       f"wait for it to end (then --resume if it was stopped)") from None
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break  # still the lock file's inode: ours
            except FileNotFoundError:
                pass
            os.close(fd)  # removed by the run that held it: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def inputs_digest(resolved) -> str:
    """A digest of the inputs' names, in order."""
    names = [str(item) if isinstance(item, Skipped) else str(item[0]) for item in resolved]
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def input_streams(resolved) -> list[str]:
    """The inputs that are not regular files (``-``, FIFOs, ``<(...)``): their content
    cannot be read twice, so it is not part of :func:`contents_digest`."""
    streams = []
    for item in resolved:
        if isinstance(item, Skipped):
            continue
        name = str(item[0])
        try:
            regular = name != "-" and stat.S_ISREG(os.stat(name).st_mode)
        except OSError:
            regular = True  # unreadable: the reader says why; its digest says "unreadable"
        if not regular:
            streams.append(name)
    return streams


def contents_digest(resolved, skip: Iterable[str] = ()) -> str:
    """A digest of the content of every regular input file but those named in ``skip``:
    ``--resume`` after a file got new content under the same name is refused, not mixed."""
    skip = set(skip)
    h = hashlib.sha256()
    for item in resolved:
        if isinstance(item, Skipped) or str(item[0]) in skip:
            continue
        h.update(str(item[0]).encode("utf-8", "surrogatepass") + b"\0" + file_digest(Path(item[0])).encode() + b"\n")
    return h.hexdigest()[:16]
