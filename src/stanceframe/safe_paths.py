"""Writing without harm: the one checked path of every command that writes a file or a folder
(``tag --out``, ``inspect --html/--open``, ``train --export``, ``compare --promote``, ``data
build --sentences``, ``annotate export --out``, Spark ``--out``).

The rule: no command writes through a symbolic link, replaces anything but a regular file
(a device, a FIFO, a socket, a folder), or removes or overwrites a file or folder it did not
create itself. So an output is checked before any work (:func:`check_output_file`: absent,
or a regular file that is no input and that the command recognises as its own), written
beside itself under a fresh name and renamed into place (:func:`replace_file`); side files
are created new (:func:`create_new`, ``O_EXCL | O_NOFOLLOW``) and opened again only when they
are the user's own regular files (:func:`open_own`); a folder is replaced only when it holds
what the command wrote, and then only those entries (:func:`replace_own_entries`);
temporary folders are removed with what uses them (:func:`remove_with`).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from stanceframe.errors import UnsafeOutputError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def same_file(a: str | Path, b: str | Path) -> bool:
    """``a`` and ``b`` are one file (the same path once links are resolved, or one inode)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or (os.path.exists(a) and os.path.exists(b)
                                                          and os.path.samefile(a, b))
    except (OSError, RuntimeError):
        return False


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_output_file(path: str | Path, *, what: str, inputs: Iterable[str | Path] = (),
                      own: Callable[[Path], bool] | None = None, force: bool = False,
                      not_own: str = "") -> Path:
    """``path`` as an output file that may be written: refused (one line, nothing touched)
    when its name ends in ``/`` (a folder), when it is one of ``inputs``, a symbolic link,
    a folder, a device or anything but a regular file, or an existing file that ``own`` does
    not recognise as this command's output (``force`` allows that last one; ``not_own`` is
    then the message's reason)."""
    text = os.fspath(path)
    if text.endswith(("/", os.sep)):
        raise UnsafeOutputError(f"{what} {text}: ends with '/', so it names a folder; name the file to write "
                                f"(e.g. {text.rstrip('/' + os.sep) or '.'}/{_example(what)})")
    path = Path(text)
    for source in inputs:
        if same_file(path, source):
            raise UnsafeOutputError(f"{what} {path}: is an input ({source}); it would be overwritten, so it is "
                                    "left as it is: choose another output")
    st = lstat_or_none(path)
    if st is None:
        return path
    if not stat.S_ISREG(st.st_mode):
        hint = "name the file it points to" if stat.S_ISLNK(st.st_mode) else "choose another output"
        raise UnsafeOutputError(f"{what} {path}: is {kind_of(st.st_mode)}; stanceframe writes only a regular "
                                f"file (or a new one) and never through a link, so it is left as it is: {hint}")
    if own is not None and not force and not own(path):
        raise UnsafeOutputError(f"{what} {path}: already exists and {not_own or 'is not what this command writes'}; "
                                "it is left as it is: choose another output")
    return path


def _example(what: str) -> str:
    return {"--html": "page.html", "--sentences": "sentences.jsonl"}.get(what, "out.jsonl")


def holds_jsonl_records(path: Path, accept: Callable[[object], bool], lines: int = 200) -> bool:
    """Whether ``path`` is empty or a JSONL file whose first ``lines`` non-blank lines are
    records that ``accept`` takes: how a command recognises a file it writes by its content
    (a labels export, a sentences file), where a mark would not survive ``git clone``."""
    with open(path, "rb") as handle:
        for n, line in enumerate(handle):
            if n >= lines:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return False
            if not accept(record):
                return False
    return True


def create_new(path: Path, mode: int = 0o666) -> int:
    """A new file at ``path``, opened for writing: never an existing file, never through a
    link (``O_CREAT | O_EXCL | O_NOFOLLOW``)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, mode)


def open_own(path: Path, flags: int = os.O_RDONLY) -> int | None:
    """``path`` opened with ``flags`` (never through a link) when it is a regular file of
    this user's; None when it is not there; :class:`UnsafeOutputError` when it is a link, a
    device or another user's file."""
    st = lstat_or_none(path)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):  # refused before opening: opening a device or a FIFO can act
        raise UnsafeOutputError(f"{path}: is {kind_of(st.st_mode)}, not a file stanceframe wrote; it is left "
                                "as it is: remove it or choose another output")
    try:
        fd = os.open(path, flags | NOFOLLOW | CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        whose = kind_of(st.st_mode) if not stat.S_ISREG(st.st_mode) else "another user's file"
        raise UnsafeOutputError(f"{path}: is {whose}, not a file stanceframe wrote; it is left as it is: "
                                "remove it or choose another output")
    os.set_blocking(fd, True)
    return fd


def remove_own(path: Path, identity: tuple[int, int] | None = None) -> bool:
    """Remove ``path`` when it is (still) a regular file of this user's, and the inode
    ``identity`` (device, inode) when one is given; True when it was removed."""
    st = lstat_or_none(path)
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        return False
    if identity is not None and (st.st_dev, st.st_ino) != tuple(identity):
        return False
    os.unlink(path)
    return True


def replace_file(path: Path, write: Callable[[IO], None], *, binary: bool = False,
                 before_rename: Callable[[Path], None] | None = None) -> Path:
    """``write(handle)`` into a new file beside ``path`` (a fresh name, created exclusively),
    flushed to disk and renamed onto ``path``: ``path`` is never written through, and a
    failure leaves it as it was. ``before_rename(tmp)``: a last step on the written file (a
    mark). Check ``path`` with :func:`check_output_file` first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if before_rename is not None:
            before_rename(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_own_entries(folder: Path, *, what: str, own: Callable[[Path], list[str] | None],
                        new: Iterable[str] = (), not_own: str = "") -> Path:
    """Make ``folder`` ready to be written: created when absent; when it holds anything,
    ``own(folder)`` must name the entries this command wrote there (None: it did not write
    this folder, which is refused with ``not_own`` as the reason), and only those are removed.
    ``new``: the entries about to be written, refused when another file already has the name."""
    folder = Path(folder)
    st = lstat_or_none(folder)
    if st is None:
        folder.mkdir(parents=True)
        return folder
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeOutputError(f"{what} {folder}: is {kind_of(st.st_mode)}, not a folder; it is left as it is: "
                                "choose another folder")
    if not any(folder.iterdir()):
        return folder
    entries = own(folder)
    if entries is None:
        raise UnsafeOutputError(f"{what} {folder}: is not empty and {not_own or 'was not written by this command'}; "
                                "nothing in it is removed or overwritten: choose another folder or empty it")
    ours = set(entries)
    for name in new:
        if name not in ours and lstat_or_none(folder / name) is not None:
            raise UnsafeOutputError(f"{what} {folder}: holds {name}, which this command did not write; it is left "
                                    "as it is: choose another folder")
    for name in ours:
        entry = folder / name
        st = lstat_or_none(entry)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(entry)  # never follows a link inside
        elif stat.S_ISREG(st.st_mode):
            entry.unlink()
        else:
            raise UnsafeOutputError(f"{what} {folder}: its {name} is {kind_of(st.st_mode)}, not what this command "
                                    "wrote; it is left as it is: choose another folder")
    return folder


def remove_with(owner: object, folder: str | Path) -> None:
    """Remove ``folder`` (a temporary folder this program made) when ``owner`` is collected
    or the program ends, whichever comes first; never from a forked child (a segmentation
    worker holds a copy of ``owner``, not the folder)."""
    weakref.finalize(owner, _remove_in, os.getpid(), str(folder))


def _remove_in(pid: int, folder: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)
