"""Scoring on the executors: the shipped model loaded once per Python worker and a pandas
UDF that turns sentence texts into labels and probabilities."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd  # module-level: the UDF's type hints (pd.Series, pd.DataFrame) are resolved here

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
