"""``run_tag``: every input tagged with one model and written as rows, resumably (the
package docstring has the flow and the resume design)."""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from stanceframe.corpus import PassedOver, Skipped
from stanceframe.models.loading import model_identity
from stanceframe.tagging.encoders import encoder_for
from stanceframe.tagging.inputs import iter_documents, resolve_inputs
from stanceframe.tagging.options import check_options
from stanceframe.tagging.outputs import OutputLock, check_output_path, contents_digest, input_streams, inputs_digest
from stanceframe.tagging.parallel import prepared_in_workers, segmentation_workers, torch_threads
from stanceframe.tagging.rows import article_columns, article_row, meta_fields
from stanceframe.tagging.sinks import FileSink, StreamSink
from stanceframe.tagging.summary import Progress, TagSummary
from stanceframe.tagging.tagger import WINDOW_ITEMS, WINDOW_SENTENCES, Tagger


def run_tag(
    paths: Sequence[str],
    model,
    *,
    out: str | Path | None = None,
    fmt: str = "jsonl",
    per: str = "sentence",
    unit: str = "document",
    text_field: str = "text",
    id_field: str = "id",
    batch_size: int | None = None,
    resume: bool = False,
    strict: bool = False,
    progress: bool = False,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    stderr=None,
    window_items: int = WINDOW_ITEMS,
    window_sentences: int = WINDOW_SENTENCES,
    target_field: str | None = None,
    workers: int | None = None,
    force: bool = False,
    meta_field: Sequence[str] = (),
) -> TagSummary:
    """Tag every input with ``model`` and write rows (see the package docstring for the
    resume design). Skipped inputs and warnings are reported one line each on ``stderr``.
    ``workers``: how many forked processes read and split documents (default: see
    :func:`segmentation_workers`); 0: this one does. ``force``: replace an existing ``out``
    that this command did not start (never an input). ``meta_field``: ``COLUMN[=FIELD]``
    metadata columns besides the default ones (:func:`~stanceframe.tagging.rows.meta_fields`)."""
    check_options(fmt=fmt, per=per, unit=unit, out=out, resume=resume, batch_size=batch_size)
    meta = meta_fields(meta_field)
    resolved = resolve_inputs(paths)
    tagger = Tagger(model, unit=unit, batch_size=batch_size, strict=strict, window_items=window_items,
                    window_sentences=window_sentences, target_field=target_field, meta=meta)
    columns = tagger.columns if per == "sentence" else article_columns(tagger.classes, meta)
    summary = TagSummary(output=str(out) if out is not None else None)
    if out is None:
        sink = StreamSink(stdout if stdout is not None else sys.stdout.buffer, encoder_for(fmt, columns))
    else:
        out = check_output_path(out, resolved)  # a regular file or none, no input, not DIR/
        streams = input_streams(resolved)
        fingerprint = {
            "format": fmt, "per": per, "unit": unit, "text_field": text_field, "id_field": id_field,
            "strict": strict, "model": model_identity(model), "inputs": inputs_digest(resolved),
            "contents": contents_digest(resolved, streams), "streams": streams,
        }
        if tagger.target_field:
            fingerprint["target_field"] = tagger.target_field
        if meta_field:
            fingerprint["meta_fields"] = {column: list(names) for column, names in meta.items()}
        sink = FileSink(out, fmt, columns, fingerprint, lambda skip: contents_digest(resolved, skip))
    with OutputLock(out) if out is not None else contextlib.nullcontext():  # one writer per --out
        point = sink.open(resume, force)
        if sink.complete:
            summary.already_complete = True
            return summary
        consumed = 0
        if point is not None:
            consumed = summary.resumed_items = point.consumed
            summary.add_counts(point.counts)

        def make_items(wanted=None):
            def needed(index):  # what the earlier run committed is passed over unread (a text file, a WARC page)
                return index >= consumed and (wanted is None or wanted(index))

            items = iter_documents(resolved, text_field=text_field, id_field=id_field, stdin=stdin,
                                   wanted=needed if consumed or wanted else None)
            return itertools.islice(items, consumed, None)

        reads_stdin = any(not isinstance(item, Skipped) and str(item[0]) == "-" for item in resolved)
        n_workers = 0 if reads_stdin else segmentation_workers(unit, workers)  # a child gets no stdin
        worker = prepared_in_workers(tagger, make_items, n_workers, consumed) if n_workers else None
        summary.segmentation_workers = n_workers
        windows = tagger.windows(worker, prepared=True) if worker is not None else tagger.windows(make_items())
        bar = Progress(progress, stderr)
        started = time.perf_counter()
        threads = torch_threads(1 if tagger.inference_threads > 1 else None)
        threads.__enter__()
        try:
            for window in windows:
                documents = 0
                for result in window.results:
                    if isinstance(result, PassedOver):
                        summary.pass_over(result)
                        continue
                    if isinstance(result, Skipped):
                        summary.skip(result)
                        bar.log(f"skipped {result}")
                        continue
                    later_part = result.doc.part is not None and result.doc.part.index > 0  # of a large file
                    for warning in [] if later_part else result.doc.warnings:  # a file's warnings once
                        summary.warnings += 1
                        bar.log(f"warning: {warning}")
                    if per == "article" and not result.rows:
                        continue  # a later part without sentences
                    rows = result.rows if per == "sentence" else [article_row(result.doc, result.rows, tagger.classes,
                                                                                meta=meta)]
                    sink.write(rows)
                    documents += 0 if later_part else 1
                    summary.documents += 0 if later_part else 1
                    summary.sentences += len(result.rows)
                    summary.run_sentences += len(result.rows)
                consumed += window.consumed
                sink.commit(consumed, summary.counts())
                bar.update(documents, summary.sentences)
            sink.finish()
        finally:
            if worker is not None:
                worker.close()  # stops the segmentation worker if the loop ended early
            tagger.close()
            threads.__exit__(None, None, None)
            bar.close()
            sink.close()
        summary.seconds = time.perf_counter() - started
        return summary
