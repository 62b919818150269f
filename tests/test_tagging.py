"""tagging/: inputs -> sentences -> batched predictions -> rows; aggregation; writers; resume."""

from __future__ import annotations

import io
import itertools
import json
import math

import pandas as pd
import pytest
from support.tagging import ARTICLE, Crash, CrashingModel, corpus_records, read_jsonl, write_jsonl

from stanceframe.corpus import MAX_SENTENCE_CHARS, Document, segment
from stanceframe.errors import ModelFolderError, StanceframeError
from stanceframe.models.loading import load_model
from stanceframe.tagging import Tagger, run_tag
from stanceframe.tagging.rows import article_columns, article_row, sentence_columns


def tag(paths, model, **kwargs):
    """run_tag to an in-memory stdout; returns (summary, rows, stderr text)."""
    out, err = io.BytesIO(), io.StringIO()
    summary = run_tag([str(p) for p in paths], model, stdout=out, stderr=err, **kwargs)
    rows = [json.loads(line) for line in out.getvalue().decode("utf-8").splitlines()]
    return summary, rows, err.getvalue()


# --------------------------------------------------------------------------- model loading


def test_load_model_errors_are_one_line_user_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelFolderError, match="model folder not found"):
        load_model(str(tmp_path / "missing"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # makes tmp_path the project root, without models/default
    monkeypatch.setattr("stanceframe.paths.checkout_root", lambda: None)  # ...and no checkout,
    monkeypatch.setattr("stanceframe.paths.SHIPPED", tmp_path / "shipped")  # nor a shipped default
    monkeypatch.delenv("STANCEFRAME_MODEL")  # the suite's choice (conftest): here the real default is asked for
    with pytest.raises(ModelFolderError, match="no default model yet; create it with `make default-model`"):
        load_model(None)
    monkeypatch.setenv("STANCEFRAME_MODEL", "fast")
    with pytest.raises(ModelFolderError, match="the fast model is missing; rebuild it with `make fast-model`"):
        load_model(None)


def test_without_a_default_of_its_own_a_project_gets_the_shipped_one(tmp_path, monkeypatch):
    """A project folder (data/ but no models/default) falls back to the checkout's default model
    and, in an installed package, to the copy it ships: never required in the project."""
    from stanceframe.paths import checkout_root, default_model_dir

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    assert default_model_dir() == checkout_root() / "models" / "default"
    monkeypatch.setattr("stanceframe.paths.checkout_root", lambda: None)
    shipped = tmp_path / "site" / "shipped"
    (shipped / "default-model").mkdir(parents=True)
    monkeypatch.setattr("stanceframe.paths.SHIPPED", shipped)
    assert default_model_dir() == shipped / "default-model"


def test_default_model_is_models_default_of_the_project(tmp_path, monkeypatch, model_dir):
    import shutil

    (tmp_path / "data").mkdir()
    shutil.copytree(model_dir, tmp_path / "models" / "default")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STANCEFRAME_MODEL")
    assert load_model(None).family == "tfidf-logreg"


# --------------------------------------------------------------------------- rows


def test_sentence_rows_have_every_column_and_match_the_model(tmp_path, model):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    summary, rows, _ = tag([src], model)
    classes = {t: model.classes(t) for t in model.tasks}
    assert list(rows[0]) == sentence_columns(classes)
    assert list(rows[0])[:11] == ["doc_id", "id", "paragraph", "sentence", "start", "end", "text", "voice", "quotes",
                                  "stance", "framing"]
    sentences = segment(Document("a", ARTICLE))
    assert [r["id"] for r in rows] == [s.id for s in sentences] == ["a-p1-s1", "a-p2-s1", "a-p2-s2", "a-p3-s1"]
    assert [(r["start"], r["end"]) for r in rows] == [(s.start, s.end) for s in sentences]
    expected = model.predict_flat([s.text for s in sentences])
    for row, exp in zip(rows, expected):
        for key, value in exp.items():
            assert row[key] == value
        for task, labels in classes.items():
            assert math.isclose(sum(row[f"p_{task}_{lab}"] for lab in labels), 1.0, abs_tol=1e-9)
            assert row[task] == max(labels, key=lambda lab: row[f"p_{task}_{lab}"])
    assert (summary.documents, summary.sentences, summary.skipped, summary.exit_code) == (1, 4, 0, 0)


def test_batch_size_and_window_do_not_change_predictions(tmp_path, model):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(30, paragraphs=2))
    _, small, _ = tag([tmp_path / "c.jsonl"], model, batch_size=1, window_items=1, window_sentences=1)
    _, large, _ = tag([tmp_path / "c.jsonl"], model, batch_size=500)
    assert small == large
    assert len(small) == 30 * 2 * 3


def test_windows_stream_an_endless_input_with_bounded_memory(model):
    """A never-ending document stream yields windows one by one (nothing waits for the end)."""
    docs = (Document(f"d{i}", ARTICLE) for i in itertools.count())
    tagger = Tagger(model, window_items=8, window_sentences=10_000)
    windows = list(itertools.islice(tagger.windows(docs), 3))
    assert [w.consumed for w in windows] == [8, 8, 8]
    assert [r.doc.doc_id for r in windows[2].results] == [f"d{i}" for i in range(16, 24)]
    # a window also closes when its sentences reach the cap
    capped = next(Tagger(model, window_items=100, window_sentences=5).windows(Document(f"d{i}", ARTICLE) for i in itertools.count()))
    assert capped.consumed == 2  # 4 + 4 sentences >= 5


def test_rows_come_back_in_input_order_although_batches_are_sorted_by_length(model):
    long = " ".join(["The ministry repeated its position on non-lethal aid."] * 30)
    docs = [Document("x", long), Document("y", "Seoul refused."), Document("z", ARTICLE)]
    (window,) = list(Tagger(model, batch_size=2).windows(docs))
    assert [r.doc.doc_id for r in window.results] == ["x", "y", "z"]
    assert window.results[1].rows[0]["text"] == "Seoul refused."


# --------------------------------------------------------------------------- input kinds


def test_txt_md_html_files(tmp_path, model):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.md").write_text("# Seoul refuses lethal aid\n\nSouth Korea sent **humanitarian** aid only. "
                                   "See [the report](http://x.example).\n", encoding="utf-8")
    (tmp_path / "c.html").write_text("<html><head><title>T</title></head><body><nav>Home | World</nav>"
                                     "<p>Russia's special military operation continues.</p>"
                                     "<p>Seoul warned Moscow.</p><footer>Subscribe</footer></body></html>",
                                     encoding="utf-8")
    summary, rows, _ = tag([tmp_path / "a.txt", tmp_path / "b.md", tmp_path / "c.html"], model)
    texts = {r["doc_id"]: [x["text"] for x in rows if x["doc_id"] == r["doc_id"]] for r in rows}
    assert texts["b"] == ["Seoul refuses lethal aid", "South Korea sent humanitarian aid only.", "See the report."]
    assert "Russia's special military operation continues." in texts["c"]
    assert not any("Home" in t or "Subscribe" in t for t in texts["c"])
    assert summary.documents == 3 and summary.exit_code == 0


def test_folder_is_recursive_and_glob_ids_are_unique(tmp_path, model):
    for sub in ("x", "y/z"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        (tmp_path / "in" / sub / "index.txt").write_text("Seoul refused lethal aid.", encoding="utf-8")
    (tmp_path / "in" / "notes.bin").write_bytes(b"\x00\x01")  # unsupported suffix: not picked up
    _, rows, _ = tag([tmp_path / "in"], model)
    assert sorted(r["doc_id"] for r in rows) == ["x__index", "y__z__index"]
    _, rows, _ = tag([str(tmp_path / "in" / "**" / "index.txt")], model)
    assert sorted(r["doc_id"] for r in rows) == ["x__index", "y__z__index"]


def test_jsonl_rows_are_compact_utf8_and_every_float_reads_back_the_same():
    import random
    import struct

    from stanceframe.tagging.encoders import JsonlEncoder

    rng = random.Random(0)
    floats = [rng.random() for _ in range(3000)] + [rng.random() ** 30 for _ in range(3000)]
    floats += [struct.unpack("d", rng.randbytes(8))[0] for _ in range(3000)]
    floats = [f for f in floats if math.isfinite(f)] + [0.0, 1.0, 5e-324, 1e-5, 2.5e-7, 1e16, 0.1]
    rows = [{"id": f"s{i}", "text": "Seoul’s “no” — é", "p": f, "top": ["a", "b"]} for i, f in enumerate(floats)]
    data = JsonlEncoder().encode(rows)
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == len(rows) and data.endswith(b"\n")
    assert lines[0].startswith('{"id":"s0","text":"Seoul’s “no” — é","p":')  # compact, UTF-8, keys in order
    assert [json.loads(line) for line in lines] == rows  # every float exactly
    import numpy as np

    assert JsonlEncoder().encode([{"p": np.float64(0.25), "n": np.int64(3), "b": np.bool_(True)}]) == \
        b'{"p":0.25,"n":3,"b":true}\n'  # numpy scalars as json would write them


def test_jsonl_and_csv_with_named_fields(tmp_path, model):
    write_jsonl(tmp_path / "a.jsonl", [{"key": "k1", "body": ARTICLE}, {"key": "k2", "body": "Seoul refused."}])
    pd.DataFrame([{"key": "c1", "body": ARTICLE}]).to_csv(tmp_path / "b.csv", index=False)
    summary, rows, _ = tag([tmp_path / "a.jsonl", tmp_path / "b.csv"], model, text_field="body", id_field="key")
    assert sorted({r["doc_id"] for r in rows}) == ["c1", "k1", "k2"]
    assert [r["id"] for r in rows if r["doc_id"] == "k2"] == ["k2-p1-s1"]
    assert summary.documents == 3 and summary.sentences == 9


def test_stdin_text_and_stdin_jsonl(model):
    summary, rows, _ = tag(["-"], model, stdin=io.BytesIO(ARTICLE.encode()))
    assert {r["doc_id"] for r in rows} == {"stdin"} and len(rows) == 4
    lines = b'{"id": "s1", "text": "Seoul refused lethal aid."}\n{"id": "s2", "text": "Moscow warned Seoul."}\n'
    summary, rows, _ = tag(["-"], model, stdin=io.BytesIO(lines))
    assert [r["doc_id"] for r in rows] == ["s1", "s2"]


def test_unit_record_tags_each_record_whole_with_its_id(tmp_path, model):
    long_text = "First sentence here. Second sentence there. A third one."
    write_jsonl(tmp_path / "pre.jsonl", [
        {"id": "seed-p2-s1", "doc_id": "seed", "paragraph": 2, "sentence": 1, "start": 24, "end": 80,
         "text": "Seoul refused lethal aid."},
        {"id": "r2", "text": long_text},
    ])
    summary, rows, _ = tag([tmp_path / "pre.jsonl"], model, unit="record")
    assert [r["id"] for r in rows] == ["seed-p2-s1", "r2"]
    assert rows[0]["doc_id"] == "seed" and (rows[0]["paragraph"], rows[0]["start"], rows[0]["end"]) == (2, 24, 80)
    assert rows[1]["doc_id"] == "r2" and rows[1]["text"] == long_text and (rows[1]["start"], rows[1]["end"]) == (0, len(long_text))
    assert rows[1]["p_framing_neutral"] == model.predict_flat([long_text])[0]["p_framing_neutral"]
    assert summary.sentences == 2


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_is_tagged(tmp_path, model):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 owners in Seoul refused lethal aid.".encode("latin-1"))
    (tmp_path / "huge.txt").write_text("word " * 200_000, encoding="utf-8")  # one 1 MB line, no punctuation
    scripts = "".join(f"<script>var x{i} = 'lethal aid {i}';</script>" for i in range(300))
    (tmp_path / "scripts.html").write_text(f"<html><head>{scripts}</head><body>{scripts}<p>Seoul refused lethal aid."
                                           f"</p>{scripts}</body></html>", encoding="utf-8")
    (tmp_path / "only-scripts.html").write_text(f"<html><body>{scripts}</body></html>", encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"id": "ok", "text": "Seoul refused."}\nnot json\n{"id": "nt"}\n'
                                        '["a list"]\n', encoding="utf-8")
    summary, rows, err = tag(sorted(tmp_path.iterdir()), model)
    lines = err.splitlines()

    def reason(fragment):
        return [line for line in lines if fragment in line]

    assert reason(f"skipped {tmp_path / 'empty.txt'}: empty file")
    assert reason(f"skipped {tmp_path / 'binary.txt'}: binary file")
    assert reason(f"skipped {tmp_path / 'only-scripts.html'}: no article text in the page")
    assert reason(f"skipped {tmp_path / 'bad.jsonl'}:2: invalid JSON")
    assert reason(f"skipped {tmp_path / 'bad.jsonl'}:3: no 'text' field")
    assert reason(f"skipped {tmp_path / 'bad.jsonl'}:4: expected a JSON object")
    assert reason(f"warning: {tmp_path / 'latin1.txt'}: not valid UTF-8")
    by_doc = {}
    for r in rows:
        by_doc.setdefault(r["doc_id"], []).append(r)
    assert by_doc["latin1"][0]["text"] == "Café owners in Seoul refused lethal aid."
    assert [r["text"] for r in by_doc["scripts"]] == ["Seoul refused lethal aid."]
    assert len(by_doc["huge"]) >= 500 and all(len(r["text"]) <= MAX_SENTENCE_CHARS for r in by_doc["huge"])
    assert by_doc["ok"][0]["text"] == "Seoul refused."
    assert (summary.documents, summary.skipped, summary.warnings) == (4, 6, 1)
    assert summary.exit_code == 1
    assert "invalid JSON: 1" in summary.text() and "skipped 6" in summary.text()


def test_strict_skips_documents_with_warnings(tmp_path, model):
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 owners refused lethal aid.".encode("latin-1"))
    (tmp_path / "ok.txt").write_text(ARTICLE, encoding="utf-8")
    lenient, rows, _ = tag([tmp_path / "latin1.txt", tmp_path / "ok.txt"], model)
    assert lenient.exit_code == 0 and {r["doc_id"] for r in rows} == {"latin1", "ok"}
    strict, rows, err = tag([tmp_path / "latin1.txt", tmp_path / "ok.txt"], model, strict=True)
    assert strict.exit_code == 1 and {r["doc_id"] for r in rows} == {"ok"}
    assert f"skipped {tmp_path / 'latin1.txt'}: not valid UTF-8" in err and "(--strict)" in err


def test_unpaired_surrogate_escape_is_replaced_with_a_warning_naming_the_line(tmp_path, model):
    # "\\ud800" without its low half parses to a lone surrogate, which no UTF-8 writer accepts
    (tmp_path / "s.jsonl").write_text('{"id": "ok", "text": "Seoul refused."}\n'
                                      '{"id": "x\\udc00", "text": "Kyiv \\ud800 asked. Seoul refused."}\n',
                                      encoding="utf-8")
    summary, rows, err = tag([tmp_path / "s.jsonl"], model)
    assert f"warning: {tmp_path / 's.jsonl'}:2: unpaired surrogate escape \\udc00" in err
    assert (summary.documents, summary.warnings, summary.exit_code) == (2, 1, 0)
    bad = [r for r in rows if r["doc_id"] == "x\ufffd"]
    assert [r["text"] for r in bad] == ["Kyiv \ufffd asked.", "Seoul refused."]
    assert bad[1]["start"] == len("Kyiv \ufffd asked. ")  # one character for one: offsets hold
    strict, rows, err = tag([tmp_path / "s.jsonl"], model, strict=True)
    assert strict.exit_code == 1 and {r["doc_id"] for r in rows} == {"ok"}
    assert f"skipped {tmp_path / 's.jsonl'}:2: unpaired surrogate escape \\udc00 (not Unicode text) " \
           f"replaced with U+FFFD (--strict)" in err


def test_boilerplate_only_document_is_skipped(tmp_path, model):
    (tmp_path / "footer.txt").write_text("Subscribe to our newsletter\n---\n|", encoding="utf-8")
    (tmp_path / "ok.txt").write_text(ARTICLE, encoding="utf-8")
    summary, _, err = tag([tmp_path / "footer.txt", tmp_path / "ok.txt"], model)
    assert "footer.txt: no sentences" in err and summary.exit_code == 1


def test_usage_errors(tmp_path, model):
    with pytest.raises(StanceframeError, match="no input files"):
        tag([tmp_path / "nope.txt", str(tmp_path / "*.none")], model)
    with pytest.raises(StanceframeError, match="Parquet cannot stream to stdout"):
        tag([tmp_path], model, fmt="parquet")
    with pytest.raises(StanceframeError, match="--resume needs --out"):
        tag([tmp_path], model, resume=True)
    with pytest.raises(StanceframeError, match="--per article"):
        tag([tmp_path], model, per="article", unit="record")
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    summary, rows, err = tag([tmp_path / "a.txt", tmp_path / "missing.txt"], model)
    assert summary.exit_code == 1 and "missing.txt: no such file" in err and len(rows) == 4


# --------------------------------------------------------------------------- per article


def test_per_article_rows(tmp_path, model):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(5, paragraphs=4, per_paragraph=4))
    _, sentences, _ = tag([tmp_path / "c.jsonl"], model)
    _, articles, _ = tag([tmp_path / "c.jsonl"], model, per="article")
    classes = {t: model.classes(t) for t in model.tasks}
    assert list(articles[0]) == article_columns(classes)
    assert [a["doc_id"] for a in articles] == [f"art{i:05d}" for i in range(5)]
    for art in articles:
        rows = [r for r in sentences if r["doc_id"] == art["doc_id"]]
        assert art["n_sentences"] == len(rows) == 16
        for task, labels in classes.items():
            assert sum(art[f"n_{task}_{lab}"] for lab in labels) == 16
            assert math.isclose(sum(art[f"share_{task}_{lab}"] for lab in labels), 1.0)
            for lab in labels:
                assert math.isclose(art[f"mean_p_{task}_{lab}"], sum(r[f"p_{task}_{lab}"] for r in rows) / 16)
                predicted = sorted((r for r in rows if r[task] == lab), key=lambda r: -r[f"p_{task}_{lab}"])
                assert art[f"top_{task}_{lab}"] == [r["id"] for r in predicted[:3]]


def test_article_row_of_a_hand_made_document():
    rows = [
        {"id": "d-p1-s1", "framing": "western", "p_framing_western": 0.9, "p_framing_neutral": 0.1},
        {"id": "d-p1-s2", "framing": "neutral", "p_framing_western": 0.4, "p_framing_neutral": 0.6},
        {"id": "d-p2-s1", "framing": "western", "p_framing_western": 0.7, "p_framing_neutral": 0.3},
    ]
    row = article_row(Document("d", "x", "d.txt"), rows, {"framing": ["neutral", "western"]})
    assert row["n_framing_western"] == 2 and math.isclose(row["share_framing_western"], 2 / 3)
    assert math.isclose(row["mean_p_framing_western"], 2.0 / 3)
    assert row["top_framing_western"] == ["d-p1-s1", "d-p2-s1"] and row["top_framing_neutral"] == ["d-p1-s2"]


def test_rows_carry_each_sentences_voice_and_its_quotations_in_every_format(tmp_path, model):
    text = ('Seoul weighs its options.\n\n"We will not send arms. Our line holds," the minister said.\n\n'
            'Moscow called it a "provocation" on Friday.')
    (tmp_path / "q.txt").write_text(text, encoding="utf-8")
    _, rows, _ = tag([tmp_path / "q.txt"], model)
    assert [r["voice"] for r in rows] == ["narrator", "quote", "quote", "mixed"]
    assert [[text[s:e] for s, e in r["quotes"]] for r in rows] == [
        [], ['"We will not send arms.'], ['Our line holds,"'], ['"provocation"']]
    out = tmp_path / "q.csv"
    run_tag([str(tmp_path / "q.txt")], model, out=out, fmt="csv")
    assert pd.read_csv(out)["quotes"].fillna("").tolist() == ["", "27-50", "51-67", *[f"{s}-{e}" for s, e in rows[3]["quotes"]]]
    run_tag([str(tmp_path / "q.txt")], model, out=tmp_path / "q.parquet", fmt="parquet")
    assert pd.read_parquet(tmp_path / "q.parquet")["quotes"].map(lambda q: [list(s) for s in q]).tolist() == [
        r["quotes"] for r in rows]
    _, (article,), _ = tag([tmp_path / "q.txt"], model, per="article")
    assert (article["n_voice_narrator"], article["n_voice_quote"], article["n_voice_mixed"]) == (1, 2, 1)
    for voice in ("narrator", "quote", "mixed"):
        mine = [r for r in rows if r["voice"] == voice]
        for label in model.classes("framing"):
            assert article[f"share_framing_{label}_{voice}"] == sum(r["framing"] == label for r in mine) / len(mine)


# --------------------------------------------------------------------------- files and resume


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_file_formats_hold_the_same_rows(tmp_path, model, fmt):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(12))
    _, expected, _ = tag([tmp_path / "c.jsonl"], model)
    out = tmp_path / f"out.{fmt}"
    summary = run_tag([str(tmp_path / "c.jsonl")], model, out=out, fmt=fmt)
    assert summary.exit_code == 0 and out.exists()
    assert not out.with_name(out.name + ".part").exists() and not out.with_name(out.name + ".part.json").exists()
    frame = {  # pandas' exact float parsing: the files hold the model's doubles
        "jsonl": lambda p: pd.read_json(p, lines=True, precise_float=True),
        "csv": pd.read_csv,
        "parquet": pd.read_parquet,
    }[fmt](out)
    assert list(frame.columns) == list(expected[0])
    assert len(frame) == len(expected)
    assert frame["id"].tolist() == [r["id"] for r in expected]
    assert frame["p_framing_western"].tolist() == [r["p_framing_western"] for r in expected]
    assert frame["text"].tolist() == [r["text"] for r in expected]


def test_parquet_article_rows_keep_lists(tmp_path, model):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(4))
    run_tag([str(tmp_path / "c.jsonl")], model, out=tmp_path / "a.parquet", fmt="parquet", per="article")
    frame = pd.read_parquet(tmp_path / "a.parquet")
    assert len(frame) == 4 and all(isinstance(list(v), list) for v in frame["top_framing_neutral"])
    assert str(frame["n_sentences"].dtype) == "int64"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, model, fmt):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(40))
    (tmp_path / "bad.jsonl").write_text("not json\n", encoding="utf-8")
    inputs = [str(tmp_path / "bad.jsonl"), str(tmp_path / "c.jsonl")]
    whole = tmp_path / f"whole.{fmt}"
    run_tag(inputs, model, out=whole, fmt=fmt, window_items=8, batch_size=4)

    out = tmp_path / f"out.{fmt}"
    part, state = out.with_name(out.name + ".part"), out.with_name(out.name + ".part.json")
    with pytest.raises(Crash):
        run_tag(inputs, CrashingModel(model, calls=30), out=out, fmt=fmt, window_items=8, batch_size=4)
    assert not out.exists() and part.exists() and json.loads(state.read_text())["consumed"] > 0
    with open(part, "ab") as handle:  # what a killed run may leave after its last commit
        handle.write(b'{"doc_id": "art00017", "id": "torn')

    with pytest.raises(StanceframeError, match="add --resume"):
        run_tag(inputs, model, out=out, fmt=fmt, window_items=8, batch_size=4)
    summary = run_tag(inputs, model, out=out, fmt=fmt, window_items=8, batch_size=4, resume=True)
    assert summary.resumed_items > 0
    assert (summary.documents, summary.skipped, summary.exit_code) == (40, 1, 1)  # counts include the earlier run
    assert out.read_bytes() == whole.read_bytes()
    assert not part.exists() and not state.exists()

    again = run_tag(inputs, model, out=out, fmt=fmt, resume=True)  # FILE is marked as this command's output
    assert again.already_complete and again.exit_code == 0 and out.read_bytes() == whole.read_bytes()


def test_resume_refuses_a_different_command(tmp_path, model):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(20))
    out = tmp_path / "out.jsonl"
    with pytest.raises(Crash):
        run_tag([str(tmp_path / "c.jsonl")], CrashingModel(model, calls=3), out=out, window_items=4)
    with pytest.raises(StanceframeError, match="differs in: per"):
        run_tag([str(tmp_path / "c.jsonl")], model, out=out, per="article", resume=True)
    summary = run_tag([str(tmp_path / "c.jsonl")], model, out=out, resume=True, window_items=4)
    assert len(read_jsonl(out)) == 20 * 9 and summary.exit_code == 0


def test_segmentation_workers_write_what_the_in_process_path_writes(tmp_path, model, monkeypatch):
    """Reading and splitting in forked worker processes (two by default on 2+ cores, each
    taking every other chunk of input items) gives the same bytes as doing it in this
    process, with JSONL records, text files a worker does not read, bad inputs and resume."""
    import stanceframe.tagging.inputs as inputs
    import stanceframe.tagging.run as tag_run

    records = corpus_records(60, paragraphs=3, per_paragraph=4)
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:30]) + "not json\n"
                                 + "".join(json.dumps(r) + "\n" for r in records[30:]), encoding="utf-8")
    for i, r in enumerate(records[:40]):  # 40 one-item files: whole chunks of them belong to one worker
        (src / f"t{i:02d}.txt").write_text(r["text"], encoding="utf-8")
    (src / "u.txt").write_bytes(b"\x00binary")
    started = []
    original = tag_run.prepared_in_workers
    monkeypatch.setattr(tag_run, "prepared_in_workers", lambda *a: started.append(a[2]) or original(*a))
    log = tmp_path / "reads.log"  # appended to by the worker processes too
    real_read_path = inputs.read_path

    def logged_read_path(path, **kw):
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{path}\n")
        return real_read_path(path, **kw)

    monkeypatch.setattr(inputs, "read_path", logged_read_path)
    outputs = {}
    for workers in (0, 1, 2, 3):
        out = tmp_path / f"out-{workers}.jsonl"
        summary = run_tag([str(src)], model, out=out, workers=workers, window_items=7)
        assert (summary.documents, summary.skipped) == (100, 2)
        assert summary.segmentation_workers == workers
        outputs[workers] = out.read_bytes()
    assert started == [1, 2, 3]
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3] and len(outputs[0].splitlines()) > 100 * 10
    reads = log.read_text(encoding="utf-8").splitlines()
    assert reads.count(str(src / "t00.txt")) == 4  # once per run: only the worker of its chunk read it
    assert reads.count(str(src / "a.jsonl")) == 1 + 1 + 2 + 3  # a record file is read by every worker

    for workers in (1, 2):
        out = tmp_path / f"resumed-{workers}.jsonl"
        with pytest.raises(Crash):
            run_tag([str(src)], CrashingModel(model, calls=4), out=out, workers=workers, window_items=7,
                    batch_size=16)
        run_tag([str(src)], model, out=out, workers=workers, window_items=7, batch_size=16, resume=True)
        assert out.read_bytes() == outputs[0]


def test_segmentation_workers_setting(monkeypatch):
    from stanceframe.tagging.parallel import segmentation_workers

    monkeypatch.setenv("STANCEFRAME_SEGMENT_WORKERS", "3")
    assert segmentation_workers("document") == 3
    assert segmentation_workers("document", workers=0) == 0  # the argument wins
    assert segmentation_workers("record") == 0  # records are not split
    monkeypatch.setenv("STANCEFRAME_SEGMENT_WORKERS", "0")
    assert segmentation_workers("document") == 0
    monkeypatch.delenv("STANCEFRAME_SEGMENT_WORKERS")
    assert segmentation_workers("document") in (0, 1)  # one when a core is idle


def test_batches_predicted_side_by_side_give_the_rows_of_one_at_a_time():
    """A torch model's batches run two at a time (one torch thread each, the default on
    2+ cores): the same probabilities, bit for bit, in the same order as in turn."""
    from stanceframe.benchmarks.speed import untrained_finetune_bundle
    from stanceframe.tagging.parallel import torch_threads

    model = untrained_finetune_bundle({"stance": ["none", "restraint", "support"], "framing": ["neutral", "western"]})
    texts = [r["text"] for r in corpus_records(20, paragraphs=1, per_paragraph=3)] + ["Short.", "A bit longer one."]
    tagger = Tagger(model, batch_size=8)
    with torch_threads(1):
        tagger.inference_threads = 1
        in_turn = tagger.predict(texts)
        tagger.inference_threads = 2
        side_by_side = tagger.predict(texts)
    tagger.close()
    assert side_by_side == in_turn and len(in_turn) == len(texts)
    assert model.prediction_columns == ["stance", "framing", "p_stance_none", "p_stance_restraint", "p_stance_support",
                                        "p_framing_neutral", "p_framing_western"]
    assert all(len(values) == 7 for values in in_turn)


def test_other_runnable_threads_sees_busy_processes():
    """The worker decision counts other work that wants a CPU now (not this process's own
    recent past, which the load average remembers): two spinning processes are seen."""
    import subprocess
    import sys

    from stanceframe.tagging.parallel import other_runnable_threads

    spin = "import time\nend = time.time() + 20\nwhile time.time() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        import time

        time.sleep(0.5)
        assert other_runnable_threads() >= 1
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert other_runnable_threads() >= 0


def test_default_batch_size_is_per_model_kind(model):
    """Torch networks get small padded batches; the linear families larger calls (same rows,
    see test_batch_size_and_window_do_not_change_predictions); an explicit size wins."""
    from stanceframe.benchmarks.speed import untrained_finetune_bundle
    from stanceframe.tagging import DEFAULT_BATCH_SIZE, UNPADDED_BATCH_SIZE

    assert Tagger(model).batch_size == UNPADDED_BATCH_SIZE > DEFAULT_BATCH_SIZE
    assert Tagger(model, batch_size=4).batch_size == 4
    transformer = untrained_finetune_bundle({"stance": ["none", "support"]})
    assert Tagger(transformer).batch_size == DEFAULT_BATCH_SIZE


def test_transformer_batches_are_sorted_by_tokens_not_characters():
    """Batches are padded to their longest input in tokens, so tag sorts a transformer
    model's inputs by token count (truncated at max_length); other families by characters."""
    from stanceframe.benchmarks.speed import untrained_finetune_bundle

    model = untrained_finetune_bundle({"stance": ["none", "support"]})
    est = model.estimators["stance"]
    texts = ["a b c d e f g h", "Internationalisation", "word " * 200]
    lengths = model.sort_lengths(texts)
    assert lengths == [len(est.tokenizer_(t, truncation=True, max_length=est.max_length)["input_ids"]) for t in texts]
    assert lengths[0] > lengths[1] and len(texts[0]) < len(texts[1])  # the orders disagree here
    assert lengths[2] == est.max_length
    from stanceframe.models import make_estimator

    assert make_estimator("tfidf-logreg").sort_lengths(texts) == [len(t) for t in texts]
