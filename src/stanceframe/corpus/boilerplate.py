"""Boilerplate removal: which lines are page furniture rather than article text (lone
punctuation, short newsletter / mailing-list / copyright / share footers)."""

from __future__ import annotations

import re

_LONE_PUNCTUATION = re.compile(r"^[\W_]*$")
_FOOTER = re.compile(
    r"\b(newsletter|mailing list|subscribe|unsubscribe|sign up|all rights reserved|copyright ©?|"
    r"privacy policy|cookie policy|terms of (use|service)|follow us|share this( article)?|"
    r"read more|advertisement|click here)\b",
    re.IGNORECASE,
)
FOOTER_MAX_CHARS = 100
# Every _FOOTER match contains one of these, lowercased; a line without any cannot match,
# and checking that first is an order of magnitude cheaper than the case-insensitive search.
_FOOTER_WORDS = ("newsletter", "mailing list", "subscribe", "sign up", "all rights reserved", "copyright",
                 "privacy policy", "cookie policy", "terms of ", "follow us", "share this", "read more",
                 "advertisement", "click here")
# ...except through the four non-ASCII letters that IGNORECASE matches to ASCII ones but that
# lowercase to something else (re's documentation: İ ı ſ and the Kelvin sign)
_CASE_FOLD_SPECIALS = ("\u0130", "\u0131", "\u017f", "\u212a")


def is_boilerplate(line: str) -> bool:
    """True for lines that are page furniture rather than article text: lone punctuation
    (``|``, ``---``), and short newsletter / mailing-list / copyright / share footers."""
    stripped = line.strip()
    if _LONE_PUNCTUATION.match(stripped):
        return True
    return len(stripped) <= FOOTER_MAX_CHARS and _may_be_footer(stripped) and bool(_FOOTER.search(stripped))


def _may_be_footer(text: str) -> bool:
    """False only when ``_FOOTER`` cannot match ``text``."""
    lowered = text.lower()
    return any(word in lowered for word in _FOOTER_WORDS) or any(c in text for c in _CASE_FOLD_SPECIALS)
