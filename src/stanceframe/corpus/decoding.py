"""Bytes to text: UTF-8, else the fallback encoding with a warning naming the file and the
first bad byte; binary data refused."""

from __future__ import annotations

BINARY_SNIFF_BYTES = 8192
FALLBACK_ENCODING = "cp1252"


def not_utf8_warning(where: str, byte) -> str:
    """The warning for text that is not valid UTF-8, decoded with the fallback: ``where``
    names the file (and line), ``byte`` the first bad byte."""
    return f"{where}: not valid UTF-8 (byte {byte}); decoded as {FALLBACK_ENCODING}"


def decode_bytes(data: bytes, source: str) -> tuple[str | None, list[str], str | None]:
    """(text, warnings, skip reason). Binary data is refused; non-UTF-8 is decoded with a
    fallback and a warning."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None, [], "binary file (NUL bytes), not text"
    try:
        return data.decode("utf-8-sig"), [], None
    except UnicodeDecodeError as exc:
        return data.decode(FALLBACK_ENCODING, errors="replace"), [not_utf8_warning(source, exc.start)], None


def decode_line(raw: bytes | str, source: str, lineno: int) -> tuple[str, str | None]:
    """(text, warning) of one line: UTF-8, else the fallback encoding with a warning naming
    the file, the line and the first bad byte (as for text files)."""
    if isinstance(raw, str):
        return raw, None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        warning = not_utf8_warning(f"{source}:{lineno}", f"{exc.start} of the line")
        return raw.decode(FALLBACK_ENCODING, errors="replace"), warning
