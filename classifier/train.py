"""Train a classifier bundle with a preset.

    python -m classifier train --preset seed --data data/womens_clothing_ecommerce_reviews.csv --out saved_models/default
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from classifier.artifacts import save_bundle
from classifier.config import TrainConfig
from classifier.data import file_sha256, load_labelled, make_split
from classifier.tokenizer import Tokenizer


def seed_everything(cfg: TrainConfig) -> None:
    """Seed Python, NumPy and TensorFlow; with `deterministic`, pin TF's op choice too."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()


def history_rows(history) -> list[dict]:
    keys = list(history.history)
    return [{k: float(history.history[k][i]) for k in keys} for i in range(len(history.epoch))]


def train(cfg: TrainConfig, data: str | os.PathLike, out: str | os.PathLike, verbose: int = 1) -> dict:
    """Fit the classifier on the training split, evaluate on the test split, save the bundle."""
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    tokenizer = Tokenizer.fit(split.x_train, cfg.tokenizer)
    x_train = tokenizer.texts_to_padded(split.x_train)
    x_test = tokenizer.texts_to_padded(split.x_test)

    import keras

    from classifier.model import build_classifier, compile_classifier

    seed_everything(cfg)
    model = build_classifier(cfg)
    compile_classifier(model)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", min_delta=cfg.min_delta, patience=cfg.patience,
        restore_best_weights=cfg.restore_best_weights,
    )
    start = time.perf_counter()
    history = model.fit(
        x_train, split.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
        validation_split=cfg.validation_split, callbacks=[stop], verbose=verbose,
    )
    train_seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, split.y_test, verbose=0)
    rows = history_rows(history)
    metrics = {
        "test_loss": float(loss),
        "test_accuracy": float(acc),
        "epochs_run": len(rows),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds / max(len(rows), 1), 1),
        "n_train": len(split.x_train),
        "n_test": len(split.x_test),
        "test_positive_share": float(np.mean(split.y_test)),
    }
    data = Path(data)
    save_bundle(
        out, model=model, tokenizer=tokenizer, config=cfg, history=rows, metrics=metrics,
        extra={"data": {"path": str(data), "sha256": file_sha256(data), "rows_used": len(df)}},
    )
    return metrics
