"""The model's suggestion per sentence and task (label and probability), from any model
that ``tag`` loads (``models.loading.load_model``), and the full probabilities the queue orders by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stanceframe.annotate.store import Suggestion


@dataclass
class Suggestions:
    by_id: dict[str, dict[str, Suggestion]]
    proba: dict[str, np.ndarray]  # task -> (n, classes), rows in ``ids`` order
    classes: dict[str, list[str]]
    ids: list[str]


def suggest(model, ids: Sequence[str], texts: Sequence[str], tasks: Sequence[str], batch: int = 256) -> Suggestions:
    ids, texts = list(ids), list(texts)
    tasks = [t for t in tasks if t in model.tasks]
    proba = {t: [] for t in tasks}
    for i in range(0, len(texts), batch):
        preds = model.predict(texts[i:i + batch])
        for t in tasks:
            proba[t].append(preds[t].proba)
    classes = {t: model.classes(t) for t in tasks}
    stacked = {t: np.vstack(proba[t]) if proba[t] else np.zeros((0, len(classes[t]))) for t in tasks}
    by_id = {}
    for row, sid in enumerate(ids):
        by_id[sid] = {t: Suggestion(classes[t][int(stacked[t][row].argmax())], float(stacked[t][row].max()))
                      for t in tasks}
    return Suggestions(by_id, stacked, classes, ids)
