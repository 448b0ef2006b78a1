"""Same seed and data give the same weights and metrics on the same machine."""

import numpy as np
import pytest

import classifier
from classifier.classify.train import train
from classifier.config import preset


def weights(path):
    return classifier.load(path).keras_classifier().get_weights()


@pytest.mark.slow
def test_two_runs_same_seed_equal_weights(tmp_path, data_path):
    cfg = preset("reference", epochs=1, max_rows=400)
    m1 = train(cfg, data_path, tmp_path / "a", verbose=0)
    m2 = train(cfg, data_path, tmp_path / "b", verbose=0)
    for w1, w2 in zip(weights(tmp_path / "a"), weights(tmp_path / "b"), strict=True):
        assert np.array_equal(w1, w2)
    assert m1["test_loss"] == m2["test_loss"] and m1["test_accuracy"] == m2["test_accuracy"]
    m3 = train(preset("reference", epochs=1, max_rows=400, seed=7), data_path, tmp_path / "c", verbose=0)
    assert m3["test_loss"] != m1["test_loss"]  # the seed really is used
