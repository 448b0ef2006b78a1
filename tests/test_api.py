"""The Python API in the scikit-learn shape: load, fit, predict, predict_proba, classes_, score, save;
evaluate in memory or from CSV files, any number of times in one process; one input check for
every entry point (lists, arrays, Series, one-column frames; a bare string refused)."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import classifier
from classifier.classify.predict import recommendations
from tests.conftest import committed_bundle, run_cli_here

TEXTS = ["Love this dress, it fits perfectly", "Cheap fabric, it ripped after one wash and I returned it", "qzxv", ""]
DEFAULT = committed_bundle("default")
# tiny models for the fits here: a few seconds each
TINY = {"epochs": 1, "embedding_dim": 8, "lstm_units": 4, "tokenizer.maxlen": 24, "tokenizer.num_words": 200}


@pytest.fixture(scope="module")
def default():
    return classifier.load(DEFAULT)


@pytest.fixture(scope="module")
def sample(sample_csv):
    return pd.read_csv(sample_csv)  # "Review Text" has NaN where a review is missing


def test_evaluate_twice_in_one_process_gives_the_same_pair(small_bundle, data_path):
    first = classifier.evaluate(small_bundle, data=data_path)
    importlib.import_module("classifier.classify.evaluate")  # importing the submodule must not replace the function
    importlib.import_module("classifier.classify.train")
    assert classifier.evaluate(small_bundle, data=data_path) == first
    assert [f.__module__ for f in (classifier.evaluate, classifier.train, classifier.fit)] == ["classifier"] * 3
    with pytest.warns(DeprecationWarning, match="data=CSV"):
        assert classifier.evaluate(small_bundle, data_path) == first  # the old positional form, for one release


def test_predict_proba_is_n_by_k_in_classes_order(default):
    p = default.predict_proba(TEXTS[:3])
    assert p.shape == (3, 2) and list(default.classes_) == [0, 1] and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert p[0, 1] > 0.8 > 0.5 > p[1, 1]  # the happy review recommends, the ripped one does not
    # the NumPy engine's answer is the saved Keras model's, through another implementation
    np.testing.assert_allclose(p, default.predict_proba(TEXTS[:3], engine="keras"), atol=1e-5)
    assert default.predict(TEXTS[:3]).tolist() == [1, 0, int(p[2, 1] >= default.threshold)]
    assert "lstm" in repr(default) and str(DEFAULT) in repr(default)


def test_every_public_probability_is_n_by_k(default):
    ids = default.encoder.encode_many(TEXTS)
    assert default.predict_proba_ids(ids).shape == (4, 2)  # (n,) before: one shape for every kind
    np.testing.assert_array_equal(default.predict_proba_ids(ids), default.predict_proba(TEXTS))
    assert default.predict_proba([]).shape == (0, 2)


# -- what the API takes as texts ---------------------------------------------------------------------
MISSING = [None, float("nan"), np.nan, pd.NA]
WORDS = ["love", "dress", "fits", "ripped", "small", "soft", "qzxv", "é", "😀", "  ", "\n"]


@st.composite
def texts_with_gaps(draw):
    """Random texts of known and unknown words, some missing (None, NaN, pd.NA)."""
    texts = draw(st.lists(st.one_of(
        st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
        st.text(max_size=20),
        st.sampled_from(MISSING)), min_size=1, max_size=12))
    return texts


CONTAINERS = {
    "list": list,
    "tuple": tuple,
    "generator": lambda xs: (x for x in xs),
    "object array": lambda xs: np.array(xs + ["x"], dtype=object)[:-1],  # "x": never a 2-D array of one text
    "(n, 1) array": lambda xs: np.array(xs + ["x"], dtype=object)[:-1].reshape(-1, 1),
    "Series": lambda xs: pd.Series(xs, dtype=object),
    "string Series": lambda xs: pd.Series([None if x is not None and not isinstance(x, str) else x for x in xs],
                                          dtype="string"),
    "one-column frame": lambda xs: pd.DataFrame({"Review Text": pd.Series(xs, dtype=object)}),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=texts_with_gaps(), container=st.sampled_from(sorted(CONTAINERS)))
def test_any_list_like_of_texts_scores_as_the_plain_list(default, texts, container):
    """Whatever holds the texts, each row scores as the plain list with "" for a missing text."""
    plain = ["" if not isinstance(t, str) else t for t in texts]
    want = default.predict_proba(plain)
    got = default.predict_proba(CONTAINERS[container](texts))
    assert got.shape == (len(texts), 2)
    np.testing.assert_array_equal(got, want)
    assert default.predict(CONTAINERS[container](texts)).tolist() == default.predict(plain).tolist()


@pytest.mark.parametrize("bad, needle", [
    ("Love this dress", "got one str ('Love this dress')"),
    (b"Love this dress", "got one bytes"),
    (pd.DataFrame({"Review Text": ["a"], "Title": ["b"]}), "table of 2 columns ('Review Text', 'Title')"),
    (np.array([["a", "b"]]), "array of shape (1, 2)"),
    (["fine", 3], "text 1 is 3 of type int"),
    ([b"bytes"], "text 0 is b'bytes' of type bytes"),
    (42, "got 42 of type int"),
    ({"a": 1}, "got a dict"),
])
def test_what_is_not_a_list_of_texts_is_refused_by_every_entry_point(default, bad, needle):
    """One check: each public entry point refuses the same inputs with the same words, naming itself."""
    calls = {
        "predict_proba": lambda: default.predict_proba(bad),
        "predict": lambda: default.predict(bad),
        "recommend_proba": lambda: default.recommend_proba(bad),
        "score": lambda: default.score(bad, [1]),
        "evaluate": lambda: classifier.evaluate(default, bad, [1]),
        "fit": lambda: classifier.fit(bad, [1]),  # refused before any training
    }
    for name, call in calls.items():
        with pytest.raises(classifier.UserError) as e:
            call()
        assert str(e.value).startswith(f"{name}: ") and needle in str(e.value), (name, str(e.value))


def test_missing_reviews_of_a_real_column_score_as_empty_texts(default, sample):
    column = sample["Review Text"]
    assert column.isna().sum() >= 5  # the sample has missing reviews, as the review file does
    p = default.predict_proba(column)
    assert p.shape == (len(column), 2)
    empty = default.predict_proba([""])[0]
    assert all((p[i] == empty).all() for i in np.flatnonzero(column.isna()))
    # the in-memory rows the CLI, the server and `score` report: the same rows are the empty ones
    statuses = [r.status for r in recommendations(default, [None if pd.isna(t) else t for t in column])]
    assert [s == "empty" for s in statuses] == column.isna().tolist()
    np.testing.assert_array_equal(default.predict_proba([None]), default.predict_proba([""]))


# -- evaluate and score in memory ------------------------------------------------------------------
def test_score_is_the_accuracy_of_predict_on_rows_with_a_text_and_a_label(default, sample):
    texts, labels = sample["Review Text"], sample["Recommended IND"].astype(object)
    labels.iloc[3] = None  # a missing label: the row is left out, as a file's row would be
    kept = texts.notna() & labels.notna()
    want = float(np.mean(default.predict(texts[kept]) == labels[kept].astype(int)))
    assert default.score(texts, labels) == want
    assert 0.5 < want < 1.0
    with pytest.raises(classifier.UserError, match="score: 3 texts but 2 labels"):
        default.score(["a", "b", "c"], [0, 1])
    with pytest.raises(classifier.UserError, match="label 'Tops' is not 0 or 1"):
        default.score(["a", "b"], [0, "Tops"])


def test_evaluate_in_memory_equals_evaluate_of_the_same_rows_in_a_file(default, sample, tmp_path):
    rows = sample.dropna(subset=["Review Text"]).head(120)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    in_memory = classifier.evaluate(default, rows["Review Text"], rows["Recommended IND"])
    from_file = classifier.evaluate(default, data=tmp_path / "rows.csv", all_rows=True)
    assert in_memory == pytest.approx(from_file, abs=1e-6)
    with pytest.raises(classifier.UserError, match="both texts and labels"):
        classifier.evaluate(default, rows["Review Text"])
    with pytest.raises(classifier.UserError, match="not both"):
        classifier.evaluate(default, rows["Review Text"], rows["Recommended IND"], data=tmp_path / "rows.csv")


# -- fit ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fit_trains_on_every_row_given_and_evaluates_in_memory(sample, tmp_path):
    texts, labels = sample["Review Text"], sample["Recommended IND"]
    n = int(texts.notna().sum())  # rows without a review are dropped, as a file's are
    bundle = classifier.fit(texts, labels, **TINY)
    assert bundle.metrics["n_train"] == n and bundle.metrics["n_test"] == 0  # no test split held out (was 64%)
    assert "test_loss" not in bundle.metrics and bundle.config.test_size == 0.0
    assert bundle.config.validation_split == 0.2  # the preset's: early stopping watches the last fifth
    assert bundle.config.tokenizer.maxlen == 24 and bundle.config.embedding_dim == 8  # dotted overrides
    loss, acc = classifier.evaluate(bundle, texts, labels)
    assert 0 < loss < 1 and acc == pytest.approx(bundle.score(texts, labels), abs=0.02)
    saved = bundle.save(tmp_path / "saved")  # a saved fit() bundle on a file of the same rows: every row, no split
    sample.to_csv(tmp_path / "same.csv", index=False)
    assert classifier.evaluate(saved, data=tmp_path / "same.csv") == pytest.approx((loss, acc), abs=1e-6)


@pytest.mark.slow
def test_fit_without_validation_runs_every_epoch(sample):
    bundle = classifier.fit(sample["Review Text"], sample["Recommended IND"], validation_split=0,
                            **{**TINY, "epochs": 2, "patience": 0})
    assert bundle.metrics["epochs_run"] == 2 and bundle.config.validation_split == 0
    with pytest.raises(classifier.UserError, match="validation_split 0 leaves no rows to choose the tfidf"):
        classifier.fit(sample["Review Text"], sample["Recommended IND"], preset="tfidf", validation_split=0)


@pytest.mark.parametrize("overrides, needle", [
    ({"max_rows": -1}, "max_rows must be a whole number of 1 or more"),  # was: every row but the last
    ({"max_rows": 0}, "max_rows must be a whole number of 1 or more"),
    ({"validation_split": 1.0}, "validation_split must be at least 0 and below 1"),
    ({"num_word": 10}, "no setting 'num_word'; did you mean tokenizer.num_words?"),
    ({"epochs": "3"}, "setting 'epochs' takes an integer, got '3'"),
])
def test_fit_refuses_bad_settings_before_training(overrides, needle):
    with pytest.raises(classifier.UserError) as e:
        classifier.fit(["a good dress"] * 20, [0, 1] * 10, **overrides)
    assert needle in str(e.value)


def test_fit_refuses_mismatched_lengths():
    with pytest.raises(classifier.UserError, match="3 texts but 2 labels"):
        classifier.fit(["a", "b", "c"], [0, 1])


# -- preset overrides and train --set ----------------------------------------------------------------
def test_preset_takes_dotted_flat_and_nested_tokenizer_overrides():
    dotted = classifier.preset("reference", **{"tokenizer.num_words": 8000, "epochs": 2})
    assert classifier.preset("reference", num_words=8000, epochs=2) == dotted
    assert classifier.preset("reference", tokenizer={"num_words": 8000}, epochs=2) == dotted
    assert dotted.tokenizer.num_words == 8000 and dotted.tokenizer.maxlen == 400  # the rest stays the preset's
    assert classifier.preset("reference").tokenizer.num_words == 3000  # presets hand out fresh objects
    assert classifier.preset("tuned", dropout=1).dropout == 1.0  # an int is a float too
    assert classifier.preset("tuned", aux_column=None).aux_column == "Rating"  # None: not given, as a flag
    with pytest.raises(classifier.UserError, match="did you mean tokenizer.maxlen"):
        classifier.preset("reference", **{"tokenizer.maxln": 8})


@pytest.mark.slow
def test_train_set_writes_any_config_field(sample_csv, tmp_path):
    out = tmp_path / "b"
    sets = ["tokenizer.num_words=200", "tokenizer.maxlen=24", "embedding_dim=8", "lstm_units=4", "init_seed=null",
            "threshold_rule=f1_macro"]
    result = run_cli_here("train", "--data", sample_csv, "-o", out, "--epochs", "1", "--quiet",
                          *[arg for kv in sets for arg in ("--set", kv)])
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["tokenizer"]["num_words"] == 200 and config["tokenizer"]["maxlen"] == 24
    assert (config["embedding_dim"], config["lstm_units"], config["threshold_rule"]) == (8, 4, "f1_macro")
    assert config["init_seed"] is None and isinstance(config["embedding_dim"], int)


def test_every_setting_is_documented():
    from classifier.config import field_names

    page = (Path(__file__).resolve().parents[1] / "docs/presets.md").read_text(encoding="utf-8")
    assert [name for name in field_names(classifier.preset("reference")) if f"`{name}`" not in page] == []


def test_train_set_refuses_an_unknown_field_before_training(sample_csv, tmp_path):
    from tests.conftest import assert_user_error

    result = run_cli_here("train", "--data", sample_csv, "-o", tmp_path / "b", "--set", "tokenizer.num_word=5")
    assert_user_error(result, "no setting 'tokenizer.num_word'", "tokenizer.num_words")
    assert not (tmp_path / "b").exists()
    result = run_cli_here("train", "--data", sample_csv, "-o", tmp_path / "b", "--set", "dropout=lots")
    assert_user_error(result, "setting 'dropout' takes a number, got 'lots'")


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
    assert again.metrics["n_train"] == 800 and again.kind == "lstm"  # every row given: no test split held out
    with pytest.raises(classifier.UserError, match="texts in memory"):
        classifier.evaluate(again)  # no data file on record: say so
