"""Whose voice a sentence is in: the narrator's, a quotation's, or both (``mixed``), with
the character spans of the quotations, found in the text around the sentence (a quotation
often runs over several sentences and paragraphs).

What counts as a quotation (the reading rules of ``data/voice/labels.jsonl``):

- words between quotation marks: straight (``"`` ``'``) and typographic (“ ” „ ‘ ’ ‚ « » ‹ ›
  「 」 『 』); nested quotations count as the outermost one; an apostrophe (``Russia's``,
  ``soldiers'``, ``'90s``) is not a mark;
- a double quotation left open runs to the end of its paragraph; when a later paragraph (up
  to :data:`CONTINUATION_PARAGRAPHS` on) then closes a quotation it never opened, the
  quotation runs on through it (an interview answer whose middle paragraphs lack the
  opening mark); a single quotation left open is dropped (it is more likely an apostrophe);
- in a transcript or interview (a document with at least one ``Q:`` / ``Question:``
  paragraph), each speaker's turn: from after ``NAME:`` / ``Q:`` / ``A:`` to the next label.

A sentence is ``quote`` when its words are all quoted, or when what is left outside the
quotation is only an attribution (``"...," the minister said``; ``X said: "..."``; a speaker
label); ``mixed`` when it holds quoted words beside the narrator's own (a partial quote, a
term in scare quotes, a quote followed by ``, adding that ...``); ``narrator`` otherwise,
indirect speech included (a paraphrase is in the narrator's words). spaCy or textacy would
need an English model package, which the project cannot install offline, and a parse per
sentence would cost tag most of its speed; this is a scan of the marks, linear in the text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from stanceframe.corpus.records import Document, Sentence
from stanceframe.corpus.segmentation import paragraph_spans

NARRATOR, QUOTE, MIXED = "narrator", "quote", "mixed"
VOICES = (NARRATOR, QUOTE, MIXED)
CONTINUATION_PARAGRAPHS = 5  # how far on an unclosed quotation may find its closing mark
ATTRIBUTION_WORDS = 25  # an attribution left outside a quotation is at most this long
MOSTLY_QUOTED = 0.8  # share of a sentence's letters inside quotations that makes it a quote anyway

DOUBLE, SINGLE = "double", "single"
_MARKS = re.compile("[\"'“”„‟«»‘’‚‹›「」『』]")
_OPEN_BEFORE = set("([{<—–-/") | set("\"'“”„‟«»‘’‚‹›「」『』")  # after these, a mark may open
_CLOSE_AFTER = set(".,;:!?)]}>…—–-/") | set("\"'“”„‟«»‘’‚‹›「」『』")  # before these, a mark may close
_REPORTING = re.compile(
    r"\b(?:sa(?:id|ys|y|ying)|tell(?:s|ing)?|told|add(?:ed|s|ing)?|ask(?:ed|s)?|stat(?:ed|es)|declar(?:ed|es)|"
    r"not(?:ed|es)|stress(?:ed|es)|warn(?:ed|s)|insist(?:ed|s)|wr(?:ote|ites|iting)|repl(?:ied|ies)|"
    r"answer(?:ed|s)?|explain(?:ed|s)|claim(?:ed|s)|argu(?:ed|es)|continu(?:ed|es)|conclud(?:ed|es)|"
    r"emphasi[sz](?:ed|es)|according|quot(?:ed|es|ing)|remark(?:ed|s)|recall(?:ed|s)|announc(?:ed|es)|"
    r"comment(?:ed|s)|urg(?:ed|es)|vow(?:ed|s)|promis(?:ed|es)|pointed|underlin(?:ed|es)|assert(?:ed|s)|"
    r"acknowledg(?:ed|es)|admit(?:ted|s)|reiterat(?:ed|es)|tweet(?:ed|s)|posted|cautioned|thundered|"
    r"reads|read|put it)\b", re.IGNORECASE)
_OWN_CLAUSE = re.compile(r",\s*(?:and|but|while|whereas)\s|;|\badding\b|\bbefore\s+\w+ing\b", re.IGNORECASE)
_QUESTION_LABEL = re.compile(r"(?:Q|Q\.|Question|QUESTION)\s*:\s")
_SPEAKER_LABEL = re.compile(r"(?:Q|A|Q\.|A\.|[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3})\s*:\s+(?=\S)")


def _role(char: str, before: str, after: str, open_kinds: list[str], top: str | None) -> tuple[str, str] | None:
    """(``open`` | ``close``, kind) of the mark ``char`` between ``before`` and ``after``
    (``" "`` at a paragraph's edge), or None when it is no quotation mark here."""
    left = not after.isspace() and (before.isspace() or before in _OPEN_BEFORE)  # may open
    right = not before.isspace() and (after.isspace() or after in _CLOSE_AFTER)  # may close
    if char in "'’‘‚‹›『』":
        if before.isalnum() and after.isalnum():
            return None  # Russia's, don't
        if char in "‘‚‹『":
            return ("open", SINGLE)
        if char in "›』":
            return ("close", SINGLE) if SINGLE in open_kinds else None
        if left and not right:
            return None if after.isdigit() else ("open", SINGLE)  # '90s
        if right and not left:
            return ("close", SINGLE) if SINGLE in open_kinds else None  # soldiers' kit
        return ("close", SINGLE) if top == SINGLE else None
    if char in "„‟「":
        return ("open", DOUBLE)
    if char == "」":
        return ("close", DOUBLE)
    if char == "“":
        if top == "„" or (right and not left and DOUBLE in open_kinds):
            return ("close", DOUBLE)
        return ("open", DOUBLE)
    if char in "”»":
        if DOUBLE in open_kinds:
            return ("close", DOUBLE)
        return ("open", DOUBLE) if left else None  # Swedish ”...”, Danish »...«
    if char == "«":
        return ("close", DOUBLE) if top == "»" and right else ("open", DOUBLE)
    # the straight double quote
    if left and not right:
        return ("open", DOUBLE)
    if right and not left:
        return ("close", DOUBLE) if DOUBLE in open_kinds else ("stray", DOUBLE)
    if left and right:
        return ("close", DOUBLE) if DOUBLE in open_kinds else ("open", DOUBLE)
    return None


def _scan_paragraph(text: str, start: int, end: int):
    """The outermost quotations closed inside ``text[start:end]``; where an unclosed double
    quotation starts (or None); where a closing mark without its opening mark is, when it
    comes before any opening mark (or None)."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int, str]] = []  # (kind, position, mark)
    stray_close = None
    seen_open = False
    for m in _MARKS.finditer(text, start, end):
        i, char = m.start(), m.group()
        before = text[i - 1] if i > start else " "
        after = text[i + 1] if i + 1 < end else " "
        role = _role(char, before, after, [k for k, _, _ in stack], stack[-1][2] if stack else None)
        if role is None:
            continue
        action, kind = role
        if action == "open":
            stack.append((kind, i, char))
            seen_open = True
            continue
        depth = next((d for d in range(len(stack) - 1, -1, -1) if stack[d][0] == kind), None)
        if depth is None:
            if kind == DOUBLE and not seen_open and stray_close is None:
                stray_close = i + 1
            continue
        if depth == 0:
            spans.append((stack[0][1], i + 1))
        del stack[depth:]
    unclosed = next((pos for kind, pos, _ in stack if kind == DOUBLE), None)
    return spans, unclosed, stray_close


def _speaker_turns(text: str, paragraphs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each turn of a transcript or interview, from after its label to the next label (none
    unless some paragraph starts with a question label)."""
    if not any(_QUESTION_LABEL.match(text, s, e) for s, e in paragraphs):
        return []
    turns: list[list[int]] = []
    for s, e in paragraphs:
        label = _SPEAKER_LABEL.match(text, s, e)
        if label:
            turns.append([label.end(), e])
        elif turns:
            turns[-1][1] = e
    return [(a, b) for a, b in turns]


def quotation_spans(text: str, blank_lines: bool | None = None) -> list[tuple[int, int]]:
    """The quotations of ``text`` (a document), sorted and disjoint, as (start, end) offsets;
    ``blank_lines``: the document's paragraph rule when ``text`` is a part of it."""
    paragraphs = paragraph_spans(text, blank_lines)
    scanned = [_scan_paragraph(text, s, e) for s, e in paragraphs]
    spans: list[tuple[int, int]] = []
    for p, ((_, p_end), (closed, unclosed, _)) in enumerate(zip(paragraphs, scanned)):
        spans += closed
        if unclosed is None:
            continue
        spans.append((unclosed, p_end))
        for q in range(p + 1, min(p + 1 + CONTINUATION_PARAGRAPHS, len(paragraphs))):
            q_closed, q_unclosed, q_stray = scanned[q]
            if q_stray is not None:  # the quotation goes on until this closing mark
                spans.append((paragraphs[p + 1][0], q_stray))
                break
            if q_closed or q_unclosed is not None:
                break  # the next mark opens a quotation of its own
    return _merge(spans + _speaker_turns(text, paragraphs))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _letters(text: str) -> int:
    return sum(c.isalnum() for c in text)


def classify(text: str, start: int, end: int, spans: Sequence[tuple[int, int]],
             starts: Sequence[int] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The voice of the sentence ``text[start:end]`` given the document's
    :func:`quotation_spans` (``starts``: their start offsets, for a bisect), and the parts
    of the quotations inside the sentence."""
    starts = starts if starts is not None else [s for s, _ in spans]
    k = max(bisect_right(starts, start) - 1, 0)
    inside = []
    while k < len(spans) and spans[k][0] < end:
        s, e = max(spans[k][0], start), min(spans[k][1], end)
        if s < e and _letters(text[s:e]):
            inside.append((s, e))
        k += 1
    if not inside:
        return NARRATOR, []
    total = _letters(text[start:end])
    outside, pos = [], start
    for s, e in inside:
        outside.append(text[pos:s])
        pos = e
    outside.append(text[pos:end])
    rest = " ".join(outside)
    quoted = total - _letters(rest)
    if quoted == total or _attribution_only(text, start, end, inside, outside, rest):
        return QUOTE, inside
    return (QUOTE if quoted >= MOSTLY_QUOTED * total else MIXED), inside


def _attribution_only(text, start, end, inside, outside, rest) -> bool:
    """Whether the words left outside the quotations only say who spoke: the quotation
    opens or closes the sentence as a clause (``"...," X said``; ``X said: "..."``;
    ``X said that "..."``), and the rest holds a reporting verb or a label's colon, is short,
    and adds no clause of its own (``, adding that``, ``, and``)."""
    lead, tail = outside[0], outside[-1]
    first_s, first_e = inside[0]
    last_s, last_e = inside[-1]
    opens = not _letters(lead) and (_ends_clause(text, first_s, first_e) or len(inside) > 1)
    before = lead.rstrip() if _letters(lead) else ""
    closes = not _letters(tail) and (before.endswith((":", ",")) or re.search(r"\bthat$", before) is not None
                                     or (bool(before) and _REPORTING.search(before.split()[-1]) is not None))
    if not (opens or closes):
        return False
    words = re.findall(r"\w+", rest)
    if len(words) > ATTRIBUTION_WORDS or _OWN_CLAUSE.search(rest):
        return False
    return bool(_REPORTING.search(rest)) or ":" in rest or not words


def _ends_clause(text: str, s: int, e: int) -> bool:
    """Whether the quotation ``text[s:e]`` ends with a clause's punctuation (inside or just
    after its closing mark): ``"We will," he said`` but not ``"big mistake" if``."""
    inner = text[s:e].rstrip("\"'“”„‟«»‘’‚‹›「」『』 ")
    after = text[e:e + 1]
    return inner.endswith((",", ".", "?", "!", "…", "—", "–", "-", ":")) or after in (",", ".", "?", "!", "—", ":")


def record_voice(text: str, offset: int = 0) -> tuple[str, list[list[int]]]:
    """``(voice, quotes)`` of a record tagged whole (``tag --unit record``): its own text is
    all the context there is; ``offset``: the record's ``start`` in its document."""
    spans = quotation_spans(text)
    voice, inside = classify(text, 0, len(text), spans)
    return voice, [[s + offset, e + offset] for s, e in inside]


def sentence_voices(doc: Document, sentences: Sequence[Sentence]) -> list[tuple[str, list[list[int]]]]:
    """``(voice, quotes)`` of each of ``doc``'s sentences; ``quotes`` are the [start, end]
    offsets of the quotations inside the sentence, in the sentences' own coordinates (those
    of ``start`` and ``end``: the whole document's for a part of a large file)."""
    if not sentences:
        return []
    offset = doc.part.offset if doc.part is not None else 0
    spans = quotation_spans(doc.text, doc.part.blank_lines if doc.part is not None else None)
    starts = [s for s, _ in spans]
    out = []
    for u in sentences:
        voice, inside = classify(doc.text, u.start - offset, u.end - offset, spans, starts)
        out.append((voice, [[s + offset, e + offset] for s, e in inside]))
    return out
