"""The Spark session: what a run needs before a JVM starts (pyspark, Java, a master URL), a quiet
session whose JVM output goes to a log file, and Spark's failures as one-line errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifier.errors import UserError, slot

# rows per Arrow batch and per predict() call: a Python worker's memory stays flat with the input
BATCH_ROWS = 4096
JAVA_MAJOR = 17  # pyspark 4 runs on Java 17 or 21
JAVA_HELP = "install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
MASTER_PATTERN = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|(spark|k8s)://\S+|yarn"
)


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
        raise UserError(f"Java {JAVA_MAJOR} is needed for {slot('spark')}{where}: {JAVA_HELP}")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"{java} does not run ({e}); "
                        f"Java {JAVA_MAJOR} is needed for {slot('spark')}: {JAVA_HELP}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(found.group(1)) if found else 0
    if major == 1 and found.group(2):  # "1.8.0_392" is Java 8
        major = int(found.group(2))
    if major < JAVA_MAJOR:
        seen = f"Java {major}" if major else "an unknown Java"
        raise UserError(f"{java} is {seen}; Java {JAVA_MAJOR} or newer is needed for {slot('spark')}: {JAVA_HELP}")


def check_master(master: str) -> str:
    if not MASTER_PATTERN.fullmatch(master):
        raise UserError(f"bad Spark master URL {master!r}: give local[N], local[*], spark://HOST:PORT, yarn "
                        f"or k8s://https://HOST:PORT")
    return master


def is_local(master: str) -> bool:
    return master.startswith("local")


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
            raise UserError(f"Spark did not start with {slot('spark')} {master}: {log_tail(log)} "
                            f"(Spark's log: {log})") from None
    try:
        sc = SparkContext(conf=spark_conf, gateway=gateway)
    except (PySparkException, Py4JError) as e:
        raise UserError(f"Spark did not start with {slot('spark')} {master}: {one_line(e)} "
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
