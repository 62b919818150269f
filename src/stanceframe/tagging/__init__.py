"""Streaming documents -> sentences -> batched predictions -> records; per-article
aggregation; resumable, atomic writers. No HTML here (that is report.py).

Flow, with memory bounded by one *window* whatever the corpus size::

    inputs ──iter_documents──▶ Document | Skipped ──Tagger.windows──▶ Window ──sink──▶ file/stdout
                               (one at a time)        (≤ WINDOW_ITEMS items or
                                                       ≤ WINDOW_SENTENCES sentences;
                                                       sentences sorted by length
                                                       into batches, rows back in
                                                       input order)

Never losing work (``--out FILE``): rows go to ``FILE.part``, one ``write`` per document,
and after each window the part file is flushed and fsynced and ``FILE.part.json``
(the *state*: byte offset of the committed output, number of input items consumed,
counts for the summary, a fingerprint of the command) is replaced atomically. A crash or
``kill -9`` can only leave bytes after the committed offset. ``--resume`` truncates the
part file to that offset, skips the consumed input items and goes on; windows then start
at the same input item as in an uninterrupted run, so even the batches are the same and
the output is byte-for-byte identical. When the input ends, ``FILE.part`` is renamed to
``FILE`` (for Parquet: the part file is a JSONL journal converted to ``FILE`` with
``pyarrow.parquet.ParquetWriter``, row group by row group), so ``FILE`` only ever exists
complete.

One job a module:

- ``options``: the options that go together, checked for either engine (local, Spark);
- ``inputs``: resolving paths into items, reading their documents one at a time (files,
  standard input), the units each is tagged as and the skip rules of every engine;
- ``tagger``: the :class:`Tagger` (windows of items, batches of similar length, rows) and
  ``inspect``'s one tagged article;
- ``parallel``: usable cores, torch batches side by side, forked segmentation workers;
- ``rows``: the output columns and the per-article aggregation;
- ``encoders``: rows to JSONL, CSV and Parquet;
- ``sinks``: stdout, or ``FILE.part`` committed window by window with its resume journal;
- ``outputs``: output safety (not an input, one writer, the ``tag`` mark) and the digests a
  ``--resume`` must match;
- ``summary``: the run's summary and progress bar;
- ``run``: :func:`run_tag`, which puts them together.

Loading a model (:func:`load_model`) is :mod:`stanceframe.models.loading`'s job.
"""

from stanceframe.tagging.inputs import iter_documents, read_article, resolve_inputs
from stanceframe.tagging.options import FORMATS, PER, UNITS
from stanceframe.tagging.rows import SENTENCE_FIELDS
from stanceframe.tagging.run import run_tag
from stanceframe.tagging.summary import TagSummary
from stanceframe.tagging.tagger import (
    DEFAULT_BATCH_SIZE,
    UNPADDED_BATCH_SIZE,
    ArticleTags,
    Tagger,
    tag_article,
)

__all__ = ["DEFAULT_BATCH_SIZE", "FORMATS", "PER", "SENTENCE_FIELDS", "UNITS", "UNPADDED_BATCH_SIZE", "ArticleTags",
           "TagSummary", "Tagger", "iter_documents", "read_article", "resolve_inputs", "run_tag", "tag_article"]
