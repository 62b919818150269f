"""Terminal tables, plots and the self-contained HTML inspection page (no predictions here)."""

from __future__ import annotations

from typing import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(row):
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def label_stats_table(sets) -> str:
    """Label counts per task and label, one column per labelled file (and the total)."""
    tasks = []
    for s in sets:
        tasks += [t for t in s.tasks if t not in tasks]
    headers = ["task", "label"] + [getattr(s, "paths", ["?"])[0].rsplit("/", 1)[-1] for s in sets] + ["total"]
    rows = []
    for task in tasks:
        labels = []
        for s in sets:
            if task in s.tasks:
                labels += [lab for lab in s.label_counts(task) if lab not in labels]
        for label in labels:
            counts = [s.label_counts(task).get(label, 0) if task in s.tasks else 0 for s in sets]
            rows.append([task, label, *counts, sum(counts)])
    rows.append(["all", "sentences", *[len(s) for s in sets], sum(len(s) for s in sets)])
    return format_table(headers, rows)
