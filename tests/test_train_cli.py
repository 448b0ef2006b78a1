"""End to end through the real command: train on a 2,000-row slice, then evaluate."""

import json
import re

import pandas as pd
import pytest

from tests.conftest import run_cli

RESULT = re.compile(r"^\[(\d\.\d{4}), (\d\.\d{4})\]$")


@pytest.mark.slow
def test_train_then_evaluate_cli(tmp_path, data_path):
    out = tmp_path / "bundle"
    result = run_cli("train", "--preset", "reference", "--data", data_path, "--out", out,
                     "--epochs", 1, "--max-rows", 2000, "--quiet")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} >= {
        "classifier.keras", "tokenizer.json", "config.json", "history.csv", "metrics.json"}

    config = json.loads((out / "config.json").read_text())
    assert config["config"]["max_rows"] == 2000 and config["config"]["epochs"] == 1
    assert config["config"]["batch_size"] == 128 and config["config"]["tokenizer"]["num_words"] == 3000
    assert config["data"]["sha256"] == "bd93cc515747ad1f87b8bc863c9e40da758509e6db6506a96d06976e61e36ee0"
    assert {"tensorflow", "keras", "numpy"} <= set(config["versions"])
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 1 and {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(history.columns)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_test"]) == (1600, 400)

    result = run_cli("evaluate", "--model", out, "--data", data_path)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    match = RESULT.match(last)
    assert match, result.stdout
    # evaluate rebuilds the very test split the training run scored
    assert last == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"
