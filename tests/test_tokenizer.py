"""Tokenizer rules (Keras Tokenizer semantics) on hand-made examples."""

import json

import numpy as np
import pytest

from classifier.config import TokenizerConfig
from classifier.errors import UserError
from classifier.io.tokenizer import Tokenizer


def test_ids_by_frequency_ties_in_first_seen_order():
    tok = Tokenizer.fit(["b a c", "a c", "a d"])
    # a:3, c:2, then b and d tie at 1 and keep first-seen order
    assert tok.words == ["a", "c", "b", "d"]
    assert tok.word_index == {"a": 1, "c": 2, "b": 3, "d": 4}


def test_num_words_cut_keeps_ids_below_num_words():
    texts = [" ".join(f"w{i}" for i in range(n)) for n in range(1, 8)]  # w0 most frequent ... w6 least
    tok = Tokenizer.fit(texts, TokenizerConfig(num_words=4, maxlen=10))
    assert tok.words == ["w0", "w1", "w2"]  # ids 1..3; id 4 (= num_words) and up are not kept
    assert tok.encode("w0 w3 w2 w6") == [1, 3]


def test_full_size_vocabulary_has_2999_words(data_path):
    import pandas as pd

    texts = pd.read_csv(data_path)["Review Text"].dropna().head(5000)
    tok = Tokenizer.fit(texts)
    assert len(tok) == 2999
    assert max(max(s, default=0) for s in tok.encode_many(texts)) == 2999


def test_unknown_words_dropped_not_mapped():
    tok = Tokenizer.fit(["the dress is lovely"])
    assert tok.encode("the zzz dress qqq") == [tok.word_index["the"], tok.word_index["dress"]]
    assert tok.encode("nothing known here") == []


def test_cleaning_lower_punctuation_tabs_newlines_apostrophes():
    tok = Tokenizer.fit([""])
    assert tok.split("It's SO pretty!!\tLove\nit... (really)") == ["it's", "so", "pretty", "love", "it", "really"]
    assert tok.split('a-b/c"d_e`f~g') == ["a", "b", "c", "d", "e", "f", "g"]
    # apostrophes stay inside words, as in Keras' default filters
    assert tok.split("don't won't") == ["don't", "won't"]


def test_front_padding_and_front_truncation():
    tok = Tokenizer.fit(["a b c d e f"], TokenizerConfig(maxlen=4))
    ids = tok.texts_to_padded(["a b", "a b c d e f", ""])
    assert ids.dtype == np.int32 and ids.shape == (3, 4)
    assert ids[0].tolist() == [0, 0, 1, 2]  # padding='pre'
    assert ids[1].tolist() == [3, 4, 5, 6]  # truncating='pre' keeps the last words
    assert ids[2].tolist() == [0, 0, 0, 0]


def test_korean_and_emoji_pass_through():
    tok = Tokenizer.fit(["나는 학교에 간다 😀", "나는 집에 간다"])
    assert tok.words[:2] == ["나는", "간다"]
    assert tok.encode("나는 집에 간다 😀!") == [1, tok.word_index["집에"], 2, tok.word_index["😀"]]


def test_json_round_trip_and_hash(tmp_path):
    tok = Tokenizer.fit(["b a c", "a c", "좋아요 a"])
    tok.save(tmp_path / "t.json")
    again = Tokenizer.load(tmp_path / "t.json")
    assert again.words == tok.words and again.sha256 == tok.sha256
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["words"][0] == "a"
    assert Tokenizer.fit(["c a b", "a"]).sha256 != tok.sha256


def test_load_rejects_other_json(tmp_path):
    (tmp_path / "t.json").write_text('{"hello": 1}')
    with pytest.raises(UserError, match="not a tokenizer file"):
        Tokenizer.load(tmp_path / "t.json")
