"""Agreement between annotators of one store: Cohen's kappa per pair of annotators and
task (on the sentences both labelled), Krippendorff's alpha (nominal) per task over all
annotators (sentences with at least two labels), with the counts behind each figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from stanceframe.annotate.store import Store


@dataclass
class PairAgreement:
    task: str
    a: str
    b: str
    n: int  # sentences both labelled
    agree: int
    kappa: float | None  # None when undefined (no shared sentence, or one label only on both sides)


@dataclass
class TaskAgreement:
    task: str
    annotators: int
    units: int  # sentences with two or more labels
    alpha: float | None


@dataclass
class Disagreement:
    sentence_id: str
    task: str
    labels: dict[str, str]  # annotator -> label


def cohen_kappa(x: Sequence[str], y: Sequence[str]) -> float | None:
    """Cohen's kappa, (p_o - p_e) / (1 - p_e); None when p_e is 1 (both gave one label)."""
    if not x:
        return None
    labels = sorted(set(x) | set(y))
    n = len(x)
    p_o = sum(a == b for a, b in zip(x, y)) / n
    p_e = sum((list(x).count(lab) / n) * (list(y).count(lab) / n) for lab in labels)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)


def krippendorff_alpha(table: dict[str, dict[str, str]], annotators: Sequence[str]) -> tuple[float | None, int]:
    """Nominal alpha of ``sentence -> annotator -> label`` (the ``krippendorff`` package),
    over sentences with at least two labels; and how many there are."""
    import krippendorff

    units = [sid for sid, labels in table.items() if len(labels) >= 2]
    values = sorted({lab for sid in units for lab in table[sid].values()})
    if not units or len(values) < 2:
        return None, len(units)
    code = {lab: i for i, lab in enumerate(values)}
    data = np.full((len(annotators), len(units)), np.nan)
    for j, sid in enumerate(units):
        for i, who in enumerate(annotators):
            if who in table[sid]:
                data[i, j] = code[table[sid][who]]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), len(units)


def by_task(store: Store, task: str) -> dict[str, dict[str, str]]:
    """sentence -> annotator -> label on ``task``."""
    out: dict[str, dict[str, str]] = {}
    for who, per_sentence in store.answers().items():
        for sid, labels in per_sentence.items():
            if task in labels:
                out.setdefault(sid, {})[who] = labels[task]
    return out


def agreement(store: Store, tasks: Sequence[str]) -> tuple[list[PairAgreement], list[TaskAgreement]]:
    pairs, overall = [], []
    annotators = store.annotators()
    for task in tasks:
        table = by_task(store, task)
        for a, b in combinations(annotators, 2):
            shared = [sid for sid, labels in table.items() if a in labels and b in labels]
            x = [table[s][a] for s in shared]
            y = [table[s][b] for s in shared]
            pairs.append(PairAgreement(task, a, b, len(shared), sum(p == q for p, q in zip(x, y)), cohen_kappa(x, y)))
        alpha, units = krippendorff_alpha(table, annotators)
        overall.append(TaskAgreement(task, len(annotators), units, alpha))
    return pairs, overall


def disagreements(store: Store, tasks: Sequence[str]) -> list[Disagreement]:
    """Sentences and tasks on which annotators gave different labels, in article order."""
    order = {s.id: s.ord for s in store.sentences()}
    out = []
    for task in tasks:
        for sid, labels in by_task(store, task).items():
            if len(set(labels.values())) > 1:
                out.append(Disagreement(sid, task, dict(sorted(labels.items()))))
    return sorted(out, key=lambda d: (order.get(d.sentence_id, 0), list(tasks).index(d.task)))


def format_report(pairs: Sequence[PairAgreement], overall: Sequence[TaskAgreement]) -> str:
    from stanceframe.report import format_table

    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [format_table(["task", "annotator A", "annotator B", "shared", "agree", "Cohen's kappa"],
                          [[p.task, p.a, p.b, p.n, p.agree, fmt(p.kappa)] for p in pairs]) if pairs else
             "one annotator only: no pair to compare",
             "",
             format_table(["task", "annotators", "sentences with 2+ labels", "Krippendorff's alpha"],
                          [[t.task, t.annotators, t.units, fmt(t.alpha)] for t in overall])]
    return "\n".join(lines)


def open_disagreements(store: Store, tasks: Sequence[str]) -> list[Disagreement]:
    """The disagreements not adjudicated yet."""
    settled = store.adjudications()
    return [d for d in disagreements(store, tasks) if d.task not in settled.get(d.sentence_id, {})]
