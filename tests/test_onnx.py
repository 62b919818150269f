"""ONNX Runtime as the encoder families' inference path: the export and its parity check,
the cache keyed by the weights, the torch-free tagging process, the PyTorch path still
selectable, and int8 with its accuracy guard. Real MiniLM weights, tiny training
(tests/test_encoder_families.py's settings); the ONNX cache in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from support.cli import run_cli
from support.paths import REPO

from stanceframe.errors import ModelFolderError
from stanceframe.models import onnx_export, onnx_predictors, onnx_quantize, onnx_runtime
from stanceframe.models.bundle import ModelBundle

SMALL = {"trainable_layers": 1, "epochs": 2, "max_length": 32, "batch_size": 8, "validation_fraction": 0.3,
         "patience": 1}
SEED_TEXTS = [json.loads(line)["text"] for line in (REPO / "data" / "seed" / "sentences.jsonl").open(encoding="utf-8")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh ONNX cache (``$STANCEFRAME_CACHE``) for the module; the MiniLM encoder comes
    from its pip package, so nothing else lives there."""
    folder = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("STANCEFRAME_CACHE", str(folder))
    yield folder
    mp.undo()
    onnx_runtime.clear_networks()


@pytest.fixture(scope="module")
def multitask_folder(tmp_path_factory, cache):
    """A tiny encoder-multitask model (MiniLM) saved as a model folder, and its PyTorch bundle."""
    from stanceframe.dataset import load_labelled
    from stanceframe.experiments import fit_bundle

    rows = [json.loads(line) for line in (REPO / "data" / "written" / "labels.jsonl").open(encoding="utf-8")]
    docs = list(dict.fromkeys(r["doc_id"] for r in rows))[:12]
    keep = [r for d in docs for r in [x for x in rows if x["doc_id"] == d][:3]]
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    bundle, _ = fit_bundle("encoder-multitask", load_labelled(path), ["stance", "framing"], SMALL, 13)
    return bundle.save(tmp_path_factory.mktemp("models") / "multitask"), bundle


def _onnx(monkeypatch):
    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "onnx")


def test_onnx_is_the_default_runtime_and_torch_stays_selectable(monkeypatch):
    monkeypatch.delenv(onnx_runtime.RUNTIME_ENV)
    assert onnx_runtime.runtime() == "onnx"
    onnx_runtime.use_runtime("torch")
    assert onnx_runtime.runtime() == "torch"
    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "tensorflow")
    with pytest.raises(Exception, match="not a runtime"):
        onnx_runtime.runtime()


def test_export_matches_pytorch_on_the_seed_and_is_cached_by_the_weights(multitask_folder, monkeypatch, cache):
    folder, torch_bundle = multitask_folder
    _onnx(monkeypatch)
    loaded = ModelBundle.load(folder)
    stance, framing = loaded.estimators["stance"], loaded.estimators["framing"]
    assert isinstance(stance, onnx_predictors.OnnxMultiTaskPredictor)
    assert stance.shared_ is framing.shared_  # one network, one pass for both tasks
    digest = onnx_predictors.multitask_digest(folder / "stance" / "shared")
    meta = onnx_runtime.read_meta(cache / "onnx" / digest)
    assert meta["parity"]["fp32_max_abs_diff"] <= onnx_export.PARITY_TOLERANCE
    assert meta["tasks"] == {"stance": loaded.classes("stance"), "framing": loaded.classes("framing")}
    want, got = torch_bundle.predict(SEED_TEXTS), loaded.predict(SEED_TEXTS)
    for task in ("stance", "framing"):
        assert got[task].labels == want[task].labels
        assert np.max(np.abs(got[task].proba - want[task].proba)) <= onnx_export.PARITY_TOLERANCE
    # a second load finds the export in the cache: no PyTorch, no export
    monkeypatch.setattr(onnx_export, "export_multitask", lambda *a, **k: pytest.fail("exported again"))
    onnx_predictors._SHARED.clear()
    assert ModelBundle.load(folder).predict(SEED_TEXTS[:5])["stance"].labels == want["stance"].labels[:5]


def test_an_export_past_the_tolerance_is_refused_and_not_cached(multitask_folder, monkeypatch, tmp_path):
    folder, _ = multitask_folder
    _onnx(monkeypatch)
    monkeypatch.setenv("STANCEFRAME_CACHE", str(tmp_path / "other-cache"))
    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", 0.0)
    onnx_predictors._SHARED.clear()
    with pytest.raises(ModelFolderError, match=r"max abs difference vs PyTorch .* exceeds the tolerance 0e\+00; "
                                               r"refused \(use --runtime torch\)"):
        ModelBundle.load(folder)
    assert not [p for p in (tmp_path / "other-cache" / "onnx").iterdir() if not p.name.startswith(".")]


def test_tag_with_an_onnx_model_imports_neither_torch_nor_transformers(multitask_folder, monkeypatch, tmp_path):
    folder, _ = multitask_folder
    _onnx(monkeypatch)
    ModelBundle.load(folder)  # the export is in the cache
    article = REPO / "seeds" / "seed-korea-ww3.txt"
    heavy = ("torch", "transformers", "sklearn", "peft", "pandas", "scipy.stats", "mlflow")
    code = ("import json, sys\nfrom stanceframe.cli import main\n"
            f"code = main(['tag', {str(article)!r}, '--model', {str(folder)!r}, '--quiet', '--out', 'tags.jsonl'])\n"
            f"print(json.dumps([code, sorted(m for m in {heavy!r} if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    code_, loaded = json.loads(out.strip().splitlines()[-1])
    assert code_ == 0 and loaded == []
    rows = [json.loads(line) for line in (tmp_path / "tags.jsonl").open()]
    assert rows and {"stance", "framing", "p_stance_support"} <= set(rows[0])


def test_tag_labels_are_the_same_on_both_runtimes(multitask_folder, monkeypatch, tmp_path):
    folder, _ = multitask_folder
    _onnx(monkeypatch)
    article = str(REPO / "seeds" / "seed-korea-ww3.txt")
    outs = {}
    for runtime in ("torch", "onnx"):
        result = run_cli("tag", article, "--model", str(folder), "--runtime", runtime, "--quiet",
                         "--out", str(tmp_path / f"{runtime}.jsonl"))
        assert result.code == 0, result.err
        outs[runtime] = [json.loads(line) for line in (tmp_path / f"{runtime}.jsonl").open()]
    assert [(r["id"], r["stance"], r["framing"]) for r in outs["torch"]] == \
        [(r["id"], r["stance"], r["framing"]) for r in outs["onnx"]]
    diff = max(abs(a[k] - b[k]) for a, b in zip(outs["torch"], outs["onnx"]) for k in a if k.startswith("p_"))
    assert diff <= onnx_export.PARITY_TOLERANCE


def test_int8_is_guarded_and_the_figures_are_reported(multitask_folder, monkeypatch, tmp_path):
    import shutil

    folder, _ = multitask_folder
    copy = tmp_path / "m"
    shutil.copytree(folder, copy)
    _onnx(monkeypatch)
    # a folder without compare's grouped-CV figures (fitted by `train`) is refused, saying why
    result = run_cli("onnx", str(copy), "--precision", "int8")
    assert result.code == 2 and "no grouped-CV int8 figures" in result.err and "labels flip" in result.err
    # with figures inside the limits, the seed's flips decide
    manifest = json.loads((copy / "manifest.json").read_text())
    fold = {"fp32": 0.7, "int8": 0.695, "drop": 0.005, "sentences": 40, "flipped": 0, "flip_share": 0.0,
            "max_abs_proba_diff": 0.01}
    manifest["int8_evidence"] = {t: {"cv": [fold], "realtext": fold} for t in ("stance", "framing")}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    verdict = run_cli("onnx", str(copy), "--precision", "int8")
    accepted = verdict.code == 0
    assert "grouped CV fold 1 stance" in verdict.err and "real-text check framing" in verdict.err
    assert "labels flip" in verdict.err  # the figures, either way
    manifest = json.loads((copy / "manifest.json").read_text())
    assert (manifest.get("onnx", {}).get("precision") == "int8") == accepted
    # a guard that no quantised model can pass: refused with the numbers, the manifest unchanged
    monkeypatch.setattr(onnx_quantize, "MAX_FLIPS", -1.0)
    before = (copy / "manifest.json").read_text()
    result = run_cli("onnx", str(copy), "--precision", "int8")
    assert result.code == 2
    assert "int8 refused" in result.err and "seed labels flip" in result.err
    assert (copy / "manifest.json").read_text() == before


def test_an_int8_model_loads_its_quantised_network(multitask_folder, monkeypatch):
    folder, _ = multitask_folder
    _onnx(monkeypatch)
    fp32, int8 = ModelBundle.load(folder, precision="fp32"), ModelBundle.load(folder, precision="int8")
    net = int8.estimators["stance"].shared_.network
    assert net.precision == "int8" and (net.folder / onnx_runtime.MODEL_FILE["int8"]).is_file()
    # the matrix products are int8; the token embeddings (a Gather) stay float32
    assert (net.folder / "model.int8.onnx").stat().st_size < 0.75 * (net.folder / "model.onnx").stat().st_size
    report = onnx_quantize.int8_guard(fp32, int8, {}, SEED_TEXTS)
    assert set(report["flips"]) == {"stance", "framing"} and report["flips"]["stance"]["sentences"] == len(SEED_TEXTS)


def test_finetune_and_logreg_families_run_on_onnx_too(monkeypatch, tmp_path, cache):
    from stanceframe.benchmarks.speed import untrained_finetune_bundle
    from stanceframe.dataset import load_labelled
    from stanceframe.experiments import fit_bundle

    finetune = untrained_finetune_bundle({"stance": ["none", "restraint", "support"]})
    est = finetune.estimators["stance"]
    est.model_.config.id2label = dict(enumerate(est.classes_))  # what a fit writes
    finetune.save(tmp_path / "ft")
    data = load_labelled(REPO / "data" / "seed" / "labels.jsonl")
    logreg, _ = fit_bundle("encoder-logreg", data, ["stance"], None, 13)
    logreg.save(tmp_path / "lr")
    _onnx(monkeypatch)
    for torch_bundle, name, cls in ((finetune, "ft", onnx_predictors.OnnxFineTunePredictor),
                                    (logreg, "lr", onnx_predictors.OnnxLogRegPredictor)):
        loaded = ModelBundle.load(tmp_path / name)
        assert isinstance(loaded.estimators["stance"], cls)
        want, got = torch_bundle.predict(SEED_TEXTS[:40]), loaded.predict(SEED_TEXTS[:40])
        assert got["stance"].labels == want["stance"].labels
        assert np.max(np.abs(got["stance"].proba - want["stance"].proba)) <= onnx_export.PARITY_TOLERANCE


def test_a_model_loaded_for_onnx_saves_the_folder_it_came_from(multitask_folder, monkeypatch, tmp_path):
    """compare --promote loads a candidate and saves it elsewhere: the same PyTorch weights."""
    folder, _ = multitask_folder
    _onnx(monkeypatch)
    saved = ModelBundle.load(folder).save(tmp_path / "promoted")
    for task in ("stance", "framing"):
        files = sorted(p.relative_to(folder / task) for p in (folder / task).rglob("*") if p.is_file())
        assert files and all((saved / task / f).read_bytes() == (folder / task / f).read_bytes() for f in files)
    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "torch")
    assert type(ModelBundle.load(saved).estimators["stance"]).__name__ == "EncoderMultiTaskClassifier"


def test_the_speed_report_shows_every_path_and_judges_the_onnx_targets():
    from stanceframe.benchmarks.speed import targets_met
    from stanceframe.benchmarks.speed_report import onnx_rows

    e2e = {p: {"sentences_per_s": r, "runs_s": [1.0]} for p, r in (("torch", 30), ("onnx-fp32", 210), ("onnx-int8", 360))}
    section = {"model": "/m/default", "family": "fusion", "sentences": 300, "end_to_end": e2e,
               "pipeline": {"sentences_per_s": 50}, "forward": {"onnx-fp32": {"sentences_per_s": 230},
                                                                "onnx-int8": {"sentences_per_s": 480}},
               "ratio_vs_pipeline": {"torch": 0.6, "onnx-fp32": 4.2, "onnx-int8": 7.2},
               "ratio_vs_forward": {"onnx-fp32": 0.91, "onnx-int8": 0.75},
               "ratio_vs_torch": {"torch": 1.0, "onnx-fp32": 7.0, "onnx-int8": 12.0},
               "startup": {p: {"median_s": s} for p, s in (("torch", 8.0), ("onnx-fp32", 1.6), ("onnx-int8", 1.0))},
               "peak_rss_mb": {"torch": 640, "onnx-fp32": 330, "onnx-int8": 280}}
    rows = onnx_rows([section])
    assert [r[0] for r in rows][:3] == ["end to end `tag`, torch", "end to end `tag`, onnx-fp32",
                                        "end to end `tag`, onnx-int8"]
    assert "4.20× the pipeline" in rows[1][4] and "start-up of `tag` on one article 1.60 s" in rows[1][4]
    met = targets_met({"ratio_vs_pipeline": None, "sentences_per_s": {}, "onnx": [section]})
    assert met == {"default: ONNX tag >= 4x the pipeline": True, "default: ONNX tag >= 0.9 of its forward pass": True,
                   "default: start-up of tag on one article <= 1.5 s": False}


@pytest.mark.slow
def test_onnx_labels_equal_pytorch_on_the_whole_written_corpus(multitask_folder, monkeypatch):
    folder, torch_bundle = multitask_folder
    _onnx(monkeypatch)
    texts = [json.loads(line)["text"] for line in (REPO / "data" / "written" / "sentences.jsonl").open(encoding="utf-8")]
    want, got = torch_bundle.predict(texts), ModelBundle.load(folder).predict(texts)
    for task in ("stance", "framing"):
        assert got[task].labels == want[task].labels
        assert np.max(np.abs(got[task].proba - want[task].proba)) <= onnx_export.PARITY_TOLERANCE


@pytest.mark.slow
def test_an_mpnet_multitask_model_exports_within_the_tolerance(monkeypatch, tmp_path, cache):
    """all-mpnet-base-v2 (no token type ids): fit briefly, export, compare on the seed."""
    from stanceframe import encoder_store
    from stanceframe.dataset import load_labelled
    from stanceframe.experiments import fit_bundle

    monkeypatch.delenv("STANCEFRAME_CACHE")
    installed = encoder_store.install_encoder("mpnet")  # the user's cache (installed: found as it is)
    monkeypatch.setenv("STANCEFRAME_CACHE", str(cache))
    (cache / "encoders").mkdir(exist_ok=True)
    (cache / "encoders" / installed.name).symlink_to(installed)

    data = load_labelled(REPO / "data" / "seed" / "labels.jsonl")
    bundle, _ = fit_bundle("encoder-multitask", data, ["stance", "framing"], {**SMALL, "encoder": "mpnet", "epochs": 1},
                           13)
    folder = bundle.save(tmp_path / "mpnet")
    _onnx(monkeypatch)
    loaded = ModelBundle.load(folder)
    assert loaded.estimators["stance"].shared_.network.input_names == ["input_ids", "attention_mask"]
    want, got = bundle.predict(SEED_TEXTS), loaded.predict(SEED_TEXTS)
    for task in ("stance", "framing"):
        assert got[task].labels == want[task].labels
        assert np.max(np.abs(got[task].proba - want[task].proba)) <= onnx_export.PARITY_TOLERANCE


INT8_COMPARE = """
[data]
gold = ["data/seed/labels.jsonl", "data/mine/labels.jsonl"]
train_only = []
realtext = ["data/seed/labels.jsonl"]
[cv]
group_by = "article"
n_splits = 3
n_repeats = 1
seed = 5
[promote]
rule = "per_task"
protocols = ["cv", "realtext"]
register = "best"
[families.encoder-multitask]
trainable_layers = 1
epochs = 1
max_length = 32
batch_size = 8
cv_folds = 1
int8_check = true
"""


@pytest.mark.slow
def test_compare_measures_int8_on_its_fold_models_and_the_guard_reads_it(project, cache, monkeypatch):
    """compare runs each fold model (and the real-text fit) of a family with int8_check as
    int8 too, in a scratch ONNX cache; the promoted folder records the figures and `stanceframe
    onnx --precision int8` judges them (a fold that drops past the limit refuses int8)."""
    from test_experiments import _articles, _no_tracker

    from stanceframe import experiments as ex
    from stanceframe.experiment_config import load_config

    _onnx(monkeypatch)
    (project / "data" / "mine").mkdir()
    (project / "data" / "mine" / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _articles()))
    (project / "training" / "int8.toml").write_text(INT8_COMPARE)
    before = set((cache / "onnx").iterdir()) if (cache / "onnx").is_dir() else set()
    result = ex.compare(load_config(project / "training" / "int8.toml"), tracker=_no_tracker(project), root=project,
                        promote=True, export=project / "m")
    after = set((cache / "onnx").iterdir()) if (cache / "onnx").is_dir() else set()
    assert len(after - before) <= 1  # the fold and real-text exports went to the scratch cache; only the final one
    for task in ("stance", "framing"):
        summary = result.summaries["encoder-multitask"][task]
        fold = summary["int8"]["folds"][0]
        assert fold["fp32"] == pytest.approx(summary["macro_f1"]["mean"], abs=1e-4)  # fp32 = the fold's own score
        assert 0 <= fold["flip_share"] <= 1 and fold["sentences"] == result.cv["encoder-multitask"][task].folds[0].n_test
        assert summary["realtext"]["int8"]["sentences"] == 119
    row = next(r for r in result.leaderboard if r["task"] == "stance")
    assert set(row["int8"]) == {"cv", "realtext"}
    assert "int8 (ONNX Runtime dynamic quantisation)" in (project / "out" / "compare" / "leaderboard.md").read_text()
    manifest = json.loads((project / "m" / "manifest.json").read_text())
    assert set(manifest["int8_evidence"]) == {"stance", "framing"}
    # the guard judges the recorded folds: doctor one fold to drop 5 points -> refused, naming it
    manifest["int8_evidence"]["stance"]["cv"][0].update(fp32=0.80, int8=0.75, drop=0.05)
    (project / "m" / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("onnx", str(project / "m"), "--precision", "int8")
    assert result.code == 2 and "grouped-CV fold 1 drops 5.0 points" in result.err
    assert "grouped CV fold 1 stance" in result.err and "seed stance" in result.err
