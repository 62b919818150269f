"""``benchmark report``: time and peak memory of ``stanceframe report`` on synthetic
sentence rows shaped as ``tag`` writes them (36 outlets, 48 months, articles of 30
sentences, three voices, the default model's tasks and labels), written as Parquet and JSONL
without holding them in memory; each report runs in a fresh process under
:mod:`~stanceframe.benchmarks.memory`'s wrapper."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

TASKS = {"stance": ["none", "restraint", "support"], "framing": ["neutral", "russian", "western"]}
VOICES = ["narrator", "quote", "mixed"]
OUTLETS, MONTHS, SENTENCES_PER_ARTICLE = 36, 48, 30
CHUNK = 100_000  # rows generated and written at a time
WORDS = ("Seoul Moscow Kyiv Pyongyang shells missiles air defence observers treaty sanctions minister said "
         "would the of and to in a on for weapons aid front talks").split()


def synthetic_rows(path: Path, rows: int, seed: int = 13) -> Path:
    """``rows`` sentence rows as a Parquet file, ``CHUNK`` at a time (numpy and pyarrow)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            index = np.arange(start, start + n)
            article = index // SENTENCES_PER_ARTICLE
            sentence = index % SENTENCES_PER_ARTICLE + 1
            doc = np.char.add("doc", article.astype(str))
            month = article % MONTHS
            columns = {
                "doc_id": doc, "id": np.char.add(np.char.add(doc, "-p"), sentence.astype(str)),
                "paragraph": sentence, "sentence": np.ones(n, dtype=np.int64), "start": sentence * 100,
                "end": sentence * 100 + 90,
                "text": np.array([" ".join(rng.choice(WORDS, 14)) + "." for _ in range(n)]),
                "voice": np.array(VOICES)[rng.choice(3, n, p=[0.7, 0.2, 0.1])],
            }
            probabilities = {}
            for task, labels in TASKS.items():
                p = rng.dirichlet(np.ones(len(labels)), n)
                columns[task] = np.array(labels)[p.argmax(axis=1)]
                probabilities.update({f"p_{task}_{lab}": p[:, k] for k, lab in enumerate(labels)})
            columns.update(probabilities)
            columns["outlet"] = np.char.add("outlet-", (article % OUTLETS).astype(str))
            columns["date"] = np.array([f"{2022 + m // 12}-{m % 12 + 1:02d}-15" for m in month])
            columns["url"] = np.char.add("https://outlet.example/a/", article.astype(str))
            columns["title"] = np.char.add("Article ", article.astype(str))
            table = pa.table({k: pa.array(v) for k, v in columns.items()})
            table = table.append_column("quotes", pa.array([[] for _ in range(n)], pa.list_(pa.list_(pa.int64()))))
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def as_jsonl(parquet: Path, path: Path) -> Path:
    """The same rows as JSON Lines (DuckDB's COPY: streamed)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{path}' (FORMAT JSON)")
    return path


def run_report_bench(rows: int, out: Path, formats: Sequence[str] = ("parquet", "jsonl"),
                     log: Callable[[str], None] = lambda _: None) -> dict:
    """Time and peak memory of ``report --by outlet --by month`` with CSV, Markdown and HTML
    outputs, per input format."""
    from stanceframe.benchmarks.memory import command_peak

    scratch = out / "report-bench"
    scratch.mkdir(parents=True, exist_ok=True)
    parquet = scratch / f"rows-{rows}.parquet"
    if not parquet.exists():
        log(f"writing {rows:,} synthetic rows to {parquet}")
        synthetic_rows(parquet.with_suffix(".tmp"), rows).replace(parquet)
    inputs = {"parquet": parquet}
    if "jsonl" in formats:
        jsonl = parquet.with_suffix(".jsonl")
        if not jsonl.exists():
            log(f"writing them as JSONL to {jsonl}")
            as_jsonl(parquet, jsonl.with_suffix(".tmp")).replace(jsonl)
        inputs["jsonl"] = jsonl
    results = []
    for fmt in formats:
        args = ["report", str(inputs[fmt]), "--by", "outlet", "--by", "month", "--csv", str(scratch / "table.csv"),
                "--md", str(scratch / "table.md"), "--html", str(scratch / "report.html")]
        log(f"stanceframe {' '.join(args)}")
        measured, _ = command_peak(args, ok=(0,))
        size = inputs[fmt].stat().st_size
        results.append({"format": fmt, "rows": rows, "input_mb": round(size / 2**20, 1), **measured})
        log(f"{fmt}: {measured['seconds']} s, peak RSS {measured['peak_rss_mb']} MB")
    return {"rows": rows, "groups": OUTLETS * MONTHS, "results": results, "machine": machine()}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def to_markdown(report: dict, command: str) -> str:
    from stanceframe.markdown import markdown_table

    rows = [[r["format"], f"{r['rows']:,}", r["input_mb"], r["seconds"], r["peak_rss_mb"], r["peak_pss_mb"]]
            for r in report["results"]]
    table = markdown_table(["input", "rows", "input MB", "seconds", "peak RSS MB", "peak PSS MB"], rows, "lrrrrr")
    return (f"`{command}`: `stanceframe report --by outlet --by month` with --csv, --md and --html, "
            f"{report['groups']:,} groups, on {report['machine']['cpus']} CPUs\n\n{table}\n")


def write(report: dict, out: Path, command: str) -> str:
    text = to_markdown(report, command)
    (out / "report-bench.md").write_text(text, encoding="utf-8")
    (out / "report-bench.json").write_text(json.dumps({**report, "command": command}, indent=2) + "\n")
    return text
