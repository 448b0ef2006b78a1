"""Reviews from several sources: multi-source training, the lexicon prior, fine-tuning, the general bundle."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from classifier import cli
from classifier.bundle import load
from classifier.classify.train import fit, train
from classifier.config import preset
from classifier.errors import UserError
from classifier.io.dataset import load_labelled, make_split
from classifier.io.sources import LabelMap, Source, load_sources, source_split
from classifier.models.lexicon import TERM_PREFIX, Lexicon
from classifier.models.tfidf import TOKEN_PATTERN, fit_from
from tests.conftest import AGREEMENT, ROOT, committed_bundle

vader = pytest.importorskip("vaderSentiment.vaderSentiment")  # the `lexicon` extra, in dev

DOMAINS = ROOT.parent / "shared" / "data" / "english_review_domains.csv"


@pytest.fixture(scope="module")
def domains_path():
    if not DOMAINS.is_file():
        pytest.skip(f"{DOMAINS} not found (../shared/data/english_review_domains.csv)")
    return DOMAINS


# -- the lexicon prior ------------------------------------------------------------------------------
# hand-checked from vader_lexicon.txt: good 1.9, bad -2.5, great 3.1; "very" boosts by 0.293 (0.95
# at two words, 0.9 at three); a negation in the three words before multiplies by -0.74; compound is
# s / sqrt(s^2 + 15)
@pytest.mark.parametrize("text, pos, neg", [
    ("The food was good", 1.9, 0.0),
    ("The food was not good", 0.0, 1.9 * -0.74),
    ("not very good", 0.0, (1.9 + 0.293) * -0.74),
    ("It is very good", 1.9 + 0.293, 0.0),
    ("not bad", 2.5 * 0.74, 0.0),
    # the window reads across punctuation, as VADER's: both "very"s also boost "great" (at 2 and 3 words)
    ("very, very bad. great!", 3.1 + 0.293 * 0.95 + 0.293 * 0.9, -2.5 - 0.293 - 0.293 * 0.95),
    ("Good. I didn't find it great", 1.9, 3.1 * -0.74),  # "didn't" negates from 3 words back
    ("I didn't say it was great", 3.1, 0.0),  # but not from 4
    ("nothing here", 0.0, 0.0),
])
def test_lexicon_scores_are_vaders(text, pos, neg):
    scores = Lexicon.installed().scores([text])[0]
    total = pos + neg
    assert scores[0] == pytest.approx(pos, abs=1e-12)
    assert scores[1] == pytest.approx(neg, abs=1e-12)
    assert scores[2] == pytest.approx(total / math.sqrt(total * total + 15), abs=1e-12)


def test_lexicon_agrees_with_vader_on_plain_sentences():
    texts = ["The food was good", "The food was not good", "not very good", "It is very good",
             "I don't like it", "barely works, terrible", "great"]
    ours = Lexicon.installed().scores(texts)[:, 2]
    theirs = [vader.SentimentIntensityAnalyzer().polarity_scores(t)["compound"] for t in texts]
    np.testing.assert_allclose(ours, theirs, atol=1e-4)  # VADER rounds its compound to 4 decimals


def test_lexicon_window_never_crosses_texts():
    lexicon = Lexicon.installed()
    both = lexicon.scores(["it was not", "good"])
    assert both[1, 0] == pytest.approx(1.9)  # the first text's "not" does not negate the second's "good"
    assert lexicon.terms(["not good", ""]) == [["lexicon:compound2", "lexicon:-1"], ["lexicon:compound4"]]


# -- several sources -------------------------------------------------------------------------------------
def test_clothing_keeps_its_reference_split(data_path, domains_path):
    """Split with the six domains, the clothing rows' test part is the reference one, row for row."""
    cfg = preset("tfidf")
    frame = load_sources([Source(data_path, cfg.text_column, cfg.label_column), Source(domains_path, "text", "label")],
                         cfg.text_column, cfg.label_column, group_column="domain", report=False)
    split = source_split(frame, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    alone = make_split(load_labelled(data_path, cfg.text_column, cfg.label_column), cfg.text_column,
                       cfg.label_column, cfg.test_size, cfg.seed)
    home = split.test_sources == data_path.stem
    assert [t for t, h in zip(split.x_test, home, strict=True) if h] == alone.x_test
    np.testing.assert_array_equal(split.y_test[home], alone.y_test)
    assert sorted(set(split.test_sources)) == sorted([data_path.stem, "airline", "books", "dvd", "electronics",
                                                      "imdb", "kitchen"])


def small_sources(tmp_path, data_path, domains_path):
    clothing = tmp_path / "shop.csv"
    pd.read_csv(data_path).head(300).to_csv(clothing, index=False)
    other = pd.read_csv(domains_path)
    other = other[other.domain.isin(["books", "kitchen"])].groupby("domain").sample(150, random_state=0)
    other.loc[other.index[:7], "rating"] = 3  # neither positive nor negative: left out
    stars = tmp_path / "stars.csv"
    other.to_csv(stars, index=False)
    return clothing, stars


def test_train_on_several_sources_maps_labels_and_reports_each(tmp_path, data_path, domains_path, caplog):
    clothing, stars = small_sources(tmp_path, data_path, domains_path)
    caplog.set_level("WARNING", logger="classifier.io.sources")
    metrics = train(preset("tfidf"), [str(clothing), f"{stars}:text:rating"], tmp_path / "b",
                    labels=LabelMap.parse("4,5", "1,2"), group_column="domain")
    err = caplog.text
    assert "labels 0/1 in 'Recommended IND' kept as they are" in err
    assert "(books): 143 rows (" in err and "'rating' 4/5 = 1, 1/2 = 0; 7 rows of other values left out" in err
    assert set(metrics["per_source"]) == {"shop", "books", "kitchen"}
    assert metrics["per_source"]["books"]["n"] == 29  # 20% of books' 143 rows
    for m in metrics["per_source"].values():
        assert 0 <= m["accuracy"] <= 1 and m["log_loss"] > 0
    assert load(tmp_path / "b").metrics["per_source"] == metrics["per_source"]


def test_labels_other_than_01_need_a_mapping(tmp_path, data_path, domains_path, capsys):
    clothing, stars = small_sources(tmp_path, data_path, domains_path)
    with pytest.raises(UserError, match=r"'rating' holds labels other than 0/1 .*positive 4,5 negative 1,2"):
        train(preset("tfidf"), [str(clothing), f"{stars}:text:rating"], tmp_path / "b")
    capsys.readouterr()
    code = cli.main(["train", "--preset", "tfidf", "--data", str(clothing), "--data", f"{stars}:text:rating",
                     "--positive", "4,5", "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["classifier: error: give both --positive and --negative (e.g. --positive 4,5 "
                                 "--negative 1,2)"]


def test_cli_trains_on_a_group_column(tmp_path, data_path, domains_path, capsys):
    clothing, stars = small_sources(tmp_path, data_path, domains_path)
    code = cli.main(["train", "--preset", "tfidf", "--data", str(clothing), "--data", f"{stars}:text:label",
                     "--group-column", "domain", "--title-column", "title", "-o", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert code == 0
    assert "  books: n 30, accuracy" in out and "  shop: n 58, accuracy" in out
    assert load(tmp_path / "b").config.title_column == "title"


def test_fit_with_groups_reports_each_group(data_path):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"]).head(400)
    groups = np.where(np.arange(len(df)) % 2, "odd", "even")
    bundle = fit(df["Review Text"], df["Recommended IND"], "tfidf", groups=groups)
    # fit() trains on every row given: the rows each source gave, no test figures
    assert bundle.metrics["train_rows_per_source"] == {"even": 200, "odd": 200}
    assert "per_source" not in bundle.metrics


# -- fine-tuning ---------------------------------------------------------------------------------------
def test_fine_tuning_moves_weights_as_far_as_its_prior_allows(data_path):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"])
    base = fit(df["Review Text"].head(600), df["Recommended IND"].head(600), "general")
    texts, y = df["Review Text"].iloc[600:700].tolist(), df["Recommended IND"].iloc[600:700].to_numpy()
    held = fit_from(base.model, texts, y, c=1e-6)
    free = fit_from(base.model, texts, y, c=100.0)
    assert held.features is base.model.features
    assert np.abs(held.coef - base.model.coef).max() < 1e-3  # a tight prior keeps the general weights
    assert np.abs(free.coef - base.model.coef).max() > 0.5
    p_base, p_free = base.model.predict_proba(texts), free.predict_proba(texts)
    assert np.mean((p_free >= 0.5) == y) >= np.mean((p_base >= 0.5) == y)  # it learnt its training rows


def test_init_from_on_the_command_line(tmp_path, data_path, capsys):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"])
    df.head(600).to_csv(tmp_path / "big.csv", index=False)
    df.iloc[600:900].to_csv(tmp_path / "few.csv", index=False)
    assert cli.main(["train", "--preset", "general", "--data", str(tmp_path / "big.csv"), "-o",
                     str(tmp_path / "base")]) == 0
    assert cli.main(["train", "--init-from", str(tmp_path / "base"), "--data", str(tmp_path / "few.csv"), "-o",
                     str(tmp_path / "tuned")]) == 0
    tuned, base = load(tmp_path / "tuned"), load(tmp_path / "base")
    assert tuned.meta["data"]["init_from"] == str(tmp_path / "base")
    assert tuned.model.features.terms == base.model.features.terms  # the general vocabulary, kept
    assert tuned.config.tfidf_lexicon == base.config.tfidf_lexicon
    assert cli.main(["train", "--init-from", str(committed_bundle("default")), "--data", str(tmp_path / "few.csv"),
                     "-o", str(tmp_path / "x")]) == 2
    assert "fine-tuning starts from a binary tfidf bundle" in capsys.readouterr().err


def test_adapt_to_unlabelled_texts_adds_their_ngrams_and_self_trains(tmp_path, data_path, domains_path, capsys):
    pd.read_csv(data_path).dropna(subset=["Review Text"]).head(400).to_csv(tmp_path / "shop.csv", index=False)
    airline = pd.read_csv(domains_path).query("domain == 'airline'").head(200)
    airline[["text"]].rename(columns={"text": "body"}).to_csv(tmp_path / "mine.csv", index=False)  # no labels
    assert cli.main(["train", "--preset", "general", "--data", str(tmp_path / "shop.csv"), "-o",
                     str(tmp_path / "plain")]) == 0
    assert cli.main(["train", "--preset", "general", "--data", str(tmp_path / "shop.csv"), "--adapt-to",
                     f"{tmp_path / 'mine.csv'}:body", "-o", str(tmp_path / "adapted")]) == 0
    plain, adapted = load(tmp_path / "plain"), load(tmp_path / "adapted")
    assert adapted.meta["data"]["adapt_to"]["texts"] == 200
    new = set(adapted.model.features.terms) - set(plain.model.features.terms)
    words = set(re.findall(TOKEN_PATTERN, " ".join(airline.text).lower()))
    assert "flight" in new and "flight" not in " ".join(pd.read_csv(tmp_path / "shop.csv")["Review Text"]).lower()
    assert {t for t in new if " " not in t and not t.startswith(TERM_PREFIX)} <= words
    # self-training gave the target's own words a weight: no labelled row holds them
    index = adapted.model.features.index
    assert adapted.model.coef[index["flight"]] != 0
    texts = airline.text.tolist()
    assert not np.allclose(adapted.recommend_proba(texts), plain.recommend_proba(texts), atol=1e-3)
    # bad input: one line, exit 2
    capsys.readouterr()
    assert cli.main(["train", "--preset", "general", "--data", str(tmp_path / "shop.csv"), "--adapt-to",
                     str(tmp_path / "mine.csv"), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no text column 'Review Text'" in err and "--adapt-to" in err and len(err.splitlines()) == 1
    assert cli.main(["train", "--preset", "reference", "--data", str(tmp_path / "shop.csv"), "--adapt-to",
                     f"{tmp_path / 'mine.csv'}:body", "-o", str(tmp_path / "y")]) == 2
    assert "self-trains a binary tfidf preset" in capsys.readouterr().err


def test_explanations_of_the_lexicon_prior_add_up_to_the_call(data_path):
    """The lexicon's pseudo-terms are features like the n-grams: a sentiment word's goes to that word,
    the compound bin is split over the words, and the whole adds up to the bundle's own probability."""
    df = pd.read_csv(data_path).dropna(subset=["Review Text"])
    bundle = fit(df["Review Text"].head(600), df["Recommended IND"].head(600), "general")
    texts = ["not bad at all, I don't hate it", "Love this dress!", "", "!!!", "I - hated it."]
    p = bundle.recommend_proba(texts)
    for e, q in zip(bundle.explain(texts), p, strict=True):
        assert e.probas[1] == pytest.approx(q, abs=1e-6)
        assert e.residual == pytest.approx(0, abs=1e-9)
    [e] = bundle.explain(["the fit is great"])
    lexicon = bundle.model.features.index["lexicon:+3"]  # great: 3.1 in VADER's lexicon
    assert bundle.model.coef[lexicon] != 0
    assert {w.word for w in e.top_for} >= {"great"}


# -- the committed general bundle -----------------------------------------------------------------------
def test_general_bundle_scores_tf_free_and_reloads_exactly(tmp_path, data_path):
    general = committed_bundle("general")
    bundle = load(general)
    assert bundle.kind == "tfidf" and bundle.config.preset == "general"
    assert set(bundle.metrics["per_source"]) >= {"airline", "books", "dvd", "electronics", "imdb", "kitchen"}
    texts = pd.read_csv(data_path)["Review Text"].dropna().head(200).tolist() + ["not good at all", "very good"]
    p = bundle.recommend_proba(texts)
    again = load(bundle.save(tmp_path / "copy")).recommend_proba(texts)
    np.testing.assert_allclose(again, p, atol=AGREEMENT, rtol=0)
    assert p[-2] < 0.5 < p[-1]
    # another process, scoring with no TensorFlow imported
    code = ("import sys, json, numpy as np; from classifier.bundle import load; "
            f"p = load({str(general)!r}).recommend_proba(json.load(sys.stdin)); "
            "assert 'tensorflow' not in sys.modules; print(json.dumps(p.tolist()))")
    run = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    np.testing.assert_allclose(json.loads(run.stdout), p, atol=AGREEMENT, rtol=0)
