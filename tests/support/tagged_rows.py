"""Tagged sentence rows built by hand, as ``tag`` writes them (with the metadata columns
``outlet``, ``date``, ``url`` and ``title``), for the report tests: seeded, with known counts."""

from __future__ import annotations

import json
import random
from pathlib import Path

TASKS = {"stance": ["none", "restraint", "support"], "framing": ["neutral", "russian", "western"]}
VOICES = ["narrator", "quote", "mixed"]


def tagged_rows(n_docs: int = 24, per_doc: int = 8, seed: int = 7, outlets=("tass", "ap", "kcna")) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for d in range(n_docs):
        outlet, month = outlets[d % len(outlets)], d % 4 + 1
        for s in range(per_doc):
            row = {"doc_id": f"doc{d}", "id": f"doc{d}-p{s + 1}-s1", "paragraph": s + 1, "sentence": 1,
                   "start": 100 * s, "end": 100 * s + 40, "text": f"Sentence {s} of article {d}.",
                   "voice": rnd.choice(VOICES), "quotes": []}
            probabilities = {}
            for task, labels in TASKS.items():
                weights = [rnd.random() + 0.01 for _ in labels]
                total = sum(weights)
                p = [w / total for w in weights]
                row[task] = labels[max(range(len(labels)), key=p.__getitem__)]
                probabilities.update({f"p_{task}_{lab}": v for lab, v in zip(labels, p)})
            row.update(probabilities)
            row.update({"url": f"https://news.example/{d}", "outlet": outlet, "date": f"2024-{month:02d}-{10 + d % 9}",
                        "title": f"Article {d}"})
            rows.append(row)
    return rows


def write_rows(rows: list[dict], path: Path, fmt: str | None = None) -> Path:
    """``rows`` as JSONL, CSV or Parquet (by ``fmt`` or the suffix); a folder: partitioned by
    outlet as Spark writes it (``outlet=<value>/part-*.parquet``)."""
    import pandas as pd

    fmt = fmt or path.suffix.lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        pd.DataFrame([{k: v for k, v in r.items() if k != "quotes"} for r in rows]).to_csv(path, index=False)
    elif fmt == "parquet":
        pd.DataFrame(rows).to_parquet(path, index=False)
    elif fmt == "spark":
        frame = pd.DataFrame(rows)
        for i, (outlet, part) in enumerate(frame.groupby("outlet")):
            folder = path / f"outlet={outlet}"
            folder.mkdir(parents=True, exist_ok=True)
            part.drop(columns="outlet").to_parquet(folder / f"part-{i:05d}.parquet", index=False)
        (path / "_SUCCESS").write_text("")
    return path
