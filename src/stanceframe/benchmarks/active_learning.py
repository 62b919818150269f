"""``stanceframe benchmark active-learning``: does active learning pay? A simulated annotator
on a labelled corpus.

For each seed the articles are split into a pool (75 %) and held-out articles (25 %), so no
article is on both sides. A strategy picks batches of ``batch`` sentences from the pool (the
simulated annotator answers with the gold labels); after each batch the app's fast model
(``tfidf-logreg``, as :func:`stanceframe.annotate.queue.fit_fast_model` refits it) is fitted
on what is labelled and scored on the held-out articles (macro-F1 per task, over the
schema's labels). Strategies are the app's queue orders plus a random baseline:

- ``random``: the pool shuffled (seeded);
- ``article``: the pool in article order (articles in corpus order, as ``annotate`` offers them);
- ``uncertain``: the first batch random, then the least-margin sentences under the current model;
- ``diverse``: the first batch random, then least-margin spread over 20 clusters of the pool.

The full-pool score (the model fitted on the whole pool) is the ceiling; the report gives,
per strategy and task, the labels needed for the mean curve to reach 95 % of the mean
full-pool score (``None`` when 600 labels do not).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stanceframe.annotate.queue import clusters, margins, ranking
from stanceframe.markdown import markdown_table

STRATEGIES = ("random", "article", "uncertain", "diverse")


@dataclass
class ALSettings:
    batch: int = 20
    max_labels: int = 600
    seeds: tuple[int, ...] = (0, 1, 2)
    held_out: float = 0.25
    target: float = 0.95
    strategies: tuple[str, ...] = STRATEGIES
    n_clusters: int = 20


@dataclass
class ALResult:
    sizes: list[int]
    curves: dict[str, dict[str, list[list[float]]]]  # strategy -> task -> seed -> macro-F1 per size
    full_pool: dict[str, list[float]]  # task -> seed -> macro-F1 of the full pool
    needed: dict[str, dict[str, int | None]]  # strategy -> task -> labels to reach target * full pool
    settings: ALSettings
    pool_sizes: list[int] = field(default_factory=list)
    held_out_sizes: list[int] = field(default_factory=list)

    def mean_curve(self, strategy: str, task: str) -> np.ndarray:
        return np.mean(np.asarray(self.curves[strategy][task]), axis=0)


def split_by_article(docs: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Row indices of the pool and of the held-out articles (a seeded shuffle of articles)."""
    articles = sorted(set(docs))
    random.Random(seed).shuffle(articles)
    n_held = max(1, round(len(articles) * fraction))
    held = set(articles[:n_held])
    pool = [i for i, d in enumerate(docs) if d not in held]
    return pool, [i for i, d in enumerate(docs) if d in held]


def labels_needed(sizes: Sequence[int], curve: Sequence[float], goal: float) -> int | None:
    """The first size at which ``curve`` reaches ``goal``."""
    for n, score in zip(sizes, curve):
        if score >= goal:
            return int(n)
    return None


def _fit_predict(texts, labels, predict: Sequence[Sequence[str]], seed: int) -> list[np.ndarray | list[str]]:
    """tfidf-logreg fitted on (texts, labels); its probabilities on each text list of
    ``predict`` with its classes; a single label seen gives that label with probability 1."""
    from stanceframe.models.tfidf import TfidfLogRegClassifier

    classes = sorted(set(labels))
    if len(classes) < 2:
        return classes, [np.ones((len(p), 1)) for p in predict]
    model = TfidfLogRegClassifier(random_state=seed).fit(list(texts), list(labels))
    return [str(c) for c in model.classes_], [np.asarray(model.predict_proba(list(p)), dtype=float) for p in predict]


def _macro_f1(gold: Sequence[str], classes: Sequence[str], proba: np.ndarray, labels: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    pred = [classes[i] for i in proba.argmax(axis=1)]
    return float(f1_score(list(gold), pred, labels=list(labels), average="macro", zero_division=0))


def simulate(texts: Sequence[str], gold: dict[str, Sequence[str]], docs: Sequence[str],
             schema_labels: dict[str, Sequence[str]], settings: ALSettings | None = None,
             progress: Callable[[str], None] | None = None) -> ALResult:
    settings = settings or ALSettings()
    log = progress or (lambda line: None)
    tasks = list(gold)
    sizes = list(range(settings.batch, settings.max_labels + 1, settings.batch))
    curves = {s: {t: [] for t in tasks} for s in settings.strategies}
    full = {t: [] for t in tasks}
    pools, helds = [], []
    for seed in settings.seeds:
        pool, held = split_by_article(docs, settings.held_out, seed)
        pools.append(len(pool))
        helds.append(len(held))
        pool_texts = [texts[i] for i in pool]
        held_texts = [texts[i] for i in held]
        for t in tasks:
            classes, (proba,) = _fit_predict(pool_texts, [gold[t][i] for i in pool], [held_texts], seed)
            full[t].append(_macro_f1([gold[t][i] for i in held], classes, proba, schema_labels[t]))
        groups = clusters(pool_texts, settings.n_clusters, seed) if "diverse" in settings.strategies else None
        for strategy in settings.strategies:
            rng = random.Random(seed)
            shuffled = list(range(len(pool)))
            rng.shuffle(shuffled)
            chosen: list[int] = []  # positions in the pool
            scores = {t: [] for t in tasks}
            last_pool_proba: dict[str, np.ndarray] = {}  # the pool's probabilities under the latest model
            for n in sizes:
                taken = set(chosen)
                remaining = [i for i in range(len(pool)) if i not in taken]
                need = n - len(chosen)
                if strategy == "random" or (strategy in ("uncertain", "diverse") and not chosen):
                    chosen += [i for i in shuffled if i not in taken][:need]
                elif strategy == "article":
                    chosen += remaining[:need]
                else:
                    order = ranking(strategy, margins(last_pool_proba)[remaining],
                                    groups[remaining] if groups is not None else None)
                    chosen += [remaining[j] for j in order[:need]]
                lab_texts = [pool_texts[i] for i in chosen]
                last_pool_proba = {}
                for t in tasks:
                    y = [gold[t][pool[i]] for i in chosen]
                    classes, (held_p, pool_p) = _fit_predict(lab_texts, y, [held_texts, pool_texts], seed)
                    scores[t].append(_macro_f1([gold[t][i] for i in held], classes, held_p, schema_labels[t]))
                    last_pool_proba[t] = pool_p if pool_p.shape[1] > 1 else np.hstack([pool_p, np.zeros_like(pool_p)])
            for t in tasks:
                curves[strategy][t].append(scores[t])
            log(f"seed {seed} {strategy}: " + ", ".join(f"{t} {scores[t][-1]:.3f} at {sizes[-1]}" for t in tasks))
    needed = {}
    for strategy in settings.strategies:
        needed[strategy] = {}
        for t in tasks:
            goal = settings.target * float(np.mean(full[t]))
            needed[strategy][t] = labels_needed(sizes, np.mean(np.asarray(curves[strategy][t]), axis=0), goal)
    return ALResult(sizes, curves, full, needed, settings, pools, helds)


def run_active_learning(data_path: str | Path, out_dir: str | Path, settings: ALSettings | None = None,
                        progress: Callable[[str], None] | None = None) -> tuple[ALResult, dict[str, Path]]:
    """The benchmark on a labelled file grouped by article (``doc_id``): writes
    ``active-learning.json``, ``.md`` and ``.png`` under ``out_dir``."""
    from stanceframe.dataset import load_labelled

    data = load_labelled(data_path)
    settings = settings or ALSettings()
    result = simulate(data.texts, {t: data.labels(t) for t in data.tasks}, data.docs,
                      {t: data.schema.task(t).label_names for t in data.tasks}, settings, progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "active-learning.json", "markdown": out / "active-learning.md",
             "png": out / "active-learning.png"}
    payload = {"data": str(data_path), "sentences": len(data), "articles": len(set(data.docs)),
               "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(settings).items()},
               "sizes": result.sizes, "curves": result.curves, "full_pool": result.full_pool,
               "needed": result.needed, "pool_sizes": result.pool_sizes, "held_out_sizes": result.held_out_sizes}
    paths["json"].write_text(json.dumps(payload, indent=1) + "\n")
    paths["markdown"].write_text(to_markdown(result, len(data), len(set(data.docs))))
    chart(result, paths["png"])
    return result, paths


def to_markdown(result: ALResult, sentences: int, articles: int) -> str:
    s = result.settings
    tasks = list(result.full_pool)
    pct = int(round(s.target * 100))
    headers = ["strategy"]
    for t in tasks:
        headers += [f"{t} F1 @100", f"{t} F1 @{s.max_labels}", f"{t}: labels to {pct} % of full pool",
                    f"{t}: labels to random's F1 @{s.max_labels}"]
    lines = [f"Simulated annotator on {sentences} sentences of {articles} articles: pool / held-out split by article "
             f"({int(s.held_out * 100)} % held out), seeds {', '.join(map(str, s.seeds))}; batches of {s.batch} up "
             f"to {s.max_labels}; tfidf-logreg refitted after each batch; macro-F1 on the held-out articles, mean "
             f"over seeds. Pool {np.mean(result.pool_sizes):.0f} sentences on average.", "",
             markdown_table(headers, [[strategy, *_strategy_cells(result, strategy, tasks)]
                                      for strategy in s.strategies])]
    lines += ["", "Full pool (the ceiling): " + ", ".join(
        f"{t} {np.mean(result.full_pool[t]):.3f} (95 % = {s.target * np.mean(result.full_pool[t]):.3f})"
        for t in tasks), ""]
    return "\n".join(lines)


def _strategy_cells(result: ALResult, strategy: str, tasks: Sequence[str]) -> list[str]:
    """Per task: F1 at 100 labels and at the end, the labels to the target share of the full
    pool and the labels to random's final F1."""
    s = result.settings
    at100 = result.sizes.index(100) if 100 in result.sizes else 0
    cells = []
    for t in tasks:
        curve = result.mean_curve(strategy, t)
        need = result.needed[strategy][t]
        match = (labels_needed(result.sizes, curve, float(result.mean_curve("random", t)[-1]))
                 if "random" in s.strategies else None)
        cells += [f"{curve[at100]:.3f}", f"{curve[-1]:.3f}", str(need) if need else f"not within {s.max_labels}",
                  str(match) if match else f"not within {s.max_labels}"]
    return cells


def chart(result: ALResult, path: Path) -> Path:
    from stanceframe.plots import plt

    tasks = list(result.full_pool)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 3.8), dpi=110, sharey=False)
    axes = np.atleast_1d(axes)
    for ax, t in zip(axes, tasks):
        for strategy in result.settings.strategies:
            curves = np.asarray(result.curves[strategy][t])
            mean = curves.mean(axis=0)
            line, = ax.plot(result.sizes, mean, label=strategy)
            ax.fill_between(result.sizes, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.12)
        ceiling = float(np.mean(result.full_pool[t]))
        ax.axhline(ceiling, color="black", lw=0.8, ls="--", label="full pool")
        ax.axhline(result.settings.target * ceiling, color="grey", lw=0.8, ls=":", label="95 % of full pool")
        ax.set_title(f"{t}: macro-F1 on held-out articles", fontsize=10)
        ax.set_xlabel("labelled sentences")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("macro-F1 (mean of seeds; band: min-max)")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
