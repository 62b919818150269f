"""Agreement figures on a small example computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import re

import pytest
from support.cli import run_cli

from stanceframe.annotate.agreement import agreement, cohen_kappa, disagreements
from stanceframe.annotate.store import Store

S = ["u1", "u2", "u3", "u4"]
#            u1         u2           u3           u4
ALICE = {"u1": "support", "u2": "support", "u3": "restraint", "u4": "none"}
BOB = {"u1": "support", "u2": "restraint", "u3": "restraint", "u4": "none"}
CAROL = {"u1": "support", "u2": "support"}  # two sentences only


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "s.sqlite")
    st.add_sentences([{"id": s, "doc_id": "d", "paragraph": i + 1, "text": f"Sentence {s}."} for i, s in enumerate(S)])
    for who, labels in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        for sid, stance in labels.items():
            st.press(who, sid, "label", {"stance": stance, "framing": "neutral" if sid != "u4" else "western"})
    return st


def test_cohen_kappa_by_hand():
    # alice/bob: p_o = 3/4; marginals alice (s .5, r .25, n .25), bob (s .25, r .5, n .25)
    # p_e = .5*.25 + .25*.5 + .25*.25 = .3125; kappa = (.75 - .3125) / (1 - .3125) = 7/11
    assert cohen_kappa(list(ALICE.values()), list(BOB.values())) == pytest.approx(7 / 11)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # p_e = 1: undefined


def test_pairs_and_alpha_by_hand(store):
    pairs, overall = agreement(store, ["stance", "framing"])
    stance = {(p.a, p.b): p for p in pairs if p.task == "stance"}
    assert (stance["alice", "bob"].n, stance["alice", "bob"].agree) == (4, 3)
    assert stance["alice", "bob"].kappa == pytest.approx(7 / 11)
    assert stance["alice", "carol"].n == 2 and stance["alice", "carol"].kappa is None  # all "support" on both sides
    # bob/carol on u1, u2: p_o = 1/2, p_e = .5*1 + .5*0 = .5 -> kappa 0
    assert stance["bob", "carol"].kappa == pytest.approx(0.0)
    # Krippendorff's alpha, nominal, coincidences: u1 (s,s,s) adds o_ss 3; u2 (s,r,s) adds o_ss 1,
    # o_sr 1, o_rs 1; u3 (r,r) o_rr 2; u4 (n,n) o_nn 2. n_s 5, n_r 3, n_n 2, n 10.
    # D_o = 2/10; D_e = 2 (5*3 + 5*2 + 3*2) / (10*9) = 62/90; alpha = 1 - .2 / (62/90) = 44/62
    st = next(t for t in overall if t.task == "stance")
    assert (st.annotators, st.units) == (3, 4) and st.alpha == pytest.approx(44 / 62)
    fr = next(t for t in overall if t.task == "framing")
    assert fr.alpha == pytest.approx(1.0)
    assert [(d.sentence_id, d.task, d.labels) for d in disagreements(store, ["stance", "framing"])] == [
        ("u2", "stance", {"alice": "support", "bob": "restraint", "carol": "support"})]


def test_agreement_command_prints_the_figures(store):
    result = run_cli("agreement", "--store", store.path)
    assert result.code == 0, result.err
    out = result.out
    assert re.search(r"stance\s+alice\s+bob\s+4\s+3\s+0\.636", out)
    assert re.search(r"stance\s+alice\s+carol\s+2\s+2\s+n/a", out)
    assert re.search(r"stance\s+3\s+4\s+0\.710", out)
