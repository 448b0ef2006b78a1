"""The fast text front end (classifier.io.fastwords, TfidfFeatures.encode_fast, the text path of
TfidfModel.logits_texts, Lexicon.word_arrays) gives exactly the reference's ids: on every row of the
review file, and on random Unicode text (hypothesis)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.bundle import load
from classifier.config import TokenizerConfig, preset
from classifier.io.fastwords import MIN_TEXTS, IdRows, flat_ids
from classifier.io.tokenizer import Tokenizer
from classifier.models.lexicon import WORD
from classifier.models.lookup import KeyTable
from classifier.models.stack import tfidf_parts
from classifier.models.tfidf import TOKEN_PATTERN, TfidfFeatures, fit_tfidf
from tests.conftest import ROOT, committed_bundle


@pytest.fixture(scope="module")
def review_texts(data_path) -> list[str]:
    """Every row's text, the empty ones as "" (as `score` passes them)."""
    return pd.read_csv(data_path)["Review Text"].fillna("").astype(str).tolist()


@pytest.mark.parametrize("bundle", ["default", "tuned"])
def test_word_ids_equal_the_reference_on_every_review(review_texts, bundle):
    tok = load(ROOT / "saved_models" / bundle).tokenizer
    fast = tok.encode_many(review_texts)
    assert isinstance(fast, IdRows)  # the fast path ran, not the fallback
    assert fast == tok.encode_many_reference(review_texts)
    flat, lengths = flat_ids(fast)
    assert flat.tolist() == [i for ids in fast for i in ids] and lengths.tolist() == [len(ids) for ids in fast]


def test_tfidf_features_equal_the_reference_on_every_review(review_texts):
    cfg = preset("tfidf")
    head = review_texts[:3000]
    model = fit_tfidf(head, np.arange(len(head)) % 2, cfg)  # any labels: the n-gram vocabulary is the point
    fast = model.features.encode_many(review_texts)
    assert isinstance(fast, IdRows)
    assert fast == model.features.encode_many_reference(review_texts)  # same ids, same order
    np.testing.assert_array_equal(model.predict_proba_ids(fast),
                                  model.predict_proba_ids([list(ids) for ids in fast]))


def test_tfidf_text_path_scores_as_the_id_lists(review_texts):
    """`logits_texts` (pairs scored piece by piece on threads, no lists) gives the very logits of
    the reference's id lists: every review (several pieces), and a batch where one piece holds the
    separator (that piece the reference way, the others not)."""
    model = fit_tfidf(review_texts[:3000], np.arange(3000) % 2, preset("tfidf"))
    want = model.logits_ids(model.features.encode_many_reference(review_texts))
    np.testing.assert_array_equal(model.logits_texts(review_texts), want)
    mixed = review_texts[:9000] + ["a\x00b love it"] + review_texts[:100]
    np.testing.assert_array_equal(model.logits_texts(mixed),
                                  model.logits_ids(model.features.encode_many_reference(mixed)))
    np.testing.assert_array_equal(model.logits_texts(review_texts[:5]), want[:5])  # a few: the reference way


def test_lexicon_features_equal_the_reference_on_every_review(review_texts, data_path):
    """The general bundle (n-grams and the lexicon's pseudo-terms): the fast ids, lexicon words and
    probabilities are the reference's, titles included."""
    pytest.importorskip("vaderSentiment")
    bundle = load(committed_bundle("general"))
    features = bundle.model.features
    titles = pd.read_csv(data_path)["Title"].fillna("").astype(str).tolist()
    for texts in (review_texts, titles, [f"{a}. {b}" for a, b in zip(titles, review_texts, strict=True)]):
        fast = features.encode_many(texts)
        assert isinstance(fast, IdRows)
        assert fast == features.encode_many_reference(texts)
        for a, b in zip(features.lexicon.word_arrays(texts), features.lexicon.word_arrays(texts, reference=True),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(bundle.recommend_proba(texts), bundle.model.predict_proba_ids(fast))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.one_of(
    st.text(alphabet=st.sampled_from("'nt a bad not very GOOD didn't\x00é😍İK"), max_size=60),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
), max_size=12))
def test_lexicon_words_equal_the_regex_on_random_text(batch):
    """WORD's matches (apostrophes in runs like "rock'n'roll", "n't" words the lexicon does not hold,
    non-ASCII letters) and each word's valence, boost and negation, as the regex text by text finds them."""
    pytest.importorskip("vaderSentiment")
    from classifier.models.lexicon import Lexicon

    lexicon = Lexicon.installed()
    for a, b in zip(lexicon.word_arrays(batch), lexicon.word_arrays(batch, reference=True), strict=True):
        np.testing.assert_array_equal(a, b)
    if not any("\x00" in t for t in batch):  # the fast path itself ran: the same words, counted
        assert len(lexicon.word_arrays(batch)[0]) == sum(len(WORD.findall(t.lower())) for t in batch)
    assert lexicon.terms(batch) == lexicon.terms(batch, reference=True)


def test_tuned_stack_features_from_id_rows_equal_those_from_lists(review_texts):
    bundle = load(ROOT / "saved_models" / "tuned")
    ids = bundle.tokenizer.encode_many(review_texts[:5000])
    fast, plain = tfidf_parts(bundle.tfidf, ids), tfidf_parts(bundle.tfidf, [list(s) for s in ids])
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_array_equal(fast[1], plain[1])


def test_a_text_holding_the_separator_takes_the_reference_path():
    tok = Tokenizer.fit(["love the dress"])
    texts = ["love the dress", "a\x00b love dress"] * MIN_TEXTS
    assert tok.encode_many(texts) == tok.encode_many_reference(texts)
    assert not isinstance(tok.encode_many(texts), IdRows)
    assert isinstance(tok.encode_many(texts[:1] * MIN_TEXTS), IdRows)
    assert tok.encode_many([]) == []
    holding = Tokenizer.fit(["a\x00b love"])  # a vocabulary word holds it: never the fast path
    assert not isinstance(holding.encode_many(["a\x00b love"] * MIN_TEXTS), IdRows)
    assert holding.encode_many(["a\x00b love"] * MIN_TEXTS) == [[1, 2]] * MIN_TEXTS


def test_a_few_texts_take_the_reference_path():
    tok = Tokenizer.fit(["love the dress"])
    assert not isinstance(tok.encode_many(["love it"] * (MIN_TEXTS - 1)), IdRows)
    assert isinstance(tok.encode_many(["love it"] * MIN_TEXTS), IdRows)


# text that stresses the rules: the filter characters, spaces and line breaks of every kind, the
# apostrophe, Greek sigma (lower-cased by context), characters whose lower case is longer (İ) or
# not ASCII (K = Kelvin sign), digits of other scripts, combining marks, emoji, Korean
RULES = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r\x0b\x0c\x1c\x85\xa0\u2028 'ΣσςİKé\u0301٣😍드레스"
texts = st.lists(st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    st.text(alphabet=st.sampled_from(RULES + "ab AB dress ΑΣ"), max_size=40),
    st.text(alphabet=st.sampled_from("abAB_1 .x"), max_size=80),  # ASCII words of 1 to 40+ bytes (AsciiWords)
), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train=texts, score=texts, num_words=st.integers(2, 40), lower=st.booleans())
def test_word_ids_equal_the_reference_on_random_unicode(train, score, num_words, lower):
    tok = Tokenizer.fit(train, TokenizerConfig(num_words=num_words, lower=lower))
    batch = score + train  # words it knows and words it does not
    flat = tok.fast_words.encode_flat(batch)  # the fast path itself, whatever the batch's size
    assert flat is not None or any("\x00" in t for t in batch)  # only the separator declines it
    if flat is not None:
        assert IdRows(*flat) == tok.encode_many_reference(batch)
    assert tok.encode_many(batch) == tok.encode_many_reference(batch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train=texts, score=texts, ngrams=st.integers(1, 3), data=st.data())
def test_tfidf_features_equal_the_reference_on_random_unicode(train, score, ngrams, data):
    token = re.compile(TOKEN_PATTERN)
    grams = []
    for text in train:
        words = token.findall(text.lower())
        grams += [" ".join(words[k : k + n]) for n in range(1, ngrams + 1) for k in range(len(words) - n + 1)]
    grams = list(dict.fromkeys(grams))
    terms = data.draw(st.lists(st.sampled_from(grams), unique=True) if grams else st.just([]))
    features = TfidfFeatures(terms, ngrams)
    batch = score + train
    fast = features.encode_fast(batch)
    assert fast is not None or any("\x00" in t for t in batch)
    if fast is not None:
        assert fast == features.encode_many_reference(batch)
    assert features.encode_many(batch) == features.encode_many_reference(batch)


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.integers(0, 2**62), unique=True, max_size=300),
       others=st.lists(st.integers(0, 2**62), max_size=300))
def test_key_table_finds_every_key_and_nothing_else(keys, others):
    table = KeyTable(np.array(keys, np.int64), np.arange(len(keys), dtype=np.int64))
    query = np.array(keys + others, np.int64)
    want = [keys.index(k) if k in keys else -1 for k in query.tolist()]
    assert table.get(query).tolist() == want
    assert len(table) == len(keys)


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.integers(0, 500), unique=True, min_size=1, max_size=300),
       others=st.lists(st.integers(0, 2**62), max_size=300))
def test_key_table_of_small_keys_is_an_array_and_finds_the_same(keys, others):
    table = KeyTable(np.array(keys, np.int64), np.arange(len(keys), dtype=np.int64))
    assert table.dense is not None or max(keys) >= 4 * len(keys)
    query = np.array(keys + others, np.int64)
    assert table.get(query).tolist() == [keys.index(k) if k in keys else -1 for k in query.tolist()]
