"""The active-learning benchmark: the split, the 95 % rule and a short real run on the written corpus."""

from __future__ import annotations

import json

from support.cli import run_cli
from support.paths import REPO

from stanceframe.benchmarks.active_learning import ALSettings, labels_needed, run_active_learning, split_by_article


def test_split_keeps_each_article_on_one_side():
    docs = ["a", "a", "b", "b", "c", "d", "d", "e"]
    pool, held = split_by_article(docs, 0.4, seed=3)
    assert sorted(pool + held) == list(range(8))
    assert not {docs[i] for i in pool} & {docs[i] for i in held}
    assert len({docs[i] for i in held}) == 2
    assert split_by_article(docs, 0.4, seed=3) == (pool, held)


def test_labels_needed_is_the_first_size_reaching_the_goal():
    assert labels_needed([20, 40, 60], [0.3, 0.56, 0.7], 0.55) == 40
    assert labels_needed([20, 40, 60], [0.3, 0.4, 0.5], 0.55) is None


def test_a_short_run_on_the_written_corpus(tmp_path):
    settings = ALSettings(batch=20, max_labels=60, seeds=(0,), n_clusters=5)
    result, paths = run_active_learning(REPO / "data" / "written" / "labels.jsonl", tmp_path, settings)
    assert result.sizes == [20, 40, 60]
    for strategy in ("random", "article", "uncertain", "diverse"):
        for task in ("stance", "framing"):
            curve = result.curves[strategy][task][0]
            assert len(curve) == 3 and all(0 <= v <= 1 for v in curve)
    # the strategies choose differently: after the shared random start, uncertain differs from random
    assert result.curves["uncertain"]["stance"][0][1:] != result.curves["random"]["stance"][0][1:]
    assert result.curves["uncertain"]["stance"][0][0] == result.curves["random"]["stance"][0][0]
    assert 0.3 < result.full_pool["stance"][0] <= 1
    saved = json.loads(paths["json"].read_text())
    assert saved["articles"] == 171 and saved["sizes"] == [20, 40, 60]
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert "| uncertain |" in paths["markdown"].read_text()


def test_the_command_refuses_a_batch_above_the_end(tmp_path):
    result = run_cli("benchmark", "active-learning", "--batch", "50", "--max-labels", "20", "--out", tmp_path)
    assert result.code == 2 and "--max-labels" in result.err
