"""Keras model builders. The seed classifier is the reference network, layer for layer."""

from __future__ import annotations

from classifier.config import TrainConfig


def build_classifier(cfg: TrainConfig):
    """Embedding(num_words, 300) -> LSTM(64) -> Dense(1, sigmoid); 993,505 weights for seed."""
    import keras
    from keras import layers

    rnn = layers.LSTM(cfg.lstm_units, name="lstm")
    if cfg.bidirectional:
        rnn = layers.Bidirectional(rnn, name="bidirectional")
    # Dropout layers only when asked for, so the seed model keeps the reference's three layers
    drop = [layers.Dropout(cfg.dropout, name=n) for n in ("embedding_dropout", "lstm_dropout")] if cfg.dropout else []
    model = keras.Sequential(
        [
            keras.Input(shape=(cfg.tokenizer.maxlen,), dtype="int32", name="ids"),
            layers.Embedding(cfg.tokenizer.num_words, cfg.embedding_dim, mask_zero=cfg.mask_zero, name="embedding"),
            *drop[:1],
            rnn,
            *drop[1:],
            layers.Dense(1, activation="sigmoid", name="dense"),
        ],
        name="classifier",
    )
    return model


def compile_classifier(model) -> None:
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
