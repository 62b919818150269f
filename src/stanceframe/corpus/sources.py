"""Opening an input: the one way every reader gets at the bytes of a file or of standard
input (:func:`open_input`, :func:`bounded_stream`). It never blocks on a FIFO that has no
writer, never reads more than :data:`MAX_STREAM_BYTES` of a pipe, a device or standard
input (their size is unknown: ``/dev/zero`` or a FIFO fed by ``yes`` never end), gives
UTF-16 text (with its byte-order mark) as UTF-8, and names a file whose name is not UTF-8
with its bytes escaped (:func:`source_name`)."""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections.abc import Callable

READ_CHUNK_BYTES = 1 << 20
MAX_STREAM_BYTES = 256 << 20  # what is read of a pipe, a device or standard input, at most
MAX_WHOLE_BYTES = 64 << 20  # a file parsed whole (HTML, Markdown, one article for inspect) larger than this is skipped
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def source_name(path) -> str:
    """``path`` as text that can be written anywhere (JSONL, CSV, a terminal): itself when
    its name is UTF-8, else its bytes that are not escaped as ``\\xNN`` (``caf\\xe9.txt``)."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def stream_cut_reason(records: bool = False) -> str:
    """The skip reason of a pipe or device not read to its end: a text is skipped whole,
    records after the bound are not read."""
    limit = MAX_STREAM_BYTES
    what = "the records after that point not read" if records else "not tagged"
    return f"not a regular file (a pipe or device) and longer than {limit >> 20} MiB: {what}"


class InputReader(io.BufferedReader):
    """A buffered binary reader over an input; ``regular``: a regular file (its size is
    known), ``kind``: what it is in words, ``cut``: True once more than the bound was there."""

    regular: bool = True
    kind: str = "file"
    _limiter: _Limited | None = None

    @property
    def cut(self) -> bool:
        return self._limiter is not None and self._limiter.cut


def open_input(path, *, limit: int | None = None) -> InputReader:
    """``path`` opened for reading as an :class:`InputReader`: a FIFO with no writer reads
    as empty instead of blocking, a non-regular file ends after ``limit`` bytes (default
    :data:`MAX_STREAM_BYTES`; then ``cut``), UTF-16 with a byte-order mark reads as UTF-8.
    A folder raises ``IsADirectoryError``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        os.set_blocking(fd, True)  # a FIFO: wait for its writer's data, not for a writer to open it
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return _reader(raw, regular=stat.S_ISREG(mode), kind=_kind(mode), limit=MAX_STREAM_BYTES if limit is None else limit)


def bounded_stream(stream, *, limit: int | None = None) -> InputReader:
    """A binary stream (standard input) read through the same rules as a path: at most
    ``limit`` bytes unless it is a regular file (``< file``), UTF-16 read as UTF-8."""
    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        regular = False
    return _reader(stream, regular=regular, kind="standard input", limit=MAX_STREAM_BYTES if limit is None else limit)


def _reader(raw, *, regular: bool, kind: str, limit: int) -> InputReader:
    limiter = None if regular else _Limited(raw, limit)
    reader = InputReader(limiter if limiter is not None else raw, READ_CHUNK_BYTES)
    head = reader.peek(2)[:2]
    if head in _UTF16_BOMS:
        decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        reader = InputReader(_Transformed(reader, lambda chunk, final: decoder.decode(chunk, final).encode()),
                             READ_CHUNK_BYTES)
    reader.regular, reader.kind, reader._limiter = regular, kind, limiter
    return reader


def cr_lines_as_lf(reader: InputReader) -> InputReader:
    """``reader`` with its line endings made ``\\n`` when it uses CR alone (old Mac files,
    some spreadsheet exports); otherwise ``reader`` itself."""
    head = reader.peek(READ_CHUNK_BYTES)
    if b"\r" not in head or b"\n" in head:
        return reader
    wrapped = InputReader(_Transformed(reader, lambda chunk, final: chunk.replace(b"\r", b"\n")), READ_CHUNK_BYTES)
    wrapped.regular, wrapped.kind, wrapped._limiter = reader.regular, reader.kind, reader._limiter
    return wrapped


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


class _Limited(io.RawIOBase):
    """At most ``limit`` bytes of ``source``; ``cut`` once a byte beyond them was seen."""

    def __init__(self, source, limit: int):
        self.source, self.left, self.cut = source, limit, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            if not self.cut and self.source.read(1):
                self.cut = True
            return 0
        data = self.source.read(min(len(buffer), self.left))
        n = len(data or b"")
        buffer[:n] = data or b""
        self.left -= n
        return n

    def close(self) -> None:
        self.source.close()
        super().close()


class _Transformed(io.RawIOBase):
    """``source``'s bytes through ``transform(chunk, final)`` (a decoder, a line-ending
    change), read in chunks."""

    def __init__(self, source, transform: Callable[[bytes, bool], bytes]):
        self.source, self.transform, self.pending, self.done = source, transform, b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and not self.done:
            chunk = self.source.read(READ_CHUNK_BYTES)
            self.done = not chunk
            self.pending = self.transform(chunk, self.done)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        self.source.close()
        super().close()


__all__ = ["MAX_STREAM_BYTES", "MAX_WHOLE_BYTES", "READ_CHUNK_BYTES", "InputReader", "bounded_stream",
           "cr_lines_as_lf", "open_input", "source_name", "stream_cut_reason"]
