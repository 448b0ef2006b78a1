"""The NumPy engine gives the Keras model's probabilities, without TensorFlow (classifier/engine.py)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import classifier
from classifier.artifacts import ENGINE_FILE
from classifier.data import load_labelled, make_split
from classifier.engine import ClassifierEngine
from classifier.lstm_numpy import lstm_step
from tests.conftest import run_cli


def test_lstm_step_matches_hand_computed_gates():
    # two units, so the matmul layout (h @ R) and the gate order i, f, c, o both matter
    xz = [0.5, -0.3, 0.2, 0.1, -0.4, 0.3, 0.6, -0.2]
    h = [0.4, -0.1]
    c = [0.6, -0.5]
    r = [[0.1, 0.2, -0.3, 0.4, 0.05, -0.1, 0.2, 0.3],
         [-0.2, 0.1, 0.3, -0.1, 0.4, 0.2, -0.3, 0.1]]
    z = [xz[j] + h[0] * r[0][j] + h[1] * r[1][j] for j in range(8)]

    def sig(v):
        return 1 / (1 + math.exp(-v))

    want_c, want_h = [], []
    for k in range(2):
        i, f, g, o = sig(z[k]), sig(z[2 + k]), math.tanh(z[4 + k]), sig(z[6 + k])
        want_c.append(f * c[k] + i * g)
        want_h.append(o * math.tanh(want_c[-1]))
    # worked by hand, e.g. z[0] = 0.5 + 0.4 * 0.1 + (-0.1) * (-0.2) = 0.56
    assert z == pytest.approx([0.56, -0.23, 0.05, 0.27, -0.42, 0.24, 0.71, -0.09])

    f32 = np.float32
    got_h, got_c = lstm_step(np.array([xz], f32), np.array([h], f32), np.array([c], f32), np.array(r, f32))
    assert got_h.dtype == np.float32 and got_c.dtype == np.float32
    np.testing.assert_allclose(got_c[0], want_c, atol=1e-6)
    np.testing.assert_allclose(got_h[0], want_h, atol=1e-6)


def test_lstm_step_matches_a_keras_lstm_cell():
    import keras

    rng = np.random.default_rng(1)
    units, dim = 3, 5
    cell = keras.layers.LSTMCell(units)
    cell.build((None, dim))
    kernel, recurrent, bias = (rng.normal(0, 0.5, w.shape).astype(np.float32) for w in cell.get_weights())
    cell.set_weights([kernel, recurrent, bias])
    x = rng.normal(size=(4, dim)).astype(np.float32)
    h = rng.normal(size=(4, units)).astype(np.float32)
    c = rng.normal(size=(4, units)).astype(np.float32)
    keras_h, (_, keras_c) = cell(x, [h, c])
    got_h, got_c = lstm_step(x @ kernel + bias, h, c, recurrent)
    np.testing.assert_allclose(got_h, keras.ops.convert_to_numpy(keras_h), atol=1e-6)
    np.testing.assert_allclose(got_c, keras.ops.convert_to_numpy(keras_c), atol=1e-6)


def keras_proba(model, padded) -> np.ndarray:
    return model.predict(padded, batch_size=512, verbose=0).reshape(-1)


def pad(id_lists, maxlen, padding="pre", truncating="pre"):
    out = np.zeros((len(id_lists), maxlen), dtype=np.int32)
    for row, seq in enumerate(id_lists):
        seq = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        if seq:
            if padding == "pre":
                out[row, maxlen - len(seq) :] = seq
            else:
                out[row, : len(seq)] = seq
    return out


@pytest.mark.parametrize(
    "mask_zero, padding, truncating",
    [(False, "pre", "pre"), (True, "pre", "pre"), (False, "post", "post"), (True, "post", "pre")],
)
def test_engine_matches_keras_for_any_shape_masking_and_padding(mask_zero, padding, truncating):
    import keras

    vocab, maxlen = 50, 30
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input(shape=(maxlen,), dtype="int32"),
        keras.layers.Embedding(vocab, 8, mask_zero=mask_zero),
        keras.layers.Dropout(0.4),  # as the tuned preset has: the identity at inference
        keras.layers.LSTM(5),
        keras.layers.Dropout(0.4),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    # larger weights than the initializer's so the padding steps move the state
    model.set_weights([w * 3 for w in model.get_weights()])
    engine = ClassifierEngine.from_keras(model, padding=padding, truncating=truncating)
    assert (engine.maxlen, engine.vocab_size, engine.units, engine.mask_zero) == (maxlen, vocab, 5, mask_zero)

    rng = np.random.default_rng(3)
    id_lists = [rng.integers(1, vocab, n).tolist() for n in rng.integers(0, 45, 60)]
    id_lists += [[], [0, 0, 4], [3, 0, 9, 0], list(range(1, 50))]  # empty, pad ids inside, over-long
    want = keras_proba(model, pad(id_lists, maxlen, padding, truncating))
    got = engine.predict_ids(id_lists, chunk_rows=16)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5
    assert want.std() > 0.01  # the rows really differ, so agreement means something


@pytest.fixture(scope="module")
def reviews(data_path) -> list[str]:
    df = load_labelled(data_path, "Review Text", "Recommended IND", max_rows=2600)
    return df["Review Text"].tolist()[2000:2400]  # rows the small bundle did not train on


def test_engine_matches_model_predict_on_real_reviews(small_bundle, reviews):
    bundle = classifier.load(small_bundle)
    maxlen = bundle.tokenizer.config.maxlen
    long_review = " ".join(reviews)  # thousands of words, front-truncated to maxlen
    texts = [*reviews, "", "zzqx qqzx", long_review]
    ids = bundle.tokenizer.encode_many(texts)
    assert ids[-3] == [] and ids[-2] == [] and len(ids[-1]) > maxlen

    want = keras_proba(bundle.keras_classifier(), bundle.tokenizer.pad(ids))
    got = bundle.predict_proba(texts)
    assert np.abs(got - want).max() <= 1e-5
    assert np.array_equal(bundle.predict_proba_ids(ids), got)
    # an over-long review counts only its last maxlen words, as the padded Keras input does
    assert bundle.predict_proba_ids([ids[-1][-maxlen:]])[0] == pytest.approx(got[-1], abs=1e-6)
    np.testing.assert_allclose(bundle.predict_proba(texts[:5], engine="keras"), want[:5], atol=1e-6)
    assert want.std() > 0.01


@pytest.mark.slow
def test_engine_matches_model_predict_on_the_full_reference_test_split(small_bundle, data_path):
    bundle = classifier.load(small_bundle)
    cfg = bundle.config
    df = load_labelled(data_path, cfg.text_column, cfg.label_column)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    assert len(split.x_test) == 4529
    ids = bundle.tokenizer.encode_many(split.x_test)
    want = keras_proba(bundle.keras_classifier(), bundle.tokenizer.pad(ids))
    assert np.abs(bundle.predict_proba_ids(ids) - want).max() <= 1e-5


def test_bundle_saves_the_engine_and_hash_checks_it(small_bundle, tmp_path):
    bundle = classifier.load(small_bundle)
    assert ENGINE_FILE in bundle.meta["files"]
    with np.load(small_bundle / ENGINE_FILE, allow_pickle=False) as z:
        assert z["table"].dtype == np.float32 and z["table"].shape == (3000, 256)

    tampered = tmp_path / "tampered"
    shutil.copytree(small_bundle, tampered)
    engine = ClassifierEngine.load(tampered / ENGINE_FILE)
    engine.dense_bias += np.float32(1)
    engine.save(tampered / ENGINE_FILE)
    with pytest.raises(classifier.UserError, match="sha256 differs"):
        classifier.load(tampered)


def test_old_bundle_without_engine_gets_a_clear_error_and_export_engine_fixes_it(small_bundle, tmp_path):
    import json

    old = tmp_path / "old"
    shutil.copytree(small_bundle, old)
    (old / ENGINE_FILE).unlink()
    meta = json.loads((old / "config.json").read_text())
    del meta["files"][ENGINE_FILE]
    (old / "config.json").write_text(json.dumps(meta))

    texts = ["love it", "it ripped after one wash", ""]
    # without the file the bundle falls back to Keras; asking for the NumPy engine says how to add it
    np.testing.assert_allclose(classifier.load(old).predict_proba(texts),
                               classifier.load(small_bundle).predict_proba(texts), atol=1e-5)
    with pytest.raises(classifier.UserError, match="export-engine --model"):
        classifier.load(old).predict_proba(["love it"], engine="numpy")
    result = run_cli("export-engine", "--model", old)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    np.testing.assert_array_equal(classifier.load(old).predict_proba(texts),
                                  classifier.load(small_bundle).predict_proba(texts))


def test_engine_runs_without_importing_tensorflow(small_bundle, reviews):
    script = (
        "import sys, json, classifier\n"
        "b = classifier.load(sys.argv[1])\n"
        "p = b.predict_proba(json.loads(sys.stdin.read()))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
        "print(json.dumps(p.tolist()))\n"
    )
    import json

    result = subprocess.run([sys.executable, "-c", script, str(small_bundle)], input=json.dumps(reviews[:50]),
                            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    there = np.array(json.loads(result.stdout), dtype=np.float32)
    np.testing.assert_array_equal(there, classifier.load(small_bundle).predict_proba(reviews[:50]))
