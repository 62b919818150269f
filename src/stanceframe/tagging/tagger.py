"""The :class:`Tagger`: documents to rows with one model, in windows of input items whose
sentences are predicted in batches of similar length; and ``inspect``'s one article,
tagged as ``tag`` tags it, with the words behind each prediction (:func:`tag_article`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from stanceframe.corpus import Document, PassedOver, Sentence, Skipped, segment
from stanceframe.errors import DataFileError, StanceframeError
from stanceframe.models.loading import model_classes, model_info
from stanceframe.tagging.inputs import prepare_item, voices_of
from stanceframe.tagging.parallel import batch_parallel_inference, has_torch_networks
from stanceframe.tagging.rows import meta_fields, meta_values, sentence_columns

DEFAULT_BATCH_SIZE = 64  # models with torch networks: length-sorted batches, padded to their longest
UNPADDED_BATCH_SIZE = 1024  # the others (tfidf, lexicon): no padding, so fewer, larger calls; same rows
WINDOW_ITEMS = 64  # input items (documents or skips) per window
WINDOW_SENTENCES = 2048  # ...or fewer when their sentences reach this


@dataclass
class TaggedDocument:
    doc: Document
    rows: list[dict]  # one per sentence, in sentence_columns order


@dataclass
class Window:
    consumed: int  # input items (documents and skips) this window covers
    results: list  # TaggedDocument | Skipped | PassedOver, in input order


class Tagger:
    """Turns documents into rows with one model, batching sentences by length."""

    def __init__(self, model, *, unit: str = "document", batch_size: int | None = None,
                 strict: bool = False, window_items: int = WINDOW_ITEMS,
                 window_sentences: int = WINDOW_SENTENCES, target_field: str | None = None,
                 meta: dict[str, tuple[str, ...]] | None = None):
        self.model = model
        # a target-aware model reads each record's target (default: the field it was trained with)
        if target_field and not getattr(model, "target_field", None):
            raise StanceframeError(f"--target-field {target_field}: the model was trained without targets")
        self.target_field = target_field or getattr(model, "target_field", None)
        self.unit = unit
        self.batch_size = max(1, int(batch_size or default_batch_size(model)))
        self.strict = strict
        self.window_items = max(1, int(window_items))
        self.window_sentences = max(1, int(window_sentences))
        self.classes = model_classes(model)
        self.meta = meta_fields() if meta is None else meta  # the metadata columns (rows.meta_fields)
        self.columns = sentence_columns(self.classes, self.meta)
        self.inference_threads = batch_parallel_inference(model)
        if self.target_field:
            self.columns.insert(self.columns.index("text") + 1, "target")
        if len(set(self.columns)) < len(self.columns):
            clash = sorted(c for c in self.meta if self.columns.count(c) > 1)
            raise StanceframeError(f"--meta-field {', '.join(clash)}: already a column of this model's rows")

    def windows(self, items: Iterable, *, prepared: bool = False) -> Iterator[Window]:
        """Windows of tagged items; ``prepared``: ``items`` already are ``_prepare``'s
        (item, units) entries (made ahead by :func:`prepared_in_workers`)."""
        pending: list[tuple[Document | Skipped, list[Sentence], list]] = []
        n_sentences = 0
        for entry in (items if prepared else map(self._prepare, items)):
            pending.append(entry)
            n_sentences += len(entry[1])
            if len(pending) >= self.window_items or n_sentences >= self.window_sentences:
                yield self._tag_window(pending)
                pending, n_sentences = [], 0
        if pending:
            yield self._tag_window(pending)

    def _prepare(self, item):
        """(the item, its units, their voices): what a segmentation worker sends back."""
        item, units = prepare_item(item, unit=self.unit, strict=self.strict, target_field=self.target_field)
        return item, units, voices_of(item, units, self.unit)

    def _tag_window(self, pending) -> Window:
        if self.target_field:
            texts = [(str(item.meta[self.target_field]), u.text) for item, units, _ in pending for u in units]
        else:
            texts = [u.text for _, units, _ in pending for u in units]
        values = self.predict(texts)
        results, k = [], 0
        for item, units, voices in pending:
            if isinstance(item, (Skipped, PassedOver)):
                results.append(item)
                continue
            target = str(item.meta[self.target_field]) if self.target_field else None
            meta = meta_values(item.meta, self.meta)
            rows = [self.row(u, v, target, voice, meta)
                    for u, v, voice in zip(units, values[k:k + len(units)], voices)]
            k += len(units)
            results.append(TaggedDocument(item, rows))
        return Window(len(pending), results)

    def predict(self, texts: Sequence[str]) -> list[tuple]:
        """``model.predict_values`` (labels, then probabilities: the model's
        ``prediction_columns``) in batches of similar length; results in ``texts`` order.
        With ``inference_threads`` > 1, that many batches run at once (see
        :func:`batch_parallel_inference`)."""
        out: list[tuple] = [()] * len(texts)
        batches = batches_by_length(self.model, texts, self.batch_size)

        def run(idx):
            return idx, self.model.predict_values([texts[i] for i in idx])

        for idx, preds in self._map(run, batches):
            for i, pred in zip(idx, preds):
                out[i] = pred
        return out

    def _map(self, fn, batches):
        if self.inference_threads <= 1 or len(batches) <= 1:
            return map(fn, batches)
        if getattr(self, "_pool", None) is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.inference_threads, thread_name_prefix="stanceframe-predict")
        return self._pool.map(fn, batches)

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
            self._pool = None

    def row(self, unit: Sentence, values: tuple, target: str | None = None,
            voice: tuple[str, list] = ("narrator", []), meta: tuple | None = None) -> dict:
        """The output row of ``unit`` given its :meth:`predict` values, its ``(voice, quotes)``
        (:func:`~stanceframe.tagging.inputs.voices_of`) and its document's :func:`meta_values`
        (``None``: none known), keys in ``columns`` order."""
        meta = meta if meta is not None else (None,) * len(self.meta)
        if self.target_field:
            return dict(zip(self.columns, (unit.doc_id, unit.id, unit.paragraph, unit.sentence, unit.start,
                                           unit.end, unit.text, target, *voice, *values, *meta)))
        return dict(zip(self.columns, (unit.doc_id, unit.id, unit.paragraph, unit.sentence, unit.start,
                                       unit.end, unit.text, *voice, *values, *meta)))


def batches_by_length(model, texts: Sequence, batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of ``batch_size``, sorted by ``model.sort_lengths``
    (tokens for transformer models, characters otherwise) so that a batch holds inputs of
    similar length: what the local engine and the Spark engine both feed the model."""
    lengths = model.sort_lengths(texts)
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    return [order[b : b + batch_size] for b in range(0, len(order), batch_size)]


def default_batch_size(model) -> int:
    """Sentences per model call when none is asked for: 64 for torch networks (each batch is
    padded to its longest sentence, so small length-sorted batches waste little), 1024 for
    the others, whose rows do not depend on the batch and whose per-call overhead is
    fixed (docs/performance.md has the measured effect)."""
    return DEFAULT_BATCH_SIZE if has_torch_networks(model) else UNPADDED_BATCH_SIZE


@dataclass
class ArticleTags:
    """One article's rows (as ``tag`` writes them) and the words behind each prediction."""

    doc: Document
    rows: list[dict]
    classes: dict[str, list[str]]
    explanations: dict[str, dict[str, list[tuple[str, float]]]]  # sentence id -> task -> terms
    model: dict  # model_info()


def tag_article(doc: Document, model, *, spec=None, explain: bool = True, top_k: int = 8,
                batch_size: int | None = None, progress: bool = False) -> ArticleTags:
    """``doc``'s rows exactly as ``tag`` writes them, plus, with ``explain``, each task's
    ``estimator.explain`` terms per sentence (leave-one-out for transformer families: a
    progress bar on stderr with ``progress``)."""
    tagger = Tagger(model, batch_size=batch_size)
    units = segment(doc)
    if not units:
        raise DataFileError(doc.source, doc.line, "no sentences to tag (only boilerplate or punctuation)")
    preds = tagger.predict([u.text for u in units])
    tagger.close()
    meta = meta_values(doc.meta, tagger.meta)
    rows = [tagger.row(u, p, None, v, meta) for u, p, v in zip(units, preds, voices_of(doc, units))]
    explanations = {}
    if explain:
        from tqdm import tqdm

        for u in tqdm(units, desc="explaining", unit="sentence", disable=not progress, file=sys.stderr):
            explanations[u.id] = {
                task: [(str(term), float(w)) for term, w in est.explain(u.text, top_k=top_k)]
                for task, est in model.estimators.items()
            }
    return ArticleTags(doc, rows, tagger.classes, explanations, model_info(model, spec))
