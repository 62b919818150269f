"""Text shown to a person (tables, messages on stderr) with control characters escaped.

An article's text or a file name can hold terminal escape sequences (``ESC [ 2 J``...),
newlines that fake extra message lines, or Unicode bidi overrides that reorder what is
displayed. What is printed for a person shows each such character as a visible escape
(``\\x1b``, ``\\n``, ``\\u202e``); data files (JSONL, CSV, Parquet) keep the exact text.
"""

from __future__ import annotations

# C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate characters
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
             0x200E, 0x200F, 0x061C]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_MESSAGE_TABLE = {code: _escape(code) for code in _CONTROLS}


def printable(text: object) -> str:
    """``text`` as one line safe to print on a terminal: every control character (newlines
    and tabs included) and bidi control shown as a visible escape, and a backslash that
    would make an escape ambiguous left as is (a name with a literal ``\\n`` shows that)."""
    return str(text).translate(_MESSAGE_TABLE)
