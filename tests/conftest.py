"""Shared fixtures: the real data set, a small bundle trained once per session, and a CLI runner."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = [
    Path(os.environ.get("DATA", "")),
    ROOT / "data/womens_clothing_ecommerce_reviews.csv",
    ROOT.parent / "shared/data/womens_clothing_ecommerce_reviews.csv",
]

# The tests' JVMs (Spark) live for seconds: C1 compiles alone and one GC thread halve their start-up CPU
# (27 s to 17 s a session here); the JVM's own output goes to Spark's log, so nothing else shows it.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
# one pytest worker per core already: TensorFlow's own thread pools on top only spin against each other
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# the project's agreement standard on probabilities that crossed a process, a thread pool or a text
# format: their sums run in another order there, so one float32 ulp can move a printed sixth decimal
AGREEMENT = 1e-5

# Fixtures that train a Keras model, export TensorFlow graphs or start a JVM: a test that uses one is
# `slow` (`make test-fast` leaves it out), whether or not it carries the marker itself.
SLOW_FIXTURES = {
    "small_bundle", "generator_bundle", "seed_generator_bundle",  # here
    "steered_bundle",  # test_steering
    "colour_bundle", "department_bundle",  # test_multiclass
    "exported",  # test_export
    "spark",  # test_spark
}

# the test files that take longest (CPU seconds on 2 cores, longest first; measured, not exact)
LONGEST_FILES = (
    "test_spark.py", "test_export.py", "test_guarantees.py", "test_multiclass.py", "test_explain.py", "test_padskip.py",
    "test_generator_train.py", "test_serve.py", "test_default_bundle.py", "test_korean.py", "test_train_cli.py",
    "test_generate.py", "test_reproducible.py", "test_tuned.py", "test_masking.py", "test_score.py",
    "test_engine.py", "test_tfidf.py", "test_api.py", "test_reload.py",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # `--dist loadfile` hands files to the workers in this order: the long ones first, so that the
    # short ones come last and fill the gaps while the other worker finishes
    rank = {name: k for k, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def missing(what: str, install: str):
    """A system dependency or data file is missing: outside CI the test skips, saying how to get it;
    in CI (`CI` set) nothing may skip, so it fails."""
    message = f"{what} not found: {install}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_path() -> Path:
    """The review CSV (the clothing reviews of ../shared/README.md)."""
    for p in DATA_CANDIDATES:
        if p.is_file():
            return p
    missing("the review CSV", "run `make data` (copies it from ../shared/data) or set DATA=PATH")


SAMPLE_WORDS = {
    1: ["love", "perfect", "soft", "flattering", "comfortable", "beautiful", "great", "cute", "fits"],
    0: ["ripped", "tight", "itchy", "cheap", "returned", "faded", "boxy", "thin", "disappointed"],
}


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory) -> Path:
    """A small synthetic labelled CSV with the review file's columns (400 rows, seeded): for tests of
    behaviour that needs labelled rows but not the real reviews, so they run without the data set."""
    import csv
    import random

    rng = random.Random(7)
    path = tmp_path_factory.mktemp("sample") / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["", "Clothing ID", "Title", "Review Text", "Rating", "Recommended IND", "Department Name"])
        for i in range(400):
            label = int(rng.random() < 0.8)
            words = rng.choices(SAMPLE_WORDS[label], k=4) + rng.choices(SAMPLE_WORDS[1 - label], k=1)
            text = f"this dress is {' and '.join(words)}" if i % 50 else ""  # a few missing reviews
            rating = rng.choice([4, 5] if label else [1, 2, 3])
            out.writerow([i, 1000 + i % 37, "nice" if label else "meh", text, rating, label,
                          rng.choice(["Dresses", "Tops", "Bottoms"])])
    return path


def run_cli(*args, input: str | bytes | None = None, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m classifier ARGS` in a new process, as a user would."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    text = not isinstance(input, bytes)
    return subprocess.run(
        [sys.executable, "-m", "classifier", *map(str, args)], input=input, capture_output=True,
        text=text, cwd=cwd or ROOT, env=full_env, timeout=timeout,
    )


def run_cli_here(*args) -> subprocess.CompletedProcess:
    """`classifier ARGS` run in this process: the parser, the command, what it prints and its exit
    code, without a new interpreter importing TensorFlow again. For commands whose own process is
    tested by a run_cli test already."""
    from classifier.cli import main

    out, err = io.StringIO(), io.StringIO()
    routed = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # main() routes these to its clean-up
    handlers = [signal.getsignal(sig) for sig in routed]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        for sig, handler in zip(routed, handlers, strict=True):
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run `python -c CODE` in a new process from the project folder (e.g. to see what it imports)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The folder `build(folder)` fills, built by the first pytest-xdist worker that asks and shared
    by the others of the run (each would otherwise train its own copy at the same time). Tests read
    it; a test that changes a bundle copies it first."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed part-way
            build(folder)
            done.touch()
    return folder


def committed_bundle(name: str) -> Path:
    """saved_models/NAME as git's HEAD holds it, not the working copy a user's `make train` rewrites:
    the tests of the committed bundles read the committed bytes. Extracted once per git tree into the
    temp folder (the tree's hash names it, so two runs or workers share it safely); outside a git
    checkout, the folder as shipped."""
    try:
        tree = subprocess.run(["git", "-C", str(ROOT), "rev-parse", f"HEAD:saved_models/{name}"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ROOT / "saved_models" / name
    root = Path(tempfile.gettempdir()) / "classifier-committed" / tree
    folder, done = root / name, root / ".done"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # an extraction that failed part-way
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", tree],
                                     capture_output=True, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(folder, filter="data")
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, data_path) -> Path:
    """The reference preset trained for 1 epoch on the first 2,000 clean rows (about 15 s)."""
    from classifier.classify.train import train
    from classifier.config import preset

    return built_once(tmp_path_factory, "small", lambda out: train(
        preset("reference", epochs=1, max_rows=2000), data_path, out, verbose=0))


# agreement samples a side in the fixtures (200 on record): enough to compare, a fifth of the time
FIXTURE_AGREEMENT_SAMPLES = 40


@pytest.fixture(scope="session")
def generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with a narrow default-preset generator (300 reviews, 1 epoch, a few seconds)."""
    from classifier.config import generator_preset
    from classifier.textgen.train import train_generator

    def build(out):
        shutil.copytree(small_bundle, out)
        cfg = generator_preset("default", max_texts=300, epochs=1, embedding_dim=16, lstm_units=32)
        train_generator(cfg, out, verbose=0, agreement=True, agreement_samples=FIXTURE_AGREEMENT_SAMPLES,
                        overwrite=True)

    return built_once(tmp_path_factory, "generator", build)


@pytest.fixture(scope="session")
def seed_generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with the full-size reference-preset generator at its seeded initial
    weights, saved as training saves it: what the engines must agree on is the network, and a fit
    would first spend ~15 s compiling it with XLA."""
    import keras

    from classifier.bundle import load
    from classifier.config import generator_preset
    from classifier.textgen.train import build_generator, save_generator

    def build(out):
        shutil.copytree(small_bundle, out)
        cfg, tokenizer = generator_preset("reference"), load(out).tokenizer
        keras.utils.set_random_seed(cfg.seed)
        save_generator(out, build_generator(cfg, tokenizer.config.num_words), cfg, tokenizer, {"metrics": {}}, [])

    return built_once(tmp_path_factory, "seed-generator", build)


def record_files(bundle: Path, names: list[str], **meta) -> None:
    """Record rewritten files (and metadata) in a bundle's config.json, as a deliberate edit of a
    bundle would: the files' new hashes, so loading accepts them."""
    import json

    from classifier.io.files import file_sha256

    config = bundle / "config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    for name in names:
        data["files"][name] = file_sha256(bundle / name)
    data.update(meta)
    config.write_text(json.dumps(data), encoding="utf-8")


def assert_user_error(result, *needles) -> None:
    """A user mistake: exit 2, one `classifier: error:` line holding every needle, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("classifier: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def awkward_csv(bundle) -> tuple[bytes, list[str]]:
    """A hand-written CSV with every awkward case (for local and Spark scoring alike), and the status
    each row must get."""
    known = " ".join(bundle.tokenizer.words[:40])
    long_review = " ".join(bundle.tokenizer.words[i % 50] for i in range(5000))
    rows = [
        ('1,007,"Love this dress, it fits!",NA', "ok"),
        ("2,,,null", "empty"),  # missing text
        ('3,x,"",""', "empty"),  # quoted empty
        ('4,x,"   \t  ",', "empty"),  # whitespace only
        ("5,x,NaN,NaN", "no_known_words"),  # a review that says NaN is text (only blank cells are missing)
        ('6,x,"It said ""too small""\nso I sized up, and\r\nit is great",y', "ok"),  # quotes, newlines, commas
        ('7,x,"이 드레스 정말 좋아요 love 😍",z', "ok"),  # Korean and emoji around a known word
        ("8,x,qzxv wkkrpf 드레스 😍😍,", "no_known_words"),
        (f'9,x,"{long_review}",', "truncated"),
        (f'10,"quoted id",{known},"  padded  "', "ok"),
        ("11,x, leading and trailing spaces kept ,-", "ok"),
        ('12,"a, b",",,,","""quoted"""', "no_known_words"),  # a text of separators only
    ]
    text = "id,code,Review Text,note\n" + "".join(r + "\n" for r, _ in rows)
    return text.encode("utf-8"), [s for _, s in rows]


def assert_padskip_gradients_match_keras(model, steps, window, x, y) -> tuple[list, list]:
    """The pad-skipping step's loss and gradients on `window` equal Keras' own on the padded rows `x`
    (graph mode as in fit(): the compiled loss then works from the head's logits); returns both
    gradient lists (Keras', then ours)."""
    import numpy as np
    import tensorflow as tf

    @tf.function
    def keras_gradients(ids):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(y=y, y_pred=model(ids, training=True))
        return loss, tape.gradient(loss, model.trainable_weights)

    keras_loss, keras_grads = keras_gradients(x)
    _, fast_loss, fast_grads = tf.function(steps.gradients)(window, y)
    np.testing.assert_allclose(float(fast_loss), float(keras_loss), rtol=1e-6)
    for weight, a, b in zip(model.trainable_weights, keras_grads, fast_grads, strict=True):
        a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()  # embedding slices made dense
        assert np.abs(a).max() > 0, weight.path
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6 * np.abs(a).max(), err_msg=weight.path)
    return keras_grads, fast_grads
