"""Keras model builders. The seed classifier is the reference network, layer for layer."""

from __future__ import annotations

from classifier.config import TrainConfig


def build_classifier(cfg: TrainConfig):
    """Embedding(num_words, 300) -> LSTM(64) -> Dense(1, sigmoid); 993,505 weights for seed."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(shape=(cfg.tokenizer.maxlen,), dtype="int32", name="ids"),
            layers.Embedding(cfg.tokenizer.num_words, cfg.embedding_dim, mask_zero=cfg.mask_zero, name="embedding"),
            layers.LSTM(cfg.lstm_units, name="lstm"),
            layers.Dense(1, activation="sigmoid", name="dense"),
        ],
        name="classifier",
    )
    return model


def compile_classifier(model) -> None:
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
