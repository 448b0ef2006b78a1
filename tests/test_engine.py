"""The NumPy engine gives the Keras model's probabilities, without TensorFlow (classifier/engine.py)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import classifier
from classifier.bundle import CLASSIFIER_FILE
from classifier.engine.cell import Cell, fold_gates, step
from classifier.engine.classifier_net import ClassifierEngine, runs_keras_file
from classifier.io.dataset import load_labelled, make_split
from tests.conftest import record_files, run_python


def lstm_step(xz, h, c, recurrent):
    """One step on Keras-layout weights (`xz` = x @ kernel + bias): `step` on fold_gates'd weights."""
    return step(fold_gates(xz), h, c, fold_gates(recurrent))


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


@pytest.mark.parametrize("units, rows", [(5, 1), (5, 40), (64, 1), (64, 300)])
def test_cell_runs_step_after_step_to_the_same_bits(units, rows):
    # Cell.run is the engine's loop; `step` is the reference it must equal bit for bit (the same
    # probabilities, so `score` writes the same bytes), rows joining as they start, as in final_h
    rng = np.random.default_rng(units + rows)
    vocab, steps = 40, 12
    keras_table = rng.normal(0, 1.5, (vocab, 4 * units)).astype(np.float32)
    keras_recurrent = rng.normal(0, 0.5, (units, 4 * units)).astype(np.float32)
    table, recurrent = fold_gates(keras_table), fold_gates(keras_recurrent)
    ids = rng.integers(0, vocab, (steps, rows))
    started = np.sort(rng.integers(1, rows + 1, steps))
    started[-1] = rows
    h0 = rng.normal(0, 0.5, (rows, units)).astype(np.float32)
    c0 = rng.normal(0, 1.0, (rows, units)).astype(np.float32)
    want_h, want_c = h0.copy(), c0.copy()
    for j, k in enumerate(started):
        want_h[:k], want_c[:k] = step(table[ids[j, :k]], want_h[:k], want_c[:k], recurrent)
    h, c = h0.copy(), c0.copy()
    Cell(keras_table, keras_recurrent).run(ids, started, h, c)
    np.testing.assert_array_equal(h, want_h)
    np.testing.assert_array_equal(c, want_c)
    assert np.abs(h - h0).min() > 0  # every row moved


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
    "mask_zero, padding, truncating, bidirectional",
    [(False, "pre", "pre", False), (True, "pre", "pre", False), (False, "post", "post", False),
     (True, "post", "pre", False), (True, "pre", "pre", True), (True, "post", "post", True)],
)
def test_engine_matches_keras_for_any_shape_masking_and_padding(mask_zero, padding, truncating, bidirectional,
                                                                tmp_path):
    import keras

    vocab, maxlen = 50, 30
    keras.utils.set_random_seed(7)
    rnn = keras.layers.LSTM(5)
    model = keras.Sequential([
        keras.Input(shape=(maxlen,), dtype="int32"),
        keras.layers.Embedding(vocab, 8, mask_zero=mask_zero),
        keras.layers.Dropout(0.4),  # as the tuned preset has: the identity at inference
        keras.layers.Bidirectional(rnn) if bidirectional else rnn,  # the tuned preset's: both ways, pads skipped
        keras.layers.Dropout(0.4),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    # larger weights than the initializer's so the padding steps move the state
    model.set_weights([w * 3 for w in model.get_weights()])
    model.save(tmp_path / "model.keras")
    engine = ClassifierEngine.from_keras_file(tmp_path / "model.keras", padding=padding, truncating=truncating)
    assert (engine.maxlen, engine.vocab_size, engine.units, engine.mask_zero) == (maxlen, vocab, 5, mask_zero)

    rng = np.random.default_rng(3)
    id_lists = [rng.integers(1, vocab, n).tolist() for n in rng.integers(0, 45, 60)]
    id_lists += [[], [7], [0, 0, 4], [3, 0, 9, 0], list(range(1, 50))]  # empty, one word, pad ids inside, over-long
    want = keras_proba(model, pad(id_lists, maxlen, padding, truncating))
    got = engine.predict_ids(id_lists, chunk_rows=16)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5
    assert want.std() > 0.01  # the rows really differ, so agreement means something


def unsupported_model(variant: str):
    import keras

    maxlen = None if variant == "any_length" else 20
    rnn = keras.layers.LSTM(4, activation="relu" if variant == "relu" else "tanh", go_backwards=variant == "backwards")
    if variant == "bidirectional":
        rnn = keras.layers.Bidirectional(rnn)
    # a softmax head runs (tests/test_multiclass.py); two units of another activation do not
    head = keras.layers.Dense(2, activation="relu") if variant == "two_outputs" else keras.layers.Dense(1, "sigmoid")
    return keras.Sequential([keras.Input(shape=(maxlen,), dtype="int32"), keras.layers.Embedding(30, 4),
                             keras.layers.Dropout(0.2), rnn, head])


@pytest.mark.parametrize("variant, message", [
    ("bidirectional", "not Embedding -> Bidirectional -> Dense with Bidirectional without mask_zero; use engine"),
    ("relu", "not Embedding -> LSTM -> Dense with LSTM activation='relu'; use engine keras"),
    ("backwards", "not Embedding -> LSTM -> Dense with LSTM go_backwards=True; use engine keras"),
    ("two_outputs", "not Embedding -> LSTM -> Dense with Dense activation='relu';"),
    ("any_length", "needs a model over fixed-length padded ids; use engine keras"),
])
def test_engine_refuses_other_models(variant, message, tmp_path):
    model = unsupported_model(variant)
    model.save(tmp_path / "model.keras")
    with pytest.raises(classifier.UserError, match=re.escape(message)):
        ClassifierEngine.from_keras_file(tmp_path / "model.keras")
    assert not runs_keras_file(tmp_path / "model.keras")


def test_engine_refuses_a_file_that_is_not_a_whole_keras_model(tmp_path):
    import io
    import zipfile

    import h5py
    import keras

    model = keras.Sequential([keras.Input(shape=(20,), dtype="int32"), keras.layers.Embedding(30, 4),
                              keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "model.keras")
    assert runs_keras_file(tmp_path / "model.keras")
    ClassifierEngine.from_keras_file(tmp_path / "model.keras")  # the untouched file builds

    with zipfile.ZipFile(tmp_path / "model.keras") as z:
        parts = {name: z.read(name) for name in z.namelist()}
    weights = io.BytesIO(parts["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        del h5["layers/lstm/cell/vars/2"]  # the LSTM's bias
    parts["model.weights.h5"] = weights.getvalue()
    with zipfile.ZipFile(tmp_path / "no_bias.keras", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with pytest.raises(classifier.UserError, match="no_bias.keras is not a Keras model saved by this tool"):
        ClassifierEngine.from_keras_file(tmp_path / "no_bias.keras")

    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(classifier.UserError, match="text.keras is not a Keras model saved by this tool"):
        ClassifierEngine.from_keras_file(tmp_path / "text.keras")
    assert not runs_keras_file(tmp_path / "text.keras") and not runs_keras_file(tmp_path / "missing.keras")


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
    got = bundle.recommend_proba(texts)
    assert np.abs(got - want).max() <= 1e-5
    assert np.array_equal(bundle.proba_ids(ids), got)
    assert np.array_equal(bundle.predict_proba_ids(ids), bundle.predict_proba(texts))  # the public one: (n, 2)
    # an over-long review counts only its last maxlen words, as the padded Keras input does
    assert bundle.proba_ids([ids[-1][-maxlen:]])[0] == pytest.approx(got[-1], abs=1e-5)
    np.testing.assert_allclose(bundle.recommend_proba(texts[:5], engine="keras"), want[:5], atol=1e-5)
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
    assert np.abs(bundle.proba_ids(ids) - want).max() <= 1e-5


def test_bundle_stores_the_classifier_once_and_the_engine_reads_it(small_bundle, reviews):
    bundle = classifier.load(small_bundle)
    assert CLASSIFIER_FILE in bundle.meta["files"] and "classifier.npz" not in bundle.meta["files"]
    assert not list(small_bundle.glob("*.npz"))  # no second copy of the weights
    assert bundle.default_engine() == "numpy"
    engine = bundle.numpy_engine()
    assert bundle.numpy_engine() is engine  # built once per loaded bundle
    table = engine.directions[0].table
    assert len(engine.directions) == 1 and table.dtype == np.float32 and table.shape == (3000, 256)

    # the same engine as from the live Keras model's weights: same table, weights, settings and padding prefix
    model = bundle.keras_classifier()
    tok = bundle.tokenizer.config
    emb, rnn, dense = (layer for layer in model.layers if type(layer).__name__ != "Dropout")
    live = ClassifierEngine.from_weights(emb.get_weights()[0], [rnn.get_weights()], dense.get_weights(),
                                         maxlen=model.input_shape[1], mask_zero=False,
                                         padding=tok.padding, truncating=tok.truncating)
    np.testing.assert_array_equal(engine.dense_kernel, live.dense_kernel)
    for name in ("table", "recurrent", "prefix_h", "prefix_c"):
        np.testing.assert_array_equal(getattr(engine.directions[0], name), getattr(live.directions[0], name),
                                      err_msg=name)
    settings = ("dense_bias", "maxlen", "mask_zero", "padding", "truncating")
    assert [getattr(engine, k) for k in settings] == [getattr(live, k) for k in settings]

    ids = bundle.tokenizer.encode_many(reviews)
    want = keras_proba(model, bundle.tokenizer.pad(ids))
    assert np.abs(engine.predict_ids(ids) - want).max() <= 1e-5
    assert want.std() > 0.01


def rewrite_model_config(keras_file, change) -> None:
    """Apply `change(config)` to the config.json inside a .keras file (the weights are kept)."""
    import zipfile

    with zipfile.ZipFile(keras_file) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    config = json.loads(parts["config.json"])
    change(config)
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(keras_file, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_bundle_with_a_model_the_engine_cannot_run_falls_back_to_keras(small_bundle, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(small_bundle, changed)

    def relu(config):
        (lstm,) = [layer for layer in config["config"]["layers"] if layer["class_name"] == "LSTM"]
        lstm["config"]["activation"] = "relu"

    rewrite_model_config(changed / CLASSIFIER_FILE, relu)
    with pytest.raises(classifier.UserError, match="sha256 differs"):  # an unrecorded model is refused
        classifier.load(changed)
    record_files(changed, [CLASSIFIER_FILE])

    bundle = classifier.load(changed)
    assert bundle.default_engine() == "keras"
    message = "not Embedding -> LSTM -> Dense with LSTM activation='relu'; use engine keras"
    with pytest.raises(classifier.UserError, match=re.escape(message)):
        bundle.numpy_engine()
    with pytest.raises(classifier.UserError, match="activation='relu'"):
        bundle.recommend_proba(["love it"], engine="numpy")
    texts = ["love it", "it ripped after one wash"]
    keras_p = keras_proba(bundle.keras_classifier(), bundle.tokenizer.texts_to_padded(texts))
    np.testing.assert_array_equal(bundle.recommend_proba(texts), keras_p)  # the default ran the Keras model
    assert np.abs(keras_p - classifier.load(small_bundle).recommend_proba(texts)).max() > 1e-4  # relu does differ


def test_engine_from_the_keras_file_does_not_import_tensorflow(small_bundle, reviews):
    bundle = classifier.load(small_bundle)
    ids = bundle.tokenizer.encode_many(reviews[:50])
    code = (
        "import json, sys\n"
        "from classifier.engine.classifier_net import ClassifierEngine, runs_keras_file\n"
        f"path = {str(small_bundle / CLASSIFIER_FILE)!r}\n"
        "assert runs_keras_file(path)\n"
        "engine = ClassifierEngine.from_keras_file(path)\n"
        f"p = engine.predict_ids(json.loads({json.dumps(ids)!r}))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
        "print(json.dumps(p.tolist()))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    there = np.array(json.loads(result.stdout), dtype=np.float32)
    want = keras_proba(bundle.keras_classifier(), bundle.tokenizer.pad(ids))
    assert there.shape == (50,) and np.abs(there - want).max() <= 1e-5


def test_engine_runs_without_importing_tensorflow(small_bundle, reviews):
    script = (
        "import sys, json, classifier\n"
        "b = classifier.load(sys.argv[1])\n"
        "p = b.recommend_proba(json.loads(sys.stdin.read()))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
        "print(json.dumps(p.tolist()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(small_bundle)], input=json.dumps(reviews[:50]),
                            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    there = np.array(json.loads(result.stdout), dtype=np.float32)
    np.testing.assert_array_equal(there, classifier.load(small_bundle).recommend_proba(reviews[:50]))
