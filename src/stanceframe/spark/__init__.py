"""``stanceframe tag --engine spark``: the local tagger's rows, computed on Apache Spark.

The only package that imports pyspark, and only inside the functions that use it, so that
nothing else needs it (``pip install 'stanceframe[spark]'``; :func:`require_pyspark` says so
in one line when it is missing).

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

One job a module:

- ``inputs``: the input plan (files, folders and globs expanded as the local engine does;
  Parquet files, folders and URIs apart);
- ``reading``: the read/segment stage on the executors (files and Parquet records into item
  rows, Arrow batches);
- ``scoring``: the model loaded once per Python worker and the scoring pandas UDF;
- ``session``: the driver's Spark calls (the session, shipping the model, the write mode,
  reading Parquet as records);
- ``run``: :func:`run_spark_tag`, which puts them together, and the driver's report.

Code that runs on the executors is made of module-level functions of these modules
(``functools.partial`` of them, or closures calling them), which Spark's cloudpickle sends
by reference: the executors import ``stanceframe.spark.*`` from the installed package (a
packed virtualenv through ``--archives``, or ``--py-files`` with the package zipped).
"""

from stanceframe.spark.inputs import InputPlan, plan_inputs
from stanceframe.spark.run import run_spark_tag
from stanceframe.spark.session import require_pyspark, spark_session

__all__ = ["InputPlan", "plan_inputs", "require_pyspark", "run_spark_tag", "spark_session"]
