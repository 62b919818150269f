"""MLflow: the real server path, the local default store, fail-fast, the pyfunc model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support.cli import run_cli
from support.net import free_port

from stanceframe.cli import main
from stanceframe.models.bundle import ModelBundle

SMALL_CONFIG = """
[data]
gold = ["data/seed/labels.jsonl"]
train_only = ["data/contrast/contrast.jsonl"]
[cv]
n_splits = 3
n_repeats = 1
seed = 5
[promote]
rule = "mean_macro_f1"
export = "models/champion"
registered_model = "{name}"
[report]
dir = "out/compare"
[families.lexicon]
[families.tfidf-logreg]
C = 4.0
"""


def _write_config(project: Path, name: str) -> Path:
    path = project / "training" / "small.toml"
    path.write_text(SMALL_CONFIG.format(name=name))
    return path


def test_unreachable_server_fails_fast_before_training(project, capsys):
    dead = f"http://127.0.0.1:{free_port()}"
    code = main(["train", "--family", "lexicon", "--tracking-uri", dead, "--export", str(project / "m")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "cannot reach MLflow tracking server" in err[0] and dead in err[0]
    assert not (project / "m").exists()


def test_unreachable_server_cli_has_no_traceback(project):
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli("compare", "--tracking-uri", dead, cwd=project)
    assert result.code == 2
    assert "Traceback" not in result.err and "cannot reach" in result.err


@pytest.mark.mlflow_server
def test_compare_logs_runs_metrics_artifacts_and_registers_champion(project, mlflow_server, capsys):
    import time

    from mlflow import MlflowClient

    config = _write_config(project, "sf-compare")
    started_ms = int(time.time() * 1000)
    code = main(["compare", "--config", str(config), "--promote", "--quiet", "--tracking-uri", mlflow_server])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "tfidf-logreg" in out.out and "lexicon" in out.out

    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name("stanceframe-labels")
    # the server is shared by the session: only this test's runs
    runs = [r for r in client.search_runs([exp.experiment_id], max_results=500) if r.info.start_time >= started_ms]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert {r.data.params["family"] for r in parents} == {"lexicon", "tfidf-logreg"}
    assert len(children) == 2 * 2 * 3  # families x tasks x folds
    parent = next(r for r in parents if r.data.params["family"] == "tfidf-logreg")
    assert parent.data.params["C"] == "4.0" and len(parent.data.params["data_hash"]) == 16
    assert "git_commit" in parent.data.params and "label_counts_stance" in parent.data.params
    for task in ("stance", "framing"):
        assert 0.0 <= parent.data.metrics[f"{task}_macro_f1_mean"] <= 1.0
        assert f"{task}_macro_f1_std" in parent.data.metrics and f"{task}_ece_mean" in parent.data.metrics
        names = {a.path for a in client.list_artifacts(parent.info.run_id, task)}
        assert {f"{task}/confusion_matrix.png", f"{task}/misclassified.csv", f"{task}/per_class_report.md",
                f"{task}/report.json"} <= names
    assert all(r.data.tags["mlflow.parentRunId"] in {p.info.run_id for p in parents} for r in children)

    # registered under one name, the champion alias on the promoted family's version
    versions = client.search_model_versions("name='sf-compare'")
    assert len(versions) == 2
    champion = client.get_model_version_by_alias("sf-compare", "champion")
    board = json.loads((project / "out" / "compare" / "leaderboard.json").read_text())
    assert (project / "out" / "compare" / "leaderboard.png").stat().st_size > 1000
    assert "macro-F1" in (project / "out" / "compare" / "leaderboard.md").read_text()
    exported = ModelBundle.load(project / "models" / "champion")
    assert exported.family in {r["family"] for r in board}

    # the pyfunc model: both tasks' labels and probabilities from a DataFrame with text
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pyfunc.load_model(f"models:/sf-compare/{champion.version}")
    texts = ["Seoul will supply artillery shells to Kyiv.", "The special military operation continues."]
    df = model.predict(pd.DataFrame({"text": texts}))
    assert list(df["stance"]) == [r["stance"] for r in exported.predict_flat(texts)]
    assert list(df["framing"]) == [r["framing"] for r in exported.predict_flat(texts)]
    for col in ("p_stance_support", "p_stance_restraint", "p_stance_none", "p_framing_russian"):
        assert col in df.columns
    assert df.filter(like="p_stance_").sum(axis=1).round(6).tolist() == [1.0, 1.0]


@pytest.mark.mlflow_server
def test_train_on_server_exports_and_loads_by_uri(project, mlflow_server, capsys):
    from stanceframe.tracking import load_bundle_from_uri

    export = project / "exported"
    code = main(["train", "--family", "tfidf-svm", "--tracking-uri", mlflow_server, "--export", str(export), "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "MLflow model:" in err
    local = ModelBundle.load(export)
    assert local.manifest["family"] == "tfidf-svm" and local.manifest["seed"] == 3
    assert local.manifest["label_counts"]["stance"]["support"] > 0
    remote_uri = err.split("MLflow model: ")[1].split()[0]
    remote = load_bundle_from_uri(remote_uri, mlflow_server)
    texts = ["Berlin refuses to send tanks and offers only helmets."]
    assert remote.predict_flat(texts) == local.predict_flat(texts)


def test_default_store_is_local_under_mlruns(project, capsys):
    code = main(["train", "--family", "lexicon"])
    assert code == 0, capsys.readouterr().err
    assert (project / "mlruns" / "mlflow.db").exists()
    assert any((project / "mlruns" / "artifacts").rglob("manifest.json"))


def test_evaluate_command_and_determinism(project, capsys):
    seed = ["--data", "data/seed/labels.jsonl"]  # the seed article's sentences: two fits in a second
    assert main(["train", "--family", "tfidf-logreg", *seed, "--no-track", "--export", "m1", "--seed", "1"]) == 0
    assert main(["train", "--family", "tfidf-logreg", *seed, "--no-track", "--export", "m2", "--seed", "1"]) == 0
    capsys.readouterr()
    code = main(["evaluate", "--model", "m1", "--data", "data/seed/labels.jsonl", "--json", "metrics1.json"])
    out1 = capsys.readouterr().out
    assert code == 0 and "macro" not in out1.lower() or "stance" in out1
    main(["evaluate", "--model", "m2", "--data", "data/seed/labels.jsonl", "--json", "metrics2.json"])
    m1, m2 = (json.loads(Path(f"metrics{i}.json").read_text()) for i in (1, 2))
    assert m1 == m2
    assert set(m1) == {"stance", "framing"} and 0 <= m1["stance"]["macro_f1"] <= 1


def test_compare_twice_gives_the_same_numbers(project, capsys):
    config = _write_config(project, "unused")
    for i in range(2):
        assert main(["compare", "--config", str(config), "--no-track", "--quiet", "--family", "tfidf-logreg"]) == 0
        Path(f"board{i}.json").write_text((project / "out" / "compare" / "leaderboard.json").read_text())
    a, b = (json.loads(Path(f"board{i}.json").read_text()) for i in range(2))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("fit_seconds", "sentences_per_s", "compare_seconds")} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)


def test_bad_data_is_one_line_exit_2(project, capsys):
    bad = project / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine", "stance": "none", "framing": "neutral"}\n'
                   '{"id": "b", "text": "x", "stance": "maybe", "framing": "neutral"}\n')
    # user --data takes its labels from the data unless --schema names them (issue 6)
    schema = project / "training" / "schema.toml"
    assert main(["train", "--family", "lexicon", "--no-track", "--data", str(bad), "--schema", str(schema)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "maybe" in err
