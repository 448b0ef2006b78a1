"""The tfidf preset: SPEC's TF-IDF + logistic regression as a bundle, loaded without scikit-learn."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest

import classifier
from classifier.bundle import TfidfBundle
from classifier.classify.evaluate import format_result
from classifier.classify.train import train
from classifier.config import preset
from classifier.errors import UserError
from classifier.io.dataset import load_labelled, make_split
from tests.conftest import committed_bundle, run_cli, run_python

ROWS = 2000


@pytest.fixture(scope="module")
def tfidf_bundle(tmp_path_factory, data_path):
    out = tmp_path_factory.mktemp("tfidf") / "bundle"
    train(preset("tfidf", max_rows=ROWS), data_path, out, verbose=0)
    return out


@pytest.fixture(scope="module")
def split(data_path):
    cfg = preset("tfidf")
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, ROWS)
    return make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)


@pytest.fixture(scope="module")
def sklearn_p(split) -> np.ndarray:
    """SPEC's recipe, written directly with scikit-learn."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    lr = LogisticRegression(C=4, max_iter=1000).fit(vec.fit_transform(split.x_train), split.y_train)
    return lr.predict_proba(vec.transform(split.x_test))[:, 1]


def test_bundle_predicts_as_scikit_learn(tfidf_bundle, split, sklearn_p):
    bundle = classifier.load(tfidf_bundle)
    assert isinstance(bundle, TfidfBundle)
    np.testing.assert_allclose(bundle.recommend_proba(split.x_test), sklearn_p, atol=1e-6)
    # a threshold was chosen on the held-out part of the training split
    assert 0.0 < bundle.threshold < 1.0 and bundle.threshold == bundle.meta["threshold"]
    with pytest.raises(UserError, match="no Keras model"):
        bundle.keras_classifier()


def test_loads_and_predicts_without_tensorflow_or_scikit_learn(tfidf_bundle):
    code = textwrap.dedent(f"""
        import sys, classifier
        p = classifier.load({str(tfidf_bundle)!r}).recommend_proba(["Love this dress!", "It ripped after one wash."])
        print(p[0] > p[1], "tensorflow" in sys.modules, "sklearn" in sys.modules)
    """)
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False"]


def test_evaluate_and_predict_commands(tfidf_bundle, split, sklearn_p, data_path):
    from sklearn.metrics import log_loss

    p = sklearn_p
    want = format_result(log_loss(split.y_test, p), float(np.mean((p > 0.5) == (split.y_test == 1))))
    r = run_cli("evaluate", "--model", tfidf_bundle, "--data", data_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == want

    r = run_cli("predict", "--model", tfidf_bundle, "Love this dress, so flattering", "Cheap fabric, returned it")
    assert r.returncode == 0, r.stderr
    probas = [float(line.split("\t")[0]) for line in r.stdout.splitlines()]
    assert probas[0] > probas[1]


def test_tampered_weights_are_refused(tfidf_bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tfidf_bundle, copy)
    with np.load(copy / "tfidf.npz") as w:
        arrays = {k: w[k] for k in w.files}
    arrays["coef"] = arrays["coef"] * 2
    np.savez(copy / "tfidf.npz", **arrays)
    with pytest.raises(UserError, match="tfidf.npz"):
        classifier.load(copy)


def test_compare_prints_one_row_per_model(tfidf_bundle, data_path, tmp_path):
    import shutil

    shutil.copytree(tfidf_bundle, tmp_path / "tfidf")  # same settings: reused, not retrained
    r = run_cli("compare", "--data", data_path, "--out", tmp_path, "--presets", "tfidf", "--max-rows", ROWS, "--reuse")
    assert r.returncode == 0, r.stderr
    assert "training" not in r.stdout
    header, rule, row = r.stdout.splitlines()[:3]
    assert re.split(r"\s{2,}", header)[:4] == ["preset", "log loss", "accuracy", "ROC AUC"]
    rows = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert [x["preset"] for x in rows] == ["tfidf"] and row.startswith("tfidf")
    metrics = json.loads((tmp_path / "tfidf" / "metrics.json").read_text())
    assert rows[0]["loss"] == pytest.approx(metrics["test_loss"], abs=1e-5)  # scored again in another process
    assert rows[0]["score_rows_per_s"] > 0 and 0.0 < rows[0]["f1_not_rec"] < 1.0


def test_generator_commands_refuse_a_tfidf_bundle(tfidf_bundle):
    from tests.conftest import assert_user_error

    assert_user_error(run_cli("train-generator", "--model", tfidf_bundle, "--max-rows", "50", "--epochs", "1"),
                      "tfidf bundle")
    assert_user_error(run_cli("generate", "this dress", "--model", tfidf_bundle), "has no generator")


def test_evaluate_command_runs_without_tensorflow(tfidf_bundle, data_path):
    code = (
        "import sys; from classifier.cli import main; "
        f"rc = main(['evaluate', '--model', {str(tfidf_bundle)!r}, '--data', {str(data_path)!r}]); "
        "assert rc in (0, None) and 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sys.modules.keys()"
    )
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\[\d\.\d{4}, \d\.\d{4}\]", r.stdout.strip().splitlines()[-1])


def test_id_ngram_lookup_equals_the_string_path_on_the_tuned_bundle(split):
    """The tuned stack finds its TF-IDF n-grams of word ids as int64 keys in sorted arrays (built in one
    parse of the terms); each review's features must be exactly the string lookup's."""
    from classifier.bundle import load
    from classifier.models.tfidf import ID_PATTERN, TfidfFeatures

    bundle = load(committed_bundle("tuned"))
    features = bundle.tfidf.features
    id_lists = bundle.encoder.encode_many(list(split.x_test[:300])) + [[], [1], [7999, 7999, 7999]]
    rows, feats = features.id_pairs(id_lists)
    by_string = [sorted(features.encode_ids(s)) for s in id_lists]
    assert sum(map(len, by_string)) > 10_000
    assert [sorted(feats[rows == r].tolist()) for r in range(len(id_lists))] == by_string

    broken = TfidfFeatures(["12", "12 507", "12 x7"], 2, ID_PATTERN)
    with pytest.raises(UserError, match="not word-id n-grams"):
        broken.id_pairs([[12, 507]])
