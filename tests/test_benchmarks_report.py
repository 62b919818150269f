"""benchmarks/report_bench.py: `benchmark report` on a few synthetic rows writes its table
with a time and a peak memory per format, and its rows are tag's columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from support.cli import run_cli

from stanceframe.benchmarks.report_bench import TASKS, synthetic_rows
from stanceframe.tagging.rows import sentence_columns


def test_synthetic_rows_are_tags_sentence_rows_with_metadata(tmp_path):
    frame = pd.read_parquet(synthetic_rows(tmp_path / "rows.parquet", 62))
    assert len(frame) == 62
    assert set(sentence_columns(TASKS)) <= set(frame.columns) and {"outlet", "date"} <= set(frame.columns)
    for task, labels in TASKS.items():
        p = frame[[f"p_{task}_{lab}" for lab in labels]]
        assert ((p.sum(axis=1) - 1).abs() < 1e-9).all()
        assert (frame[task] == p.idxmax(axis=1).str[len(f"p_{task}_"):]).all()


@pytest.mark.slow
def test_benchmark_report_measures_each_format(tmp_path):
    result = run_cli("benchmark", "report", "--rows", "3000", "--out", tmp_path)
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "report-bench.json").read_text())
    assert [r["format"] for r in report["results"]] == ["parquet", "jsonl"]
    for r in report["results"]:
        assert r["rows"] == 3000 and r["seconds"] > 0 and r["peak_rss_mb"] > 20
    assert (tmp_path / "report-bench" / "report.html").stat().st_size > 10_000
    assert "| parquet | 3,000 |" in (tmp_path / "report-bench.md").read_text()
