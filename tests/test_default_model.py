"""The shipped models as a user gets them: `default` (what `tag` uses without --model: the model
the promotion rule chose, an encoder model) and `fast` (n-grams, for bulk work). The rest of the
suite runs its commands on `fast` (conftest); these tests ask for the default by name."""

from __future__ import annotations

import json

import pytest
from support.cli import run_cli
from support.paths import REPO

from stanceframe.models.bundle import MANIFEST


def _folder_size(folder) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["default", "fast"])
def test_the_shipped_models_are_small_enough_for_git_and_say_what_they_are(name):
    folder = REPO / "models" / name
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["tasks"]) == {"stance", "framing"}
    assert _folder_size(folder) < 20e6  # heads, adapters and n-gram tables only: no encoder weights
    assert not [p for p in folder.rglob("*") if p.is_file() and p.suffix not in {".json", ".npy", ".safetensors"}]
    if name == "fast":
        assert manifest["family"] == "tfidf-svm"


@pytest.mark.slow
def test_the_default_model_tags_the_seed(tmp_path, monkeypatch):
    """`stanceframe tag` with no --model and no STANCEFRAME_MODEL: the shipped default, its
    encoder taken from the installed package (checked by sha256), the seed tagged."""
    from stanceframe.encoder_store import install_encoder, known_encoder, weights_sha256
    from stanceframe.models.encoder import resolve_encoder

    manifest = json.loads((REPO / "models" / "default" / MANIFEST).read_text())
    encoder = manifest.get("encoder")
    if encoder:
        known = known_encoder(encoder["name"])
        if known is not None:
            install_encoder(known.key)
        assert weights_sha256(resolve_encoder(encoder["name"])) == encoder["sha256"]
    monkeypatch.delenv("STANCEFRAME_MODEL")
    out = tmp_path / "seed.jsonl"
    result = run_cli("tag", REPO / "seeds" / "seed-korea-ww3.txt", "--out", out, "--quiet")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 119
    assert {r["stance"] for r in rows} <= {"support", "restraint", "none"}
    assert {r["framing"] for r in rows} <= {"western", "russian", "neutral"}
    gold = {json.loads(line)["id"]: json.loads(line) for line in (REPO / "data" / "seed" / "labels.jsonl").open()}
    agree = sum(r["framing"] == gold[r["id"]]["framing"] for r in rows) / len(rows)
    # the seed is in its training data: a sound load agrees with the gold almost everywhere, a broken one
    # (wrong encoder weights, heads not loaded) falls towards the majority share (76 % neutral)
    assert agree > 0.85
