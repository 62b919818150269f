"""The order sentences are offered in, and the background refit that re-orders them.

- ``article``: article order (the order of the inputs, then paragraphs and sentences);
- ``uncertain``: smallest margin first, the margin being the gap between the two most
  probable labels, taken on the task where it is smallest (least-margin, a.k.a. breaking
  ties);
- ``diverse``: the sentences are clustered (k-means on LSA vectors of their TF-IDF, seeded)
  and the queue takes the most uncertain sentence of each cluster in turn, so a batch is not
  twenty near-duplicates.

The probabilities come from the suggestion model at first; every ``refit_every`` new labels a
fast ``tfidf-logreg`` model is fitted on the store's labels in a background thread and its
probabilities replace them (the page is never blocked: the queue swaps in the new order under
a lock when the fit is done).

What comes from small-text: the per-task score is small-text's ``BreakingTies``
confidence (best minus second-best probability), asked of an adapter that hands it the
probabilities already computed. What does not, and why: its ``query`` takes one single-label
classifier and dataset of its own; here two tasks are queried jointly (the margin of the less
sure task) from probabilities of any model family of the project (MLflow URIs included), and
its clustering strategy (``EmbeddingKMeans``) needs a small-text classifier's ``embed``; so
the joint minimum, the ranking and the cluster spread (scikit-learn's ``KMeans``) are here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

ORDERS = ("article", "uncertain", "diverse")


class _Probabilities:
    """A classifier for small-text's query strategies that answers with given probabilities."""

    def __init__(self, proba: np.ndarray):
        self.proba = proba

    def predict_proba(self, _dataset) -> np.ndarray:
        return self.proba


def margins(proba: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, the smallest over tasks of (top probability - second probability), each
    task's margin being small-text's ``BreakingTies`` confidence."""
    from small_text.query_strategies import BreakingTies

    out = None
    for p in proba.values():
        if p.shape[1] < 2 or not len(p):
            continue
        m = np.asarray(BreakingTies().get_confidence(_Probabilities(p), None, None, None, None), dtype=float)
        out = m if out is None else np.minimum(out, m)
    n = next(iter(proba.values())).shape[0] if proba else 0
    return out if out is not None else np.zeros(n)


def clusters(texts: Sequence[str], k: int, seed: int = 13) -> np.ndarray:
    """A cluster number per text: k-means on 64-dimensional LSA vectors of word TF-IDF."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    k = max(1, min(k, len(texts)))
    if k == 1:
        return np.zeros(len(texts), dtype=int)
    x = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit_transform(texts)
    dims = min(64, x.shape[1] - 1, len(texts) - 1)
    vectors = normalize(TruncatedSVD(dims, random_state=seed).fit_transform(x)) if dims >= 2 else x.toarray()
    return KMeans(k, random_state=seed, n_init=4).fit_predict(vectors)


def ranking(order: str, margin: np.ndarray, groups: np.ndarray | None = None) -> list[int]:
    """Row indices in the order to offer them (rows are in article order)."""
    n = len(margin)
    if order == "article":
        return list(range(n))
    by_margin = sorted(range(n), key=lambda i: (margin[i], i))
    if order == "uncertain":
        return by_margin
    if order == "diverse":
        assert groups is not None
        queues: dict[int, list[int]] = {}
        for i in by_margin:
            queues.setdefault(int(groups[i]), []).append(i)
        lanes = sorted(queues.values(), key=lambda q: (margin[q[0]], q[0]))
        out = []
        depth = 0
        while len(out) < n:
            out += [lane[depth] for lane in lanes if depth < len(lane)]
            depth += 1
        return out
    raise ValueError(f"unknown order {order!r}; known: {', '.join(ORDERS)}")


def fit_fast_model(texts: Sequence[str], labels: dict[str, Sequence[str]], predict_texts: Sequence[str],
                   seed: int = 13) -> dict[str, np.ndarray]:
    """Probabilities of ``predict_texts`` per task from tfidf-logreg fitted on the labelled
    texts; tasks with fewer than two distinct labels are left out."""
    from stanceframe.models.tfidf import TfidfLogRegClassifier

    out = {}
    for task, ys in labels.items():
        if len(set(ys)) < 2:
            continue
        model = TfidfLogRegClassifier(random_state=seed)
        model.fit(list(texts), list(ys))
        out[task] = np.asarray(model.predict_proba(list(predict_texts)), dtype=float)
    return out


class Queue:
    """The offer order of ``ids`` (article order), re-ranked when new probabilities arrive or
    the annotator switches the order in the page."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], order: str, proba: dict[str, np.ndarray],
                 *, refit_every: int = 20, seed: int = 13, n_clusters: int = 20):
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}")
        self.ids, self.texts, self.order = list(ids), list(texts), order
        self.refit_every, self.seed, self.n_clusters = refit_every, seed, n_clusters
        self.groups = clusters(self.texts, n_clusters, seed) if order == "diverse" else None
        self._lock = threading.Lock()
        self.proba = dict(proba)  # the probabilities the order is computed from
        self.source = "the suggestion model" if proba else None
        self._margin: dict[str, tuple[float, str]] = {}
        self._ranked = self._rank(self.proba)
        self.refits = 0  # how many background refits have been swapped in
        self.refitted_at: str | None = None  # UTC time of the latest refit swapped in
        self._labels_at_fit = 0
        self._thread: threading.Thread | None = None

    def _rank(self, proba: dict[str, np.ndarray]) -> list[str]:
        # article order needs no margins (and so never imports small-text, which loads torch)
        if proba and self.order != "article":
            per_task = {t: margins({t: p}) for t, p in proba.items()}
            margin = margins(proba)
            self._margin = {sid: (float(margin[i]), min(per_task, key=lambda t: per_task[t][i]))
                            for i, sid in enumerate(self.ids)}
        else:
            margin = np.zeros(len(self.ids))
        return [self.ids[i] for i in ranking(self.order, margin, self.groups)]

    def ranked(self) -> list[str]:
        with self._lock:
            return list(self._ranked)

    def set_order(self, order: str) -> None:
        """Switch the order now (the page's order menu); the clusters are computed the first
        time ``diverse`` is chosen."""
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; known: {', '.join(ORDERS)}")
        with self._lock:
            self.order = order
            if order == "diverse" and self.groups is None:
                self.groups = clusters(self.texts, self.n_clusters, self.seed)
            self._ranked = self._rank(self.proba)

    def why(self, sid: str) -> str:
        """One line on why ``sid`` is offered now, by the queue's order."""
        if self.order == "article":
            return "next in article order"
        if not self.proba:
            return (f"{self.order} order, but no model probabilities yet (--no-model): article order until the "
                    f"first refit, after {self.refit_every} labels")
        margin, task = self._margin.get(sid, (0.0, ""))
        sure = f"the model is least sure of it (margin {margin:.2f} on {task})"
        if self.order == "diverse":
            return f"diverse order: of its cluster of similar sentences, {sure}"
        return f"uncertain order: {sure}"

    def refit_line(self) -> str:
        """When the order's probabilities were last refitted, for the page."""
        if self.order == "article":
            return "article order: no refit"
        if self.refitted_at is None:
            return f"not refitted yet; probabilities from {self.source or 'nothing (article order)'}; " \
                   f"a refit every {self.refit_every} new labels"
        return f"model last refitted at {self.refitted_at} UTC (refit {self.refits}, every {self.refit_every} new labels)"

    def maybe_refit(self, labelled: Callable[[], tuple[list[str], dict[str, list[str]]]], n_labels: int,
                    base: dict[str, np.ndarray]) -> bool:
        """Start a background refit when ``n_labels`` grew by ``refit_every`` since the last
        one and none is running; ``labelled()`` gives (sentence ids, task -> labels)."""
        if self.order == "article" or self.refit_every <= 0:
            return False
        if n_labels - self._labels_at_fit < self.refit_every:
            return False
        if self._thread is not None and self._thread.is_alive():
            return False
        self._labels_at_fit = n_labels
        self._thread = threading.Thread(target=self._refit, args=(labelled, base), daemon=True,
                                        name="stanceframe-refit")
        self._thread.start()
        return True

    def _refit(self, labelled, base) -> None:
        import datetime as _dt

        ids, labels = labelled()
        index = {sid: i for i, sid in enumerate(self.ids)}
        texts = [self.texts[index[s]] for s in ids if s in index]
        proba = dict(base)
        proba.update(fit_fast_model(texts, labels, self.texts, self.seed))
        with self._lock:
            self.proba = proba
            self._ranked = self._rank(proba)
            self.refits += 1
            self.refitted_at = _dt.datetime.now(_dt.timezone.utc).strftime("%H:%M:%S")
            self.source = "the refitted tfidf-logreg model"

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running refit (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
