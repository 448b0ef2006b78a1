"""Scoring a DataFrame: a pandas UDF over the text column adds recommend_proba, recommend and status,
the values `classifier score` writes; the other columns stay in the JVM."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from classifier.bundle import Bundle, load
from classifier.classify.predict import BINARY_COLUMNS, STATUSES, check_threshold, recommendations
from classifier.errors import UserError
from classifier.io.dataset import missing_column_error
from classifier.spark.session import BATCH_ROWS, quiet_pyspark_warnings
from classifier.spark.shipping import ship_bundle, worker_bundle

SCORES_SCHEMA = "recommend_proba double, recommend int, status string"


def score_texts(texts, archive: str, threshold: float):
    """Runs on executors: one Arrow batch of texts (a pandas Series) -> its three new columns."""
    bundle = worker_bundle(archive)
    # a null cell arrives as NaN (pandas 3: as a missing value of its string dtype): give recommendations() None
    values = [v if isinstance(v, str) else None for v in texts.tolist()]
    preds = []
    for start in range(0, len(values), BATCH_ROWS):
        preds += recommendations(bundle, values[start : start + BATCH_ROWS], threshold, engine="numpy")
    return pd.DataFrame({
        "recommend_proba": pd.array([p.proba for p in preds], dtype="Float64"),
        "recommend": pd.array([p.recommend for p in preds], dtype="Int32"),
        "status": [p.status for p in preds],
    })


def score_dataframe(df, model: str | os.PathLike | Bundle, text_column: str | None = None,
                    threshold: float | None = None, counts: StatusCounts | None = None):
    """`df` with recommend_proba, recommend and status added (lazy: nothing runs until an action).

    `model` is a bundle folder on the driver or a loaded Bundle; `text_column` defaults to the one
    the bundle was trained on, `threshold` to the bundle's. `counts` (a StatusCounts) is filled
    as executors score rows."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    quiet_pyspark_warnings()
    bundle = model if isinstance(model, Bundle) else load(model)
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    column = text_column or bundle.config.text_column
    columns = df.columns
    if column not in columns:
        raise missing_column_error("the DataFrame", column, "text", columns, "text_column")
    if columns.count(column) > 1:
        raise UserError(f"the DataFrame names {column!r} {columns.count(column)} times; rename the copies")
    clash = [c for c in BINARY_COLUMNS if c in columns]
    if clash:
        raise UserError(f"the DataFrame already has column(s) {', '.join(map(repr, clash))} (already scored?); "
                        f"drop or rename them")
    kind = df.schema[column].dataType
    if not isinstance(kind, StringType):
        raise UserError(f"text column {column!r} holds {kind.simpleString()}, not strings; cast it or pick another")
    archive, bundle = ship_bundle(df.sparkSession, bundle)
    tally = counts.accumulators(df.sparkSession) if counts is not None else None

    # a closure over plain values only: the bundle is loaded on the executor, never pickled
    @F.pandas_udf(SCORES_SCHEMA)
    def scores(texts: pd.Series) -> pd.DataFrame:
        out = score_texts(texts, archive, threshold)
        if tally is not None:
            add_counts(tally, out)
        return out

    packed = "__classifier_scores__"
    return df.withColumn(packed, scores(F.col(quoted(column)))).select(
        *[F.col(quoted(c)) for c in columns], *[F.col(f"{packed}.{c}").alias(c) for c in BINARY_COLUMNS])


def quoted(column: str) -> str:
    """A column name as Spark's parser reads it literally (dots and spaces included)."""
    return "`" + column.replace("`", "``") + "`"


@dataclass
class StatusCounts:
    """Rows scored by status and rows recommended, counted on executors (Spark accumulators; a task
    Spark runs twice is counted twice, so these are for the summary line, not for auditing)."""

    _acc: dict = field(default_factory=dict)

    def accumulators(self, spark) -> dict:
        if not self._acc:
            sc = spark.sparkContext
            self._acc = {k: sc.accumulator(0) for k in (*STATUSES, "recommended")}
        return self._acc

    def value(self) -> dict[str, int]:
        return {k: a.value for k, a in self._acc.items()}


def add_counts(tally: dict, out) -> None:
    for status, n in out["status"].value_counts().items():
        tally[status].add(int(n))
    tally["recommended"].add(int((out["recommend"] == 1).sum()))
