"""Static figures (matplotlib, Agg backend): confusion matrices and the leaderboard chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str = ""):
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=110)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black", fontsize=9)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def leaderboard_chart(rows: list[dict], path: Path) -> Path:
    """Grouped bars: macro-F1 mean ± std per family, one group per task."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    families = list(dict.fromkeys(r["family"] for r in sorted(rows, key=lambda r: r["family"])))
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(families) * len(tasks) / 2 + 3), 3.8), dpi=110)
    width = 0.8 / max(1, len(families))
    for k, fam in enumerate(families):
        means = [next((r["macro_f1"] for r in rows if r["family"] == fam and r["task"] == t), 0) for t in tasks]
        stds = [next((r["macro_f1_std"] for r in rows if r["family"] == fam and r["task"] == t), 0) for t in tasks]
        ax.bar(np.arange(len(tasks)) + k * width - 0.4 + width / 2, means, width, yerr=stds, capsize=2, label=fam)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("macro-F1 (grouped CV)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("stanceframe compare", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
