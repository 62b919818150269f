"""Bring your own data: train / compare / evaluate on any labelled JSONL or CSV (made-up
task names and labels), on a Hugging Face `datasets` folder, with an explicit --schema or
labels from the data; target-aware stance end to end (train --target-field, the model
folder's round trip, tag reading each record's target); and `evaluate` reproducing the
official SemEval/TweetEval stance metric on a hand-computed example."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.tagging import write_jsonl

from stanceframe import cli
from stanceframe.dataset import load_labelled
from stanceframe.errors import DataFileError
from stanceframe.models.bundle import ModelBundle

# Two made-up tasks: tone (calm / alarmed) and topic (money / weather), six records each way.
RECORDS = [
    ("r1", "Markets stayed quiet and prices held steady.", "calm", "money"),
    ("r2", "Bank rates were left unchanged again today.", "calm", "money"),
    ("r3", "Investors shrugged at the small dip in shares.", "calm", "money"),
    ("r4", "Panic! Savings wiped out as the currency collapses!", "alarmed", "money"),
    ("r5", "Shares crash and traders flee in a frenzy.", "alarmed", "money"),
    ("r6", "Emergency talks as the bank run spreads!", "alarmed", "money"),
    ("r7", "A mild breeze and light clouds this afternoon.", "calm", "weather"),
    ("r8", "Gentle rain is expected overnight.", "calm", "weather"),
    ("r9", "Sunny spells continue through the weekend.", "calm", "weather"),
    ("r10", "Evacuate now: the hurricane is about to hit!", "alarmed", "weather"),
    ("r11", "Floods sweep away homes as the storm rages!", "alarmed", "weather"),
    ("r12", "Deadly heatwave alert issued for the region!", "alarmed", "weather"),
]


def made_up_rows() -> list[dict]:
    return [{"uid": i, "sentence": t, "tone": tone, "topic": topic} for i, t, tone, topic in RECORDS]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- any labelled file


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_train_on_made_up_tasks_from_jsonl_and_csv(project, capsys, tmp_path, kind):
    rows = made_up_rows()
    if kind == "jsonl":
        data = write_jsonl(tmp_path / "mine.jsonl", rows)
    else:
        data = tmp_path / "mine.csv"
        data.write_text("uid,sentence,tone,topic\n" + "".join(
            f"{r['uid']},\"{r['sentence']}\",{r['tone']},{r['topic']}\n" for r in rows), encoding="utf-8")
    model = tmp_path / "model"
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--text-field", "sentence",
                       "--id-field", "uid", "--task", "tone,topic", "--export", model, "--no-track")
    assert code == 0, err
    assert "'tone' is not in the schema" in err and "alarmed, calm" in err  # the notice
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["tasks"]["tone"]["labels"] == ["alarmed", "calm"]
    assert manifest["tasks"]["topic"]["labels"] == ["money", "weather"]
    assert manifest["label_counts"]["tone"] == {"alarmed": 6, "calm": 6}

    # the model tags the user's kind of records, and evaluate scores it on the same fields
    probe = write_jsonl(tmp_path / "probe.jsonl", [{"id": "p1", "text": "Panic as shares crash and the bank collapses!"}])
    code, out, err = run(capsys, "tag", probe, "--model", model, "--unit", "record", "--quiet")
    assert code == 0, err
    row = json.loads(out.splitlines()[0])
    assert row["tone"] == "alarmed" and row["topic"] == "money"
    assert {"p_tone_calm", "p_tone_alarmed", "p_topic_money", "p_topic_weather"} <= set(row)
    report = tmp_path / "metrics.json"
    code, _, err = run(capsys, "evaluate", "--model", model, "--data", data, "--text-field", "sentence",
                       "--id-field", "uid", "--json", report)
    assert code == 0, err
    metrics = json.loads(report.read_text())
    assert set(metrics) == {"tone", "topic"} and metrics["tone"]["n"] == 12
    assert metrics["topic"]["accuracy"] == 1.0  # its own training data


def test_builtin_task_name_with_other_labels_takes_them_from_the_data(tmp_path):
    path = write_jsonl(tmp_path / "tweets.jsonl", [
        {"id": "a", "text": "x", "stance": "favor"}, {"id": "b", "text": "y", "stance": "against"},
        {"id": "c", "text": "z", "stance": "none"},
    ])
    with pytest.raises(DataFileError, match="unknown stance label 'favor'"):
        load_labelled(path, tasks=["stance"])  # the built-in seed set's own check stays strict
    data = load_labelled(path, tasks=["stance"], labels_from_data=True)
    assert data.schema.task("stance").label_names == ["against", "favor", "none"]
    assert "labels taken from the data" in data.notices[0] and "support" in data.notices[0]
    # labels within the built-in schema keep it (its order, descriptions and cues)
    builtin = write_jsonl(tmp_path / "seedlike.jsonl", [{"id": "a", "text": "x", "stance": "support"}])
    same = load_labelled(builtin, tasks=["stance"], labels_from_data=True)
    assert same.schema.task("stance").label_names == ["support", "restraint", "none"] and not same.notices


def test_schema_file_names_the_labels_and_rejects_others(project, capsys, tmp_path):
    schema = tmp_path / "tone.toml"
    schema.write_text('[tasks.tone]\ndescription = "how it sounds"\n'
                      '[tasks.tone.labels.calm]\ndescription = "calm"\n'
                      '[tasks.tone.labels.alarmed]\ndescription = "alarmed"\ncues = ["panic", "crash"]\n')
    data = write_jsonl(tmp_path / "mine.jsonl", made_up_rows())
    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", data, "--text-field", "sentence",
                       "--id-field", "uid", "--task", "tone", "--schema", schema, "--export", tmp_path / "m",
                       "--no-track")
    assert code == 0, err
    assert "notice" not in err  # the schema names them: nothing inferred
    bundle = ModelBundle.load(tmp_path / "m")
    assert bundle.predict(["Panic in the streets"])["tone"].labels == ["alarmed"]  # the schema's cue

    bad = write_jsonl(tmp_path / "bad.jsonl", made_up_rows()[:3] + [{"uid": "x", "sentence": "Hm.", "tone": "bored"}])
    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", bad, "--text-field", "sentence",
                       "--id-field", "uid", "--task", "tone", "--schema", schema, "--no-track")
    assert code == 2
    assert err.strip().splitlines() == [f"stanceframe: error: {bad}:4: unknown tone label 'bored' "
                                        f"(expected one of: calm, alarmed)"]


def test_user_data_without_task_fields_is_one_clear_line(project, capsys, tmp_path):
    data = write_jsonl(tmp_path / "mine.jsonl", made_up_rows())
    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", data, "--text-field", "sentence", "--no-track")
    assert code == 2
    assert "no task field" in err and "--task" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- datasets folders


def test_train_on_a_datasets_folder_saved_with_save_to_disk(project, capsys, tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"sentence": Value("string"), "tone": ClassLabel(names=["calm", "alarmed"])})
    rows = made_up_rows()
    full = Dataset.from_dict({"sentence": [r["sentence"] for r in rows],
                              "tone": [0 if r["tone"] == "calm" else 1 for r in rows]}, features=features)
    DatasetDict({"train": full.select(range(0, 12, 2)).flatten_indices(), "test": full}).save_to_disk(tmp_path / "dd")
    full.save_to_disk(tmp_path / "single")

    data = load_labelled(f"hf:{tmp_path / 'dd'}#test", tasks=["tone"], text_field="sentence", labels_from_data=True)
    assert len(data) == 12 and data.ids[0] == "dd-1"  # numbered rows: the dataset has no id column
    assert data.labels("tone")[:4] == ["calm", "calm", "calm", "alarmed"]  # ClassLabel ints -> names

    model = tmp_path / "model"
    code, _, err = run(capsys, "train", "--family", "tfidf-svm", "--data", f"hf:{tmp_path / 'single'}",
                       "--text-field", "sentence", "--task", "tone", "--export", model, "--no-track")
    assert code == 0, err
    assert json.loads((model / "manifest.json").read_text())["label_counts"]["tone"] == {"alarmed": 6, "calm": 6}
    code, _, err = run(capsys, "evaluate", "--model", model, "--data", f"hf:{tmp_path / 'dd'}",
                       "--text-field", "sentence", "--task", "tone")  # DatasetDict: the train split by default
    assert code == 0, err

    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", f"hf:{tmp_path / 'dd'}#validation",
                       "--text-field", "sentence", "--task", "tone", "--no-track")
    assert code == 2 and "no split 'validation'" in err and "train, test" in err


def test_a_hub_name_offline_fails_with_one_line(project, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", "hf:someone/no-such-dataset",
                       "--task", "label", "--no-track")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "hf:someone/no-such-dataset" in lines[0] and "offline" in lines[0]


# --------------------------------------------------------------------------- compare on user data


def test_compare_on_user_data_groups_one_record_each(project, capsys, tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text('[cv]\nn_splits = 3\nn_repeats = 1\nseed = 1\n[report]\ndir = "out/mine"\n'
                      '[families.lexicon]\n[families.tfidf-logreg]\n')
    data = write_jsonl(tmp_path / "mine.jsonl", made_up_rows())
    code, out, err = run(capsys, "compare", "--config", config, "--data", data, "--text-field", "sentence",
                         "--id-field", "uid", "--task", "topic", "--no-track", "--quiet")
    assert code == 0, err
    board = json.loads((project / "out" / "mine" / "leaderboard.json").read_text())
    assert {(r["family"], r["task"]) for r in board} == {("lexicon", "topic"), ("tfidf-logreg", "topic")}
    assert set(board[0]["per_class_f1"]) == {"money", "weather"}
    code, _, err = run(capsys, "compare", "--config", config, "--task", "topic", "--no-track")
    assert code == 2 and "go with --data" in err


# --------------------------------------------------------------------------- targets


TARGETED = [  # the same words mean opposite stances towards the two targets
    ("t1", "cats", "Cats are wonderful and I adore them.", "favor"),
    ("t2", "cats", "Cats are great companions.", "favor"),
    ("t3", "cats", "Cats are wonderful, truly.", "favor"),
    ("t4", "cats", "I cannot stand cats at all.", "against"),
    ("t5", "cats", "Cats scratch and cause trouble.", "against"),
    ("t6", "cats", "The report mentions cats in passing.", "none"),
    ("t7", "dogs", "Cats are wonderful, unlike dogs.", "against"),
    ("t8", "dogs", "Cats are great, dogs are not.", "against"),
    ("t9", "dogs", "Cats are wonderful and dogs are loud.", "against"),
    ("t10", "dogs", "Dogs are loyal and kind.", "favor"),
    ("t11", "dogs", "I adore my dog.", "favor"),
    ("t12", "dogs", "Dogs appeared in the report.", "none"),
]


def targeted_rows() -> list[dict]:
    return [{"id": i, "target": t, "text": x, "stance": s} for i, t, x, s in TARGETED]


def test_target_aware_train_round_trip_and_tag(project, capsys, tmp_path):
    data = write_jsonl(tmp_path / "targets.jsonl", targeted_rows())
    model = tmp_path / "model"
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--task", "stance",
                       "--target-field", "target", "--export", model, "--no-track")
    assert code == 0, err
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["target_field"] == "target"
    assert json.loads((model / "stance" / "estimator.json").read_text())["target_vocabulary"] == ["cats", "dogs"]

    bundle = ModelBundle.load(model)
    pairs = [("cats", "Cats are wonderful."), ("dogs", "Cats are wonderful.")]
    proba = bundle.predict(pairs)["stance"]
    assert proba.labels == ["favor", "against"]  # same text, the target decides
    again = ModelBundle.load(model).predict(pairs)["stance"].proba
    assert np.array_equal(again, proba.proba)

    # tag reads each record's target from the field the model was trained with
    probe = write_jsonl(tmp_path / "probe.jsonl", [
        {"id": "a", "target": "cats", "text": "Cats are wonderful."},
        {"id": "b", "target": "dogs", "text": "Cats are wonderful."},
        {"id": "c", "text": "Cats are wonderful."},  # no target: skipped
    ])
    code, out, err = run(capsys, "tag", probe, "--model", model, "--unit", "record", "--quiet")
    assert code == 1  # one record skipped
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["target"], r["stance"]) for r in rows] == [("a", "cats", "favor"), ("b", "dogs", "against")]
    assert np.isclose(rows[0]["p_stance_favor"], proba.proba[0, proba.classes.index("favor")])
    assert "no 'target' field" in err

    # --target-field names another field holding the target
    renamed = write_jsonl(tmp_path / "renamed.jsonl", [{"id": "a", "topic": "dogs", "text": "Cats are wonderful."}])
    code, out, err = run(capsys, "tag", renamed, "--model", model, "--unit", "record", "--target-field", "topic",
                         "--quiet")
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["stance"] == "against"

    # evaluate takes the target field from the model
    report = tmp_path / "m.json"
    code, _, err = run(capsys, "evaluate", "--model", model, "--data", data, "--task", "stance", "--json", report)
    assert code == 0, err
    assert json.loads(report.read_text())["stance"]["official_stance"] == 1.0


def test_target_field_on_a_model_without_targets_is_refused(project, capsys, tmp_path):
    data = write_jsonl(tmp_path / "t.jsonl", targeted_rows())
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--task", "stance",
                       "--export", tmp_path / "plain", "--no-track")
    assert code == 0, err
    code, _, err = run(capsys, "tag", data, "--model", tmp_path / "plain", "--unit", "record",
                       "--target-field", "target", "--quiet")
    assert code == 2 and "trained without targets" in err


# --------------------------------------------------------------------------- the official metric


def test_evaluate_reproduces_the_official_stance_metric_by_hand(project, capsys, tmp_path):
    """A cue lexicon whose predictions are known: love -> favor, hate -> against, else none.

    gold     pred
    favor    favor     F1(favor):   TP 1, FP 1, FN 1 -> P 1/2, R 1/2 -> 0.5
    against  favor     F1(against): TP 2, FP 0, FN 1 -> P 1, R 2/3 -> 0.8
    against  against   official = (0.5 + 0.8) / 2 = 0.65
    against  against   (none is not averaged in)
    favor    none
    none     none
    """
    schema = tmp_path / "stance.toml"
    schema.write_text('[tasks.stance]\ndescription = "d"\ndefault = "none"\n'
                      '[tasks.stance.labels.favor]\ndescription = "f"\ncues = ["love"]\n'
                      '[tasks.stance.labels.against]\ndescription = "a"\ncues = ["hate"]\n'
                      '[tasks.stance.labels.none]\ndescription = "n"\n')
    gold = write_jsonl(tmp_path / "gold.jsonl", [
        {"id": "1", "text": "I love it", "stance": "favor"}, {"id": "2", "text": "love love", "stance": "against"},
        {"id": "3", "text": "I hate it", "stance": "against"}, {"id": "4", "text": "hate", "stance": "against"},
        {"id": "5", "text": "nothing", "stance": "favor"}, {"id": "6", "text": "plain", "stance": "none"},
    ])
    model = tmp_path / "lexicon"
    code, _, err = run(capsys, "train", "--family", "lexicon", "--data", gold, "--task", "stance", "--schema", schema,
                       "--export", model, "--no-track")
    assert code == 0, err
    report = tmp_path / "metrics.json"
    code, out, err = run(capsys, "evaluate", "--model", model, "--data", gold, "--schema", schema, "--json", report)
    assert code == 0, err
    metrics = json.loads(report.read_text())["stance"]
    assert metrics["official_stance"] == pytest.approx(0.65)
    assert metrics["per_class"]["favor"]["f1"] == pytest.approx(0.5)
    assert metrics["per_class"]["against"]["f1"] == pytest.approx(0.8)
    assert "official" in out


def test_target_aware_model_logged_to_mlflow_reads_the_target_column(project, capsys, tmp_path):
    import mlflow
    import pandas as pd

    from stanceframe.tracking import local_store_uri

    data = write_jsonl(tmp_path / "targets.jsonl", targeted_rows())
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--task", "stance",
                       "--target-field", "target", "--export", tmp_path / "m")
    assert code == 0, err
    uri = err.split("MLflow model: ")[1].split()[0]
    mlflow.set_tracking_uri(local_store_uri(project))
    served = mlflow.pyfunc.load_model(uri).predict(
        pd.DataFrame({"text": ["Cats are wonderful."] * 2, "target": ["cats", "dogs"]}))
    assert list(served["stance"]) == ["favor", "against"]
    local = ModelBundle.load(tmp_path / "m").predict_flat([("cats", "Cats are wonderful."), ("dogs", "Cats are wonderful.")])
    assert np.allclose(served["p_stance_favor"], [r["p_stance_favor"] for r in local])
