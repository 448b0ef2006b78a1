"""The tuned preset: masked LSTM stacked with TF-IDF, threshold chosen on the validation split."""

from __future__ import annotations

import json

import numpy as np
import pytest

import classifier
from classifier.bundle import StackBundle
from classifier.classify.metrics import choose_threshold, class_scores
from classifier.classify.train import train
from classifier.config import TrainConfig, preset
from classifier.io.dataset import load_labelled, make_split
from classifier.models.stack import blend_proba
from tests.conftest import run_cli_here


def test_seed_preset_is_still_the_reference():
    cfg = preset("reference")
    assert cfg.to_dict() == {**TrainConfig().to_dict(), "preset": "reference"}
    assert (cfg.tokenizer.num_words, cfg.tokenizer.maxlen, cfg.embedding_dim, cfg.lstm_units) == (3000, 400, 300, 64)
    assert not (cfg.mask_zero or cfg.bidirectional or cfg.dropout or cfg.restore_best_weights or cfg.blend_tfidf)
    assert cfg.threshold_rule == "fixed" and cfg.model == "lstm"


def test_tuned_preset_settings():
    cfg = preset("tuned")
    assert cfg.mask_zero and cfg.restore_best_weights and cfg.blend_tfidf
    assert cfg.tokenizer.maxlen >= 116  # the longest review: masking, not truncation, handles length
    assert cfg.threshold_rule == "f1_macro"
    preset("tuned").tokenizer.maxlen = 5  # presets hand out fresh objects
    assert preset("tuned").tokenizer.maxlen == cfg.tokenizer.maxlen


def test_choose_threshold_maximises_macro_f1():
    y = np.array([0] * 10 + [1] * 90)
    p = np.r_[np.linspace(0.55, 0.65, 10), np.linspace(0.70, 1.0, 90)]
    t = choose_threshold(y, p, "f1_macro")
    assert 0.65 < t <= 0.70 and class_scores(y, p, t)["f1_macro"] == 1.0
    assert class_scores(y, p, 0.5)["f1_macro"] < 1.0  # 0.5 would call every review "recommended"
    assert choose_threshold(y, p, "fixed") == 0.5


@pytest.fixture(scope="module")
def tuned_bundle(tmp_path_factory, data_path):
    out = tmp_path_factory.mktemp("tuned") / "bundle"
    cfg = preset("tuned", max_rows=1500, epochs=1, embedding_dim=16, lstm_units=16)
    train(cfg, data_path, out, verbose=0)
    return out


@pytest.mark.slow
def test_tuned_bundle_blends_and_keeps_its_threshold(tuned_bundle, data_path):
    bundle = classifier.load(tuned_bundle)
    assert isinstance(bundle, StackBundle)
    meta = json.loads((tuned_bundle / "config.json").read_text())
    assert 0.0 < meta["threshold"] < 1.0 and bundle.threshold == meta["threshold"]
    assert {"lstm", "tfidf", "bias"} <= set(meta["blend"]) and meta["blend"]["tfidf"] > 0
    # the star rating's regression is the stack's third input; a higher predicted rating means "recommends"
    assert meta["blend"]["aux_column"] == "Rating" and meta["blend"]["aux"] > 0
    assert bundle.tfidf.aux_coef is not None and len(bundle.tfidf.aux_coef) == len(bundle.tfidf.coef)

    cfg = bundle.config
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, cfg.max_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    ids = bundle.tokenizer.encode_many(split.x_test)
    p = bundle.recommend_proba(split.x_test)
    # the bundle's probability is its LSTM and its TF-IDF model stacked with the saved weights
    p_lstm = bundle.keras_classifier().predict(bundle.tokenizer.pad(ids), verbose=0).reshape(-1)
    feature_ids = [bundle.tfidf.features.encode_ids(s) for s in ids]
    p_tfidf = bundle.tfidf.predict_proba_ids(feature_ids)
    x = np.zeros((len(ids), len(bundle.tfidf.coef)))  # the rating regression by hand: l2-normalised sublinear tf-idf
    for row, f in enumerate(feature_ids):
        terms, counts = np.unique(np.asarray(f, dtype=np.int64), return_counts=True)
        x[row, terms] = (1 + np.log(counts)) * bundle.tfidf.idf[terms]
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    rating = x @ bundle.tfidf.aux_coef + bundle.tfidf.aux_intercept
    assert 3.0 < rating.mean() < 5.0  # a star rating, not a logit
    np.testing.assert_allclose(p, blend_proba(meta["blend"], p_lstm, p_tfidf, rating), atol=1e-5)
    np.testing.assert_allclose(bundle.recommend_proba(split.x_test, engine="keras"), p, atol=1e-5)

    # evaluate, the bundle loaded again from its files, gives the [loss, acc] recorded at training time
    metrics = json.loads((tuned_bundle / "metrics.json").read_text())
    r = run_cli_here("evaluate", "--model", tuned_bundle, "--data", data_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"
    assert "lstm_test_loss" in metrics  # the LSTM's own figure is kept beside the blend's


@pytest.mark.slow
def test_tuned_without_a_rating_column_stacks_two_models(tmp_path, data_path, caplog):
    import pandas as pd

    no_rating = tmp_path / "no_rating.csv"
    pd.read_csv(data_path, nrows=700).drop(columns=["Rating"]).to_csv(no_rating, index=False)
    out = tmp_path / "bundle"
    train(preset("tuned", epochs=1, embedding_dim=8, lstm_units=8), no_rating, out, verbose=0)
    assert "has no 'Rating' column" in caplog.text
    bundle = classifier.load(out)
    assert "aux" not in bundle.meta["blend"] and bundle.tfidf.aux_coef is None
    p = bundle.recommend_proba(["lovely soft fabric", "it ripped after one wash"])
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))
