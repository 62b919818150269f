"""The speed benchmark: `stanceframe benchmark speed --quick` runs end to end and writes the
documented JSON keys; `stanceframe bench`, its deprecated alias, takes the same options and
says it is deprecated; the memory wrapper measures its child alone. Never a speed
assertion: the figures depend on the machine and its load."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from support.cli import run_cli

from stanceframe import cli
from stanceframe.cli import benchmarks as benchmark_commands
from stanceframe.cli.parser import build_parser

BENCH_ALIAS_LINE = ("stanceframe: `stanceframe bench` is deprecated and will be removed in the next release; "
                    "use `stanceframe benchmark speed` (same options)")


@pytest.mark.slow  # fits and times every family, the transformer ones included (half a minute on 2 cores)
def test_benchmark_speed_quick_writes_the_documented_json(project):
    out = project / "out" / "bench.json"
    done = run_cli("benchmark", "speed", "--quick", "--json", out, cwd=project)
    assert done.code == 0, done.err[-3000:]
    report = json.loads(out.read_text())

    families = report["sentences_per_s"]
    assert {"tfidf-logreg", "encoder-finetune"} <= set(families)
    assert all(isinstance(v, (int, float)) and v > 0 for v in families.values())
    for family, result in report["families"].items():
        assert result["sentences"] > 0 and len(result["runs_s"]) == 3
        assert len(result["segmentation_workers"]) == 3 and all(isinstance(w, int) for w in result["segmentation_workers"])
        assert round(result["sentences_per_s"], 1) == families[family]
    for key in ("ratio_vs_pipeline", "ratio_vs_raw"):
        assert isinstance(report[key], float) and math.isfinite(report[key]) and report[key] > 0
    assert report["pipeline"]["sentences"] == report["ceiling"]["sentences"] > 0
    ((size, mb),) = report["peak_rss_mb"].items()  # --quick: one memory run, no 1M run
    assert int(size) < 1_000_000 and mb > 10
    assert set(report["fit_seconds"]["tfidf-logreg"]) == {"stance", "framing"}
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    assert {"torch", "transformers", "stanceframe"} <= set(report["versions"])

    table = done.out
    assert table.startswith(f"Command: `stanceframe benchmark speed --quick --json {out}`")
    assert report["command"] == f"stanceframe benchmark speed --quick --json {out}"
    assert "deprecated" not in done.err
    assert "| measurement |" in table and "ratio_vs_pipeline" in table and "peak RSS" in table
    assert report["targets"] == {} and "Targets: not judged on a --quick run" in table  # too small to judge
    assert (project / "out" / "bench" / "models" / "tfidf-logreg" / "manifest.json").is_file()


def test_tag_path_proba_is_what_tag_writes(tmp_path):
    """--f1 scores `tag`'s own inference path: the probabilities tag_path_proba gives are the
    ones a real `tag` run writes for the same sentences (record unit: one sentence each)."""
    import numpy as np

    from stanceframe.benchmarks.inference_f1 import tag_path_proba
    from stanceframe.benchmarks.speed import untrained_finetune_bundle
    from stanceframe.models.bundle import ModelBundle
    from stanceframe.tagging import run_tag

    texts = ["Seoul will send artillery shells to Kyiv.", "Only humanitarian aid, the minister said.",
             "The special military operation goes on, Moscow said on Monday after the talks.", "Talks."]
    est = untrained_finetune_bundle({"stance": ["none", "restraint", "support"]}).estimators["stance"]
    proba = tag_path_proba(est, "stance", texts)
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1.0)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    run_tag([str(src)], ModelBundle("encoder-finetune", {"stance": est}), out=out, unit="record")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    written = np.asarray([[r[f"p_stance_{c}"] for c in est.classes_] for r in rows])
    assert np.array_equal(written, proba)


def test_targets_are_judged_against_the_issue_thresholds():
    from stanceframe.benchmarks.speed import targets_met

    report = {"ratio_vs_pipeline": 1.6, "ratio_vs_raw": 0.84, "rss_growth": 0.05,
              "sentences_per_s": {"tfidf-logreg": 15_000.0, "tfidf-svm": 14_999.0, "lexicon": 10.0}}
    assert targets_met(report) == {"ratio_vs_pipeline >= 1.5": True, "ratio_vs_raw >= 0.85": False,
                                   "tfidf-logreg >= 15,000 sentences/s": True,
                                   "tfidf-svm >= 15,000 sentences/s": False, "peak RSS growth <= 10%": True}


def test_bench_family_default_times_the_shipped_model_folder(project, model_dir):
    """`--family default` times the committed models/default/ as tag uses it (no fit). Run
    through the deprecated `bench` alias: the same run and table, one line more on stderr."""
    import shutil

    shutil.copytree(model_dir, project / "models" / "default")
    out = project / "out" / "bench-default.json"
    done = run_cli("bench", "--family", "default", "--sentences", "300", "--repeats", "1",
                   "--rss-model", "models/default", "--rss-sizes", "200", "400", "--json", out, cwd=project)
    assert done.code == 0, done.err[-3000:]
    report = json.loads(out.read_text())
    assert report["families"]["default"]["sentences"] > 200  # the synthetic corpus of about 300
    assert report["sentences_per_s"]["default"] > 0
    assert report["fit_seconds"]["default"] == {}
    # the peak-memory runs tag with the model asked for, at the sizes asked for
    assert report["rss_model"] == "`models/default`" and set(report["peak_rss_mb"]) == {"200", "400"}
    assert "rss_growth" in report and "| peak RSS of `stanceframe tag` (fresh process) | `models/default` | 400 |" in done.out
    assert "the shipped model in" in done.err
    assert done.err.splitlines()[0] == BENCH_ALIAS_LINE
    assert done.out.startswith("Command: `stanceframe bench --family default --sentences 300")


def test_bench_alias_takes_every_option_of_benchmark_speed(capsys):
    """`bench` parses every option as `benchmark speed` does and runs the same handler after
    its one deprecation line (an unknown family: the run stops before any work)."""
    options = ["--quick", "--json", "x.json", "--sentences", "10", "--transformer-sentences", "5", "--input", "a",
               "b", "--family", "lexicon", "--family", "default", "--model", "m", "--repeats", "2",
               "--batch-size", "8", "--refit", "--no-rss", "--f1"]
    parser = build_parser()
    alias = vars(parser.parse_args(["bench", *options]))
    speed = vars(parser.parse_args(["benchmark", "speed", *options]))
    assert alias.pop("func") is benchmark_commands.cmd_bench and speed.pop("func") is benchmark_commands.cmd_benchmark_speed
    assert (alias.pop("command"), speed.pop("command"), speed.pop("benchmark")) == ("bench", "benchmark", "speed")
    assert alias == speed and alias["family"] == ["lexicon", "default"] and alias["no_rss"] and alias["f1"]

    assert cli.main(["bench", "--family", "no-such-family", "--no-rss"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == BENCH_ALIAS_LINE == benchmark_commands.BENCH_DEPRECATED
    assert len(err) == 2 and err[1].startswith("stanceframe: error: bench: unknown families ['no-such-family']")
    assert cli.main(["benchmark", "speed", "--family", "no-such-family", "--no-rss"]) == 2
    assert capsys.readouterr().err.splitlines() == err[1:]


def test_memory_wrapper_measures_its_child_alone():
    """`python -m stanceframe.benchmarks.memory CMD...` reports the child's own peak (not the
    wrapper's: it imports only the standard library) and exits with the child's status."""
    from stanceframe.benchmarks.memory import REPORT_RE

    def measured(code: str) -> tuple[int, int, int]:
        done = subprocess.run([sys.executable, "-m", "stanceframe.benchmarks.memory", sys.executable, "-c", code],
                              capture_output=True, timeout=60)
        found = REPORT_RE.search(done.stderr.decode())
        assert found, done.stderr.decode()[-2000:]
        return done.returncode, int(found.group(1)) // 1024, int(found.group(2)) // 1024

    code, small_mb, _ = measured("import sys; sys.exit(3)")
    assert code == 3 and small_mb < 60  # a bare interpreter: the wrapper's own imports are not counted
    code, big_mb, pss_mb = measured("import time; block = b'x' * (120 * 2**20); time.sleep(0.5)")
    assert code == 0 and big_mb >= small_mb + 100 and pss_mb >= 100
