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
