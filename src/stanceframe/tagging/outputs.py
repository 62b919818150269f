"""Output safety for ``tag --out FILE`` (over :mod:`stanceframe.safe_paths`, the checked
path of every command that writes): the output is a regular file or absent and not one of
the inputs, one run writes it at a time (:class:`OutputLock`), a finished file is marked as
``tag``'s (an extended attribute bound to the file's identity), and the fingerprint digests
that a ``--resume`` must match (the inputs' names and contents)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from stanceframe.corpus import Skipped
from stanceframe.digests import file_digest
from stanceframe.errors import StanceframeError
from stanceframe.safe_paths import check_output_file, create_new, lstat_or_none, open_own, remove_own, same_file


def check_output_path(out: str | Path, resolved) -> Path:
    """Before any tagging: ``out`` names a file (not a folder, not ``DIR/``), is a regular
    file or absent (never a link, a device or a FIFO), and neither it nor its ``.part``
    files is one of the inputs (not even through another name or a hard link)."""
    if Path(out).is_dir() and not Path(out).is_symlink():
        raise StanceframeError(f"--out {out}: is a folder; name a file (--engine spark writes folders)")
    inputs = [Path(item[0]) for item in resolved if not isinstance(item, Skipped) and str(item[0]) != "-"]
    path = Path(out)
    for target in (path.with_name(path.name + ".part"), path.with_name(path.name + ".part.json")):
        for source in inputs:
            if same_file(target, source):
                raise StanceframeError(f"--out {out}: its {target.name} is an input ({source}); it would be "
                                       "overwritten, so it is left as it is: choose another --out")
    return check_output_file(out, what="--out", inputs=inputs)


MARK_ATTRIBUTE = "user.stanceframe.tag"  # extended attribute of a FILE that `tag --out FILE` completed


def mark_written_by_tag(path: Path, fingerprint: dict) -> None:
    """Mark ``path`` as output of ``tag`` with ``fingerprint`` and the file's identity
    (device, inode, size, content digest): an extended attribute, so the file itself stays
    exactly the rows; nothing happens where the file system has none. A copy (``cp -a``
    copies the attribute) or an edited file no longer matches its mark."""
    try:
        mark = {"fingerprint": fingerprint, "file": _identity(path)}
        os.setxattr(path, MARK_ATTRIBUTE, json.dumps(mark, sort_keys=True).encode("utf-8"), follow_symlinks=False)
    except (AttributeError, OSError):
        pass


def _identity(path: Path) -> dict:
    st = os.lstat(path)
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "sha256": file_digest(path)}


def written_by_tag(path: Path) -> dict | None:
    """The fingerprint of the ``tag`` run that completed ``path``, or None when it is not
    marked, or the mark belongs to another file (a copy, an edited file), or ``path`` is not
    a regular file: a marked file may be replaced by a new run and resumed as complete;
    another may not."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        mark = json.loads(os.getxattr(path, MARK_ATTRIBUTE, follow_symlinks=False))
    except (AttributeError, OSError, ValueError):
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get("fingerprint"), dict):
        return None
    file = mark.get("file") or {}
    if (file.get("dev"), file.get("ino"), file.get("size")) != (st.st_dev, st.st_ino, st.st_size):
        return None  # checked first: the content digest reads the whole file
    if file.get("sha256") != file_digest(path):
        return None
    return mark["fingerprint"]


LOCK_CONTENT = re.compile(rb"\A(\d+\n)?\Z")  # what tag writes in FILE.lock: its pid (empty at first)


class OutputLock:
    """An exclusive ``flock`` on ``FILE.lock`` while a run writes ``FILE``: a second
    ``tag`` on the same ``--out`` refuses with one line instead of writing the same part
    file. The lock file is created new, or reused only when it is a lock file of tag's (a
    regular file of this user's holding a pid), never through a link; it is removed when
    the run ends, only while it is still the inode this run locked."""

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
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise StanceframeError(f"--out {self.out}: another stanceframe tag (pid {holder}) is writing it; "
                                       f"wait for it to end (then --resume if it was stopped)") from None
            st = os.fstat(fd)
            now = lstat_or_none(self.path)
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                break  # still the lock file's inode: ours
            os.close(fd)  # removed by the run that held it: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        return self

    def _open(self) -> int:
        """The lock file: new, or an earlier one of tag's; anything else is refused."""
        while True:
            try:
                return create_new(self.path, 0o644)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StanceframeError(f"--out {self.out}: cannot write in {self.out.parent} "
                                       f"({exc.strerror or exc}); choose another --out") from None
            fd = open_own(self.path, os.O_RDWR)
            if fd is None:
                continue  # removed meanwhile
            if LOCK_CONTENT.match(os.pread(fd, 64, 0)):
                return fd
            os.close(fd)
            raise StanceframeError(f"{self.path}: exists and is not a lock file of stanceframe tag; it is left as "
                                   f"it is: remove it, or choose another --out")

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            st = os.fstat(self.fd)
            try:
                remove_own(self.path, (st.st_dev, st.st_ino))
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
