"""Where rows go: a byte stream (stdout), or ``FILE.part`` committed window by window with
``FILE.part.json`` (the resume journal) saying how far, renamed or converted to ``FILE``
when the input ends (the package docstring has the resume design)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stanceframe.errors import StanceframeError
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
        not start (``force`` allows it) and to resume what it cannot prove is its own."""
        if force:
            self.part.unlink(missing_ok=True)
            self.state_path.unlink(missing_ok=True)
            resume = False
        state = self._read_state() if resume else None
        if resume and state is not None and not self.part.exists() and self.out.exists():
            self._check_fingerprint(state, self.out)  # finished; killed between rename and cleanup
            self.state_path.unlink()
            self.complete = True
            return None
        if state is not None and self.part.exists():
            return self._reopen(state)
        if resume and self.out.exists() and not self.part.exists():
            mark = written_by_tag(self.out)
            if mark is None:
                raise StanceframeError(
                    f"{self.out}: exists, was not written by stanceframe tag and no unfinished run of it is left, "
                    f"so there is nothing to resume; it is left as it is (--force tags again into it)"
                )
            self._check_fingerprint({"fingerprint": mark}, self.out)
            self.complete = True
            return None
        if self.part.exists() and not resume:
            raise StanceframeError(
                f"{self.part}: unfinished output of an earlier run; add --resume to complete it, "
                f"or delete {self.part} and {self.state_path.name} to start over (or add --force)"
            )
        if self.out.exists() and not force and written_by_tag(self.out) is None:
            raise StanceframeError(
                f"{self.out}: already exists and was not written by stanceframe tag; it is left as it is "
                f"(--force replaces it when the run completes, or choose another --out)"
            )
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.part, "wb")
        except OSError as exc:
            raise StanceframeError(f"{self.part}: cannot write the output here ({exc.strerror or exc}); "
                                   f"choose another --out") from None
        self.handle.write(self.encoder.header())
        self.commit(0, {})
        return None

    def _read_state(self) -> dict | None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StanceframeError(f"{self.state_path}: unreadable progress file ({exc}); delete it and "
                                   f"{self.part.name} to start over") from None
        if state.get("version") != STATE_VERSION:
            raise StanceframeError(f"{self.state_path}: unknown progress file version {state.get('version')!r}")
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
        if self.part.stat().st_size < offset:
            raise StanceframeError(f"{self.part}: shorter than its committed {offset} bytes; delete it and "
                                   f"{self.state_path.name} to start over")
        self.handle = open(self.part, "r+b")
        self.handle.truncate(offset)  # drop whatever a killed run wrote after its last commit
        self.handle.seek(offset)
        return ResumePoint(int(state["consumed"]), state.get("counts", {}))

    # -- rows
    def write(self, rows: list[dict]) -> None:
        self.handle.write(self.encoder.encode(rows))  # one write per document

    def commit(self, consumed: int, counts: dict) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        state = {"version": STATE_VERSION, "offset": self.handle.tell(), "consumed": consumed,
                 "counts": counts, "fingerprint": self.fingerprint}
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)

    # -- end
    def finish(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.handle = None
        if self.fmt == "parquet":
            tmp = self.out.with_name(self.out.name + ".tmp")
            journal_to_parquet(self.part, tmp, self.columns)
            mark_written_by_tag(tmp, self.fingerprint)
            os.replace(tmp, self.out)
            self.part.unlink()
        else:
            mark_written_by_tag(self.part, self.fingerprint)  # the rename keeps it: FILE appears marked
            os.replace(self.part, self.out)
        self.state_path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
