"""The committed saved_models/default and saved_models/tuned bundles load and evaluate to their recorded figures."""

import json
from pathlib import Path

import classifier
from tests.conftest import run_cli

DEFAULT = Path(__file__).resolve().parents[1] / "saved_models/default"


def test_committed_bundle_evaluates_to_recorded_line(data_path):
    metrics = json.loads((DEFAULT / "metrics.json").read_text())
    bundle = classifier.load(DEFAULT)
    assert bundle.config.preset == "seed" and bundle.config.max_rows is None
    assert metrics["n_test"] == 4529
    # within the band of the plain-Keras run of the recipe ([0.2977, 0.8805])
    assert 0.87 <= metrics["test_accuracy"] <= 0.90 and metrics["test_loss"] <= 0.32
    result = run_cli("evaluate", "--model", DEFAULT, "--data", data_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"


def test_committed_tuned_bundle_evaluates_to_recorded_line(data_path):
    tuned = DEFAULT.parent / "tuned"
    metrics = json.loads((tuned / "metrics.json").read_text())
    assert classifier.load(tuned).config.preset == "tuned"
    result = run_cli("evaluate", "--model", tuned, "--data", data_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"
