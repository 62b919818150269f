"""Markdown tables, one function for every report that writes one (benchmarks, leaderboard)."""

from __future__ import annotations

from collections.abc import Sequence

_RULES = {"l": "---", "r": "---:", "c": ":---:"}


def markdown_table(headers: Sequence[object], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """``| a | b |`` lines: the header, its rule, one line a row, joined by newlines (no final
    one). ``align`` has a letter a column, ``l`` (Markdown's default), ``r`` or ``c``; None:
    all ``l``. A cell is written as ``| {cell} |``; None is a blank cell, ``| |``."""
    rules = [_RULES[a] for a in (align or "l" * len(headers))]
    if len(rules) != len(headers):
        raise ValueError(f"align has {len(rules)} letters for {len(headers)} columns")
    return "\n".join([_line(headers), "|" + "|".join(rules) + "|", *(_line(row) for row in rows)])


def _line(cells: Sequence[object]) -> str:
    return "|" + "|".join(" " if cell is None else f" {cell} " for cell in cells) + "|"
