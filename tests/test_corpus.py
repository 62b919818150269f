"""corpus: sentence splitting on hard cases, stable ids and spans, the boilerplate filter,
the readers (.txt/.md/.html/JSONL/CSV, bad encodings, binary and empty files) and input expansion."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from stanceframe.corpus import (
    MAX_SENTENCE_CHARS,
    Document,
    Skipped,
    expand_inputs,
    is_boilerplate,
    read_documents_strict,
    read_path,
    read_stdin,
    segment,
)
from stanceframe.errors import DataFileError


def texts(text: str, doc_id: str = "doc") -> list[str]:
    return [s.text for s in segment(Document(doc_id, text))]


def only_document(path, **kwargs) -> Document:
    items = list(read_path(path, **kwargs))
    assert len(items) == 1, items
    assert isinstance(items[0], Document), items[0]
    return items[0]


# --------------------------------------------------------------------------- splitter

HARD_CASES = {
    "us-mid-sentence": (
        "Russia and North Korea denied the move, while the U.S. Pentagon has yet to confirm it. "
        "The soldiers are in training.",
        ["Russia and North Korea denied the move, while the U.S. Pentagon has yet to confirm it.",
         "The soldiers are in training."],
    ),
    "us-and-uk": (
        "The U.S. and the U.K. sent aid. Seoul did not.",
        ["The U.S. and the U.K. sent aid.", "Seoul did not."],
    ),
    "month-abbreviation": (
        "Troops began arriving as of Oct. 8 and more are expected. Officials confirmed it.",
        ["Troops began arriving as of Oct. 8 and more are expected.", "Officials confirmed it."],
    ),
    "month-abbreviation-at-end": (
        "It was Oct. 8. The troops arrived.",
        ["It was Oct. 8.", "The troops arrived."],
    ),
    "mr": (
        "Mr. Yoon spoke to Rutte by phone. He raised the troop dispatch.",
        ["Mr. Yoon spoke to Rutte by phone.", "He raised the troop dispatch."],
    ),
    "dr-and-mr": (
        "Mr. Yoon met Dr. Kim in Seoul. They talked for an hour.",
        ["Mr. Yoon met Dr. Kim in Seoul.", "They talked for an hour."],
    ),
    "dr-at-start": (
        "Dr. Smith arrived late. He spoke briefly.",
        ["Dr. Smith arrived late.", "He spoke briefly."],
    ),
    "initials": (
        "J. R. R. Tolkien wrote it. Nobody doubts that.",
        ["J. R. R. Tolkien wrote it.", "Nobody doubts that."],
    ),
    "straight-quotes": (
        'He said "no." Then he left.',
        ['He said "no."', "Then he left."],
    ),
    "curly-quotes": (
        "He said \u201cno.\u201d Then he left.",
        ["He said \u201cno.\u201d", "Then he left."],
    ),
    "curly-quote-with-mr-inside": (
        "Zelenskyy said \u201cThank you, Mr President.\u201d He left.",
        ["Zelenskyy said \u201cThank you, Mr President.\u201d", "He left."],
    ),
    "single-quotes": (
        "He said 'no.' Then he left.",
        ["He said 'no.'", "Then he left."],
    ),
    "question-in-quotes": (
        'She asked "why?" Nobody answered.',
        ['She asked "why?"', "Nobody answered."],
    ),
    "exclamation-in-quotes": (
        'He shouted "Stop!" Then he ran.',
        ['He shouted "Stop!"', "Then he ran."],
    ),
    "no-as-a-word": (
        "He said no. Then he left.",
        ["He said no.", "Then he left."],
    ),
    "no-then-capital-no": (
        "The answer was no. No one disagreed.",
        ["The answer was no.", "No one disagreed."],
    ),
    "number-sign": (
        "The envoy lives at No. 5 Embassy Row. It is guarded.",
        ["The envoy lives at No. 5 Embassy Row.", "It is guarded."],
    ),
    "number-sign-at-start": (
        "He lost it. No. 5 was gone.",
        ["He lost it.", "No. 5 was gone."],
    ),
    "decimals": (
        "Seoul pledged 2.5 million dollars in 2023. The sum rose to 3.1 million later.",
        ["Seoul pledged 2.5 million dollars in 2023.", "The sum rose to 3.1 million later."],
    ),
    "decimals-with-currency": (
        "Aid reached $2.5 million, up from 1.2 million. Kyiv welcomed it.",
        ["Aid reached $2.5 million, up from 1.2 million.", "Kyiv welcomed it."],
    ),
    "ellipsis-inside-quote": (
        'Kim praised Putin for his "correct decision and guidance... to foil the threats." '
        "The leader promised support.",
        ['Kim praised Putin for his "correct decision and guidance... to foil the threats."',
         "The leader promised support."],
    ),
    "ellipsis-then-question": (
        "Wait... what did he mean? Nobody knows!",
        ["Wait... what did he mean?", "Nobody knows!"],
    ),
    "unicode-ellipsis": (
        "He paused\u2026 then continued. It was late.",
        ["He paused\u2026 then continued.", "It was late."],
    ),
    "question-and-exclamation": (
        "Will Seoul send shells? Not yet! The debate goes on.",
        ["Will Seoul send shells?", "Not yet!", "The debate goes on."],
    ),
    "interrobang": (
        "Is Seoul ready?! Officials would not say.",
        ["Is Seoul ready?!", "Officials would not say."],
    ),
}


@pytest.mark.parametrize("text, expected", list(HARD_CASES.values()), ids=list(HARD_CASES))
def test_splitter_hard_cases(text, expected):
    assert texts(text) == expected


def test_splitter_keeps_a_sentence_across_line_breaks_of_one_paragraph():
    text = "Seoul said it would\nreview the policy. Moscow warned\nagainst it.\n\nNext paragraph."
    assert texts(text) == ["Seoul said it would review the policy.", "Moscow warned against it.", "Next paragraph."]


def test_overlong_run_on_sentence_is_cut_into_bounded_pieces():
    text = " ".join(["word"] * 1500)  # ~7500 characters, no punctuation
    sentences = segment(Document("doc", text))
    assert len(sentences) >= 4
    assert all(s.end - s.start <= MAX_SENTENCE_CHARS for s in sentences)
    assert " ".join(s.text for s in sentences) == text


# --------------------------------------------------------------------------- ids, spans, paragraphs


ARTICLE = (
    "Seoul weighs arms for Kyiv\n\n"
    "The U.S. Pentagon has yet to confirm it.  Mr. Yoon said on Oct. 8 that Seoul\n"
    "would not sit and watch. \u201cWe will respond,\u201d he said.\n\n"
    "Moscow warned of a \"big mistake.\" Kyiv welcomed the review.\n"
)


def test_ids_follow_doc_paragraph_sentence():
    sentences = segment(Document("art", ARTICLE))
    assert [s.id for s in sentences] == [
        "art-p1-s1",
        "art-p2-s1", "art-p2-s2", "art-p2-s3",
        "art-p3-s1", "art-p3-s2",
    ]
    assert all(s.doc_id == "art" for s in sentences)
    assert [(s.paragraph, s.sentence) for s in sentences] == [(1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2)]
    assert sentences[2].text == "Mr. Yoon said on Oct. 8 that Seoul would not sit and watch."


def test_same_input_same_ids_and_spans_every_time(tmp_path):
    path = tmp_path / "art.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    first = [s.to_dict() for s in segment(only_document(path))]
    second = [s.to_dict() for s in segment(only_document(path))]
    assert first == second
    assert [s["id"] for s in first][0] == "art-p1-s1"


@pytest.mark.parametrize("footer", [
    "\nJoin the GlobalSecurity.org mailing list |\n",
    "\n\nNEWSLETTER\n|\n",
    "\n\n---\n\u00a9 2024 All rights reserved\n",
])
def test_boilerplate_added_at_the_end_changes_no_id_or_span(footer):
    before = [s.to_dict() for s in segment(Document("art", ARTICLE))]
    after = [s.to_dict() for s in segment(Document("art", ARTICLE.rstrip("\n") + footer))]
    assert after == before


def test_boilerplate_added_at_the_end_of_a_one_line_per_paragraph_file():
    text = "Seoul weighs arms.\nThe U.S. Pentagon has yet to confirm it. Kyiv waits.\n"
    before = [s.to_dict() for s in segment(Document("art", text))]
    after = [s.to_dict() for s in segment(Document("art", text + "Join the GlobalSecurity.org mailing list |\n"))]
    assert after == before
    assert [s["id"] for s in before] == ["art-p1-s1", "art-p2-s1", "art-p2-s2"]


def test_span_text_whitespace_normalised_equals_sentence_text():
    text = ("  Seoul   weighs\tarms.  The U.S.\nPentagon has yet to confirm it.\n\n"
            "\u201cNo comment,\u201d   said Mr. Kim.\r\n\r\nDr. Lee left on Oct. 8.  ")
    sentences = segment(Document("d", text))
    assert [s.text for s in sentences] == [
        "Seoul weighs arms.", "The U.S. Pentagon has yet to confirm it.",
        "\u201cNo comment,\u201d said Mr. Kim.", "Dr. Lee left on Oct. 8.",
    ]
    for s in sentences:
        assert " ".join(text[s.start:s.end].split()) == s.text
        assert text[s.start:s.end] == text[s.start:s.end].strip()  # no stray whitespace in a span
    ends = [(s.start, s.end) for s in sentences]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ends, ends[1:]))


def test_spans_point_into_the_decoded_txt_file(tmp_path):
    path = tmp_path / "art.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    raw = path.read_text(encoding="utf-8")
    for s in segment(only_document(path)):
        assert " ".join(raw[s.start:s.end].split()) == s.text


def test_paragraphs_are_blocks_between_blank_lines_when_there_are_any():
    text = "A one. A two.\nA three on the next line.\n\nB one.\n   \nC one."
    sentences = segment(Document("d", text))
    assert [(s.paragraph, s.text) for s in sentences] == [
        (1, "A one."), (1, "A two."), (1, "A three on the next line."), (2, "B one."), (3, "C one."),
    ]


def test_paragraphs_are_lines_in_a_one_paragraph_per_line_file():
    text = "A one. A two.\nB one.\nC one. C two.\n"
    assert [s.id for s in segment(Document("d", text))] == ["d-p1-s1", "d-p1-s2", "d-p2-s1", "d-p3-s1", "d-p3-s2"]


def test_windows_line_endings_give_the_same_ids():
    unix = "A one. A two.\nB one.\n"
    windows = unix.replace("\n", "\r\n")
    assert [(s.id, s.text) for s in segment(Document("d", windows))] == \
        [(s.id, s.text) for s in segment(Document("d", unix))]


# --------------------------------------------------------------------------- boilerplate


@pytest.mark.parametrize("line", [
    "NEWSLETTER",
    "Join the GlobalSecurity.org mailing list |",
    "|",
    "---",
    "  *  ",
    "Subscribe to our newsletter",
    "\u00a9 2024 All rights reserved",
])
def test_boilerplate_lines_are_dropped(line):
    assert is_boilerplate(line)
    text = f"Seoul will review its policy.\n{line}\nKyiv welcomed the review."
    assert texts(text) == ["Seoul will review its policy.", "Kyiv welcomed the review."]


@pytest.mark.parametrize("line", [
    "The ministry said in its weekly newsletter that South Korea would not provide lethal weapons "
    "to Ukraine under any circumstances this year.",
    "Seoul will send aid.",
    "Korea - World War III.2",
])
def test_article_lines_are_kept(line):
    assert not is_boilerplate(line)
    assert texts(line) == [line]


def test_footer_prefilter_decides_as_the_case_insensitive_pattern_alone():
    """is_boilerplate skips _FOOTER's search when no footer word is in the lowercased line;
    that shortcut must never change the answer, whatever the case or the letters that
    IGNORECASE folds to ASCII (the Kelvin sign, dotless i, long s, dotted I)."""
    import random

    from stanceframe.corpus.boilerplate import _FOOTER, _LONE_PUNCTUATION, FOOTER_MAX_CHARS

    def pattern_alone(line):
        s = line.strip()
        return bool(_LONE_PUNCTUATION.match(s)) or (len(s) <= FOOTER_MAX_CHARS and bool(_FOOTER.search(s)))

    words = ["newsletter", "Mailing List", "UNSUBSCRIBE", "sign up", "Sign  up", "all rights reserved", "Copyright \u00a9",
             "terms of use", "Terms of Service", "share this article", "click here", "\u017fubscribe", "\u212aelvin",
             "pr\u0130vacy policy", "cl\u0131ck here", "the", "war", "|", "---"]
    rng = random.Random(0)
    decided = set()
    for _ in range(5000):
        line = " ".join(rng.choice(words) if rng.random() < 0.5 else
                        "".join(rng.choice("abc\u017f\u0131\u0130\u212a\u00e9 \u00a9-") for _ in range(rng.randint(0, 6)))
                        for _ in range(rng.randint(0, 5)))
        line = line.upper() if rng.random() < 0.3 else line
        assert is_boilerplate(line) == pattern_alone(line), line
        decided.add(is_boilerplate(line))
    assert decided == {True, False}


def test_sentence_whitespace_is_collapsed_for_every_unicode_space():
    spaces = "".join(chr(i) for i in range(0x3000 + 1) if chr(i).isspace() and chr(i) not in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    assert texts(f"Seoul{spaces}will{spaces}review it.") == ["Seoul will review it."]


def test_boilerplate_inside_a_paragraph_does_not_join_the_text_around_it():
    text = "Seoul will review its policy\nNEWSLETTER\nKyiv welcomed the review"
    assert texts(text) == ["Seoul will review its policy", "Kyiv welcomed the review"]


# --------------------------------------------------------------------------- readers


def test_txt_reader(tmp_path):
    path = tmp_path / "Seoul Report 1.txt"
    path.write_text("Seoul weighs arms.\nKyiv waits.\n", encoding="utf-8")
    doc = only_document(path)
    # spaces are not safe in an id: the safe form plus the name's hash (a-b.txt keeps "a-b")
    assert doc.doc_id == "Seoul-Report-1-" + hashlib.sha256(b"Seoul Report 1").hexdigest()[:8]
    assert doc.text == "Seoul weighs arms.\nKyiv waits.\n"
    assert doc.source == str(path)
    assert doc.warnings == []


def test_txt_reader_strips_a_utf8_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffSeoul weighs arms.".encode("utf-8"))
    assert only_document(path).text == "Seoul weighs arms."


def test_markdown_markup_is_stripped(tmp_path):
    path = tmp_path / "note.md"
    path.write_text(
        "# Seoul weighs arms\n\n"
        "South Korea **may** send [shells](https://example.com/shells) to *Ukraine*.\n\n"
        "```python\nprint(\"not article text\")\n```\n\n"
        "## Reactions\n\n"
        "- Moscow called it a `big mistake`.\n"
        "- Kyiv welcomed it.\n\n"
        "> A quoted line from the ministry.\n",
        encoding="utf-8",
    )
    doc = only_document(path)
    for markup in ("#", "**", "](", "https://", "```", "print(", "`", "> "):
        assert markup not in doc.text
    assert texts(doc.text) == [
        "Seoul weighs arms",
        "South Korea may send shells to Ukraine.",
        "Reactions",
        "Moscow called it a big mistake.",
        "Kyiv welcomed it.",
        "A quoted line from the ministry.",
    ]


def test_markdown_list_after_a_paragraph_stays_a_separate_paragraph(tmp_path):
    path = tmp_path / "list.md"
    path.write_text("Seoul listed its options\n\n- send shells\n- lend shells\n", encoding="utf-8")
    sentences = segment(only_document(path))
    assert [(s.paragraph, s.text) for s in sentences] == [(1, "Seoul listed its options"),
                                                          (2, "send shells lend shells")]


def test_html_text_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Page title</title><style>p { color: red }</style>"
        "<script>var hidden = 'script text';</script></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/news'>News</a></nav>"
        "<p>Seoul &amp; Kyiv agreed to expand cooperation.</p>"
        "<p>The deal is &ldquo;historic&rdquo;, officials said. It takes effect in May.</p>"
        "<footer>Subscribe to our newsletter &copy; 2024</footer>"
        "<script>console.log('more script')</script></body></html>",
        encoding="utf-8",
    )
    doc = only_document(path)
    for hidden in ("script text", "color: red", "Home", "News", "Subscribe", "more script", "<p>", "&amp;"):
        assert hidden not in doc.text
    sentences = segment(doc)
    assert [(s.id, s.text) for s in sentences] == [
        ("page-p1-s1", "Seoul & Kyiv agreed to expand cooperation."),
        ("page-p2-s1", "The deal is \u201chistoric\u201d, officials said."),
        ("page-p2-s2", "It takes effect in May."),
    ]


def test_html_links_and_inline_markup_add_no_space_before_punctuation(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<p>Seoul refused <a href='/x'>lethal aid</a>, given the <b>risk</b>. It said <i>no</i>.</p>"
                    "<p>One line<br>and the next<span>, joined</span>.</p>", encoding="utf-8")
    text = only_document(path).text  # trafilatura's main text: one line per paragraph or line break
    assert text.splitlines() == ["Seoul refused lethal aid, given the risk. It said no.", "One line",
                                 "and the next, joined."]
    assert " ," not in text and " ." not in text


def test_jsonl_with_named_text_and_id_fields(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text(
        json.dumps({"key": "x1", "body": "Seoul weighs arms. Kyiv waits.", "target": "Ukraine"}) + "\n"
        "\n"
        + json.dumps({"key": "x2", "body": "Moscow warned Seoul."}) + "\n"
        + json.dumps({"body": "No id here."}) + "\n"
        + json.dumps({"key": "x4", "text": "wrong field"}) + "\n"
        + "{not json\n"
        + json.dumps({"key": "x6", "body": "   "}) + "\n",
        encoding="utf-8",
    )
    items = list(read_path(path, text_field="body", id_field="key"))
    docs = [i for i in items if isinstance(i, Document)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [(d.doc_id, d.line, d.text) for d in docs] == [
        ("x1", 1, "Seoul weighs arms. Kyiv waits."),
        ("x2", 3, "Moscow warned Seoul."),
        ("feed-4", 4, "No id here."),
    ]
    assert docs[0].meta["target"] == "Ukraine"
    assert "body" not in docs[0].meta
    assert [(s.line, s.source) for s in skipped] == [(5, str(path)), (6, str(path)), (7, str(path))]
    assert "'body'" in skipped[0].reason
    assert "invalid JSON" in skipped[1].reason
    assert "empty" in skipped[2].reason
    assert str(skipped[1]).startswith(f"{path}:6: ")
    assert [s.id for s in segment(docs[0])] == ["x1-p1-s1", "x1-p1-s2"]


def test_csv_with_named_text_and_id_fields(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text('ref,content,date\nk1,"Seoul, cautiously, weighs arms. Kyiv waits.",2024-06-20\nk2,Moscow warned Seoul.,\n',
                    encoding="utf-8")
    docs = list(read_path(path, text_field="content", id_field="ref"))
    assert all(isinstance(d, Document) for d in docs)
    assert [(d.doc_id, d.line, d.text) for d in docs] == [
        ("k1", 2, "Seoul, cautiously, weighs arms. Kyiv waits."),
        ("k2", 3, "Moscow warned Seoul."),
    ]
    assert docs[0].meta["date"] == "2024-06-20"
    assert texts(docs[0].text) == ["Seoul, cautiously, weighs arms.", "Kyiv waits."]


def test_csv_row_with_too_many_fields_is_skipped_with_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,text\na,Fine.\nb,Too,many\n", encoding="utf-8")
    items = list(read_path(path))
    assert isinstance(items[0], Document)
    assert isinstance(items[1], Skipped) and items[1].line == 3


def test_non_utf8_file_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\u00e9 owners in Seoul said no. They \u201cwaited\u201d.".encode("cp1252"))
    doc = only_document(path)
    assert doc.text == "Caf\u00e9 owners in Seoul said no. They \u201cwaited\u201d."
    assert len(doc.warnings) == 1
    assert str(path) in doc.warnings[0] and "UTF-8" in doc.warnings[0]


def test_binary_file_is_skipped_with_a_reason(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    [item] = list(read_path(path))
    assert isinstance(item, Skipped)
    assert item.source == str(path)
    assert "binary" in item.reason
    with pytest.raises(DataFileError, match="binary"):
        read_documents_strict(path)


@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n"])
def test_empty_file_is_skipped(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    [item] = list(read_path(path))
    assert isinstance(item, Skipped)
    assert "empty" in item.reason


def test_unreadable_path_is_skipped_not_raised(tmp_path):
    [item] = list(read_path(tmp_path / "gone.txt"))
    assert isinstance(item, Skipped)
    assert "cannot read" in item.reason


def test_read_stdin_text_and_jsonl():
    [doc] = list(read_stdin(stream=io.BytesIO(b"Seoul weighs arms. Kyiv waits.")))
    assert doc.doc_id == "stdin"
    assert texts(doc.text) == ["Seoul weighs arms.", "Kyiv waits."]
    lines = io.BytesIO((json.dumps({"id": "a", "text": "One."}) + "\n" + json.dumps({"id": "b", "text": "Two."}) + "\n").encode())
    docs = list(read_stdin(stream=lines, fmt="jsonl"))
    assert [(d.doc_id, d.text) for d in docs] == [("a", "One."), ("b", "Two.")]


# --------------------------------------------------------------------------- expand_inputs


def test_expand_inputs_folder_is_recursive_and_sorted(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub" / "deeper").mkdir(parents=True)
    (corpus / "b.txt").write_text("B.")
    (corpus / "a.md").write_text("A.")
    (corpus / "sub" / "c.html").write_text("<p>C.</p>")
    (corpus / "sub" / "deeper" / "d.jsonl").write_text('{"text": "D."}\n')
    (corpus / "sub" / "e.csv").write_text("text\nE.\n")
    (corpus / "picture.png").write_bytes(b"\x89PNG\x00")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    found = list(expand_inputs([str(corpus)]))
    assert all(not isinstance(f, Skipped) for f in found)
    rel = [f.relative_to(corpus).as_posix() for f, _ in found]
    assert rel == ["a.md", "b.txt", "sub/c.html", "sub/deeper/d.jsonl", "sub/e.csv"]
    assert all(root == corpus for _, root in found)
    html_path, root = found[2]
    assert only_document(html_path, root=root).doc_id == "sub__c"


def test_expand_inputs_globs_files_and_missing_paths(tmp_path):
    (tmp_path / "one.txt").write_text("One.")
    (tmp_path / "two.txt").write_text("Two.")
    (tmp_path / "three.md").write_text("Three.")
    found = list(expand_inputs([str(tmp_path / "*.txt"), str(tmp_path / "missing.txt"), str(tmp_path / "three.md")]))
    files = [f for f in found if not isinstance(f, Skipped)]
    missing = [f for f in found if isinstance(f, Skipped)]
    assert [p.name for p, _ in files] == ["one.txt", "two.txt", "three.md"]
    assert len(missing) == 1
    assert missing[0].source == str(tmp_path / "missing.txt")
    assert "no such file" in missing[0].reason


def test_expand_inputs_deduplicates_a_file_named_twice(tmp_path):
    (tmp_path / "one.txt").write_text("One.")
    found = list(expand_inputs([str(tmp_path), str(tmp_path / "one.txt"), str(tmp_path / "*.txt")]))
    assert [p.name for p, _ in found] == ["one.txt"]


def test_expand_inputs_passes_stdin_through():
    assert [p for p, _ in expand_inputs(["-"])] == [__import__("pathlib").Path("-")]


@pytest.mark.parametrize("hash_seed", ["1", "3"])  # nltk's regexes differ by hash seed ("?!" / "!?")
def test_fast_punkt_splits_exactly_like_nltk(hash_seed):
    """The tokenizer behind split_sentences gives nltk Punkt's spans on the repo's text and
    on random text dense with abbreviations, initials, numbers, quotes, brackets, ellipses
    and odd whitespace (run in a fresh process per hash seed)."""
    import subprocess
    import sys
    from pathlib import Path

    script = f"""
import json, random
from nltk.tokenize.punkt import PunktSentenceTokenizer
from stanceframe.corpus.punkt import punkt_parameters, sentence_tokenizer
fast, slow = sentence_tokenizer(), PunktSentenceTokenizer(punkt_parameters())  # nltk's own, same parameters
assert fast._shortcuts, "the shortcuts are off: nltk's regexes changed"
root = {str(Path(__file__).resolve().parents[1])!r}
texts = open(root + "/seeds/seed-korea-ww3.txt", encoding="utf-8").read().split("\\n")
for name in ("seed/labels.jsonl", "contrast/contrast.jsonl"):
    texts += [json.loads(l)["text"] for l in open(root + "/data/" + name, encoding="utf-8") if l.strip()]
words = " ".join(texts).split()
tricky = ["U.S.", "No.", "no.", "Mr.", "J.", "5.", "...", "..", "?", "!", "?!", '"', "'", ")", "(", "e.g.", "Inc.",
          "St.", "a.", "A.", "--", "\\u201c", "\\u201d", "\\xab", "\\xbb", ";", ":", ",", ".", "1990s.", "vs.", "p.m.",
          "S.", "Bach", "The", "the", "In", "it.", "ex-U.S.", "[", "]", "\\u2019", "etc.", "\\u2026", "A.B.", "(a)",
          '?"', '."', ".)", "!'", "i.", "II.", "Nos.", "\\u00e9.", "e\\u0301."]
seps = [" ", " ", " ", "", "  ", "\\n", "\\t", "\\u00a0", "\\x1c", "\\r\\n", " \\n \\n", "\\u2029", "\\x0c"]
rng = random.Random(7)
for a, b in sorted(fast._params.collocations)[:300]:  # word pairs that make "a. b" an abbreviation
    texts += [f"It was {{a}}. {{b}} said.", f"It was {{a.capitalize()}}. {{b.capitalize()}} said."]
for _ in range(4000):
    k = rng.randint(1, 30)
    texts.append("".join((rng.choice(tricky) if rng.random() < 0.35 else rng.choice(words)) + rng.choice(seps)
                         for _ in range(k)))
bad = [t for t in texts if list(fast.span_tokenize(t)) != list(slow.span_tokenize(t))]
assert not bad, bad[:3]
print(len(texts))
"""
    env = {**__import__("os").environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 4000
