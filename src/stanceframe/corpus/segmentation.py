"""Paragraph and sentence splitting of a document, with stable sentence ids: what
:func:`segment` makes of a :class:`~stanceframe.corpus.records.Document`.

A sentence's id is ``<doc_id>-p<paragraph>-s<n>``: ``paragraph`` is the 1-based index of
the paragraph among the non-empty paragraphs of the document's text (counted before
boilerplate is dropped, so editing the filter never renumbers the article), ``n`` the
1-based index of the sentence inside its paragraph. ``start``/``end`` are character
offsets into :attr:`Document.text` (for .txt files, the decoded file itself).
"""

from __future__ import annotations

import re

from stanceframe.corpus.boilerplate import is_boilerplate
from stanceframe.corpus.punkt import sentence_tokenizer
from stanceframe.corpus.records import Document, Sentence

# A sentence longer than this is cut into pieces so that one run-on "sentence" (a huge
# single-line file without punctuation) cannot blow up memory or the encoder.
MAX_SENTENCE_CHARS = 2000

# "no" is not among Punkt's abbreviations (see punkt._EXTRA_ABBREVIATIONS): as one it glues
# "He said no. Then he left." into one sentence. "No. 5" is mended instead: a break between
# "No." and a number is undone.
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


# --------------------------------------------------------------------------- paragraphs

BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")  # a paragraph break


def paragraph_spans(text: str, blank_lines: bool | None = None) -> list[tuple[int, int]]:
    """Spans of the non-empty paragraphs: blocks between blank lines when the text has any,
    else one paragraph per line (one-paragraph-per-line files such as the seed article).
    ``blank_lines``: the rule, when the text is a part of a larger document (its own)."""
    if blank_lines if blank_lines is not None else BLANK_LINE.search(text):
        separators = [(m.start(), m.end()) for m in BLANK_LINE.finditer(text)]
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
                clean = " ".join(raw.split())  # = re.sub(r"\s+", " ", raw).strip(), faster
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
