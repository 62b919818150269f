""":func:`run_spark_tag`: plan the inputs, start the session, ship the model, read and
segment, report skips and warnings, score and write the Parquet folder (one Spark job)."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from stanceframe.corpus import Skipped, is_warc
from stanceframe.safe_paths import remove_with
from stanceframe.spark.inputs import InputPlan, plan_inputs
from stanceframe.spark.reading import (
    DOCUMENT,
    ITEM_FIELDS,
    ORDER,
    PASSED,
    SENTENCE,
    SKIPPED,
    SPARK_TYPES,
    WARNING,
    read_files,
    read_parquet_rows,
)
from stanceframe.spark.scoring import scoring_udf
from stanceframe.spark.session import (
    mark_output,
    read_parquet_records,
    require_pyspark,
    ship_model,
    spark_session,
    write_mode,
)
from stanceframe.terminal import printable


def run_spark_tag(
    paths: Sequence[str],
    model,
    *,
    out: str | Path,
    unit: str = "document",
    text_field: str = "text",
    id_field: str = "id",
    batch_size: int | None = None,
    strict: bool = False,
    partition_by: str | None = None,
    master: str | None = None,
    fmt: str | None = None,
    per: str = "sentence",
    resume: bool = False,
    progress: bool = False,
    stderr=None,
    meta_field: Sequence[str] = (),
):
    """Tag ``paths`` on Spark and write a Parquet folder at ``out`` with the rows the local
    engine writes (plus the ``partition_by`` column when it is not an output column).
    ``model`` is a :class:`ModelBundle`, a model folder, ``runs:/...``, ``models:/...`` or
    ``None`` (``models/default/``). Returns the local engine's :class:`TagSummary`; skipped
    inputs and warnings are printed one line each on ``stderr``, as the local engine does.
    Each WARC file is read by a task of its own."""
    from functools import partial

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.loading import load_model, model_classes
    from stanceframe.tagging.inputs import file_doc_ids
    from stanceframe.tagging.options import check_options
    from stanceframe.tagging.rows import SENTENCE_FIELDS, meta_fields, sentence_columns
    from stanceframe.tagging.summary import TagSummary
    from stanceframe.tagging.tagger import default_batch_size

    check_options(fmt=fmt, per=per, unit=unit, out=out, resume=resume, batch_size=batch_size, engine="spark",
                  partition_by=partition_by)
    meta = meta_fields(meta_field)
    require_pyspark()
    from pyspark.sql import functions as F

    stderr = stderr if stderr is not None else sys.stderr
    plan = plan_inputs(paths)
    bundle = model if isinstance(model, ModelBundle) else load_model(model)
    if not bundle.path or not Path(bundle.path).is_dir():
        folder = tempfile.mkdtemp(prefix="stanceframe-model-")
        bundle.save(folder)
        remove_with(bundle, folder)
    classes = model_classes(bundle)
    columns = sentence_columns(classes, meta)
    batch_size = batch_size or default_batch_size(bundle)  # as the local engine chooses it
    part_column = None if partition_by in (None, *columns) else partition_by

    spark, created = spark_session(master, progress=progress)
    out = str(out)
    summary = TagSummary(output=out)
    items = None
    try:
        mode = write_mode(spark, out, [path for path, _, _ in plan.files] + plan.parquet)
        name = ship_model(spark, bundle)
        started = time.perf_counter()
        options = dict(text_field=text_field, id_field=id_field, unit=unit, strict=strict, part_column=part_column,
                       meta=meta)
        schema = ", ".join(f"`{n}` {SPARK_TYPES[k]}" for n, k in ITEM_FIELDS)
        parts = []
        if plan.files:
            ids = file_doc_ids([(Path(path), Path(root) if root else None) for path, _, root in plan.files])
            rows = [(i, path, named, root, ids[path]) for i, (path, named, root) in enumerate(plan.files)]
            archives = [row for row in rows if is_warc(row[1])]  # one task each: a WARC holds many pages
            others = [row for row in rows if not is_warc(row[1])]
            for group, slices in ((archives, len(archives)),
                                  (others, min(len(others), spark.sparkContext.defaultParallelism * 4))):
                if group:
                    files = spark.createDataFrame(spark.sparkContext.parallelize(group, max(1, slices)),
                                                  "file bigint, path string, named string, root string, doc_id string")
                    parts.append(files.mapInArrow(partial(read_files, **options), schema))
        if plan.parquet:
            records = read_parquet_records(spark, plan.parquet, text_field)
            parts.append(records.mapInArrow(partial(read_parquet_rows, **options), schema))
        items = parts[0]
        for part in parts[1:]:
            items = items.unionByName(part)
        n = max(2, spark.sparkContext.defaultParallelism * 2)
        items = items.repartition(n, "grp", "file", "source", "item").sortWithinPartitions(*ORDER).persist()

        _report(items, plan, summary, stderr)

        score, pred_columns = scoring_udf(name, classes, batch_size)
        sentences = items.filter(F.col("kind") == SENTENCE)
        scored = sentences.withColumn("_pred", score(F.col("text")))
        selected = [F.col(c) for c in SENTENCE_FIELDS]
        selected += [F.col("_pred").getField(c).alias(c) for c in pred_columns]
        values = F.from_json(F.col("meta"), "array<string>")
        selected += [values.getItem(i).alias(c) for i, c in enumerate(meta)]
        if part_column is not None:
            selected.append(F.col("part").alias(part_column))
        writer = scored.select(*selected).write.mode(mode)
        if partition_by is not None:
            writer = writer.partitionBy(partition_by)
        writer.parquet(out)
        mark_output(spark, out)  # the only kind of folder a later run replaces
        summary.seconds = time.perf_counter() - started
    finally:
        if items is not None:
            items.unpersist()
        if created:
            spark.stop()
    return summary


def _report(items, plan: InputPlan, summary, stderr) -> None:
    """Counts and, in input order, one line per skipped input and per warning."""
    from pyspark.sql import functions as F

    counts = {row["kind"]: row["count"] for row in items.groupBy("kind").count().collect()}
    summary.documents = counts.get(DOCUMENT, 0)
    summary.sentences = summary.run_sentences = counts.get(SENTENCE, 0)
    for skipped in plan.skipped:
        summary.skip(skipped)
        print(printable(f"skipped {skipped}"), file=stderr, flush=True)
    notes = (items.filter(F.col("kind").isin(SKIPPED, WARNING))
             .select("kind", "source", "line", "message", *ORDER).orderBy(*ORDER).collect())
    for kind, count in (items.filter(F.col("kind") == PASSED).groupBy("message").count().collect()):
        summary.passed[kind] = count
    for note in notes:
        if note["kind"] == SKIPPED:
            skipped = Skipped(note["source"], note["line"], note["message"])
            summary.skip(skipped)
            print(printable(f"skipped {skipped}"), file=stderr, flush=True)
        else:
            summary.warnings += 1
            print(printable(f"warning: {note['message']}"), file=stderr, flush=True)
