"""``stanceframe tag --engine spark``: the local tagger's rows, computed on Apache Spark.

The only module that imports pyspark, and only inside functions, so that nothing else
needs it (``pip install 'stanceframe[spark]'``).

Flow (one Spark job writes the output; the read/segment stage is persisted so that the
summary's counts and skip reasons come from the same pass)::

    driver: inputs ──plan_inputs──▶ files (paths every executor can open)   + Parquet (any Spark URI)
                                        │ mapInArrow: tagging.iter_documents      │ mapInArrow: the record
                                        │ (the local reader) + units_of (the      │ checks of the JSONL reader
                                        │ local segmenter)                        │ + units_of
                                        ▼                                         ▼
                       item rows: 's' sentence | 'd' tagged document | 'k' skipped | 'w' warning
                                        │ persisted; 'k'/'w' rows collected on the driver -> TagSummary
                                        ▼ 's' rows, repartitioned by document
                       pandas UDF: ModelBundle.predict_flat (model folder zipped, shipped with
                       SparkContext.addArchive, loaded once per Python worker)
                                        ▼
                       Parquet folder (--partition-by COLUMN: an output column, ``source``,
                       or a field of the input records such as ``date``)

A bad record (invalid JSON line, missing text field, binary / empty file...) is a row of
kind ``'k'``, never an exception in a task, so it is reported on the driver exactly as the
local engine reports it (``skipped <file>:<line>: <reason>``) and the job goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stanceframe.corpus import SUPPORTED_SUFFIXES, Document, Skipped, expand_inputs, record_document
from stanceframe.errors import StanceframeError
from stanceframe.terminal import printable

DEFAULT_MASTER = "local[2]"
SHUFFLE_PARTITIONS = 4
ITEM_BATCH_ROWS = 4096  # item rows per Arrow batch out of the read/segment stage
PARQUET_SUFFIX = ".parquet"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
MODEL_STAGING = Path(tempfile.gettempdir()) / "stanceframe-spark-models"
PANDAS_WARNING = "PySpark does not yet fully support pandas"

# kinds of item rows out of the read/segment stage
SENTENCE, DOCUMENT, SKIPPED, WARNING = "s", "d", "k", "w"
ITEM_FIELDS = [  # (name, arrow type name)
    ("kind", "string"), ("grp", "int64"), ("file", "int64"), ("item", "int64"), ("seq", "int64"),
    ("source", "string"), ("line", "int64"), ("message", "string"),
    ("doc_id", "string"), ("id", "string"), ("paragraph", "int64"), ("sentence", "int64"),
    ("start", "int64"), ("end", "int64"), ("text", "string"), ("part", "string"),
]
ORDER = ["grp", "file", "source", "item", "seq"]


def require_pyspark():
    """pyspark, or a one-line user error saying how to get it."""
    try:
        import pyspark
    except ImportError:
        raise StanceframeError(
            "--engine spark needs pyspark, which is not installed: pip install 'stanceframe[spark]' "
            "(and Java 17: apt-get install openjdk-17-jre-headless)"
        ) from None
    return pyspark


# --------------------------------------------------------------------------- inputs


@dataclass
class InputPlan:
    """What the Spark job reads: files through the local reader, Parquet through Spark."""

    files: list[tuple[str, str, str | None]] = field(default_factory=list)  # (absolute path, as named, root)
    parquet: list[str] = field(default_factory=list)  # paths or URIs (Parquet files or dataset folders)
    skipped: list[Skipped] = field(default_factory=list)  # inputs that matched nothing


def plan_inputs(paths: Sequence[str]) -> InputPlan:
    """Files, folders and globs expanded as the local engine does (same order, ids and skip
    reasons); ``.parquet`` files, folders holding Parquet files and ``scheme://`` URIs are
    read by Spark as Parquet."""
    plan = InputPlan()
    local, parquet_folders = [], set()
    for raw in map(str, paths):
        if raw == "-":
            raise StanceframeError("--engine spark cannot read standard input (-); save it to a file first")
        if _URI.match(raw) and not raw.startswith("file:"):
            if raw.lower().rstrip("/").endswith(tuple(SUPPORTED_SUFFIXES)):
                raise StanceframeError(
                    f"{raw}: --engine spark reads text, JSONL and CSV files from a path every executor can open "
                    f"(local disk in local mode, a shared mount on a cluster); on {raw.split(':', 1)[0]}:// it "
                    f"reads Parquet"
                )
            plan.parquet.append(raw)
            continue
        path = Path(raw)
        if path.suffix.lower() == PARQUET_SUFFIX and path.exists():
            plan.parquet.append(os.path.abspath(raw))
            continue
        if path.is_dir() and any(f.is_file() and not f.name.startswith(("_", ".")) for f in path.rglob("*.parquet")):
            plan.parquet.append(os.path.abspath(raw))
            parquet_folders.add(raw)
        local.append(raw)
    for item in expand_inputs(local) if local else []:
        if isinstance(item, Skipped):
            if not (item.source in parquet_folders and item.reason.startswith("folder holds no")):
                plan.skipped.append(item)
            continue
        path, root = item
        if path.suffix.lower() == PARQUET_SUFFIX:  # a glob matched Parquet files
            plan.parquet.append(os.path.abspath(path))
            continue
        plan.files.append((os.path.abspath(path), str(path), os.path.abspath(root) if root is not None else None))
    if not plan.files and not plan.parquet:
        reasons = "; ".join(str(s) for s in plan.skipped) or "no PATH given"
        raise StanceframeError(f"no input files ({reasons})")
    return plan


# --------------------------------------------------------------------------- read and segment (executors)


def _relabel(item, absolute: str, named: str):
    """Name the file as the user did (the local engine's messages), not by its absolute path."""
    if absolute == named:
        return item

    def fix(text: str) -> str:
        return named + text[len(absolute):] if text.startswith(absolute) else text

    if isinstance(item, Skipped):
        return Skipped(fix(item.source), item.line, item.reason)
    item.source = fix(item.source)
    item.warnings = [fix(w) for w in item.warnings]
    return item


def _partition_value(doc: Document, column: str | None):
    if column is None:
        return None
    if column == "source":
        return doc.source
    value = (doc.meta or {}).get(column)
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def item_rows(item: Document | Skipped, *, grp: int, file: int, index: int, unit: str, strict: bool,
              part_column: str | None) -> list[dict]:
    """The rows of one input item, with the local ``Tagger``'s rules (``tagging.inputs.prepare_item``)."""
    from stanceframe.tagging.inputs import prepare_item

    key = {"grp": grp, "file": file, "item": index}
    item, units = prepare_item(item, unit=unit, strict=strict)
    if isinstance(item, Skipped):
        return [{**key, "kind": SKIPPED, "seq": 0, "source": item.source, "line": item.line, "message": item.reason}]
    rows = [{**key, "kind": DOCUMENT, "seq": 0, "source": item.source, "line": item.line, "doc_id": item.doc_id}]
    rows += [{**key, "kind": WARNING, "seq": i, "source": item.source, "line": item.line, "message": w}
             for i, w in enumerate(item.warnings)]
    part = _partition_value(item, part_column)
    rows += [{**key, "kind": SENTENCE, "seq": i, "source": item.source, "doc_id": u.doc_id, "id": u.id,
              "paragraph": u.paragraph, "sentence": u.sentence, "start": u.start, "end": u.end, "text": u.text,
              "part": part}
             for i, u in enumerate(units)]
    return rows


def _arrow_schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in ITEM_FIELDS])


def _batches(rows_iter: Iterator[dict]):
    import pyarrow as pa

    schema, rows = _arrow_schema(), []
    for row in rows_iter:
        rows.append(row)
        if len(rows) >= ITEM_BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def read_files(batches, *, text_field: str, id_field: str, unit: str, strict: bool, part_column: str | None):
    """mapInArrow: (file, path, named, root, doc_id) rows -> item rows, through the local reader
    (``doc_id``: the driver's :func:`~stanceframe.tagging.inputs.file_doc_ids`, unique in the run)."""
    from stanceframe.tagging.inputs import iter_documents

    def rows():
        for batch in batches:
            for file, path, named, root, doc_id in zip(*(batch.column(i).to_pylist() for i in range(5))):
                resolved = [(Path(path), Path(root) if root else None)]
                items = iter_documents(resolved, text_field=text_field, id_field=id_field, doc_ids={path: doc_id})
                for index, item in enumerate(items):
                    yield from item_rows(_relabel(item, path, named), grp=0, file=file, index=index, unit=unit,
                                         strict=strict, part_column=part_column)

    yield from _batches(rows())


def local_name(uri: str) -> str:
    """``file:/a/b.parquet`` -> ``/a/b.parquet``; other URIs unchanged."""
    if uri.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(uri).path)
    return uri


def read_parquet_rows(batches, *, text_field: str, id_field: str, unit: str, strict: bool,
                      part_column: str | None):
    """mapInArrow: (file_path, row_index, record JSON) -> item rows; row N of a file is its 'line' N."""

    def rows():
        for batch in batches:
            for uri, row_index, record in zip(*(batch.column(i).to_pylist() for i in range(3))):
                source, line = local_name(uri), int(row_index) + 1
                item = record_document(json.loads(record), source, line, text_field=text_field, id_field=id_field)
                yield from item_rows(item, grp=1, file=0, index=line, unit=unit, strict=strict,
                                     part_column=part_column)

    yield from _batches(rows())


# --------------------------------------------------------------------------- scoring (executors)

_BUNDLES: dict = {}  # shipped model name -> ModelBundle, one load per Python worker


def worker_bundle(name: str):
    """The model folder shipped as ``name`` (SparkContext.addArchive), loaded once per worker."""
    bundle = _BUNDLES.get(name)
    if bundle is None:
        from pyspark import SparkFiles

        from stanceframe.models.bundle import ModelBundle

        bundle = _BUNDLES[name] = ModelBundle.load(SparkFiles.get(name))
    return bundle


def score_texts(bundle, texts: list[str], batch_size: int, columns: list[str]) -> pd.DataFrame:
    """``predict_flat`` in batches of similar length (as the local Tagger), in ``texts`` order."""
    from stanceframe.tagging.tagger import batches_by_length

    out: list[dict] = [{}] * len(texts)
    for idx in batches_by_length(bundle, texts, batch_size):
        for i, pred in zip(idx, bundle.predict_flat([texts[i] for i in idx])):
            out[i] = pred
    return pd.DataFrame({c: [row[c] for row in out] for c in columns}, columns=columns)


def scoring_udf(model_name: str, classes: dict[str, list[str]], batch_size: int):
    """A pandas UDF text -> struct of ``<task>`` labels and ``p_<task>_<label>`` floats."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    columns = list(classes) + [f"p_{task}_{label}" for task, labels in classes.items() for label in labels]
    schema = StructType([StructField(c, StringType() if c in classes else DoubleType()) for c in columns])

    def score(texts: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        bundle = worker_bundle(model_name)
        for series in texts:
            yield score_texts(bundle, series.tolist(), batch_size, columns)

    return pandas_udf(score, returnType=schema), columns


# --------------------------------------------------------------------------- driver


LOG4J2_PROPERTIES = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# the gateway's logger (pyspark's "shell") at the root's level: no "Setting default log level" banner
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def _quiet_logging_options() -> str:
    """JVM options for a log4j2 configuration that prints only errors (no startup banner)."""
    digest = hashlib.sha256(LOG4J2_PROPERTIES.encode("utf-8")).hexdigest()[:12]
    conf = Path(tempfile.gettempdir()) / f"stanceframe-spark-log4j2-{digest}.properties"
    if not conf.exists():
        tmp = conf.with_name(f"{conf.name}.{os.getpid()}.tmp")
        tmp.write_text(LOG4J2_PROPERTIES, encoding="utf-8")
        os.replace(tmp, conf)
    return f"-Dlog4j2.configurationFile={conf.as_uri()}"


def spark_session(master: str | None = None, *, progress: bool = False):
    """(session, created): the active session when there is one (tests, notebooks), else a
    new one: ``master`` (default local[2]; under spark-submit, spark-submit's) and, for a
    local master, settings that work offline."""
    require_pyspark()
    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # the driver of spark-submit
    if not submitted and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise StanceframeError("--engine spark needs Java 17 (no java on PATH and no JAVA_HOME): "
                               "apt-get install openjdk-17-jre-headless")
    os.environ.setdefault("PYTHONWARNINGS", f"ignore:{PANDAS_WARNING}:FutureWarning")
    builder = (SparkSession.builder.appName("stanceframe-tag")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
               .config("spark.ui.showConsoleProgress", "true" if progress else "false"))
    if master is None and not submitted:
        master = DEFAULT_MASTER
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ["PYSPARK_PYTHON"] = sys.executable  # local workers run this very Python (its venv)
        builder = (builder.config("spark.ui.enabled", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.extraJavaOptions", _quiet_logging_options()))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - a JVM that does not start is one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StanceframeError(f"cannot start Spark (master {master or 'from spark-submit'}): {first}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def ship_model(spark, bundle) -> str:
    """Zip the model folder under a name keyed on its content and ``addArchive`` it (a
    folder cannot be ``addFile``'d outside local mode); every executor unpacks it once and
    finds it with ``SparkFiles.get(name)``. The zip stays in the temp folder, so a later run
    with the same model (same name, same path) reuses it."""
    source = Path(bundle.path)
    digest = hashlib.sha256()
    for f in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(source)).encode("utf-8") + b"\0" + f.read_bytes() + b"\0")
    name = f"stanceframe-model-{digest.hexdigest()[:16]}.zip"
    archive = MODEL_STAGING / name
    if not archive.is_file():
        MODEL_STAGING.mkdir(parents=True, exist_ok=True)
        tmp = shutil.make_archive(str(MODEL_STAGING / f".{name}.{os.getpid()}"), "zip", root_dir=source)
        os.replace(tmp, archive)
    spark.sparkContext.addArchive(str(archive))
    return name


def write_mode(spark, out: str) -> str:
    """``overwrite`` for an empty folder or an earlier finished output (``_SUCCESS``), else a
    user error; ``errorifexists`` when ``out`` does not exist."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return "errorifexists"
    if not fs.getFileStatus(path).isDirectory():
        raise StanceframeError(f"{out}: is a file; --engine spark writes a Parquet folder, give a folder for --out")
    if fs.exists(jvm.org.apache.hadoop.fs.Path(path, "_SUCCESS")) or len(fs.listStatus(path)) == 0:
        return "overwrite"
    raise StanceframeError(f"{out}: folder exists and is not the output of an earlier tag run (no _SUCCESS); "
                           "choose another --out or remove it")


def _read_parquet(spark, paths: list[str], text_field: str):
    from pyspark.sql import functions as F

    try:
        df = spark.read.option("mergeSchema", "true").option("pathGlobFilter", "*.parquet").parquet(*paths)
    except Exception as exc:  # noqa: BLE001 - Spark's analysis errors, one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StanceframeError(f"{', '.join(paths)}: cannot read as Parquet ({first})") from None
    if text_field not in df.columns:
        raise StanceframeError(f"{', '.join(paths)}: no column {text_field!r} (columns: {', '.join(df.columns)}); "
                               f"name the text column with --text-field")
    return df.select(F.col("_metadata.file_path").alias("uri"), F.col("_metadata.row_index").alias("row"),
                     F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("record"))


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
):
    """Tag ``paths`` on Spark and write a Parquet folder at ``out`` with the rows the local
    engine writes (plus the ``partition_by`` column when it is not an output column).
    ``model`` is a :class:`ModelBundle`, a model folder, ``runs:/...``, ``models:/...`` or
    ``None`` (``models/default/``). Returns the local engine's :class:`TagSummary`; skipped
    inputs and warnings are printed one line each on ``stderr``, as the local engine does."""
    from functools import partial

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.loading import load_model, model_classes
    from stanceframe.tagging.inputs import file_doc_ids
    from stanceframe.tagging.options import check_options
    from stanceframe.tagging.rows import SENTENCE_FIELDS, sentence_columns
    from stanceframe.tagging.summary import TagSummary
    from stanceframe.tagging.tagger import default_batch_size

    check_options(fmt=fmt, per=per, unit=unit, out=out, resume=resume, batch_size=batch_size, engine="spark",
                  partition_by=partition_by)
    require_pyspark()
    from pyspark.sql import functions as F

    stderr = stderr if stderr is not None else sys.stderr
    plan = plan_inputs(paths)
    bundle = model if isinstance(model, ModelBundle) else load_model(model)
    if not bundle.path or not Path(bundle.path).is_dir():
        bundle.save(tempfile.mkdtemp(prefix="stanceframe-model-"))
    classes = model_classes(bundle)
    columns = sentence_columns(classes)
    batch_size = batch_size or default_batch_size(bundle)  # as the local engine chooses it
    part_column = None if partition_by in (None, *columns) else partition_by

    spark, created = spark_session(master, progress=progress)
    out = str(out)
    summary = TagSummary(output=out)
    items = None
    try:
        mode = write_mode(spark, out)
        name = ship_model(spark, bundle)
        started = time.perf_counter()
        options = dict(text_field=text_field, id_field=id_field, unit=unit, strict=strict, part_column=part_column)
        schema = ", ".join(f"`{n}` {'bigint' if k == 'int64' else 'string'}" for n, k in ITEM_FIELDS)
        parts = []
        if plan.files:
            ids = file_doc_ids([(Path(path), Path(root) if root else None) for path, _, root in plan.files])
            rows = [(i, path, named, root, ids[path]) for i, (path, named, root) in enumerate(plan.files)]
            slices = max(1, min(len(rows), spark.sparkContext.defaultParallelism * 4))
            files = spark.createDataFrame(spark.sparkContext.parallelize(rows, slices),
                                          "file bigint, path string, named string, root string, doc_id string")
            parts.append(files.mapInArrow(partial(read_files, **options), schema))
        if plan.parquet:
            records = _read_parquet(spark, plan.parquet, text_field)
            parts.append(records.mapInArrow(partial(read_parquet_rows, **options), schema))
        items = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        n = max(2, spark.sparkContext.defaultParallelism * 2)
        items = items.repartition(n, "grp", "file", "source", "item").sortWithinPartitions(*ORDER).persist()

        _report(items, plan, summary, stderr)

        score, pred_columns = scoring_udf(name, classes, batch_size)
        sentences = items.filter(F.col("kind") == SENTENCE)
        scored = sentences.withColumn("_pred", score(F.col("text")))
        selected = [F.col(c) for c in SENTENCE_FIELDS]
        selected += [F.col("_pred").getField(c).alias(c) for c in pred_columns]
        if part_column is not None:
            selected.append(F.col("part").alias(part_column))
        writer = scored.select(*selected).write.mode(mode)
        if partition_by is not None:
            writer = writer.partitionBy(partition_by)
        writer.parquet(out)
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
    for note in notes:
        if note["kind"] == SKIPPED:
            skipped = Skipped(note["source"], note["line"], note["message"])
            summary.skip(skipped)
            print(printable(f"skipped {skipped}"), file=stderr, flush=True)
        else:
            summary.warnings += 1
            print(printable(f"warning: {note['message']}"), file=stderr, flush=True)
