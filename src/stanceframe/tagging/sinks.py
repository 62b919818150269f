"""Where rows go: a byte stream (stdout), or ``FILE.part`` committed window by window with
``FILE.part.json`` (the resume journal) saying how far, renamed or converted to ``FILE``
when the input ends (the package docstring has the resume design)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stanceframe.errors import StanceframeError
from stanceframe.safe_paths import create_new, lstat_or_none, open_own, remove_own, replace_file
from stanceframe.tagging.encoders import encoder_for, journal_to_parquet
from stanceframe.tagging.outputs import mark_written_by_tag, written_by_tag

STATE_VERSION = 1


@dataclass
class ResumePoint:
    consumed: int
    counts: dict


class StreamSink:
    """Rows to a byte stream (stdout), flushed after every window; no resume."""

    complete = False

    def __init__(self, stream: IO[bytes], encoder):
        self.stream, self.encoder = stream, encoder

    def open(self, resume: bool, force: bool = False) -> ResumePoint | None:
        self.stream.write(self.encoder.header())
        return None

    def write(self, rows: list[dict]) -> None:
        self.stream.write(self.encoder.encode(rows))

    def commit(self, consumed: int, counts: dict) -> None:
        self.stream.flush()

    def finish(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        pass


class FileSink:
    """Rows to ``FILE.part`` committed window by window, with ``FILE.part.json`` saying how
    far; renamed (or converted, for Parquet) to ``FILE`` when the input ends."""

    def __init__(self, out: Path, fmt: str, columns: list[str], fingerprint: dict,
                 contents: Callable[[list[str]], str] | None = None):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = columns
        self.fingerprint = fingerprint
        self.contents = contents  # the inputs' contents digest, skipping the given streams
        self.encoder = encoder_for(fmt, columns)
        self.part = self.out.with_name(self.out.name + ".part")
        self.state_path = self.out.with_name(self.out.name + ".part.json")
        self.handle = None
        self.complete = False

    # -- start
    def open(self, resume: bool, force: bool = False) -> ResumePoint | None:
        """Where to start: a fresh ``FILE.part``, or the committed point of an unfinished
        run of the same command (``resume``). Refuses to replace a ``FILE`` this command did
        not start (``force`` allows it), to resume what it cannot prove is its own, and to
        touch a ``FILE.part`` or ``FILE.part.json`` that tag did not make (not even with
        ``force``)."""
        state = self._read_state()
        part_is_ours = self._part_is_ours(state)
        if force:
            if part_is_ours:
                remove_own(self.part)
            if state is not None:
                remove_own(self.state_path)
            state, part_is_ours, resume = None, False, False
        if not resume:
            state = state if part_is_ours else None
        if resume and state is not None and not part_is_ours and self.out.exists():
            self._check_fingerprint(state, self.out)  # finished; killed between rename and cleanup
            remove_own(self.state_path)
            self.complete = True
            return None
        if state is not None and part_is_ours:
            if not resume:
                raise StanceframeError(
                    f"{self.part}: unfinished output of an earlier stanceframe tag run; add --resume to complete it, "
                    f"or delete {self.part} and {self.state_path.name} to start over (or add --force)"
                )
            return self._reopen(state)
        if resume and self.out.exists():
            mark = written_by_tag(self.out)
            if mark is None:
                raise StanceframeError(
                    f"{self.out}: exists, was not written by stanceframe tag and no unfinished run of it is left, "
                    f"so there is nothing to resume; it is left as it is (--force tags again into it)"
                )
            self._check_fingerprint({"fingerprint": mark}, self.out)
            self.complete = True
            return None
        if self.out.exists() and not force and written_by_tag(self.out) is None:
            raise StanceframeError(
                f"{self.out}: already exists and was not written by stanceframe tag; it is left as it is "
                f"(--force replaces it when the run completes, or choose another --out)"
            )
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.handle = os.fdopen(create_new(self.part), "wb")
        except OSError as exc:
            raise StanceframeError(f"{self.part}: cannot write the output here ({exc.strerror or exc}); "
                                   f"choose another --out") from None
        self.handle.write(self.encoder.header())
        self.commit(0, {})
        return None

    def _part_is_ours(self, state: dict | None) -> bool:
        """Whether ``FILE.part`` is the unfinished output of a tag run: a regular file of this
        user's that a progress file of tag's names (its inode). Another ``FILE.part`` (the
        user's, a link) is refused with one line and left as it is."""
        st = lstat_or_none(self.part)
        if st is None:
            return False
        named = state.get("part") if state is not None else None
        ours = (stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and state is not None
                and (named is None or list(named) == [st.st_dev, st.st_ino]))  # None: an older tag's journal
        if not ours:
            raise StanceframeError(
                f"{self.part}: exists and is not the unfinished output of a stanceframe tag run (no progress file "
                f"{self.state_path.name} of tag's names it); it is left as it is: move it away or choose another --out"
            )
        return True

    def _read_state(self) -> dict | None:
        fd = open_own(self.state_path)  # never through a link; another user's file is refused
        if fd is None:
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                state = json.loads(handle.read(1 << 20).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StanceframeError(f"{self.state_path}: unreadable progress file ({exc}); delete it and "
                                   f"{self.part.name} to start over") from None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise StanceframeError(f"{self.state_path}: not a progress file of stanceframe tag (version "
                                   f"{version!r}); it is left as it is: move it away or choose another --out")
        return state

    def _check_fingerprint(self, state: dict, written) -> None:
        theirs = state.get("fingerprint") or {}
        mine = self._comparable(theirs)
        if theirs != mine:
            differ = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
            raise StanceframeError(
                f"{written}: written by a different command (differs in: {', '.join(differ)}); "
                f"resume with the same inputs (same content), model (same weights) and options, or delete "
                f"{self.part.name} and {self.state_path.name} to start over"
            )

    def _comparable(self, theirs: dict) -> dict:
        """This run's fingerprint, its contents digest taken without the inputs that were
        streams (a FIFO) in the earlier run: a FIFO's content was never hashed, so a FIFO
        completed by the same regular file can be resumed."""
        mine = dict(self.fingerprint)
        earlier = theirs.get("streams") or []
        if earlier and self.contents is not None and set(mine.get("streams") or []) <= set(earlier):
            mine["contents"], mine["streams"] = self.contents(earlier), earlier
        return mine

    def _reopen(self, state: dict) -> ResumePoint:
        self._check_fingerprint(state, self.part)
        offset = int(state["offset"])
        self.handle = os.fdopen(open_own(self.part, os.O_RDWR), "r+b")
        if os.fstat(self.handle.fileno()).st_size < offset:
            raise StanceframeError(f"{self.part}: shorter than its committed {offset} bytes; delete it and "
                                   f"{self.state_path.name} to start over")
        self.handle.truncate(offset)  # drop whatever a killed run wrote after its last commit
        self.handle.seek(offset)
        return ResumePoint(int(state["consumed"]), state.get("counts", {}))

    # -- rows
    def write(self, rows: list[dict]) -> None:
        with self._disk_full():
            self.handle.write(self.encoder.encode(rows))  # one write per document

    def commit(self, consumed: int, counts: dict) -> None:
        with self._disk_full():
            self.handle.flush()
            os.fsync(self.handle.fileno())
            st = os.fstat(self.handle.fileno())
            state = {"version": STATE_VERSION, "offset": self.handle.tell(), "consumed": consumed,
                     "counts": counts, "fingerprint": self.fingerprint, "part": [st.st_dev, st.st_ino]}
            replace_file(self.state_path, lambda handle: json.dump(state, handle))

    # -- end
    def finish(self) -> None:
        with self._disk_full():
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
            if self.fmt == "parquet":
                replace_file(self.out, lambda handle: journal_to_parquet(self.part, handle, self.columns),
                             binary=True, before_rename=lambda tmp: mark_written_by_tag(tmp, self.fingerprint))
                remove_own(self.part)
            else:
                mark_written_by_tag(self.part, self.fingerprint)  # the rename keeps it: FILE appears marked
                os.replace(self.part, self.out)
            remove_own(self.state_path)

    @contextlib.contextmanager
    def _disk_full(self):
        """A full disk (or quota) while writing: one line naming the file and how to go on
        (the committed rows are kept), not an internal error."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise StanceframeError(
                f"{self.part}: cannot write: {exc.strerror or exc} (disk full); the rows committed so far are kept: "
                f"free some space, then run the same command with --resume"
            ) from None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
