"""Multi-class labels: softmax heads for every preset, labels kept as the user wrote them, per-class
outputs in the bundle's order, the NumPy engine equal to Keras, and 0/1 bundles unchanged."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

import classifier
from classifier.classify.evaluate import evaluate
from classifier.classify.predict import BINARY_COLUMNS, output_columns, output_rows, predict
from classifier.classify.train import train
from classifier.config import preset
from classifier.errors import UserError
from classifier.io.dataset import clean_labelled
from classifier.io.labels import classes_of
from tests.conftest import (
    assert_padskip_gradients_match_keras,
    assert_user_error,
    committed_bundle,
    run_cli,
    run_python,
)

COLOURS = {"blue": "ocean sky sapphire denim", "green": "lime kiwi lettuce spinach",
           "red, dark": "cherry tomato strawberry brick"}  # a comma: headers and cells must be quoted
FILLER = "the a this my very quite really thing item one".split()
TINY = dict(embedding_dim=16, lstm_units=16, batch_size=16)  # seconds, not minutes


def colour_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Reviews of three colours: three words of the colour's own, four shared fillers."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        colour = list(COLOURS)[i % 3]
        words = [*rng.choice(COLOURS[colour].split(), 3), *rng.choice(FILLER, 4)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "colour": colour, "Rating": i % 3 + 1})
    return pd.DataFrame(rows)


def tiny(name: str, **overrides):
    cfg = preset(name, **{"text_column": "text", "label_column": "colour", **overrides})
    if name != "tfidf":
        cfg.tokenizer.maxlen = 24
        for key, value in TINY.items():
            setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def colours_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("multiclass") / "colours.csv"
    colour_rows(300).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def colour_bundle(tmp_path_factory, colours_csv):
    """The reference preset (narrowed) on the colours, with its softmax head (a few seconds)."""
    out = tmp_path_factory.mktemp("multiclass") / "reference"
    train(tiny("reference", epochs=12), colours_csv, out, verbose=0)
    return out


@pytest.fixture(scope="module")
def tfidf_bundle(tmp_path_factory, colours_csv):
    out = tmp_path_factory.mktemp("multiclass") / "tfidf"
    train(tiny("tfidf"), colours_csv, out, verbose=0)
    return out


@pytest.fixture(scope="module")
def department_bundle(tmp_path_factory, data_path):
    """The reference preset on the first 800 clean rows of the real data, `Department Name`, 1 epoch."""
    out = tmp_path_factory.mktemp("multiclass") / "department"
    train(preset("reference", label_column="Department Name", epochs=1, max_rows=800), data_path, out, verbose=0)
    return out


# -- training and the figures ----------------------------------------------------------------
def test_three_classes_are_learned_to_near_perfect_accuracy(colour_bundle, colours_csv):
    bundle = classifier.load(colour_bundle)
    assert bundle.multiclass and bundle.classes_.tolist() == ["blue", "green", "red, dark"]
    assert json.loads((colour_bundle / "config.json").read_text())["classes"] == ["blue", "green", "red, dark"]
    loss, acc = evaluate(colour_bundle)
    assert acc >= 0.95 and loss < 0.3
    texts = ["the ocean my sky very denim one", "a kiwi this lettuce thing lime item", "cherry my brick quite tomato"]
    p = bundle.predict_proba(texts)
    assert p.shape == (3, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert bundle.predict(texts).tolist() == ["blue", "green", "red, dark"]


def test_tfidf_preset_is_a_multinomial_regression(tfidf_bundle):
    bundle = classifier.load(tfidf_bundle)
    assert bundle.kind == "tfidf" and bundle.classes_.tolist() == ["blue", "green", "red, dark"]
    assert bundle.model.coef.shape[1] == 3
    loss, acc = evaluate(tfidf_bundle)
    assert acc >= 0.95
    assert bundle.predict(["sapphire sky", "spinach lime", "strawberry cherry"]).tolist() == [
        "blue", "green", "red, dark"]


@pytest.mark.slow
def test_tuned_stack_with_rating_as_label_never_reads_the_rating(tmp_path, colours_csv):
    """Rating 1..3 as the label: integer classes, and the stack has no Rating regression."""
    train(tiny("tuned", label_column="Rating", epochs=3), colours_csv, tmp_path / "b", verbose=0)
    bundle = classifier.load(tmp_path / "b")
    assert bundle.kind == "stack" and bundle.classes_.tolist() == [1, 2, 3]
    assert json.loads((tmp_path / "b/config.json").read_text())["classes"] == [1, 2, 3]  # JSON numbers
    assert "aux_column" not in bundle.blend and bundle.tfidf.aux_coef is None
    loss, acc = evaluate(tmp_path / "b")
    assert acc >= 0.95  # Rating follows the colour in these rows
    ids = bundle.encoder.encode_many(["ocean sky", "kiwi", "cherry", "qzx"])
    numpy_p, keras_p = bundle.predict_proba_ids(ids, engine="numpy"), bundle.predict_proba_ids(ids, engine="keras")
    assert numpy_p.shape == (4, 3)
    np.testing.assert_allclose(numpy_p, keras_p, atol=1e-5)  # the masked bidirectional softmax in NumPy


def test_evaluate_report_has_per_class_scores_and_a_confusion_matrix(tfidf_bundle, tmp_path):
    result = run_cli("evaluate", "--model", tfidf_bundle, "--report", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    loss, acc = evaluate(tfidf_bundle)
    assert result.stdout.splitlines()[-1] == f"[{loss:.4f}, {acc:.4f}]"
    m = json.loads((tmp_path / "r/metrics.json").read_text())
    assert m["classes"] == ["blue", "green", "red, dark"] and m["accuracy"] == pytest.approx(acc)
    assert set(m["per_class"]) == {"blue", "green", "red, dark"}
    assert {"precision", "recall", "f1", "support"} <= set(m["per_class"]["blue"])
    assert sum(c["support"] for c in m["per_class"].values()) == m["n"] == np.sum(m["confusion_matrix"])
    assert 0.9 <= m["f1_macro"] <= 1.0 and 0.3 <= m["majority_share"] < 0.4
    assert (tmp_path / "r/confusion_matrix.png").stat().st_size > 1000
    assert "red, dark" in (tmp_path / "r/report.html").read_text()


# -- reading labels ----------------------------------------------------------------------------
@pytest.mark.parametrize(("cells", "classes"), [
    (["Tops", "Dresses", "Tops"], ["Dresses", "Tops"]),
    (["5", "1", "3"], [1, 3, 5]),  # integers stay integers
    (["1.5", "0.5", "2.5"], ["0.5", "1.5", "2.5"]),  # other numbers are kept as written
    (["1.0", "2.0", "3"], ["1.0", "2.0", "3"]),
    (["0", "1", "1"], None),  # 0/1: the binary model
    (["0.0", "1.0", "1"], None),  # as before multi-class labels existed
])
def test_labels_are_kept_as_written(cells, classes):
    texts = [f"review {i}" for i in range(12)]
    frame = pd.DataFrame({"text": texts, "label": pd.Series([cells[i % 3] for i in range(12)], dtype=object)})
    labels = clean_labelled(frame, "text", "label", "t.csv")["label"]
    assert classes_of(labels.tolist()) == classes


def test_in_memory_fit_with_float_labels_and_a_missing_one():
    rows = colour_rows(120)
    labels = rows["colour"].map({"blue": 0.5, "green": 1.5, "red, dark": 2.5}).tolist()
    labels[0] = float("nan")  # dropped, like a missing text
    bundle = classifier.fit(rows["text"], labels, preset="tfidf", text_column="text", label_column="y")
    assert bundle.classes_.tolist() == ["0.5", "1.5", "2.5"]
    assert bundle.metrics["n_train"] + bundle.metrics["n_test"] == 119
    assert bundle.predict(["lettuce kiwi"]).tolist() == ["1.5"]


def test_rows_with_a_missing_label_are_dropped(tmp_path):
    rows = colour_rows(90)
    rows.loc[[3, 10, 40], "colour"] = None
    rows.to_csv(tmp_path / "d.csv", index=False)
    metrics = train(tiny("tfidf"), tmp_path / "d.csv", tmp_path / "b", verbose=0)
    assert metrics["n_train"] + metrics["n_test"] == 87
    assert classifier.load(tmp_path / "b").classes_.tolist() == ["blue", "green", "red, dark"]


def test_rare_classes_and_single_class_are_one_line_errors(tmp_path):
    rows = colour_rows(90)
    rows.loc[:4, "colour"] = ["rare"] * 5
    rows.to_csv(tmp_path / "d.csv", index=False)
    result = run_cli("train", "--preset", "tfidf", "--data", tmp_path / "d.csv", "--text-column", "text",
                     "--label-column", "colour", "--min-count", "20", "-o", tmp_path / "b")
    assert_user_error(result, "d.csv", "'colour'", "'rare' (", "--min-count 20")
    assert not (tmp_path / "b").exists()
    rows.assign(colour="blue").to_csv(tmp_path / "one.csv", index=False)
    result = run_cli("train", "--preset", "tfidf", "--data", tmp_path / "one.csv", "--text-column", "text",
                     "--label-column", "colour", "-o", tmp_path / "b")
    assert_user_error(result, "one.csv", "'blue'", "at least two classes")


# -- scoring -------------------------------------------------------------------------------------
def test_score_cli_bytes(colour_bundle, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b'text,id\r\n"the ocean, my sky denim",1\r\n,2\r\nqzx unknown words,3\r\n'
                    b'a kiwi this lime lettuce,4\r\n')
    result = run_cli("score", src, "--model", colour_bundle, "-o", tmp_path / "out.csv", "--quiet")
    assert result.returncode == 0, result.stderr
    bundle = classifier.load(colour_bundle)
    p = bundle.predict_proba(["the ocean, my sky denim", "qzx unknown words", "a kiwi this lime lettuce"])
    classes = ["blue", "green", '"red, dark"']

    def row(body, probas, status):
        best = int(np.argmax(probas))
        cells = ",".join(f"{q:.6f}" for q in np.round(probas.astype(np.float64), 6))
        return f"{body},{classes[best]},{round(float(probas[best]), 6):.6f},{cells},{status}\r\n"

    expected = ('text,id,predicted_label,predicted_proba,proba_blue,proba_green,"proba_red, dark",status\r\n'
                + row('"the ocean, my sky denim",1', p[0], "ok") + ",2,,,,,,empty\r\n"
                + row("qzx unknown words,3", p[1], "no_known_words") + row("a kiwi this lime lettuce,4", p[2], "ok"))
    assert (tmp_path / "out.csv").read_bytes() == expected.encode()
    table = list(csv.DictReader(io.StringIO(expected)))
    assert [r["predicted_label"] for r in table] == ["blue", "", table[2]["predicted_label"], "green"]
    for r in (table[0], table[2], table[3]):
        total = sum(float(r[f"proba_{c}"]) for c in COLOURS)
        assert abs(total - 1) <= 2e-6  # each of three values rounded to 6 decimals
        assert float(r["predicted_proba"]) == max(float(r[f"proba_{c}"]) for c in COLOURS)


def test_predict_cli_prints_probability_and_label(colour_bundle):
    text = "the kiwi a lettuce very spinach one"
    result = run_cli("predict", "--model", colour_bundle, text, "", "qzx")
    assert result.returncode == 0, result.stderr
    bundle = classifier.load(colour_bundle)
    lines = result.stdout.splitlines()
    p = bundle.predict_proba([text, "qzx"])
    assert lines[0] == f"{round(float(p[0].max()), 6):.6f}\tgreen\tok\t{text}"
    assert lines[1] == "\t\tempty\t"
    label = bundle.classes_[int(np.argmax(p[1]))]
    assert lines[2] == f"{round(float(p[1].max()), 6):.6f}\t{label}\tno_known_words\tqzx"
    result = run_cli("predict", "--model", colour_bundle, "--threshold", "0.3", "kiwi")
    assert_user_error(result, "--threshold", "3 classes")


def test_output_rows_for_other_callers(colour_bundle):
    """What Spark and a server can use: the columns and per-row values, for any bundle."""
    bundle = classifier.load(colour_bundle)
    columns = output_columns(bundle)
    assert columns == ("predicted_label", "predicted_proba", "proba_blue", "proba_green", "proba_red, dark", "status")
    rows = output_rows(bundle, ["my lime the kiwi very spinach one", None])
    assert rows[0][0] == "green" and rows[0][-1] == "ok" and len(rows[0]) == len(columns)
    assert rows[1] == (None,) * 5 + ("empty",)
    with pytest.raises(UserError, match="multi-class"):
        predict(bundle, ["lime"])  # the binary-shaped path refuses rather than answer wrongly
    with pytest.raises(UserError, match="no P\\(recommends\\)"):
        bundle.recommend_proba(["lime"])


def test_binary_bundles_are_unchanged():
    bundle = classifier.load(committed_bundle("default"))
    assert not bundle.multiclass and bundle.classes_.tolist() == [0, 1]
    assert output_columns(bundle) == BINARY_COLUMNS == ("recommend_proba", "recommend", "status")
    texts = ["Love this dress, fits perfectly", ""]
    rows = output_rows(bundle, texts)
    assert rows == [tuple(p) for p in predict(bundle, texts)]
    assert rows[0][1:] == (1, "ok") and rows[1] == (None, None, "empty")
    assert "classes" not in bundle.meta  # a config.json without them is the binary bundle


# -- the real data: Department Name ------------------------------------------------------------
@pytest.mark.slow
def test_department_bundle_engine_parity_and_no_tensorflow(department_bundle, data_path, tmp_path):
    bundle = classifier.load(department_bundle)
    departments = ["Bottoms", "Dresses", "Intimate", "Jackets", "Tops", "Trend"]
    assert bundle.classes_.tolist() == [d for d in departments if d in bundle.classes_] and len(bundle.classes_) >= 5
    df = pd.read_csv(data_path, nrows=1200).dropna(subset=["Review Text"])
    ids = bundle.encoder.encode_many(df["Review Text"].tolist()[800:1100])
    numpy_p = bundle.predict_proba_ids(ids, engine="numpy")
    keras_p = bundle.predict_proba_ids(ids, engine="keras")
    assert numpy_p.shape == (len(ids), len(bundle.classes_))
    assert np.abs(numpy_p - keras_p).max() <= 1e-5
    loss, acc = evaluate(department_bundle)
    assert acc > bundle.metrics["test_majority_share"] - 1e-9  # at least the majority floor after 1 epoch
    df.head(20)[["Review Text", "Department Name"]].to_csv(tmp_path / "in.csv", index=False)
    code = (f"import sys, classifier; classifier.score_csv({str(tmp_path / 'in.csv')!r}, "
            f"{str(tmp_path / 'out.csv')!r}, model={str(department_bundle)!r}); "
            f"print('tensorflow' in sys.modules)")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    out = pd.read_csv(tmp_path / "out.csv")
    probas = out[[f"proba_{c}" for c in bundle.classes_]]
    np.testing.assert_allclose(probas.sum(axis=1), 1.0, atol=1e-5)
    assert (out["predicted_label"] == probas.idxmax(axis=1).str.removeprefix("proba_")).all()


@pytest.mark.slow
def test_padskip_softmax_gradients_equal_keras(data_path):
    """The pad-skipping fit runs softmax heads with Keras' own loss and gradients."""
    import keras

    from classifier.classify import padskip
    from classifier.io.dataset import load_labelled, make_split
    from classifier.io.tokenizer import Tokenizer
    from classifier.models.keras_lstm import build_classifier, compile_classifier

    cfg = preset("reference", label_column="Department Name", embedding_dim=32, lstm_units=16)
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, max_rows=200)
    classes = classes_of(df[cfg.label_column].tolist())
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed, classes=classes)
    x = Tokenizer.fit(split.x_train, cfg.tokenizer).texts_to_padded(split.x_train[:32]).astype(np.int32)
    y = split.y_train[:32].astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_classifier(cfg, len(classes))
    compile_classifier(model)
    assert padskip.unsupported_reason(model) is None
    steps = padskip.prepare(model)
    window = steps.window(x, padskip.real_lengths(x), np.arange(len(x)))

    assert_padskip_gradients_match_keras(model, steps, window, x, y)


# -- the paths that stay 0/1, and the server ----------------------------------------------------
def test_export_refuses_a_multiclass_bundle(tfidf_bundle, tmp_path):
    result = run_cli("export", "--model", tfidf_bundle, "--to", "onnx", "-o", tmp_path / "m.onnx")
    assert_user_error(result, "multi-class", "0/1 models only")


def test_serve_answers_with_every_class(colour_bundle, tmp_path):
    from tests.serve_process import start_server

    server = start_server(tmp_path, "--model", f"colours={colour_bundle}")
    try:
        texts = ["my kiwi the lime very lettuce", "", "qzx"]
        expected = output_rows(classifier.load(colour_bundle), texts)
        answer = server.post("/v1/models/colours:predict", {"instances": texts})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": [list(expected[0][2:5]), None, list(expected[2][2:5])]}
        answer = server.post("/predict", {"texts": texts})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert results[0] == {"predicted_label": "green", "predicted_proba": expected[0][1], "status": "ok",
                              "probabilities": dict(zip(["blue", "green", "red, dark"], expected[0][2:5], strict=True))}
        assert results[1] == {"predicted_label": None, "predicted_proba": None, "probabilities": None,
                              "status": "empty"}
        assert server.get("/v1/models/colours/metadata").json()["metadata"]["classes"] == ["blue", "green",
                                                                                          "red, dark"]
        refused = server.post("/predict", {"texts": texts, "threshold": 0.4})
        assert refused.status_code == 400 and "3 classes" in refused.json()["error"]
    finally:
        assert server.stop() == 0, server.output()
