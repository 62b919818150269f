"""`stanceframe benchmark tweeteval` end to end on a tiny TweetEval-shaped folder built
here (five targets, a few tweets each): grids scored on validation with the official
metric, the table beside the published results, the JSON, the target-conditioning
comparison, the ensemble, the exported best model, and the MLflow runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stanceframe import cli
from stanceframe.benchmarks.tweeteval import published_results, score_predictions
from stanceframe.models.bundle import ModelBundle

TARGETS = ["abortion", "atheism", "climate", "feminist", "hillary"]
README = """# TweetEval stance (tiny test copy)

| model | stance score |
|---|---|
| TimeLMs-2021 (twitter-roberta) | 72.9 |
| SVM | 67.3 |
| LSTM | 59.4 |
"""
PRO = ["love", "support", "great", "yes", "proud", "win"]
CON = ["hate", "stop", "awful", "never", "shame", "lose"]


def tweets(target: str, split: str, n_against: int, n_favor: int, n_none: int) -> list[dict]:
    rows = []
    # for hillary the cue words flip: a target-aware model must learn them per target
    pro, con = (CON, PRO) if target == "hillary" else (PRO, CON)
    for label, n, words in (("against", n_against, con), ("favor", n_favor, pro), ("none", n_none, None)):
        for i in range(n):
            text = (f"{words[i % len(words)]} {target} #SemST {i}" if words
                    else f"the weather today in town {i} #SemST")
            rows.append({"id": f"{target}-{split}-{label}-{i}", "target": target, "text": text, "stance": label})
    return rows


@pytest.fixture
def tiny_tweeteval(tmp_path) -> Path:
    folder = tmp_path / "tweeteval-stance"
    folder.mkdir()
    for split, counts in (("train", (6, 5, 5)), ("val", (2, 2, 2))):
        rows = [r for t in TARGETS for r in tweets(t, split, *counts)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "README.md").write_text(README, encoding="utf-8")
    return folder


def test_score_predictions_is_the_official_metric():
    gold = ["favor", "against", "against", "against", "favor", "none"]
    pred = ["favor", "favor", "against", "against", "none", "none"]
    official, per, macro = score_predictions(gold, pred)
    assert official == pytest.approx((0.5 + 0.8) / 2)
    assert per == pytest.approx({"against": 0.8, "favor": 0.5, "none": 2 / 3})
    assert macro == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_published_results_come_from_the_folder_readme(tiny_tweeteval):
    assert published_results(tiny_tweeteval) == {"TimeLMs-2021 (twitter-roberta)": 72.9, "SVM": 67.3, "LSTM": 59.4}


@pytest.mark.slow  # grids of four families with MiniLM embeddings, cross-validation and MLflow runs
def test_benchmark_tweeteval_end_to_end(project, capsys, tiny_tweeteval):
    out = project / "out" / "bench"
    code = cli.main(["benchmark", "tweeteval", "--data", str(tiny_tweeteval), "--families",
                     "lexicon,tfidf-svm,encoder-logreg,ensemble", "--out", str(out), "--cv-folds", "3"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr

    table = (out / "tweeteval.md").read_text()
    assert table == stdout.rstrip("\n") + "\n" or table in stdout
    assert "| SVM (published) |" in table and "67.3" in table
    for family in ("lexicon", "tfidf-svm", "encoder-logreg", "ensemble"):
        assert f"stanceframe {family}" in table
    assert "Target conditioning" in table and "per-target models" in table

    payload = json.loads((out / "tweeteval.json").read_text())
    assert payload["n_train"] == 80 and payload["n_val"] == 30
    fams = payload["families"]
    assert set(fams) == {"lexicon", "tfidf-svm", "encoder-logreg", "ensemble"}
    assert len(fams["tfidf-svm"]["grid"]) == 6  # C x char n-grams
    assert fams["tfidf-svm"]["val_official"] == max(g["val_official"] for g in fams["tfidf-svm"]["grid"])
    assert len(fams["tfidf-svm"]["cv_train"]["folds"]) == 3
    assert set(fams["tfidf-svm"]["target_modes"]) == {"cross", "per-target", "none"}
    assert set(fams["encoder-logreg"]["target_modes"]) == {"cross", "per-target", "pair", "none"}
    # the flipped hillary cues: without the target, the linear model cannot get them all
    modes = fams["tfidf-svm"]["target_modes"]
    assert modes["cross"]["val"] > modes["none"]["val"]
    # the lexicon with labels from the data has no cues: its target's majority stance
    assert fams["lexicon"]["val_f1"]["against"] > 0 and fams["lexicon"]["val_f1"]["favor"] == 0
    assert fams["ensemble"]["selected"]["members"] == ["tfidf-svm", "encoder-logreg"]
    # the selected encoder config is timed from scratch (its grid's later fits reused cached embeddings)
    logreg = fams["encoder-logreg"]
    later_fits = [g["fit_seconds"] for g in logreg["grid"][1:]]
    assert logreg["fit_seconds"] > max(later_fits)
    assert fams["ensemble"]["fit_seconds"] == pytest.approx(fams["tfidf-svm"]["fit_seconds"] + logreg["fit_seconds"])
    assert payload["best_family"] in fams

    # the exported best model is a target-aware model folder tag/evaluate accept
    bundle = ModelBundle.load(out / "tweeteval-best")
    assert bundle.target_field == "target" and bundle.family == payload["best_family"]
    pred = bundle.predict([("abortion", "love abortion #SemST"), ("hillary", "love hillary #SemST")])["stance"]
    assert pred.proba.shape == (2, 3) and np.allclose(pred.proba.sum(axis=1), 1.0)

    import mlflow

    from stanceframe.tracking import local_store_uri

    mlflow.set_tracking_uri(local_store_uri(project))
    experiment = mlflow.get_experiment_by_name("stanceframe-tweeteval")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    names = {r.info.run_name for r in runs}
    assert {"tweeteval-lexicon", "tweeteval-tfidf-svm", "tweeteval-ensemble", "tweeteval-summary"} <= names
    summary = next(r for r in runs if r.info.run_name == "tweeteval-summary")
    assert summary.data.metrics["best_val_official"] == pytest.approx(payload["families"][payload["best_family"]]["val_official"])
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(nested) >= 6 + 4  # one per grid config


def test_benchmark_bad_folder_is_one_line(project, capsys, tmp_path):
    code = cli.main(["benchmark", "tweeteval", "--data", str(tmp_path / "nowhere"), "--no-track"])
    err = capsys.readouterr().err
    assert code == 2 and "no such benchmark folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "train.jsonl").write_text('{"id": "1", "target": "a", "text": "x", "stance": "none"}\n')
    code = cli.main(["benchmark", "tweeteval", "--data", str(tmp_path / "half"), "--no-track"])
    err = capsys.readouterr().err
    assert code == 2 and "against / favor" in err


def test_cv_costly_cross_validates_the_costly_families_too(project, capsys, tiny_tweeteval, monkeypatch):
    """Without --cv-costly a costly family (here tfidf-svm, declared costly for the test) has
    no train CV; with it, it has one, fold by fold."""
    from stanceframe.benchmarks import tweeteval

    monkeypatch.setattr(tweeteval, "CHEAP", {"lexicon"})
    for flag, expect in (([], False), (["--cv-costly"], True)):
        out = project / "out" / f"bench{len(flag)}"
        code = cli.main(["benchmark", "tweeteval", "--data", str(tiny_tweeteval), "--families", "lexicon,tfidf-svm",
                         "--out", str(out), "--cv-folds", "3", "--no-track", "--quiet", *flag])
        assert code == 0, capsys.readouterr().err
        fams = json.loads((out / "tweeteval.json").read_text())["families"]
        assert bool(fams["tfidf-svm"].get("cv_train")) is expect
        assert fams["lexicon"]["cv_train"]["folds"]
