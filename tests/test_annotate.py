"""The annotation session, store, queue, export and import, in process (the app's HTTP and
browser tests are in test_annotate_http.py and test_annotate_browser.py)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from support.annotate import write_articles
from support.cli import run_cli

from stanceframe.annotate.export import export_labels, import_labels
from stanceframe.annotate.queue import Queue, margins, ranking
from stanceframe.annotate.serve import open_session, safe_settings
from stanceframe.annotate.store import Store
from stanceframe.corpus import segment
from stanceframe.dataset import load_labelled
from stanceframe.errors import ServeSafetyError, StanceframeError
from stanceframe.tagging import iter_documents, resolve_inputs

TASKS = ["stance", "framing"]


@pytest.fixture
def articles(tmp_path):
    return write_articles(tmp_path / "articles")


def session_for(articles, store, annotator="alice", model=None, **kw):
    return open_session([str(articles)], store, annotator, model=model, **kw)


def test_sentences_are_the_segmenters_own(articles, tmp_path, model):
    session = session_for(articles, tmp_path / "s.sqlite", model=model)
    expected = [s for d in iter_documents(resolve_inputs([str(articles)])) for s in segment(d)]
    assert [(s.id, s.start, s.end, s.text) for s in session.rows] == [(s.id, s.start, s.end, s.text) for s in expected]
    assert session.rows[0].id == "alpha-p1-s1" and len(session.rows) == 11
    suggestion = session.state()["item"]["suggestion"]
    assert set(suggestion) == set(TASKS) and 0 < suggestion["stance"]["p"] <= 1


def test_label_accept_undo_skip_and_progress(articles, tmp_path, model):
    s = session_for(articles, tmp_path / "s.sqlite", model=model)
    first = s.current()
    state = s.label(first, "stance", "restraint")
    assert state["item"]["id"] == first and state["item"]["chosen"] == {"stance": "restraint"}  # one task still open
    state = s.label(first, "framing", "neutral")
    second = state["item"]["id"]
    assert second != first and state["progress"]["labelled"] == 1
    sug = s.suggestion(second)
    state = s.accept(second)  # the suggestion on both tasks
    assert s.store.answers("alice")["alice"][second] == {t: sug[t].label for t in TASKS}
    third = state["item"]["id"]
    s.skip(third)
    assert s.current() not in (first, second, third)
    state = s.undo()  # undoes the skip: back to the third
    assert state["item"]["id"] == third
    state = s.undo()  # undoes the accept (both tasks at once): back to the second, unlabelled
    assert state["item"]["id"] == second and state["item"]["chosen"] == {}
    assert state["progress"]["labelled"] == 1
    assert state["progress"]["counts"]["stance"] == {"restraint": 1}
    assert state["progress"]["articles"][0] == {"doc_id": "alpha", "labelled": 1, "total": 6}
    history = s.store.history("alice")
    assert [h["action"] for h in history] == ["label", "label", "accept", "accept", "skip"]
    assert [h["undone"] for h in history] == [0, 0, 1, 1, 1]
    shown = [h for h in history if h["action"] == "label"]
    assert shown[0]["suggested"] == s.suggestion(first)["stance"].label and shown[0]["suggested_p"] > 0


def test_undo_of_a_relabel_restores_the_earlier_label(articles, tmp_path):
    s = session_for(articles, tmp_path / "s.sqlite")
    sid = s.current()
    s.label(sid, "stance", "support")
    s.label(sid, "stance", "none")
    s.undo()
    assert s.store.answers("alice")["alice"][sid] == {"stance": "support"}


def test_a_skipped_sentence_comes_back_at_the_end(articles, tmp_path):
    s = session_for(articles, tmp_path / "s.sqlite")
    first = s.current()
    s.skip(first)
    for sid in [r.id for r in s.rows][1:]:
        s.label(sid, "stance", "none")
        s.label(sid, "framing", "neutral")
    assert s.current() == first
    with pytest.raises(StanceframeError):
        s.label(first, "stance", "maybe")
    with pytest.raises(StanceframeError):
        s.accept(first)  # no model, no suggestion to accept


def test_restart_continues_where_each_annotator_stopped(articles, tmp_path, model):
    store = tmp_path / "s.sqlite"
    a = session_for(articles, store, "alice", model=model)
    for _ in range(3):
        a.accept(a.current())
    a.label(a.current(), "stance", "support")  # half-labelled: the next session starts on it
    half = a.current()
    a.store.close()
    b = session_for(articles, store, "bob", model=model)
    b.accept(b.current())
    b.store.close()
    again = session_for(articles, store, "alice", model=model)
    assert again.current() == half and again.state()["progress"]["labelled"] == 3
    assert again.state()["item"]["chosen"] == {"stance": "support"}
    bob = session_for(articles, store, "bob", model=model)
    assert bob.state()["progress"]["labelled"] == 1 and bob.current() == "alpha-p2-s1"
    assert len(bob.store.sentences()) == 11  # reopening adds no sentence twice


def test_store_is_wal_and_every_press_is_committed(articles, tmp_path):
    s = session_for(articles, tmp_path / "s.sqlite")
    s.label(s.current(), "stance", "none")
    other = sqlite3.connect(tmp_path / "s.sqlite")  # another connection sees it at once
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT annotator, label FROM answers").fetchall() == [("alice", "none")]


def test_export_is_the_labelled_format_train_reads(articles, tmp_path, model):
    store = tmp_path / "s.sqlite"
    a = session_for(articles, store, "alice", model=model)
    for _ in range(4):
        a.accept(a.current())
    ids = [r.id for r in a.rows[:4]]
    b = session_for(articles, store, "bob", model=model)
    b.label(ids[0], "stance", "support" if a.store.answers()["alice"][ids[0]]["stance"] != "support" else "none")
    b.label(ids[0], "framing", a.store.answers()["alice"][ids[0]]["framing"])
    b.accept(ids[1])
    out = tmp_path / "labels.jsonl"
    summary = export_labels(a.store, out, TASKS)
    assert summary.written == 3 and summary.unresolved == [ids[0]] and summary.unlabelled == 7
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ids[1:4]
    assert set(rows[0]) == {"id", "doc_id", "paragraph", "text", "stance", "framing", "source"}
    a.store.adjudicate(ids[0], "stance", "restraint", "carol")
    assert export_labels(a.store, out, TASKS).written == 4
    data = load_labelled(out)
    assert data.ids == ids and data.labels("stance")[0] == "restraint" and data.docs[0] == "alpha"
    result = run_cli("data", "stats", out)
    assert result.code == 0, result.err
    assert "restraint" in result.out


def test_import_existing_labels_then_export_round_trip(tmp_path):
    labels = tmp_path / "old.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "x-p1-s1", "doc_id": "x", "paragraph": 1, "text": "Seoul sends shells.", "stance": "support",
         "framing": "neutral"},
        {"id": "x-p2-s1", "doc_id": "x", "paragraph": 2, "text": "The NWO goes on.", "stance": "none",
         "framing": "russian"}]))
    store = Store(tmp_path / "s.sqlite")
    assert import_labels(store, labels, "legacy") == 2
    assert store.undo("legacy") is None  # imports are not key presses
    out = tmp_path / "back.jsonl"
    assert export_labels(store, out, TASKS).written == 2
    back = load_labelled(out)
    assert back.ids == ["x-p1-s1", "x-p2-s1"] and back.labels("framing") == ["neutral", "russian"]
    assert back.groups == ["x#p1", "x#p2"]


def test_import_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x", "stance": "none", "framing": "neutral"}\n{"id": "b", "text": "y", '
                   '"stance": "maybe", "framing": "neutral"}\n')
    result = run_cli("annotate", "import", "--store", tmp_path / "s.sqlite", bad)
    assert result.code == 2 and f"{bad}:2" in result.err


def test_export_of_a_missing_store_is_one_line(tmp_path):
    result = run_cli("annotate", "export", "--store", tmp_path / "nope.sqlite", "--out", tmp_path / "o.jsonl")
    assert result.code == 2 and result.err.count("\n") == 1 and "nope.sqlite" in result.err


def test_a_bad_input_file_is_named_with_its_line_and_skipped(articles, tmp_path):
    (articles / "feed.jsonl").write_text('{"id": "r1", "text": "Kyiv asks for shells."}\nnot json\n')
    (articles / "blob.txt").write_bytes(b"\x00\x01binary")
    lines = []
    s = open_session([str(articles)], tmp_path / "s.sqlite", "alice", log=lines.append)
    assert any(f"{articles / 'feed.jsonl'}:2: invalid JSON" in line for line in lines)
    assert any("blob.txt" in line and "binary" in line for line in lines)
    assert "r1-p1-s1" in s.ids and len(s.ids) == 12


def test_nothing_readable_is_one_error(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(StanceframeError, match="nothing to annotate"):
        open_session([str(tmp_path / "empty.txt")], tmp_path / "s.sqlite", "alice")


def test_a_port_in_use_is_one_line(articles, tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("annotate", articles, "--store", tmp_path / "s.sqlite", "--no-model", "--port", port)
    assert result.code == 2 and result.err.count("\n") == 1 and "another --port" in result.err


def test_a_token_is_required_on_loopback_too_unless_no_token():
    for host in ("127.0.0.1", "0.0.0.0"):
        generated = safe_settings(host, 8000, None)
        assert generated.token and len(generated.token) >= 16 and f"?token={generated.token}" in generated.url()
    assert safe_settings("127.0.0.1", 8000, None, no_token=True).token is None
    for host, token, no_token in (("0.0.0.0", "short", False), ("127.0.0.1", "caf\u00e9" * 8, False),
                                  ("127.0.0.1", "a b" * 8, False), ("0.0.0.0", None, True),
                                  ("127.0.0.1", "x" * 20, True)):
        with pytest.raises(ServeSafetyError):
            safe_settings(host, 8000, token, no_token=no_token)


def test_a_non_ascii_token_is_one_line_exit_2(articles, tmp_path):
    result = run_cli("annotate", articles, "--store", tmp_path / "s.sqlite", "--no-model", "--token", "\u00e9" * 20)
    assert result.code == 2 and result.err.count("\n") == 1 and "--token" in result.err
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was read or written


# --------------------------------------------------------------------------- the page's key presses


def three_sentences(tmp_path):
    folder = tmp_path / "three"
    folder.mkdir()
    (folder / "a.txt").write_text("Seoul refuses lethal aid. It warns Moscow. Poland asks for shells.\n")
    return folder


def test_a_press_for_a_sentence_no_longer_shown_is_refused(tmp_path):
    from stanceframe.errors import AnnotationStaleError

    s = session_for(three_sentences(tmp_path), tmp_path / "s.sqlite")
    first, second = s.ids[0], s.ids[1]
    s.label(first, "stance", "support")
    s.label(first, "stance", "support")  # the same sentence, still on screen: fine
    state = s.label(first, "framing", "western")
    assert state["item"]["id"] == second and state["saved"] == f"saved: framing = western on {first}"
    for press in (lambda: s.label(first, "framing", "western"), lambda: s.skip(first),
                  lambda: s.label(s.ids[2], "stance", "none")):
        with pytest.raises(AnnotationStaleError, match=f"now {second}"):
            press()
    assert s.store.answers()["alice"] == {first: {"stance": "support", "framing": "western"}}


def test_skip_cycles_through_the_skipped_ones(tmp_path):
    s = session_for(three_sentences(tmp_path), tmp_path / "s.sqlite")
    shown = []
    for _ in range(7):
        shown.append(s.current())
        s.skip(s.current())
    assert shown == s.ids + s.ids + s.ids[:1]
    assert "only skipped sentences are left (3)" in s.state()["item"]["why"]
    for sid in s.ids[1:]:
        while s.current() != sid:
            s.skip(s.current())
        s.label(sid, "stance", "none")
        s.label(sid, "framing", "neutral")
    presses = len(s.store.history("alice"))
    state = s.skip(s.ids[0])  # the only one left: nothing to cycle to, nothing stored
    assert "the only sentence left" in state["saved"] and len(s.store.history("alice")) == presses


def test_undo_says_what_it_undid(tmp_path):
    s = session_for(three_sentences(tmp_path), tmp_path / "s.sqlite")
    assert s.undo()["saved"] == "nothing to undo"
    s.label(s.ids[0], "stance", "restraint")
    assert s.undo()["saved"] == f"undid: stance = restraint on {s.ids[0]}"
    s.skip(s.ids[0])
    assert s.undo()["saved"] == f"undid: the skip of {s.ids[0]}"


def test_the_order_switches_in_the_page_and_says_why(articles, tmp_path, model):
    s = session_for(articles, tmp_path / "s.sqlite", model=model)
    state = s.state()
    assert state["order"] == "article" and state["item"]["why"] == "next in article order"
    state = s.set_order("uncertain")
    assert state["order"] == "uncertain" and state["item"]["id"] == s.queue.ranked()[0]
    assert state["item"]["why"].startswith("uncertain order: the model is least sure of it (margin ")
    assert "not refitted yet" in state["refit"]
    assert s.set_order("diverse")["item"]["why"].startswith("diverse order")
    with pytest.raises(StanceframeError, match="unknown order"):
        s.set_order("random")


def test_a_sentence_cut_by_the_segmenter_is_marked(tmp_path):
    folder = tmp_path / "long"
    folder.mkdir()
    (folder / "a.txt").write_text(" ".join(["word"] * 700) + ".\n")  # 3,500 characters, no sentence end
    s = session_for(folder, tmp_path / "s.sqlite")
    state = s.state()
    assert len(state["item"]["text"]) > 1000 and state["item"]["cut"] is True
    assert [c["current"] for c in state["item"]["context"]] == [True, False]


def test_export_source_tells_single_agreed_and_adjudicated_apart(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add_sentences([{"id": f"x-p1-s{i}", "doc_id": "x", "paragraph": 1, "text": f"Sentence {i}."}
                         for i in (1, 2, 3)])
    both = {"stance": "none", "framing": "neutral"}
    store.press("alice", "x-p1-s1", "label", both)                       # one annotator
    store.press("alice", "x-p1-s2", "label", both)                       # two who agree
    store.press("bob", "x-p1-s2", "label", both)
    store.press("alice", "x-p1-s3", "label", both)                       # two who disagree, settled
    store.press("bob", "x-p1-s3", "label", {**both, "stance": "support"})
    store.adjudicate("x-p1-s3", "stance", "support", "carol")
    out = tmp_path / "labels.jsonl"
    assert export_labels(store, out, TASKS).written == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["source"]) for r in rows] == [("x-p1-s1", "single"), ("x-p1-s2", "agreed"),
                                                      ("x-p1-s3", "adjudicated")]
    assert load_labelled(out).examples[2].source == "adjudicated"


@pytest.mark.parametrize("command", ["agreement", "export"])
def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path, command):
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()
    before = foreign.read_bytes()
    args = (["agreement", "--store", foreign] if command == "agreement" else
            ["annotate", "export", "--store", foreign, "--out", tmp_path / "o.jsonl"])
    result = run_cli(*args)
    assert result.code == 2 and result.err.count("\n") == 1 and "not a stanceframe annotation store" in result.err
    assert foreign.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["foreign.db"]
    with pytest.raises(StanceframeError, match="not a stanceframe annotation store"):
        Store(foreign)  # the app and import refuse it too, before writing
    assert foreign.read_bytes() == before


def test_agreement_and_export_open_a_store_read_only(articles, tmp_path):
    s = session_for(articles, tmp_path / "s.sqlite")
    s.label(s.current(), "stance", "none")
    s.store.close()
    store = Store(tmp_path / "s.sqlite", create=False)
    assert store.answers()["alice"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.press("alice", s.ids[1], "skip")


# --------------------------------------------------------------------------- queue


def test_margins_take_the_least_sure_task():
    proba = {"stance": np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25]]),
             "framing": np.array([[0.5, 0.45, 0.05], [0.98, 0.01, 0.01]])}
    assert np.allclose(margins(proba), [0.05, 0.05])
    assert ranking("uncertain", np.array([0.3, 0.1, 0.2])) == [1, 2, 0]
    assert ranking("article", np.array([0.3, 0.1, 0.2])) == [0, 1, 2]


def test_diverse_takes_one_sentence_per_cluster_in_turn():
    margin = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.05])
    groups = np.array([0, 0, 0, 1, 1, 2])
    assert ranking("diverse", margin, groups) == [5, 0, 4, 1, 3, 2]


def test_diverse_clusters_keep_near_duplicates_apart():
    texts = [f"Seoul will send artillery shells to Ukraine, batch {i}." for i in range(6)] + \
            [f"The Kremlin called it a proxy war of the collective West, part {i}." for i in range(6)]
    q = Queue([f"s{i}" for i in range(12)], texts, "diverse", {"t": np.tile([0.5, 0.5], (12, 1))}, n_clusters=2)
    first_two = q.ranked()[:2]
    assert {int(s[1:]) < 6 for s in first_two} == {True, False}


@pytest.mark.parametrize("order", ["uncertain", "diverse"])
def test_background_refit_reorders_the_queue(articles, tmp_path, order):
    s = session_for(articles, tmp_path / "s.sqlite", order=order, refit_every=4)
    before = s.queue.ranked()
    labels = {"support": ("support", "neutral"), "restraint": ("restraint", "western")}
    for i, sid in enumerate([r.id for r in s.rows][:4]):
        stance, framing = labels["support" if i % 2 else "restraint"]
        s.label(sid, "stance", stance)
        s.label(sid, "framing", framing)
    s.queue.wait(120)
    assert s.queue.refits == 1 and s.state()["refits"] == 1
    after = s.queue.ranked()
    assert sorted(after) == sorted(before) and after != before  # the same sentences, re-ranked by the fit


# --------------------------------------------------------------------------- the export feeds the project


def test_export_feeds_data_build_and_train(tmp_path):
    from support.paths import REPO

    store = tmp_path / "s.sqlite"
    s = open_session([str(REPO / "seeds")], store, "alice")  # the seed article, by the project's segmenter
    assert import_labels(s.store, REPO / "data" / "seed" / "labels.jsonl", "gold") == 119
    assert len(s.store.sentences()) == len(s.ids) == 119  # the import's ids are the segmenter's ids
    s.label(s.ids[0], "stance", "support")  # alice disagrees with the gold label on one sentence...
    s.label(s.ids[0], "framing", "neutral")
    s.store.adjudicate(s.ids[0], "stance", "none", "carol")  # ...and it is adjudicated
    out = tmp_path / "labels.jsonl"
    assert export_labels(s.store, out, TASKS).written == 119
    first = json.loads(out.read_text().splitlines()[0])
    assert first["id"] == s.ids[0] and first["stance"] == "none"
    result = run_cli("data", "build", "--seeds", REPO / "seeds", "--sentences", tmp_path / "sentences.jsonl",
                     "--labels", out)
    assert result.code == 0, result.err
    result = run_cli("train", "--family", "tfidf-logreg", "--data", out, "--no-track", "--export", tmp_path / "m",
                     "--config", "none")
    assert result.code == 0, result.err
    assert (tmp_path / "m" / "manifest.json").is_file()
