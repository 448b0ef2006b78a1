"""Shipping to executors: the bundle as a zip archive (loaded and hash-checked once per Python worker,
never pickled into a closure), and on a cluster this package as a zip of its own."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from classifier.bundle import CONFIG_FILE, Bundle, load
from classifier.errors import UserError, slot
from classifier.io.files import file_sha256
from classifier.io.morphemes import limit_threads

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


def check_spark_bundle(bundle: Bundle) -> None:
    """What executors cannot score, said on the driver before a JVM starts."""
    if getattr(bundle, "multiclass", False):
        raise UserError(f"{bundle.path} is a multi-class bundle; {slot('spark')} scores 0/1 bundles (recommend_proba, "
                        f"recommend, status) for now: use `classifier score` without {slot('spark')}")
    if bundle.default_engine() != "numpy":
        raise UserError(f"{bundle.path}: its model runs on Keras only, and Spark executors run the NumPy engine "
                        f"(no TensorFlow); score it with `classifier score` without {slot('spark')}")


def ship_bundle(spark, model: str | os.PathLike | Bundle) -> tuple[str, Bundle]:
    """Load and check the bundle on the driver, add it to the session as an archive; returns the
    name executors find it under (SparkFiles) and the bundle."""
    bundle = model if isinstance(model, Bundle) else load(model)
    check_spark_bundle(bundle)
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
