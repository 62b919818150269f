"""The driver's Spark calls: the session (offline-ready settings for a local master, quiet
logs), shipping the model folder to the executors, the output folder's write mode and
reading Parquet inputs as records. pyspark is imported inside the functions only."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from stanceframe.errors import StanceframeError
from stanceframe.safe_paths import lstat_or_none

DEFAULT_MASTER = "local[2]"
SHUFFLE_PARTITIONS = 4
MODEL_STAGING = Path(tempfile.gettempdir()) / "stanceframe-spark-models"
PANDAS_WARNING = "PySpark does not yet fully support pandas"


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


OUTPUT_MARKER = "_STANCEFRAME_TAG"  # in a folder `tag --engine spark` wrote (Parquet readers skip `_` names)


def write_mode(spark, out: str, inputs: Sequence[str] = ()) -> str:
    """``overwrite`` for an empty folder or one this command wrote (its :data:`OUTPUT_MARKER`;
    a ``_SUCCESS`` of another job is not enough), ``errorifexists`` when ``out`` does not
    exist; else a user error, as for an ``out`` that is, or holds, one of ``inputs`` or that
    is a symbolic link (nothing is removed)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    local = "://" not in out and not out.startswith("file:")
    path = jvm.org.apache.hadoop.fs.Path(os.path.abspath(out) if local else out)
    fs = path.getFileSystem(conf)
    where = fs.makeQualified(path).toString().rstrip("/")
    for source in inputs:
        try:
            source_path = jvm.org.apache.hadoop.fs.Path(source)
            qualified = source_path.getFileSystem(conf).makeQualified(source_path).toString().rstrip("/")
        except Exception:  # noqa: BLE001 - another file system than out's: not inside it
            continue
        if qualified == where or qualified.startswith(where + "/"):
            raise StanceframeError(f"--out {out}: is or holds an input ({source}); it would be replaced, so it is "
                                   "left as it is: choose another --out")
    if local:
        st = lstat_or_none(Path(out))
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise StanceframeError(f"--out {out}: is a symbolic link; stanceframe never writes through one: name the "
                                   "folder it points to")
    if not fs.exists(path):
        return "errorifexists"
    if not fs.getFileStatus(path).isDirectory():
        raise StanceframeError(f"{out}: is a file; --engine spark writes a Parquet folder, give a folder for --out")
    if fs.exists(jvm.org.apache.hadoop.fs.Path(path, OUTPUT_MARKER)) or len(fs.listStatus(path)) == 0:
        return "overwrite"
    raise StanceframeError(f"{out}: folder exists and is not the output of an earlier tag run (no {OUTPUT_MARKER} "
                           "file; another job's _SUCCESS is not enough); nothing in it is removed: choose another "
                           "--out or remove it")


def mark_output(spark, out: str) -> None:
    """Mark ``out`` as written by ``tag --engine spark`` (:data:`OUTPUT_MARKER`): the only
    folder a later run replaces."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    fs.create(jvm.org.apache.hadoop.fs.Path(path, OUTPUT_MARKER), True).close()


def read_parquet_records(spark, paths: list[str], text_field: str):
    """The Parquet inputs as (uri, row index, record JSON) rows, every column of a record kept
    (for ``--partition-by`` and the id field); a user error when they cannot be read or lack
    ``text_field``."""
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
