"""Score review tables on Apache Spark: the rows, columns and numbers of `classifier score`, on a cluster.

    classifier score reviews.csv exports/ --spark "local[2]" -o scored/       # a folder of part files
    scored = score_dataframe(spark.read.parquet("s3a://lake/reviews/"), "saved_models/default")

`score_dataframe` is a lazy transformation: every input column as it was, plus recommend_proba
(double, null for an empty text), recommend (int, null for an empty text) and status, the values
`classifier score` writes (the same `predict()`, rounded to 6 decimals). Only the text column
goes to Python, in Arrow batches, through a pandas UDF (what pyspark.ml's predict_batch_udf wraps):
the other columns stay in the JVM, their types untouched. Executors run the NumPy engine and never
import TensorFlow. The bundle travels as a zip (`SparkContext.addArchive`; `addFile` refuses a
local folder on a cluster), is unpacked once per executor, and is loaded and hash-checked once per
Python worker (`classifier.bundle.load`), never pickled into the closure. pyspark is imported in
this module only, so `import classifier` stays light.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from classifier.bundle import CONFIG_FILE, Bundle, load
from classifier.classify.predict import STATUSES, check_threshold, predict
from classifier.classify.score import NEW_COLUMNS
from classifier.errors import UserError
from classifier.io.dataset import missing_column_error
from classifier.io.files import check_output, file_sha256, write_json
from classifier.io.morphemes import limit_threads

SCORES_SCHEMA = "recommend_proba double, recommend int, status string"
# rows per Arrow batch and per predict() call: a Python worker's memory stays flat with the input
# (README, Spark: peak RSS of each process, measured with this size)
BATCH_ROWS = 4096
JAVA_MAJOR = 17  # pyspark 4 runs on Java 17 or 21
JAVA_HELP = "install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
MASTER_PATTERN = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|(spark|k8s)://\S+|yarn"
)
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
TSV_SUFFIXES = (".tsv", ".tsv.gz", ".tsv.bz2", ".tab")
PARQUET_SUFFIXES = (".parquet", ".pq")
FORMATS = ("csv", "parquet")
REPARTITION_BYTES = 16 << 20  # inputs smaller than this (~40k reviews, seconds of scoring) are not shuffled


# -- what a run needs before a JVM starts ------------------------------------------------------
def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError("pyspark is not installed: pip install 'classifier[spark]'") from None


def java_command() -> str | None:
    """The java that pyspark will start: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        path = Path(home) / "bin" / "java"
        return str(path) if path.is_file() else None
    return shutil.which("java")


def require_java() -> None:
    """UserError unless a Java of at least JAVA_MAJOR is there (asked once, ~0.1 s)."""
    java = java_command()
    if java is None:
        where = f" (JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java)" if os.environ.get("JAVA_HOME") else ""
        raise UserError(f"Java {JAVA_MAJOR} is needed for --spark{where}: {JAVA_HELP}")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"{java} does not run ({e}); Java {JAVA_MAJOR} is needed for --spark: {JAVA_HELP}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(found.group(1)) if found else 0
    if major == 1 and found.group(2):  # "1.8.0_392" is Java 8
        major = int(found.group(2))
    if major < JAVA_MAJOR:
        seen = f"Java {major}" if major else "an unknown Java"
        raise UserError(f"{java} is {seen}; Java {JAVA_MAJOR} or newer is needed for --spark: {JAVA_HELP}")


def check_master(master: str) -> str:
    if not MASTER_PATTERN.fullmatch(master):
        raise UserError(f"bad Spark master URL {master!r}: give local[N], local[*], spark://HOST:PORT, yarn "
                        f"or k8s://https://HOST:PORT")
    return master


def is_local(master: str) -> bool:
    return master.startswith("local")


# -- the session --------------------------------------------------------------------------------
def quiet_pyspark_warnings() -> None:
    # pyspark 4 warns about pandas 3 on each pandas UDF; the UDF here uses plain Series and DataFrames
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def session_conf(master: str, conf: dict | None = None, app_name: str = "classifier score") -> dict[str, str]:
    """The settings a quiet session needs, then `conf` ({"spark.x.y": value}) over them."""
    settings = {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(BATCH_ROWS),
        # the text column goes to Python once per row; a worker stays alive for the next task
        "spark.python.worker.reuse": "true",
    }
    if is_local(master):
        # this machine only: the driver never listens on another address
        settings["spark.driver.host"] = "127.0.0.1"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
    settings.update({k: str(v) for k, v in (conf or {}).items()})
    return settings


def start_session(master: str, log: str | os.PathLike, conf: dict | None = None):
    """A SparkSession whose JVM writes its output (log4j, warnings, Python workers' stderr) to `log`
    instead of the terminal; UserError for a master Spark refuses."""
    from py4j.protocol import Py4JError
    from pyspark import SparkConf, SparkContext
    from pyspark.errors import PySparkException
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    quiet_pyspark_warnings()
    if is_local(master):
        # pyspark starts workers with $PYSPARK_PYTHON (else `python3`): here, this environment's Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark_conf = SparkConf(loadDefaults=False).setAll(list(session_conf(master, conf).items()))
    with open(log, "ab") as out:
        try:
            gateway = launch_gateway(spark_conf, popen_kwargs={"stdout": out, "stderr": out})
        except PySparkException:
            raise UserError(f"Spark did not start with --spark {master}: {log_tail(log)} "
                            f"(Spark's log: {log})") from None
    try:
        sc = SparkContext(conf=spark_conf, gateway=gateway)
    except (PySparkException, Py4JError) as e:
        raise UserError(f"Spark did not start with --spark {master}: {one_line(e)} "
                        f"(Spark's log: {log})") from None
    sc.setLogLevel("ERROR")
    return SparkSession(sc)


def log_tail(log: str | os.PathLike) -> str:
    """The last line of Spark's log that says what went wrong."""
    lines = [ln.strip() for ln in Path(log).read_text(errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Exception" in line or "Error" in line or "error" in line:
            return line.split(": ", 1)[-1] if "Exception in thread" in line else line
    return lines[-1] if lines else "no output"


def one_line(e: BaseException) -> str:
    """Spark's message in one line: the JVM errors that name what went wrong (error classes such as
    [FAILED_READ_FILE] then [MALFORMED_RECORD_IN_PARSING]), without stacks or tracebacks."""
    text = str(getattr(e, "desc", None) or e).strip()
    worker = re.findall(r"classifier\.errors\.UserError: (.+)", text)
    if worker:  # the worker's own one-line error (a bundle that fails its hash check on an executor)
        return worker[-1].strip()
    messages, java = [], getattr(e, "java_exception", None)
    while java is not None and len(messages) < 20:  # a job failure wraps the task's error in its causes
        message = java.getMessage()
        if message:
            messages.append(str(message).strip().splitlines()[0])
        java = java.getCause()
    named = list(dict.fromkeys(m for m in messages if re.match(r"\[[A-Z_.]+\]", m)))
    if named:
        first = "; ".join(named[:2])
    else:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(e).__name__)
    return first if len(first) <= 500 else first[:500] + "..."


# -- shipping the bundle ------------------------------------------------------------------------
_STAGED: dict[str, Path] = {}  # bundle id -> its zip, made once per driver process


def bundle_id(bundle: Bundle) -> str:
    """Names the bundle by its content: config.json records the sha256 of every other file."""
    return f"classifier-bundle-{file_sha256(bundle.path / CONFIG_FILE)[:16]}"


def stage_bundle(bundle: Bundle) -> Path:
    """The bundle's recorded files in a zip, in a temp folder removed when this process exits."""
    name = bundle_id(bundle)
    if name not in _STAGED or not _STAGED[name].is_file():
        folder = Path(tempfile.mkdtemp(prefix="classifier-spark-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / f"{name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for f in [CONFIG_FILE, *bundle.meta.get("files", {})]:
                z.write(bundle.path / f, f)
        _STAGED[name] = path
    return _STAGED[name]


def ship_bundle(spark, model: str | os.PathLike | Bundle) -> tuple[str, Bundle]:
    """Load and check the bundle on the driver, add it to the session as an archive; returns the
    name executors find it under (SparkFiles) and the bundle."""
    bundle = model if isinstance(model, Bundle) else load(model)
    if getattr(bundle, "multiclass", False):
        raise UserError(f"{bundle.path} is a multi-class bundle; --spark scores 0/1 bundles (recommend_proba, "
                        f"recommend, status) for now: use `classifier score` without --spark")
    if bundle.default_engine() != "numpy":
        raise UserError(f"{bundle.path}: its model runs on Keras only, and Spark executors run the NumPy engine "
                        f"(no TensorFlow); score it with `classifier score` without --spark")
    path = stage_bundle(bundle)
    sc = spark.sparkContext
    added = {Path(p.split("#")[0]).name for p in sc.listArchives}
    if path.name not in added:
        sc.addArchive(str(path))
    return path.name, bundle


_WORKER_BUNDLES: dict[str, Bundle] = {}  # on an executor: archive name -> the bundle, loaded once per worker


def worker_bundle(archive: str) -> Bundle:
    if archive not in _WORKER_BUNDLES:
        from pyspark import SparkFiles, TaskContext

        bundle = load(SparkFiles.get(archive))  # hash-checks every file
        # a task owns spark.task.cpus cores (1 by default), not the machine's: the engine's threads
        # default to every core, which the other tasks' workers are using too
        task = TaskContext.get()
        cpus = task.cpus() if task else 1
        if bundle.kind != "tfidf":
            engine = bundle.numpy_engine()
            engine.predict_ids = functools.partial(engine.predict_ids, threads=cpus)
        if bundle.tokenizer.config.analyzer == "korean":  # kiwipiepy's threads too
            limit_threads(cpus)
        _WORKER_BUNDLES[archive] = bundle
    return _WORKER_BUNDLES[archive]


def score_texts(texts, archive: str, threshold: float):
    """Runs on executors: one Arrow batch of texts (a pandas Series) -> its three new columns."""
    bundle = worker_bundle(archive)
    # a null cell arrives as NaN (pandas 3: as a missing value of its string dtype): give predict() None
    values = [v if isinstance(v, str) else None for v in texts.tolist()]
    preds = []
    for start in range(0, len(values), BATCH_ROWS):
        preds += predict(bundle, values[start : start + BATCH_ROWS], threshold, engine="numpy")
    return pd.DataFrame({
        "recommend_proba": pd.array([p.proba for p in preds], dtype="Float64"),
        "recommend": pd.array([p.recommend for p in preds], dtype="Int32"),
        "status": [p.status for p in preds],
    })


# -- the Python API -----------------------------------------------------------------------------
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
    clash = [c for c in NEW_COLUMNS if c in columns]
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
        *[F.col(quoted(c)) for c in columns], *[F.col(f"{packed}.{c}").alias(c) for c in NEW_COLUMNS])


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


# -- the `classifier score --spark` command ---------------------------------------------------------
def input_format(name: str, sep: str | None) -> str | None:
    """csv, tsv or parquet from a file name; None when the name does not say."""
    lower = name.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(TSV_SUFFIXES):
        return "tsv"
    if lower.endswith(CSV_SUFFIXES):
        return "tsv" if sep in ("\t", "\\t", "tab") else "csv"
    return None


def expand_inputs(spark, inputs: list[str], sep: str | None) -> tuple[dict[str, list[str]], int]:
    """Files, folders and globs (any URI Hadoop reads) -> the files of each format, in order, and
    their total bytes. A folder gives its CSV, TSV and Parquet files (part files included, _SUCCESS
    and hidden ones not)."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    found: dict[str, list[str]] = {"csv": [], "tsv": [], "parquet": []}
    size = 0
    for item in inputs:
        path = jvm.org.apache.hadoop.fs.Path(item)
        try:
            fs = path.getFileSystem(hconf)
            matches = fs.globStatus(path)
        except Exception as e:  # py4j: a scheme Hadoop does not know, a store that refuses us
            raise UserError(f"{item}: cannot read it ({one_line(e)})") from None
        if not matches:
            raise UserError(f"{item}: no such file or folder; check the path")
        for status in matches:
            if status.isDirectory():
                files = fs.listFiles(status.getPath(), True)
                listed = []
                while files.hasNext():
                    f = files.next()
                    name = str(f.getPath())
                    rel = name[len(str(status.getPath())):]
                    kind = input_format(name, sep)
                    if kind and not any(part.startswith(("_", ".")) for part in rel.split("/") if part):
                        listed.append((name, kind, f.getLen()))
                if not listed:
                    raise UserError(f"{item}: no CSV, TSV or Parquet files in this folder")
                for name, kind, length in sorted(listed):
                    found[kind].append(name)
                    size += length
            else:
                name = str(status.getPath())
                size += status.getLen()
                found[input_format(name, sep) or ("tsv" if sep in ("\t", "\\t", "tab") else "csv")].append(name)
    return found, size


def line_separator(spark, path: str) -> str | None:
    """The line ending of a CSV file's header record (\\r\\n, \\n or \\r), from its first 64 KiB (gzip
    and bzip2 read through); None when none is found there. Spark must be told it: left to guess, it
    turns a CRLF inside a quoted field of a CRLF file into LF."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    stream = hpath.getFileSystem(hconf).open(hpath)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(hconf).getCodec(hpath)
    try:
        head = bytes((codec.createInputStream(stream) if codec is not None else stream).readNBytes(1 << 16))
    finally:
        stream.close()
    quoted, prev = False, None
    for b in head:
        if b == 0x22:
            quoted = not quoted
        elif not quoted and b == 0x0A:
            return "\r\n" if prev == 0x0D else "\n"
        elif not quoted and prev == 0x0D:
            return "\r"
        prev = b
    return "\r" if prev == 0x0D and not quoted and len(head) < 1 << 16 else None


def read_inputs(spark, files: dict[str, list[str]], sep: str | None, encoding: str | None):
    """One DataFrame over every input: CSV read as `classifier score` reads it (header row, every
    column a string, quoted fields over several lines, "" escapes a quote), Parquet as it is."""
    frames = []
    for kind, paths in files.items():
        if not paths:
            continue
        if kind == "parquet":
            frames.append(spark.read.parquet(*paths))
            continue
        delimiter = "\t" if kind == "tsv" else (sep if sep and sep not in ("\\t", "tab") else ",")
        by_ending: dict[str | None, list[str]] = {}
        for path in paths:
            by_ending.setdefault(line_separator(spark, path), []).append(path)
        for ending, group in by_ending.items():
            reader = (spark.read.option("header", True).option("multiLine", True).option("quote", '"')
                      .option("escape", '"').option("encoding", encoding or "UTF-8").option("sep", delimiter)
                      # every file's header must name the first one's columns, not just be skipped
                      .option("mode", "FAILFAST").option("enforceSchema", False).option("inferSchema", False))
            df = (reader.option("lineSep", ending) if ending else reader).csv(group)
            first = df.columns[0] if df.columns else ""
            if first.startswith("\ufeff"):  # a UTF-8 byte-order mark is not part of the first column's name
                df = df.withColumnRenamed(first, first[1:])
            frames.append(df)
    df = frames[0]
    for other in frames[1:]:
        if sorted(other.columns) != sorted(df.columns):
            raise UserError(f"the inputs' columns differ ({', '.join(df.columns)} vs {', '.join(other.columns)}); "
                            f"score them in separate runs")
        df = df.unionByName(other)
    return df


def check_outdir(spark, out: str, overwrite: bool, inputs: list[str]) -> bool:
    """UserError if OUTDIR is an input, or exists without `overwrite`; whether it exists."""
    path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    target = str(fs.makeQualified(path))
    for item in inputs:
        qualified = str(fs.makeQualified(spark.sparkContext._jvm.org.apache.hadoop.fs.Path(item)))
        if qualified == target or qualified.startswith(target + "/"):
            raise UserError(f"{out} holds an input of this run; choose another -o (inputs are never replaced)")
    exists = bool(fs.exists(path))
    if exists and not overwrite:
        raise UserError(f"{out} already exists; pass --overwrite to replace it or choose another -o")
    return exists


def check_local_paths(inputs: list[str], out: str, overwrite: bool) -> None:
    """The checks that need no JVM, done first: a missing local input, an existing OUTDIR."""
    if is_uri(out):
        return
    outp = Path(out)
    if (outp.exists() or outp.is_symlink()) and not overwrite:
        raise UserError(f"{out} already exists; pass --overwrite to replace it or choose another -o")
    for item in inputs:
        if not is_uri(item) and not any(c in item for c in "*?[{") and not Path(item).exists():
            raise UserError(f"{item}: file not found; check the path")


def is_uri(path: str) -> bool:
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path))


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


@contextmanager
def spark_errors(log: Path, master: str | None = None) -> Iterator[None]:
    """Spark's failures as one-line UserErrors naming its log; a bug of ours stays a traceback."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException
    from pyspark.errors.exceptions.captured import PythonException

    try:
        yield
    except PythonException as e:
        if "classifier.errors.UserError" not in str(e):
            raise  # our code failed on an executor: the traceback is the report
        raise UserError(f"{one_line(e)} (Spark's log: {log})") from None
    except (PySparkException, Py4JError) as e:
        message = one_line(e)
        if master and "SparkContext was shut down" in message:  # e.g. a standalone master nobody answers at
            message += f"; check that the Spark master {master} is up and reachable"
        raise UserError(f"{message} (Spark's log: {log})") from None


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
        raise UserError("--spark reads files, not stdin (-); save the input to a file first")
    if engine == "keras":
        raise UserError("--spark runs the NumPy engine only (no TensorFlow on executors); drop --engine keras")
    if output_format not in FORMATS:
        raise UserError(f"unknown --format {output_format!r}; choose one of: {', '.join(FORMATS)}")
    if not out:
        raise UserError("--spark writes a folder of part files: give it with -o OUTDIR")
    check_local_paths(inputs, out, overwrite)
    if summary_json:
        check_output(Path(summary_json), overwrite, "--summary-json")
    bundle = model if isinstance(model, Bundle) else load(model)
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
                raise missing_column_error(", ".join(inputs), column, "text", df.columns, "--text-column")
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
        print(f"classifier: Spark's log: {log}", file=sys.stderr)  # beside the traceback of our fault
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
    if summary_json:
        write_json(summary_json, summary.to_dict())
    return summary


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


def ship_package(spark) -> None:
    """On a cluster, executors import this package from a zip of it (they need numpy, pandas, pyarrow,
    h5py and threadpoolctl, not TensorFlow)."""
    import classifier

    root = Path(classifier.__file__).parent
    folder = Path(tempfile.mkdtemp(prefix="classifier-spark-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "classifier.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(root.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                z.write(f, Path("classifier") / f.relative_to(root))
    spark.sparkContext.addPyFile(str(path))
