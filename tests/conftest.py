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
    from classifier.train import train

    out = tmp_path_factory.mktemp("bundles") / "small"
    train(preset("seed", epochs=1, max_rows=2000), data_path, out, verbose=0)
    return out


@pytest.fixture(scope="session")
def generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with a narrow default-preset generator (300 reviews, 1 epoch, a few seconds)."""
    import shutil

    from classifier.config import generator_preset
    from classifier.generator import train_generator

    out = tmp_path_factory.mktemp("bundles") / "generator"
    shutil.copytree(small_bundle, out)
    cfg = generator_preset("default", max_rows=300, epochs=1, embedding_dim=16, lstm_units=32)
    train_generator(cfg, out, verbose=0)
    return out


@pytest.fixture(scope="session")
def seed_generator_bundle(tmp_path_factory, small_bundle) -> Path:
    """A copy of small_bundle with the full-size seed-preset generator, 1 epoch on 40 reviews (~15 s)."""
    import shutil

    from classifier.config import generator_preset
    from classifier.generator import train_generator

    out = tmp_path_factory.mktemp("bundles") / "seed-generator"
    shutil.copytree(small_bundle, out)
    train_generator(generator_preset("seed", max_rows=40, epochs=1), out, verbose=0, evaluate=False)
    return out
