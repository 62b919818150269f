"""Data for the tag / inspect / report tests: a real tfidf-logreg model folder trained on
the repo's gold data, generated articles, JSON Lines files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from support.paths import REPO

# a short article of three paragraphs: restraint, a two-sentence paragraph, Russian framing
ARTICLE = (
    "Seoul refuses lethal aid.\n\n"
    "South Korea said it would only send humanitarian aid to Ukraine. The president warned that arms "
    "supplies would provoke Moscow.\n\n"
    "Russia's special military operation continues, the Kremlin said."
)


def gold_sentences() -> list[dict]:
    rows = []
    for name in ("seed/labels.jsonl", "contrast/contrast.jsonl"):
        with open(REPO / "data" / name, encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def build_model(path: Path) -> Path:
    """A tfidf-logreg model folder (stance + framing) fitted on the gold sentences."""
    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.tfidf import TfidfLogRegClassifier

    rows = gold_sentences()
    texts = [r["text"] for r in rows]
    estimators = {task: TfidfLogRegClassifier().fit(texts, [r[task] for r in rows]) for task in ("stance", "framing")}
    ModelBundle("tfidf-logreg", estimators, {"name": "test-tfidf"}).save(path)
    return path


def article_text(rng: random.Random, sentences: list[str], paragraphs: int = 3, per_paragraph: int = 3) -> str:
    """An article of gold sentences: blank-line separated paragraphs."""
    return "\n\n".join(" ".join(rng.choice(sentences) for _ in range(per_paragraph)) for _ in range(paragraphs))


def corpus_records(n: int, seed: int = 7, paragraphs: int = 3, per_paragraph: int = 3) -> list[dict]:
    rng = random.Random(seed)
    sentences = [r["text"] for r in gold_sentences()]
    return [{"id": f"art{i:05d}", "text": article_text(rng, sentences, paragraphs, per_paragraph)} for i in range(n)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class Crash(Exception):
    pass


class CrashingModel:
    """The real model, raising after ``calls`` predict calls (a crash mid-run)."""

    def __init__(self, model, calls):
        self.model, self.calls = model, calls

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict_values(self, texts):
        self.calls -= 1
        if self.calls < 0:
            raise Crash()
        return self.model.predict_values(texts)
