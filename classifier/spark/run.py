"""`classifier score INPUT... --spark MASTER -o OUTDIR`: the command, from checks to the summary line."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from classifier.bundle import Bundle, load
from classifier.classify.predict import STATUSES, check_threshold, refuse_threshold
from classifier.errors import UserError, slot
from classifier.io.dataset import missing_column_error
from classifier.io.files import check_output, names_folder, resolved, same_file, write_json
from classifier.io.records import check_encoding, check_sep
from classifier.io.streams import Stdout
from classifier.spark.reading import check_local_paths, expand_inputs, read_inputs
from classifier.spark.scoring import StatusCounts, score_dataframe
from classifier.spark.session import check_master, is_local, require_java, require_pyspark, spark_errors, start_session
from classifier.spark.shipping import check_spark_bundle, ship_package
from classifier.spark.writing import FORMATS, check_outdir, count_part_files, remove_outdir, write

logger = logging.getLogger(__name__)

REPARTITION_BYTES = 16 << 20  # smaller inputs score in seconds: not worth a shuffle, and keep their row order


@dataclass
class SparkSummary:
    destination: str
    master: str
    counts: dict[str, int]
    recommended: int
    seconds: float  # the whole run, Spark's start-up included
    part_files: int
    job_seconds: float = 0.0  # reading, scoring and writing, once the session is up

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict:
        return {"destination": self.destination, "master": self.master, "rows": self.rows,
                "counts": dict(self.counts), "recommended": self.recommended, "part_files": self.part_files,
                "seconds": round(self.seconds, 3), "job_seconds": round(self.job_seconds, 3),
                "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else 0.0}

    def line(self) -> str:
        scored = self.rows - self.counts.get("empty", 0)
        share = self.recommended / scored if scored else 0.0
        counts = ", ".join(f"{k} {self.counts.get(k, 0):,}" for k in STATUSES)
        rate = self.rows / self.seconds if self.seconds else 0.0
        return (f"-> {self.destination} ({self.part_files} part files, Spark {self.master}): {self.rows:,} rows "
                f"({counts}), {share:.1%} recommended, {self.seconds:.1f} s with start-up, {rate:,.0f} rows/s")


def score_on_spark(inputs: list[str], out: str, *, master: str, model: str | os.PathLike | Bundle,
                   output_format: str = "csv", partitions: int | None = None, overwrite: bool = False,
                   quiet: bool = False, text_column: str | None = None, threshold: float | None = None,
                   sep: str | None = None, encoding: str | None = None, engine: str | None = None,
                   summary_json: str | os.PathLike | None = None, conf: dict | None = None) -> SparkSummary:
    """`classifier score INPUT... --spark MASTER -o OUTDIR`: read every input, score it, write OUTDIR
    with Spark's committer (_SUCCESS last). Returns the counts; raises UserError for user mistakes.
    `conf` adds Spark settings ({"spark.executor.memory": "4g"})."""
    require_pyspark()
    check_master(master)
    if "-" in inputs:
        raise UserError("{=spark} reads files, not stdin (-); save the input to a file first")
    if engine == "keras":
        raise UserError("{=spark} runs the NumPy engine only (no TensorFlow on executors); drop {=engine} keras")
    if output_format not in FORMATS:
        raise UserError(f"unknown {slot('spark_format')} {output_format!r}; choose one of: {', '.join(FORMATS)}")
    if not out or out == "-":
        raise UserError("{=spark} writes a folder of part files, not stdout: give it with {=out} OUTDIR")
    if sep:
        check_sep(sep)
    if encoding:
        check_encoding(encoding)
    check_local_paths(inputs, out, overwrite)
    summary_json = None if summary_json is None else os.fspath(summary_json)
    if summary_json and summary_json != "-":
        if names_folder(summary_json) or same_file(summary_json, out) or resolved(summary_json).is_relative_to(
                resolved(out)):
            raise UserError(f"{slot('summary_json')} {summary_json} is (or is inside) the output folder "
                            f"{slot('out')} {out}; "
                            f"give it a file name elsewhere")
        check_output(Path(summary_json), overwrite, "summary_json")
    bundle = model if isinstance(model, Bundle) else load(model)
    check_spark_bundle(bundle)  # every refusal before the JVM starts: each start costs seconds
    refuse_threshold(bundle, threshold)
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    require_java()
    log = Path(tempfile.mkstemp(prefix="classifier-spark-", suffix=".log")[1])
    start = time.perf_counter()
    spark = start_session(master, log, conf)
    job_start = time.perf_counter()
    failed, made_outdir, keep_log = True, False, False
    try:
        with spark_errors(log, master):
            if not is_local(master):
                ship_package(spark)
            made_outdir = not check_outdir(spark, out, overwrite, inputs)
            files, size = expand_inputs(spark, inputs, sep)
            df = read_inputs(spark, files, sep, encoding)
            column = text_column or bundle.config.text_column
            if column not in df.columns:  # said as local scoring says it, naming the inputs and the flag
                raise missing_column_error(", ".join(inputs), column, "text", df.columns, "text_column")
            cores = spark.sparkContext.defaultParallelism
            if partitions:
                df = df.repartition(partitions)
            elif size >= REPARTITION_BYTES and df.rdd.getNumPartitions() < cores:
                # a CSV with quoted newlines is one task however big: spread its rows over every core
                # (scoring costs far more than the shuffle); small inputs keep their row order
                df = df.repartition(cores)
            counts = StatusCounts()
            scored = score_dataframe(df, bundle, text_column, threshold, counts)
            write(scored, out, output_format, overwrite)
            parts = count_part_files(spark, out)
            job_seconds = time.perf_counter() - job_start
        failed = False
    except UserError as e:
        keep_log = str(log) in str(e)  # kept only when the error line points at it
        raise
    except KeyboardInterrupt:
        keep_log = False
        raise
    except Exception:
        keep_log = True
        logger.error(f"classifier: Spark's log: {log}")  # beside the traceback of our fault
        raise
    finally:
        if failed and made_outdir:
            remove_outdir(spark, out)  # the folder a failed job made (no _SUCCESS in it) goes too
        spark.stop()
        if not keep_log:
            log.unlink(missing_ok=True)
    tally = counts.value()
    summary = SparkSummary(out, master, {k: tally.get(k, 0) for k in STATUSES}, tally.get("recommended", 0),
                           time.perf_counter() - start, parts, job_seconds)
    if summary_json == "-":
        Stdout().write(json.dumps(summary.to_dict(), indent=2) + "\n")
    elif summary_json:
        write_json(summary_json, summary.to_dict())
    return summary
