"""Train the text-generation head inside an existing classifier bundle.

    python -m classifier train-generator --preset default --model saved_models/default

The generator uses the bundle's tokenizer (hash-checked), trains on the training split of
the bundle's own split (same seed and test size), and is saved as generator.keras (the NumPy
network, classifier.engine.generator, reads its weights from it), with its settings and
metrics under "generator" in config.json. Retraining it keeps the classifier's files.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from classifier.bundle import (
    EXPERT_FILES,
    GENERATOR_HISTORY,
    GENERATOR_KERAS,
    GENERATOR_NGRAM,
    load,
    update_bundle,
    update_meta,
)
from classifier.config import AGREEMENT_SAMPLES, GeneratorConfig
from classifier.engine.generator import SENTIMENTS, Net
from classifier.errors import UserError, slot
from classifier.io.files import file_sha256, refuse_existing, resolved
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import history_rows, quiet_tensorflow, save_keras, seeded
from classifier.models.ngram import KneserNeyTrigram
from classifier.textgen.data import review_split, split_texts, window_pairs
from classifier.textgen.evaluate import SKIP, heldout_perplexity, measure_agreement, resolve_data, word_logprobs

log = logging.getLogger(__name__)

LENGTH_STEP = 16  # batches are padded to a multiple of this: few distinct shapes, little padding


# -- data ----------------------------------------------------------------------
class ReviewBatches:
    """Whole-review batches of similar length (padded at the end, to a multiple of LENGTH_STEP).

    `dataset` declares the width unknown: Keras' PyDataset would guess the batch shape from its first
    batches, and a small run whose first two batches share one width then fails on the next."""

    def __init__(self, rows, batch_size: int, seed: int, shuffle: bool):
        import tensorflow as tf

        self.rows = rows
        self.rng = np.random.default_rng(seed)
        order = np.argsort([len(x) for x, _ in rows], kind="stable")
        self.batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if shuffle:
            self.rng.shuffle(self.batches)
        self.epochs = 0

        def epoch():
            if shuffle and self.epochs:  # a new order each epoch after the first
                self.rng.shuffle(self.batches)
            self.epochs += 1
            for i in range(len(self.batches)):
                yield self.batch(i)

        ids = tf.TensorSpec((None, None), tf.int32)
        self.dataset = tf.data.Dataset.from_generator(
            epoch, output_signature=(ids, ids, tf.TensorSpec((None, None), tf.float32)),
        ).apply(tf.data.experimental.assert_cardinality(len(self.batches)))

    def batch(self, i):
        idx = self.batches[i]
        width = -(-max(len(self.rows[j][0]) for j in idx) // LENGTH_STEP) * LENGTH_STEP
        x = np.zeros((len(idx), width), np.int32)
        y = np.zeros((len(idx), width), np.int32)
        w = np.zeros((len(idx), width), np.float32)
        for r, j in enumerate(idx):
            inp, tgt = self.rows[j]
            x[r, : len(inp)], y[r, : len(tgt)], w[r, : len(inp)] = inp, tgt, 1.0
        return x, y, w


# -- model ---------------------------------------------------------------------
def build_generator(cfg: GeneratorConfig, num_words: int):
    """Reference: Input(2) -> Embedding(V, 16) -> 5 x LSTM(64) -> Dense(V) -> ReLU -> Dense(V) logits.

    Whole-review models take any length and give logits at every step.
    """
    quiet_tensorflow()
    import keras
    from keras import layers

    if cfg.context:
        stack = [keras.Input(shape=(cfg.context,), dtype="int32", name="ids"),
                 layers.Embedding(num_words, cfg.embedding_dim, name="embedding")]
    else:
        # No mask: reviews are padded at the end and the LSTM reads left to right, so the outputs at
        # real words are the masked model's, and the padded targets weigh 0 in the loss; unmasked,
        # Keras runs its fused LSTM kernel, faster an epoch on CPU for the same losses.
        stack = [keras.Input(shape=(None,), dtype="int32", name="ids"),
                 layers.Embedding(num_words + 1 + len(SENTIMENTS), cfg.embedding_dim, name="embedding")]
    for i in range(cfg.lstm_layers):
        if cfg.dropout:
            stack.append(layers.Dropout(cfg.dropout, name=f"dropout{i}"))
        last = i == cfg.lstm_layers - 1
        stack.append(layers.LSTM(cfg.lstm_units, return_sequences=not (last and cfg.context), name=f"lstm{i}"))
    if cfg.dropout:
        stack.append(layers.Dropout(cfg.dropout, name="dropout_out"))
    if cfg.relu_dense:
        stack += [layers.Dense(num_words, name="dense_hidden"), layers.ReLU(name="relu")]
    if cfg.projection:  # low-rank output: a third fewer multiplies a word than LSTM(256) -> Dense(vocab)
        stack.append(layers.Dense(cfg.projection, name="projection"))
    stack.append(layers.Dense(num_words, name="logits"))
    return keras.Sequential(stack, name="generator")


def compile_generator(model, cfg: GeneratorConfig) -> None:
    import keras

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm),
        # XLA: faster a step for the window model on CPU, slower for the masked whole-review LSTM
        jit_compile=bool(cfg.context),
    )


def export_weights(model) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays Net runs on, and each dense layer's activation, read off the Keras layers."""
    from keras import layers

    arrays, acts, n_lstm = {}, [], 0
    for layer in model.layers:
        w = [np.asarray(v, np.float32) for v in layer.get_weights()]
        if isinstance(layer, layers.Embedding):
            arrays["embedding"] = w[0]
        elif isinstance(layer, layers.LSTM):
            arrays[f"lstm{n_lstm}_kernel"], arrays[f"lstm{n_lstm}_recurrent"], arrays[f"lstm{n_lstm}_bias"] = w
            n_lstm += 1
        elif isinstance(layer, layers.Dense):
            if layer.activation.__name__ not in ("linear", "relu"):
                raise ValueError(f"cannot export Dense activation {layer.activation.__name__}")
            arrays[f"dense{len(acts)}_kernel"], arrays[f"dense{len(acts)}_bias"] = w
            acts.append(layer.activation.__name__)
        elif isinstance(layer, layers.ReLU):
            acts[-1] = "relu"
        elif not isinstance(layer, layers.Dropout):
            raise ValueError(f"cannot export layer {layer.name} ({type(layer).__name__})")
    return arrays, acts


def net_spec(cfg: GeneratorConfig, num_words: int, acts: list[str], ngram_weight: float = 0.0) -> dict:
    return {"context": cfg.context, "num_words": num_words, "lstm_layers": cfg.lstm_layers,
            "sentiment_token": cfg.sentiment_token, "dense_activations": acts, "ngram_weight": ngram_weight}


def to_net(model, cfg: GeneratorConfig, num_words: int) -> Net:
    arrays, acts = export_weights(model)
    return Net(arrays, net_spec(cfg, num_words, acts))


def fit_ngram(cfg: GeneratorConfig, net: Net, tokenizer: Tokenizer, texts, labels=None):
    """A Kneser-Ney trigram of the generator's own training reviews, and the weight to mix it in with:
    of 0, 0.05, ..., 0.95, the one giving the lowest perplexity on its validation reviews."""
    if cfg.context:
        raise UserError("the n-gram mix is for whole-review generators (the default preset), not window models")
    num_words = tokenizer.config.num_words
    _, seqs, train_idx, val_idx = review_split(cfg, tokenizer.encode_many(texts), labels, num_words)
    lm = KneserNeyTrigram.fit([seqs[i] for i in train_idx], num_words)
    val = [seqs[i] for i in val_idx]
    if not any(len(s) > SKIP for s in val):
        log.warning("notice: no validation review has more than two words to weigh the n-gram by; "
                    "the generator is the LSTM alone")
        return None, 0.0
    p_net, p_ngram = np.exp(word_logprobs(net, val)), np.exp(lm.word_logprobs(val, skip=SKIP))
    weights = np.round(np.arange(0, 1, 0.05), 2)
    nll = [-np.mean(np.log((1 - a) * p_net + a * p_ngram)) for a in weights]
    return lm, float(weights[int(np.argmin(nll))])


def fit(cfg: GeneratorConfig, tokenizer: Tokenizer, texts, labels=None, verbose: int = 1):
    """Fit a Keras generator on `texts`; returns (model, history rows)."""
    # Keras turns XLA off under op determinism; the window model's XLA run repeats as it is
    with seeded(cfg.seed, deterministic=not cfg.context):
        return fit_seeded(cfg, tokenizer, texts, labels, verbose)


def fit_seeded(cfg: GeneratorConfig, tokenizer: Tokenizer, texts, labels, verbose: int):
    import keras

    num_words = tokenizer.config.num_words
    seqs = [s for s in tokenizer.encode_many(texts)]
    model = build_generator(cfg, num_words)
    compile_generator(model, cfg)
    callbacks = []
    if cfg.decay_after:
        rate, after = cfg.learning_rate, cfg.decay_after
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: rate * 0.5 ** max(0, epoch + 1 - after)))
    if cfg.patience and cfg.validation_split:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.patience, restore_best_weights=cfg.restore_best_weights))
    if cfg.context:
        x, y = window_pairs(seqs, cfg.context)
        history = model.fit(x, y, batch_size=cfg.batch_size, epochs=cfg.epochs, validation_split=cfg.validation_split,
                            callbacks=callbacks, verbose=verbose)
    else:
        rows, _, train_idx, val_idx = review_split(cfg, seqs, labels, num_words)
        train = ReviewBatches([rows[i] for i in train_idx], cfg.batch_size, cfg.seed, shuffle=True)
        val = None
        if len(val_idx):
            val = ReviewBatches([rows[i] for i in val_idx], cfg.batch_size, cfg.seed, shuffle=False)
        history = model.fit(train.dataset, validation_data=val and val.dataset, epochs=cfg.epochs,
                            shuffle=False, callbacks=callbacks, verbose=verbose)  # ReviewBatches orders them
    return model, history_rows(history)


# -- saving --------------------------------------------------------------------
def save_generator(path: Path, model, cfg: GeneratorConfig, tokenizer: Tokenizer, meta: dict,
                   history: list[dict], ngram=None, ngram_weight: float = 0.0) -> Net:
    """Write generator.keras and its history atomically and record them (and `meta`) in config.json."""
    import pandas as pd

    arrays, acts = export_weights(model)

    def write_files(folder: Path) -> list[str]:
        save_keras(model, folder / GENERATOR_KERAS)
        pd.DataFrame(history).to_csv(folder / GENERATOR_HISTORY, index_label="epoch")
        if ngram is None:
            return [GENERATOR_KERAS, GENERATOR_HISTORY]
        ngram.save(folder / GENERATOR_NGRAM)
        return [GENERATOR_KERAS, GENERATOR_HISTORY, GENERATOR_NGRAM]

    spec = net_spec(cfg, tokenizer.config.num_words, acts, ngram_weight if ngram is not None else 0.0)
    # a new base generator drops the old one's steering experts (their strength was chosen for it)
    stale = (*(() if ngram is not None else (GENERATOR_NGRAM,)), *EXPERT_FILES.values())
    update_bundle(path, write_files, drop=stale, generator={
        "config": cfg.to_dict(), "tokenizer_sha256": tokenizer.sha256, "spec": spec, **meta})
    return Net(arrays, spec, ngram)


def train_generator(cfg: GeneratorConfig, model_dir, data=None, verbose: int = 1, agreement: bool = False,
                    evaluate: bool = True, out=None, agreement_samples: int = AGREEMENT_SAMPLES,
                    overwrite: bool = False) -> dict:
    """Train the generator of the bundle at `model_dir`, evaluate it and record it, in a copy of the
    bundle at `out` or, without `out`, in that bundle itself; an existing bundle (that one included)
    is written only with `overwrite`. Returns its metrics."""
    bundle = load(model_dir)  # refuses a tokenizer.json that is not the bundle's
    if bundle.config.model == "tfidf":
        raise UserError(f"{model_dir} is a tfidf bundle; the generator needs a word-tokenizer bundle "
                        f"(train one with {slot('preset')} reference or tuned)")
    if bundle.multiclass and cfg.sentiment_token:
        raise UserError(f"{model_dir} is a multi-class bundle ({bundle.config.label_column!r}): the {cfg.preset} "
                        f"generator's sentiment token needs a 0/1 bundle; use {slot('preset')} reference")
    refuse_existing(Path(model_dir if out is None else out), overwrite)  # before minutes of training
    model_dir = bundle.path
    data = resolve_data(bundle, data)
    train_texts, labels, test_texts = split_texts(data, bundle.config, cfg.text_column, cfg.max_texts)
    if cfg.sentiment_token and labels is None:
        raise UserError(f"{data} has no label column {bundle.config.label_column!r}: the sentiment token needs it; "
                        f"use {slot('preset')} reference or a labelled file")
    if out is not None and resolved(out) != resolved(model_dir):  # copied once every check has passed
        bundle = load(bundle.save(out))
        model_dir = bundle.path
    start = time.perf_counter()
    model, history = fit(cfg, bundle.tokenizer, train_texts, labels, verbose)
    ngram, weight = None, 0.0
    if cfg.ngram:
        ngram, weight = fit_ngram(cfg, to_net(model, cfg, bundle.tokenizer.config.num_words), bundle.tokenizer,
                                  train_texts, labels)
    metrics = {"train_seconds": round(time.perf_counter() - start, 1), "epochs_run": len(history),
               "n_train": len(train_texts), "n_test": len(test_texts),
               "parameters": int(model.count_params())}
    net = save_generator(model_dir, model, cfg, bundle.tokenizer,
                         {"data": {"path": str(data), "sha256": file_sha256(data)}, "metrics": metrics}, history,
                         ngram, weight)
    if evaluate:
        metrics.update(heldout_perplexity(net, bundle.tokenizer, test_texts))
        if ngram is not None:  # what the mix adds, on record
            alone = heldout_perplexity(to_net(model, cfg, bundle.tokenizer.config.num_words), bundle.tokenizer,
                                       test_texts)
            metrics["perplexity_lstm_alone"] = alone["perplexity"]
    record = {"metrics": metrics}
    if agreement and cfg.sentiment_token:
        record["agreement"] = measure_agreement(load(model_dir), agreement_samples)
    update_meta(model_dir, "generator", **record)
    return {**metrics, **({"agreement": record["agreement"]} if "agreement" in record else {})}


