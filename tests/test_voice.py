"""corpus/voice.py: quotation spans (straight and typographic marks, nesting, apostrophes,
unbalanced marks, quotations over several sentences and paragraphs, transcript turns) and
each sentence's voice; its accuracy on the labelled sample of the written corpus."""

from __future__ import annotations

import pytest
from support.paths import REPO

from stanceframe.corpus import Document, segment
from stanceframe.corpus.voice import quotation_spans, sentence_voices
from stanceframe.data_build import voice_scores


def voices(text: str) -> list[tuple[str, str]]:
    """(voice, the quoted text inside the sentence) of each sentence of ``text``."""
    doc = Document("d", text)
    units = segment(doc)
    return [(v, " | ".join(text[s:e] for s, e in q)) for (v, q) in sentence_voices(doc, units)]


def quoted(text: str) -> list[str]:
    return [text[s:e] for s, e in quotation_spans(text)]


@pytest.mark.parametrize("text, spans", [
    ('He said "we will not" today.', ['"we will not"']),
    ("He said “we will not” today.", ["“we will not”"]),
    ("Er sagte „wir nicht“ heute.", ["„wir nicht“"]),
    ("Il a dit « non » hier.", ["« non »"]),
    ("She wrote 'never again' twice.", ["'never again'"]),
    ("She wrote ‘never again’ twice.", ["‘never again’"]),
    ("Russia's soldiers' kit, the '90s and don't.", []),  # apostrophes are no marks
    ('"He called it \'a hoax\' and left," she said.', ['"He called it \'a hoax\' and left,"']),  # nested: the outer one
    ("“He called it ‘a hoax’ and left,” she said.", ["“He called it ‘a hoax’ and left,”"]),
])
def test_quotation_marks(text, spans):
    assert quoted(text) == spans


def test_an_unclosed_double_quotation_runs_to_its_paragraph_end_and_a_single_one_is_dropped():
    text = 'He said "we will go. Then we stop.\n\nThe next paragraph.\n\nShe wrote \'maybe then.'
    assert quoted(text) == ['"we will go. Then we stop.']


def test_a_stray_closing_mark_without_an_open_quotation_before_it_is_ignored():
    assert quoted('No quote here." Then "a real one" follows.') == ['"a real one"']


def test_an_answer_over_paragraphs_without_opening_marks_closes_where_its_mark_is():
    text = ('- Question?\n\n"First, Russia.\n\nSecond, our companies.\n\nThird, payback."\n\n'
            '- Next question?')
    assert quoted(text) == ['"First, Russia.', "Second, our companies.\n\nThird, payback.\""]
    assert [v for v, _ in voices(text)] == ["narrator", "quote", "quote", "quote", "narrator"]


def test_the_news_convention_reopens_each_paragraph_of_a_long_quotation():
    text = '"We will not send arms.\n\n"Our line is clear," he said.\n\nThe end.'
    assert [v for v, _ in voices(text)] == ["quote", "quote", "narrator"]


@pytest.mark.parametrize("sentence, voice", [
    ('"We will never send weapons," President Yoon told reporters in Seoul on Tuesday.', "quote"),
    ('The minister said: "We will never send weapons."', "quote"),
    ('Zelensky said in his address that "every battery saves a city".', "quote"),
    ('"It is a lie," said a former ambassador, who asked not to be identified.', "quote"),
    ('"It is a lie," the envoy said, "and a provocation."', "quote"),
    ('Putin warned that it "would be a very big mistake" and said Russia would respond.', "mixed"),
    ('Putin said such a move would be a "very big mistake."', "mixed"),
    ('"It is a lie," the envoy said, adding that Seoul would regret it.', "mixed"),
    ('"It is a lie," Medvedev added, and the channels noted that he named no system.', "mixed"),
    ("Moscow calls it a 'special military operation' in every statement.", "mixed"),
    ("The Kremlin said the operation would go on until its goals were met.", "narrator"),
    ("Russia's soldiers' morale, the ministry's '90s stocks.", "narrator"),
])
def test_sentence_voice(sentence, voice):
    (got, _), = voices(sentence)
    assert got == voice


def test_quotes_are_spans_in_the_sentence_coordinates_even_across_sentences():
    text = 'Intro line.\n\n"We will go. We stop now," he said.'
    doc = Document("d", text)
    units = segment(doc)
    result = sentence_voices(doc, units)
    assert [v for v, _ in result] == ["narrator", "quote", "quote"]
    assert [[text[s:e] for s, e in q] for _, q in result] == [[], ['"We will go.'], ['We stop now,"']]
    for u, (_, q) in zip(units, result):
        assert all(u.start <= s < e <= u.end for s, e in q)


def test_transcript_turns_are_quotes_and_the_header_is_the_narrator():
    text = ("Department Press Briefing\n\nMR MILLER: Good afternoon. One item.\n\nThe Secretary met the minister.\n\n"
            "QUESTION: Did he ask Seoul?\n\nMR MILLER: Decisions for Seoul.")
    assert [v for v, _ in voices(text)] == ["narrator", "quote", "quote", "quote", "quote", "quote"]


def test_labels_need_a_question_label_in_the_document():
    text = "Fact: Russia started the war.\n\nDisinformation example: the West did."
    assert [v for v, _ in voices(text)] == ["narrator", "narrator"]


def test_a_part_of_a_large_file_gives_spans_in_the_whole_documents_coordinates():
    from stanceframe.corpus import Part

    part_text = '"We go," he said.'
    doc = Document("d", part_text, part=Part(index=1, offset=100, paragraphs=3, blank_lines=True))
    (unit,) = segment(doc)
    ((voice, quotes),) = sentence_voices(doc, [unit])
    assert voice == "quote" and quotes == [[100, 108]] and unit.start == 100


def test_accuracy_on_the_labelled_sample_of_the_written_corpus():
    """The figures docs/tagging.md reports; a change to the rules that lowers them fails."""
    scores = voice_scores(REPO / "data" / "voice" / "labels.jsonl", REPO / "data" / "written" / "articles")
    assert scores["development"]["n"] >= 300 and scores["all"]["n"] >= 450
    held = scores["held-out"]["classes"]
    assert held["narrator"]["precision"] == 1.0 and held["quote"]["recall"] >= 0.98
    assert scores["development"]["accuracy"] == 1.0
