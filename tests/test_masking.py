"""Variable-length input (SPEC section 3): masked padding, on toy sentences and on real reviews."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from classifier.config import TokenizerConfig, preset
from classifier.io.dataset import load_labelled, make_split
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import build_classifier

# "not" flips the sentiment; "bad" is never seen right after "am not" or "are not"
TOY = [
    ("i am happy", 1), ("i am sad", 0), ("i am not happy", 0), ("i am not sad", 1),
    ("you feel good", 1), ("you feel bad", 0), ("you do not feel good", 0), ("you do not feel bad", 1),
    ("they are great", 1), ("they are awful", 0), ("we are not great", 0), ("we are not awful", 1),
]


def masked_cfg(**overrides):
    """The tuned preset (masked padding) at toy widths."""
    return preset("tuned", **{"embedding_dim": 8, "lstm_units": 8, "dropout": 0.0, **overrides})


def with_maxlen(model, cfg, maxlen: int, mask_zero: bool | None = None):
    """The same weights in a model over `maxlen` padded steps."""
    mask = cfg.mask_zero if mask_zero is None else mask_zero
    twin = build_classifier(replace(cfg, tokenizer=replace(cfg.tokenizer, maxlen=maxlen), mask_zero=mask))
    twin.set_weights(model.get_weights())
    return twin


@pytest.fixture(scope="module")
def toy():
    import keras

    cfg = masked_cfg(tokenizer=TokenizerConfig(num_words=50, maxlen=8))
    texts, labels = zip(*TOY, strict=True)
    tok = Tokenizer.fit(texts, cfg.tokenizer)
    keras.utils.set_random_seed(0)
    model = build_classifier(cfg)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.02), metrics=["accuracy"])
    # 150 full-batch steps, run as one epoch of the rows repeated (Keras' per-epoch overhead is most of 150 epochs)
    x, y = tok.texts_to_padded(texts), np.array(labels, dtype="float32")
    model.fit(np.tile(x, (150, 1)), np.tile(y, 150), epochs=1, batch_size=len(TOY), shuffle=False, verbose=0)
    return cfg, tok, model


@pytest.mark.slow
def test_toy_sentences_of_different_lengths_generalise_to_an_unseen_negation(toy):
    cfg, tok, model = toy
    assert cfg.mask_zero
    assert len({len(t.split()) for t, _ in TOY}) == 3  # 3, 4 and 5 words
    known = set(tok.word_index)
    for unseen in ("i am not bad", "i am bad"):
        assert set(unseen.split()) <= known and unseen not in dict(TOY)
    x = tok.texts_to_padded([t for t, _ in TOY] + ["i am not bad", "i am bad"])
    p = model.predict(x, verbose=0).reshape(-1)
    assert np.array_equal(p[: len(TOY)] > 0.5, np.array([label for _, label in TOY]) == 1)
    assert p[-2] > 0.5, f"'i am not bad' scored {p[-2]:.3f}"
    assert p[-1] < 0.5, f"'i am bad' scored {p[-1]:.3f}"
    # longer padding leaves the toy answers unchanged
    np.testing.assert_allclose(with_maxlen(model, cfg, 30).predict(tok.pad(tok.encode_many(["i am not bad"]), 30),
                                                                  verbose=0).reshape(-1), p[-2:-1], atol=1e-6)


@pytest.mark.slow
def test_masked_prediction_does_not_change_with_padding_length(data_path):
    """A tuned-style model trained one epoch on real reviews gives the same probability for any
    padding when masked, and different ones without the mask."""
    import keras

    cfg = masked_cfg(tokenizer=TokenizerConfig(num_words=2000, maxlen=128), embedding_dim=16, lstm_units=16)
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, max_rows=600)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    tok = Tokenizer.fit(split.x_train, cfg.tokenizer)
    keras.utils.set_random_seed(1)
    model = build_classifier(cfg)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(tok.texts_to_padded(split.x_train), split.y_train, epochs=1, batch_size=64, verbose=0)

    # the four shortest test reviews: an LSTM forgets its start state over a long review,
    # so short ones show what pad steps do
    ids = [s for s in sorted(tok.encode_many(split.x_test), key=len) if s][:4]

    def run(maxlen, x, mask_zero=None):
        return np.asarray(with_maxlen(model, cfg, maxlen, mask_zero)(x, training=False)).reshape(-1)

    def unpadded(mask_zero):
        """Each review run over exactly its own words: no pad step at all."""
        return np.concatenate([run(len(s), np.array([s]), mask_zero) for s in ids])

    alone = unpadded(True)
    for maxlen in (128, 400):
        np.testing.assert_allclose(run(maxlen, tok.pad(ids, maxlen)), alone, atol=1e-6)

    # without the mask (the reference recipe) the pad steps move the state
    unmasked = run(128, tok.pad(ids, 128), mask_zero=False)
    assert np.abs(unmasked - unpadded(False)).max() > 1e-4
