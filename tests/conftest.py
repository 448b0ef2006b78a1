"""Shared fixtures: the real data set, a small bundle trained once per session, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = [
    Path(os.environ.get("DATA", "")),
    ROOT / "data/womens_clothing_ecommerce_reviews.csv",
    ROOT.parent / "shared/data/womens_clothing_ecommerce_reviews.csv",
]


# Fixtures that train a Keras model, export TensorFlow graphs or start a JVM: a test that uses one is
# `slow` (`make test-fast` leaves it out), whether or not it carries the marker itself.
SLOW_FIXTURES = {
    "small_bundle", "generator_bundle", "seed_generator_bundle",  # here
    "colour_bundle", "department_bundle",  # test_multiclass
    "exported",  # test_export
    "spark",  # test_spark
}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def data_path() -> Path:
    for p in DATA_CANDIDATES:
        if p.is_file():
            return p
    pytest.fail("review data not found: run `make data` (copies it from ../shared/data)")


def run_cli(*args, input: str | bytes | None = None, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m classifier ARGS` in a new process, as a user would."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    text = not isinstance(input, bytes)
    return subprocess.run(
        [sys.executable, "-m", "classifier", *map(str, args)], input=input, capture_output=True,
        text=text, cwd=cwd or ROOT, env=full_env, timeout=timeout,
    )


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run `python -c CODE` in a new process from the project folder (e.g. to see what it imports)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, data_path) -> Path:
    """The seed preset trained for 1 epoch on the first 2,000 clean rows (about 15 s)."""
    from classifier.config import preset
    from classifier.training import train

    out = tmp_path_factory.mktemp("bundles") / "small"
    train(preset("reference", epochs=1, max_rows=2000), data_path, out, verbose=0)
    return out


@pytest.fixture(scope="session")
def generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with a narrow default-preset generator (300 reviews, 1 epoch, a few seconds)."""
    import shutil

    from classifier.config import generator_preset
    from classifier.textgen.train import train_generator

    out = tmp_path_factory.mktemp("bundles") / "generator"
    shutil.copytree(small_bundle, out)
    cfg = generator_preset("default", max_texts=300, epochs=1, embedding_dim=16, lstm_units=32)
    train_generator(cfg, out, verbose=0)
    return out


@pytest.fixture(scope="session")
def seed_generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with the full-size seed-preset generator, 1 epoch on 40 reviews (~15 s)."""
    import shutil

    from classifier.config import generator_preset
    from classifier.textgen.train import train_generator

    out = tmp_path_factory.mktemp("bundles") / "seed-generator"
    shutil.copytree(small_bundle, out)
    train_generator(generator_preset("reference", max_texts=40, epochs=1), out, verbose=0, evaluate=False)
    return out


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
