"""Training seconds per epoch: plain Keras fit on 400-padded ids vs the pad-skipping fit.

    python benchmarks/bench.py       # (a) of `make bench` calls bench_training()
"""

from __future__ import annotations

import math
import time

import numpy as np

from classifier.classify.padskip import bucketed_batches, prepare, real_lengths, run_epoch
from classifier.config import preset
from classifier.io.dataset import load_labelled, make_split
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import build_classifier, compile_classifier, quiet_tensorflow


def bench_training(data_path, n_batches: int = 200, batch_size: int = 128) -> dict:
    """Seconds per epoch: plain Keras fit on 400-padded ids vs pad-skipping fit, same rows and init.

    Both run `n_batches` training steps (rows reused in order if the split is shorter) after a
    warm-up step that traces them; an epoch-equivalent is the reference recipe's batches per epoch.
    """
    quiet_tensorflow()
    import keras

    cfg = preset("reference", batch_size=batch_size)
    df = load_labelled(data_path, cfg.text_column, cfg.label_column)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    x_all = Tokenizer.fit(split.x_train, cfg.tokenizer).texts_to_padded(split.x_train).astype(np.int32)
    rows = np.arange(n_batches * batch_size) % len(x_all)
    x, y = x_all[rows], split.y_train[rows]
    per_epoch = math.ceil(math.floor(len(x_all) * (1 - cfg.validation_split)) / batch_size)

    keras.utils.set_random_seed(cfg.seed)
    init = build_classifier(cfg).get_weights()

    def fresh_model():
        model = build_classifier(cfg)
        model.set_weights(init)
        compile_classifier(model)
        return model

    model = fresh_model()
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)  # trace
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
    keras_seconds = time.perf_counter() - start

    model = fresh_model()
    steps = prepare(model)
    lengths = real_lengths(x)
    steps.train_step(steps.window(x, lengths, np.arange(batch_size)), y[:batch_size])  # trace
    batches = bucketed_batches(lengths, batch_size, np.random.default_rng(cfg.seed))
    start = time.perf_counter()
    run_epoch(steps, steps.train_step, x, y, lengths, batches)
    padskip_seconds = time.perf_counter() - start

    windows = [max(int(lengths[b].max()), 1) for b in batches]
    return {
        "rows": len(x),
        "batches": n_batches,
        "batch_size": batch_size,
        "batches_per_epoch": per_epoch,
        "mean_window_steps": round(float(np.mean(windows)), 1),
        "maxlen": int(x.shape[1]),
        "keras_seconds_per_epoch": round(keras_seconds / n_batches * per_epoch, 2),
        "padskip_seconds_per_epoch": round(padskip_seconds / n_batches * per_epoch, 2),
        "ratio": round(keras_seconds / padskip_seconds, 2),
    }
