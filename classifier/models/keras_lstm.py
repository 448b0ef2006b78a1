"""Keras model builders, and loading and saving Keras models. The reference classifier is the
reference network, layer for layer.

    model = build_classifier(preset("reference"))      # Embedding(3000, 300) -> LSTM(64) -> Dense(1)
    with seeded(42):
        model.fit(...)

TensorFlow is imported inside these functions, quietly, so importing this module is cheap.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from classifier.config import TrainConfig
from classifier.errors import UserError


def quiet_tensorflow() -> None:
    """Import TensorFlow with file descriptor 2 muted: its C++ start-up lines ("All log messages
    before absl::InitializeLog()", "Could not find cuda drivers") ignore TF_CPP_MIN_LOG_LEVEL.
    An import error still surfaces: the exception is raised after stderr is restored."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextmanager
def seeded(seed: int, deterministic: bool = True) -> Iterator[None]:
    """Seed Python, NumPy and TensorFlow for the block (and, with `deterministic`, pin TensorFlow's
    op choice), then give the caller back Python's and NumPy's random state and the op-determinism
    setting it had. TensorFlow's global seed stays set: TensorFlow cannot read it back."""
    quiet_tensorflow()
    import keras
    from tensorflow.python.framework import config as tf_config

    py_state, np_state = random.getstate(), np.random.get_state()
    was_deterministic = tf_config.is_op_determinism_enabled()
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if deterministic and not was_deterministic:
            tf_config.disable_op_determinism()
        random.setstate(py_state)
        np.random.set_state(np_state)


def build_classifier(cfg: TrainConfig, n_classes: int | None = None):
    """Embedding(num_words, 300) -> LSTM(64) -> Dense(1, sigmoid); 993,505 weights for the reference.
    With `n_classes` (labels other than 0/1, classifier.io.labels) the head is Dense(n_classes, softmax)."""
    quiet_tensorflow()
    import keras
    from keras import layers

    rnn = layers.LSTM(cfg.lstm_units, name="lstm")
    if cfg.bidirectional:
        rnn = layers.Bidirectional(rnn, name="bidirectional")
    # Dropout layers only when asked for, so the reference model keeps its three layers
    drop = [layers.Dropout(cfg.dropout, name=n) for n in ("embedding_dropout", "lstm_dropout")] if cfg.dropout else []
    return keras.Sequential(
        [
            keras.Input(shape=(cfg.tokenizer.maxlen,), dtype="int32", name="ids"),
            layers.Embedding(cfg.tokenizer.num_words, cfg.embedding_dim, mask_zero=cfg.mask_zero, name="embedding"),
            *drop[:1],
            rnn,
            *drop[1:],
            layers.Dense(1, activation="sigmoid", name="dense") if n_classes is None
            else layers.Dense(n_classes, activation="softmax", name="dense"),
        ],
        name="classifier",
    )


def compile_classifier(model) -> None:
    """The reference's compile; a softmax head (more than one unit) takes class indices as labels."""
    softmax = model.output_shape[-1] > 1
    model.compile(loss="sparse_categorical_crossentropy" if softmax else "binary_crossentropy", optimizer="adam",
                  metrics=["accuracy"])


def history_rows(history) -> list[dict]:
    """A Keras History as one dict per epoch."""
    keys = list(history.history)
    return [{k: float(history.history[k][i]) for k in keys} for i in range(len(history.epoch))]


def load_keras(path: Path):
    """A .keras model in Keras safe mode (no Lambda payload runs), uncompiled."""
    quiet_tensorflow()
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (OSError, ValueError) as e:
        raise UserError(f"{path} could not be loaded as a Keras model ({e}); retrain the bundle") from None


def save_keras(model, path: Path) -> None:
    """Save weights and architecture only: a clone without the optimizer state."""
    # from_config gives an uncompiled twin; clone_model would carry the compile state along
    export = model.__class__.from_config(model.get_config())
    export.set_weights(model.get_weights())
    export.save(path)
