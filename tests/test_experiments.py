"""compare's protocol: folds grouped by article, the real-text check, per-family repeats and
the promotion rule over both protocols (lexicon and tfidf fits: seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stanceframe import experiments as ex
from stanceframe.cli import main
from stanceframe.errors import StanceframeError
from stanceframe.experiment_config import load_config

PROTOCOL_CONFIG = """
[data]
gold = ["data/seed/labels.jsonl", "data/mine/labels.jsonl"]
train_only = ["data/contrast/contrast.jsonl"]
realtext = ["data/seed/labels.jsonl"]
[cv]
group_by = "article"
n_splits = 3
n_repeats = 2
seed = 5
[promote]
rule = "min_macro_f1"
protocols = ["cv", "realtext"]
export = "models/champion"
[report]
dir = "out/compare"
[families.lexicon]
[families.tfidf-logreg]
cv_repeats = 1
[families.tfidf-svm]
cv_folds = 2
"""


def _articles(n: int = 6) -> list[dict]:
    """Labelled sentences of ``n`` small written articles, every label in each."""
    lines = [("Berlin will send more tanks to Kyiv.", "support", "western"),
             ("Seoul refused to supply lethal weapons to the Kiev regime.", "restraint", "russian"),
             ("The minister arrived in Warsaw on Monday.", "none", "neutral"),
             ("Since Russia's full-scale invasion, Tokyo has sent only non-lethal aid.", "restraint", "western"),
             ("The special military operation continues, the Kremlin said, as Kiev asks for shells.", "support", "russian")]
    rows = []
    for d in range(n):
        for p, (text, stance, framing) in enumerate(lines, start=1):
            rows.append({"id": f"mine{d}-p{p}-s1", "doc_id": f"mine{d}", "paragraph": p, "text": f"{text} ({d})",
                         "stance": stance, "framing": framing, "source": "synthetic"})
    return rows


@pytest.fixture
def protocol_project(project):
    mine = project / "data" / "mine"
    mine.mkdir()
    (mine / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _articles()), encoding="utf-8")
    config = project / "training" / "protocol.toml"
    config.write_text(PROTOCOL_CONFIG)
    return config


def test_compare_reports_grouped_cv_and_the_real_text_check(protocol_project, project, capsys):
    assert main(["compare", "--config", str(protocol_project), "--no-track", "--quiet"]) == 0
    board = json.loads((project / "out" / "compare" / "leaderboard.json").read_text())
    assert {(r["family"], r["task"]) for r in board} == {(f, t) for f in ("lexicon", "tfidf-logreg", "tfidf-svm")
                                                         for t in ("stance", "framing")}
    for row in board:
        assert 0 <= row["realtext_macro_f1"] <= 1
        assert set(row["realtext_per_class_f1"]) >= {"support", "restraint", "none"} or \
            set(row["realtext_per_class_f1"]) >= {"western", "russian", "neutral"}
        # the shared 3 x 2 folds; cv_repeats = 1 for tfidf-logreg, cv_folds = 2 for tfidf-svm
        assert row["cv_folds"] == {"lexicon": 6, "tfidf-logreg": 3, "tfidf-svm": 2}[row["family"]]
    md = (project / "out" / "compare" / "leaderboard.md").read_text()
    assert "grouped by article" in md and "real-text macro-F1" in md and "min_macro_f1 over cv + realtext" in md
    assert "tfidf-logreg 1×" in md and "tfidf-svm first 2 folds" in md


def test_real_text_check_trains_on_everything_but_the_held_out_articles(protocol_project, project):
    config = load_config(protocol_project)
    gold = ex.load_training_data(ex.resolve(project, config.gold), None)
    extra = ex.load_training_data(ex.resolve(project, config.train_only), gold.tasks)
    real = ex.load_training_data(ex.resolve(project, config.realtext), gold.tasks)
    checks = ex.realtext_check("lexicon", {}, gold + extra, real, gold.tasks, 5)
    assert checks["stance"]["n"] == len(real) == 119
    assert checks["stance"]["n_train"] == len(gold) + len(extra) - len(real)


def test_article_folds_never_put_one_article_on_both_sides(protocol_project, project):
    import matplotlib.pyplot as plt

    result = ex.compare(load_config(protocol_project), tracker=_no_tracker(project), root=project,
                        families=["lexicon"])
    assert plt.get_fignums() == []  # the confusion matrices are closed once logged (or not tracked)
    gold = ex.load_training_data(ex.resolve(project, load_config(protocol_project).gold), None)
    for fold in result.cv["lexicon"]["stance"].folds:
        test_docs = {gold.docs[i] for i in fold.test_index}
        train_docs = set(gold.docs) - test_docs
        assert test_docs and not test_docs & train_docs
        assert {gold.docs[i] for i in range(len(gold)) if i not in set(fold.test_index)} == train_docs


def _no_tracker(root: Path):
    from stanceframe.tracking import Tracker

    return Tracker(None, "unused", root=root, enabled=False)


@pytest.mark.parametrize("body, message", [
    ('[cv]\ngroup_by = "sentence"\n[families.lexicon]\n', "group_by"),
    ('[promote]\nprotocols = ["realtext"]\n[families.lexicon]\n', "protocols"),
    ('[promote]\nprotocols = ["holdout"]\n[data]\nrealtext = ["x.jsonl"]\n[families.lexicon]\n', "protocols"),
])
def test_bad_protocol_settings_are_user_errors(tmp_path, body, message):
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(StanceframeError, match=message):
        load_config(path)


def test_pick_best_averages_the_protocols_per_task():
    from stanceframe.evaluate import pick_best

    def task(cv, real):
        return {"macro_f1": {"mean": cv, "std": 0.0}, "realtext": {"macro_f1": real}}

    results = {"a": {"stance": task(0.9, 0.5), "framing": task(0.9, 0.5)},
               "b": {"stance": task(0.8, 0.8), "framing": task(0.8, 0.8)}}
    assert pick_best(results, "min_macro_f1") == "a"  # cv only
    assert pick_best(results, "min_macro_f1", ["cv", "realtext"]) == "b"
    with pytest.raises(ValueError):
        pick_best(results, "min_macro_f1", ["nope"])


def test_register_best_fits_only_the_best_family_on_everything_and_promotes_it(protocol_project, project):
    config = load_config(protocol_project)
    config.register = "best"
    result = ex.compare(config, tracker=_no_tracker(project), root=project, promote=True,
                        families=["lexicon", "tfidf-logreg"])
    fitted = {f for f, s in result.summaries.items() if s["_model"].get("bundle_dir")}
    assert fitted == {result.best}
    assert result.promoted["family"] == result.best
    assert (project / "models" / "champion" / "manifest.json").is_file()
    with pytest.raises(StanceframeError, match="register"):
        bad = project / "bad.toml"
        bad.write_text('[promote]\nregister = "some"\n[families.lexicon]\n')
        load_config(bad)


def test_train_takes_the_family_hyperparameters_from_the_experiments_config(project, capsys):
    seed = str(project / "data" / "seed" / "labels.jsonl")
    assert main(["train", "--family", "tfidf-svm", "--data", seed, "--no-track", "--export", "m1"]) == 0
    assert "hyperparameters from" in capsys.readouterr().err
    assert json.loads((project / "m1" / "manifest.json").read_text())["params"] == {"char_ngrams": True}
    assert main(["train", "--family", "tfidf-svm", "--data", seed, "--no-track", "--export", "m2",
                 "--config", "none"]) == 0
    assert json.loads((project / "m2" / "manifest.json").read_text())["params"] == {}
    assert main(["train", "--family", "setfit", "--data", seed, "--no-track", "--config",
                 str(project / "training" / "protocol-missing.toml")]) == 2
    assert "experiments config not found" in capsys.readouterr().err
