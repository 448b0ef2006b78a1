"""The Python API in the scikit-learn shape: load, fit, predict, predict_proba, classes_, save;
train and evaluate from CSV files, any number of times in one process."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pandas as pd
import pytest

import classifier

TEXTS = ["Love this dress, it fits perfectly", "It ripped after one wash", "qzxv", ""]


def test_evaluate_twice_in_one_process_gives_the_same_pair(small_bundle, data_path):
    first = classifier.evaluate(small_bundle, data_path)
    importlib.import_module("classifier.classify.evaluate")  # importing the submodule must not replace the function
    importlib.import_module("classifier.classify.train")
    assert classifier.evaluate(small_bundle, data_path) == first
    assert callable(classifier.train) and callable(classifier.fit)


def test_predict_proba_is_n_by_k_in_classes_order(small_bundle):
    bundle = classifier.load(small_bundle)
    p = bundle.predict_proba(TEXTS[:3])
    assert p.shape == (3, 2) and list(bundle.classes_) == [0, 1]
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(p[:, 1], bundle.recommend_proba(TEXTS[:3]))
    assert list(bundle.predict(TEXTS[:3])) == [int(x >= bundle.threshold) for x in p[:, 1]]
    assert "lstm" in repr(bundle) and str(small_bundle) in repr(bundle)


@pytest.mark.slow
def test_fit_in_memory_saves_and_reloads_identically(data_path, tmp_path, monkeypatch):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"]).head(800)
    monkeypatch.chdir(tmp_path)  # nothing may be written into the current folder
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    bundle = classifier.fit(df["Review Text"], df["Recommended IND"], epochs=1)
    assert tf_config.is_op_determinism_enabled() == before  # the fit's setting did not leak out
    assert os.listdir(tmp_path) == []
    assert "in memory" in repr(bundle)
    p = bundle.predict_proba(TEXTS)
    saved = bundle.save(tmp_path / "saved")
    again = classifier.load(saved)
    np.testing.assert_array_equal(again.predict_proba(TEXTS), p)
    assert again.metrics["n_train"] == 640 and again.kind == "lstm"
    with pytest.raises(classifier.UserError, match="texts in memory"):
        classifier.evaluate(again)  # no data file on record: say so


def test_fit_refuses_mismatched_lengths():
    with pytest.raises(classifier.UserError, match="3 texts but 2 labels"):
        classifier.fit(["a", "b", "c"], [0, 1])
