"""Pad-skipping training gives Keras' loss, gradients and weights (classifier/classify/padskip.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from classifier.config import preset
from classifier.io.dataset import load_labelled, make_split
from classifier.io.tokenizer import Tokenizer
from tests.conftest import assert_padskip_gradients_match_keras, run_cli_here


def padded_ids(data_path, cfg, n_rows):
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, max_rows=n_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    tokenizer = Tokenizer.fit(split.x_train, cfg.tokenizer)
    return tokenizer.texts_to_padded(split.x_train).astype(np.int32), split.y_train


def seeded_model(cfg):
    import keras

    from classifier.models.keras_lstm import build_classifier, compile_classifier

    keras.utils.set_random_seed(cfg.seed)
    model = build_classifier(cfg)
    compile_classifier(model)
    return model


def test_real_lengths_count_from_the_first_word():
    from classifier.classify.padskip import real_lengths

    x = np.array([[0, 0, 0, 0], [0, 0, 5, 0], [7, 0, 0, 3], [0, 0, 0, 2]])
    # a pad id inside a review still counts: only the leading pads are skipped
    assert real_lengths(x).tolist() == [0, 2, 4, 1]


@pytest.mark.slow
def test_loss_and_gradients_equal_keras_on_the_padded_batch(data_path):
    import tensorflow as tf

    from classifier.classify import padskip

    cfg = preset("reference")  # the full-width seed model
    x, y = padded_ids(data_path, cfg, 300)
    x, y = x[:32], y[:32]
    lengths = padskip.real_lengths(x)
    assert 0 < lengths.max() < 200  # the window is much shorter than 400
    model = seeded_model(cfg)
    steps = padskip.prepare(model)
    window = steps.window(x, lengths, np.arange(len(x)))
    assert window.shape == (len(x), lengths.max())

    keras_grads, fast_grads = assert_padskip_gradients_match_keras(model, steps, window, x, y)

    # Adam squares the embedding's slices before summing them: per word, the sum of squared
    # slices must match too (all words but the pad id, whose prefix slices are batch sums).
    def squares_per_word(g):
        assert isinstance(g, tf.IndexedSlices)
        return tf.math.unsorted_segment_sum(tf.square(g.values), g.indices, cfg.tokenizer.num_words).numpy()

    keras_sq, fast_sq = squares_per_word(keras_grads[0]), squares_per_word(fast_grads[0])
    assert keras_sq[1:].max() > 0
    np.testing.assert_allclose(fast_sq[1:], keras_sq[1:], rtol=1e-4, atol=1e-6 * keras_sq[1:].max())

    # one trace serves every window length
    for length in (window.shape[1], 7, 1):
        steps.test_step(window[:, -length:], y)
    assert steps.test_step.experimental_get_tracing_count() == 1


@pytest.mark.slow
def test_one_epoch_without_bucketing_matches_keras_fit(data_path):
    import keras

    from classifier.classify import padskip

    cfg = preset("reference", embedding_dim=16, lstm_units=8)
    x, y = padded_ids(data_path, cfg, 500)  # 400 training rows: 320 fit in 3 batches, 80 validate
    init = seeded_model(cfg).get_weights()

    def run(fit):
        model = seeded_model(cfg)
        model.set_weights(init)
        keras.utils.set_random_seed(cfg.seed)  # fit()'s shuffle draws from the seeded generator
        history = fit(model)
        return model.get_weights(), history.history

    kw = dict(batch_size=128, epochs=1, validation_split=0.2, verbose=0)
    keras_w, keras_h = run(lambda m: m.fit(x, y, **kw))
    fast_w, fast_h = run(lambda m: padskip.fit(m, x, y, bucketing=False, seed=cfg.seed, **kw))
    assert sorted(fast_h) == sorted(keras_h) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in keras_h:
        np.testing.assert_allclose(fast_h[key], keras_h[key], rtol=1e-4, err_msg=key)
    moved = max(np.abs(w - w0).max() for w, w0 in zip(keras_w, init, strict=True))
    assert moved > 1e-3  # three Adam steps of lr 1e-3 moved the weights
    for a, b in zip(keras_w, fast_w, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-6)  # measured: 3e-8


@pytest.mark.slow
def test_unsupported_model_falls_back_to_keras_fit(data_path, caplog):
    from classifier.classify import padskip

    cfg = preset("reference", embedding_dim=8, lstm_units=4, mask_zero=True)
    x, y = padded_ids(data_path, cfg, 80)
    model = seeded_model(cfg)
    history = padskip.fit(model, x, y, batch_size=64, epochs=1, validation_split=0.2, verbose=0)
    assert "mask_zero=True" in caplog.text
    assert len(history.history["val_loss"]) == 1


@pytest.mark.slow
def test_cli_train_with_padskip_gives_a_usable_bundle(tmp_path, data_path):
    from classifier.bundle import load
    from classifier.classify.evaluate import evaluate

    out = tmp_path / "bundle"
    result = run_cli_here("train", "--data", data_path, "--max-rows", 2000, "--epochs", 1,
                          "--fit-engine", "padskip", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "not apply" not in result.stderr  # no fallback: the seed model takes the fast path
    assert json.loads((out / "config.json").read_text())["config"]["fit_engine"] == "padskip"
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "val_loss" in history[0]
    loss, acc = evaluate(out, data_path)
    assert loss < 0.6 and acc > 0.75  # learned: an untrained model gives log(2) = 0.693
    p = load(out).recommend_proba(["I love this dress, it fits perfectly", "It ripped after one wash"])
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))
