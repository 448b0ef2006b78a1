"""Train a classifier bundle with a preset.

    python -m classifier train --preset seed --out saved_models/default
    python -m classifier train --preset tuned --data data/womens_clothing_ecommerce_reviews.csv --out saved_models/tuned
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from classifier.artifacts import check_bundle_destination, save_bundle
from classifier.config import TrainConfig
from classifier.data import file_sha256, load_labelled, make_split
from classifier.errors import UserError
from classifier.tokenizer import Tokenizer

FIT_ENGINES = ("padskip", "keras")  # padskip: classifier/fastfit.py; keras: model.fit


def seed_everything(cfg: TrainConfig) -> None:
    """Seed Python, NumPy and TensorFlow; with `deterministic`, pin TF's op choice too."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed if cfg.init_seed is None else cfg.init_seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()


def history_rows(history) -> list[dict]:
    keys = list(history.history)
    return [{k: float(history.history[k][i]) for k in keys} for i in range(len(history.epoch))]


def train(cfg: TrainConfig, data: str | os.PathLike, out: str | os.PathLike, verbose: int = 1) -> dict:
    """Fit the classifier on the training split, evaluate on the test split, save the bundle."""
    if cfg.fit_engine not in FIT_ENGINES:
        raise UserError(f"unknown fit engine {cfg.fit_engine!r}; choose one of: {', '.join(FIT_ENGINES)}")
    check_bundle_destination(Path(out))  # before minutes of training, not after
    aux = cfg.aux_column if cfg.blend_tfidf and cfg.model == "lstm" else None
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows, optional_columns=(aux,) if aux else ())
    if aux and aux not in df.columns:
        print(f"note: {data} has no {aux!r} column; stacking the LSTM and TF-IDF without the {aux} regression",
              file=sys.stderr)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed, aux)
    tokenizer = Tokenizer.fit(split.x_train, cfg.tokenizer)
    if cfg.model == "tfidf":
        from classifier.baseline import train_tfidf

        return train_tfidf(cfg, df, split, tokenizer, data, out)
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
    fit_kwargs = dict(
        batch_size=cfg.batch_size, epochs=cfg.epochs, validation_split=cfg.validation_split,
        callbacks=[stop], verbose=verbose,
    )
    if cfg.fit_engine == "padskip":
        from classifier.fastfit import fit

        shuffle_seed = cfg.seed if cfg.init_seed is None else cfg.init_seed
        history = fit(model, x_train, split.y_train, bucketing=cfg.bucketing, seed=shuffle_seed, **fit_kwargs)
    else:
        history = model.fit(x_train, split.y_train, **fit_kwargs)
    from classifier.baseline import fit_head

    head = fit_head(cfg, model, tokenizer, split, x_train)  # threshold; tuned: the stacked TF-IDF model
    train_seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, split.y_test, verbose=0)
    lstm_alone = {}
    if head.predict_test is not None:
        from classifier.report import log_loss

        lstm_alone = {"lstm_test_loss": float(loss), "lstm_test_accuracy": float(acc)}
        p = head.predict_test(x_test, split.x_test)
        loss, acc = log_loss(split.y_test, p), float(np.mean((p > 0.5) == (split.y_test == 1)))
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
        **head.meta,
        **lstm_alone,
    }
    data = Path(data)
    save_bundle(
        out, model=model, tokenizer=tokenizer, config=cfg, history=rows, metrics=metrics,
        extra={"data": {"path": str(data), "sha256": file_sha256(data), "rows_used": len(df)}, **head.meta},
        write_files=head.write_files,
    )
    return metrics
