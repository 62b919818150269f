"""`mlflow models serve -m models:/<name>@champion` answers like `tag --unit record`."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest
from support.net import free_port, wait_http
from support.paths import VENV_BIN

from stanceframe.cli import main

TEXTS = [
    ("r1", "Seoul will reconsider the issue of arms supply to Ukraine."),
    ("r2", "The special military operation in Ukraine continues, Moscow said."),
    ("r3", "South Korea will send only humanitarian aid and non-lethal supplies."),
    ("r4", "Yoon toured Bucha, where the massacre of civilians took place."),
]


@pytest.mark.mlflow_server
@pytest.mark.slow
def test_serve_champion_matches_tag_unit_record(project, mlflow_server, tmp_path, capsys):
    from mlflow import MlflowClient

    name = "sf-serve"
    config = project / "training" / "serve.toml"
    config.write_text(f"""
[data]
gold = ["data/seed/labels.jsonl"]
train_only = ["data/contrast/contrast.jsonl"]
[cv]
n_splits = 3
n_repeats = 1
[promote]
export = "models/champion"
registered_model = "{name}"
[families.tfidf-logreg]
""")
    assert main(["compare", "--config", str(config), "--promote", "--quiet", "--tracking-uri", mlflow_server]) == 0
    assert MlflowClient(mlflow_server).get_model_version_by_alias(name, "champion")

    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in TEXTS))
    out = tmp_path / "tagged.jsonl"
    assert main(["tag", str(records), "--unit", "record", "--model", "models/champion", "--out", str(out), "--quiet"]) == 0
    tagged = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    capsys.readouterr()

    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server,
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "mlflow"), "models", "serve", "-m", f"models:/{name}@champion",
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=project, start_new_session=True)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/ping", timeout=180)
        except TimeoutError:
            pytest.fail("mlflow models serve did not start:\n" + (tmp_path / "serve.log").read_text()[-3000:])
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for _, t in TEXTS]}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            served = json.loads(resp.read())["predictions"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    assert len(served) == len(TEXTS)
    for (rid, _), pred in zip(TEXTS, served):
        row = tagged[rid]
        assert pred["stance"] == row["stance"] and pred["framing"] == row["framing"]
        probs = [k for k in row if k.startswith("p_")]
        assert probs and set(probs) <= set(pred)
        for k in probs:
            assert pred[k] == pytest.approx(row[k], abs=1e-6)
