"""Writing the output folder: CSV cells as `classifier score` writes them, or Parquet, with Spark's
committer (_SUCCESS last); an existing folder only with `overwrite`."""

from __future__ import annotations

from classifier.errors import UserError, slot

FORMATS = ("csv", "parquet")


def check_outdir(spark, out: str, overwrite: bool, inputs: list[str]) -> bool:
    """UserError if OUTDIR is an input, or exists without `overwrite`; whether it exists."""
    path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    target = str(fs.makeQualified(path))
    for item in inputs:
        qualified = str(fs.makeQualified(spark.sparkContext._jvm.org.apache.hadoop.fs.Path(item)))
        if qualified == target or qualified.startswith(target + "/"):
            raise UserError(f"{out} holds an input of this run; "
                            f"choose another {slot('out')} (inputs are never replaced)")
    exists = bool(fs.exists(path))
    if exists and not overwrite:
        raise UserError(f"{out} already exists; pass {slot('overwrite')} to replace it or choose another {slot('out')}")
    return exists


def write(scored, out: str, output_format: str, overwrite: bool) -> None:
    from pyspark.sql import functions as F

    writer_mode = "overwrite" if overwrite else "errorifexists"
    if output_format == "parquet":
        scored.write.mode(writer_mode).parquet(out)
        return
    # the probability as `classifier score` prints it (0.000001, not Java's 1.0E-6); text cells exactly
    # as read: quoted when needed, "" for a quote, newlines and surrounding spaces kept
    proba = F.when(F.col("recommend_proba").isNotNull(), F.format_string("%.6f", F.col("recommend_proba")))
    scored = scored.withColumn("recommend_proba", proba)
    (scored.write.mode(writer_mode).option("header", True).option("quote", '"').option("escape", '"')
     .option("ignoreLeadingWhiteSpace", False).option("ignoreTrailingWhiteSpace", False)
     .option("encoding", "UTF-8").csv(out))


def remove_outdir(spark, out: str) -> None:
    try:
        path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(out)
        path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
    except Exception:  # noqa: BLE001 (the job's own error is the one to report)
        pass


def count_part_files(spark, out: str) -> int:
    path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return sum(1 for s in fs.listStatus(path) if s.getPath().getName().startswith("part-"))
