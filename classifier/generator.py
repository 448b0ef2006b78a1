"""Train and evaluate the text-generation head inside an existing classifier bundle.

    python -m classifier train-generator --preset default --model saved_models/default
    python -m classifier evaluate-generator --model saved_models/default

The generator uses the bundle's tokenizer (hash-checked), trains on the
training split of the bundle's own split (same seed and test size), and is
saved as generator.keras (the NumPy generator reads its weights from it), with
its settings and metrics under "generator" in config.json.

Perplexity is exp of the mean negative log-probability of the test split's
words from the third word of each review on: the seed model needs two words of
context, so every model predicts exactly those words. Probabilities are over
the vocabulary's words (a whole-review model's "end of review" is left out and
the rest renormalised), and unknown words are dropped as the tokenizer does.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from classifier.artifacts import load, update_bundle, write_json
from classifier.config import GeneratorConfig
from classifier.data import file_sha256, read_csv
from classifier.errors import UserError
from classifier.generate import (
    END,
    GENERATOR_KERAS,
    GENERATOR_NGRAM,
    GENERATOR_WEIGHTS,
    SENTIMENTS,
    Net,
    generate,
    log_softmax,
    start_id,
)
from classifier.tokenizer import Tokenizer

GENERATOR_HISTORY = "generator_history.csv"
SKIP = 2  # words at the start of each review that no model is scored on (the seed model's context)
LENGTH_STEP = 16  # batches are padded to a multiple of this: few distinct shapes, little padding
AGREEMENT_PROMPTS = ("this dress", "the fabric", "i ordered this", "the fit", "this top")


# -- data ----------------------------------------------------------------------
def split_texts(data, bundle_cfg, text_column: str, max_rows: int | None = None):
    """(train texts, train labels, test texts) of `text_column` on the classifier's split of `data`.

    Rows are cleaned and split exactly as the classifier's (rows missing its text or
    label dropped, its max_rows, `train_test_split(test_size, random_state=seed)`), so no
    classifier test row is trained on; then the generator's column is taken from those
    rows, its own missing values dropped, and the first `max_rows` training texts kept.
    A file without the classifier's columns is split over the rows that have `text_column`;
    labels are then None.
    """
    from sklearn.model_selection import train_test_split

    from classifier.data import missing_column_error

    label = bundle_cfg.label_column
    df = read_csv(data, dtype={text_column: str, bundle_cfg.text_column: str})
    if text_column not in df.columns:
        raise missing_column_error(data, text_column, "text", df.columns, "--text-column")
    split_on = [c for c in (bundle_cfg.text_column, label) if c in df.columns]
    if len(split_on) < 2:
        split_on = [text_column]
    df = df.dropna(subset=split_on)
    if bundle_cfg.max_rows is not None:
        df = df.head(bundle_cfg.max_rows)
    if len(df) < 10:
        raise UserError(f"{data}: only {len(df)} usable rows; need at least 10 to split into train and test")
    train_idx, test_idx = train_test_split(df.index, test_size=bundle_cfg.test_size, random_state=bundle_cfg.seed)
    train = df.loc[train_idx].dropna(subset=[text_column])
    if max_rows is not None:
        train = train.head(max_rows)
    labels = None
    if label in df.columns:
        labels = (pd_numeric(train[label]) > 0.5).astype(int).tolist()
    return train[text_column].tolist(), labels, df.loc[test_idx, text_column].dropna().tolist()


def pd_numeric(col):
    import pandas as pd

    return pd.to_numeric(col, errors="coerce").fillna(0)


def window_pairs(seqs, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of `context` words and the word after it."""
    xs, ys = [], []
    for s in seqs:
        s = np.asarray(s, np.int32)
        if len(s) > context:
            xs.append(np.lib.stride_tricks.sliding_window_view(s[:-1], context))
            ys.append(s[context:])
    if not xs:
        raise UserError(f"no text has more than {context} known words; give more or longer texts")
    return np.concatenate(xs), np.concatenate(ys)


def review_rows(seq, start: int, maxlen: int) -> tuple[list[int], list[int]]:
    """Teacher forcing: input is the start token and the words, target the words and the end."""
    return ([start, *seq])[:maxlen], ([*seq, END])[:maxlen]


class ReviewBatches:
    """Whole-review batches of similar length (padded at the end, to a multiple of LENGTH_STEP)."""

    def __init__(self, rows, batch_size: int, seed: int, shuffle: bool):
        import keras

        class _Data(keras.utils.PyDataset):
            def __len__(inner):
                return len(self.batches)

            def __getitem__(inner, i):
                return self.batch(i)

            def on_epoch_end(inner):
                if shuffle:
                    self.rng.shuffle(self.batches)

        self.rows = rows
        self.rng = np.random.default_rng(seed)
        order = np.argsort([len(x) for x, _ in rows], kind="stable")
        self.batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if shuffle:
            self.rng.shuffle(self.batches)
        self.dataset = _Data()

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
    """Seed: Input(2) -> Embedding(V, 16) -> 5 x LSTM(64) -> Dense(V) -> ReLU -> Dense(V) logits.

    Whole-review models take any length, mask the padding and give logits at every step.
    """
    import keras
    from keras import layers

    if cfg.context:
        stack = [keras.Input(shape=(cfg.context,), dtype="int32", name="ids"),
                 layers.Embedding(num_words, cfg.embedding_dim, name="embedding")]
    else:
        stack = [keras.Input(shape=(None,), dtype="int32", name="ids"),
                 layers.Embedding(num_words + 1 + len(SENTIMENTS), cfg.embedding_dim, mask_zero=True, name="embedding")]
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
        # XLA: ~3.6x faster a step for the window model on CPU, ~2x slower for the masked whole-review LSTM
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


def review_split(cfg: GeneratorConfig, seqs, labels, num_words: int):
    """Whole-review models: (teacher-forcing rows, their id lists, training indices, validation indices).

    Empty reviews are left out; each row starts with its label's token, or the neutral one for a
    `label_dropout` share of them; the validation rows are a seeded `validation_split` share."""
    rng = np.random.default_rng(cfg.seed)
    rows, kept = [], []
    for i, s in enumerate(seqs):
        if not s:
            continue
        sentiment = None
        if cfg.sentiment_token and labels is not None and rng.random() >= cfg.label_dropout:
            sentiment = SENTIMENTS[labels[i]]
        rows.append(review_rows(s, start_id(num_words, sentiment), cfg.maxlen))
        kept.append(s)
    if not rows:
        raise UserError("no text has a word of the vocabulary; give more or longer texts")
    order = rng.permutation(len(rows))
    n_val = int(len(rows) * cfg.validation_split)
    return rows, kept, order[n_val:], order[:n_val]


def fit_ngram(cfg: GeneratorConfig, net: Net, tokenizer: Tokenizer, texts, labels=None):
    """A Kneser-Ney trigram of the generator's own training reviews, and the weight to mix it in with:
    of 0, 0.05, ..., 0.95, the one giving the lowest perplexity on its validation reviews."""
    from classifier.ngram import KneserNeyTrigram

    if cfg.context:
        raise UserError("the n-gram mix is for whole-review generators (the default preset), not window models")
    num_words = tokenizer.config.num_words
    _, seqs, train_idx, val_idx = review_split(cfg, tokenizer.encode_many(texts), labels, num_words)
    lm = KneserNeyTrigram.fit([seqs[i] for i in train_idx], num_words)
    val = [seqs[i] for i in val_idx]
    if not any(len(s) > SKIP for s in val):
        print("notice: no validation review has more than two words to weigh the n-gram by; "
              "the generator is the LSTM alone", file=sys.stderr)
        return None, 0.0
    p_net, p_ngram = np.exp(word_logprobs(net, val)), np.exp(lm.word_logprobs(val, skip=SKIP))
    weights = np.round(np.arange(0, 1, 0.05), 2)
    nll = [-np.mean(np.log((1 - a) * p_net + a * p_ngram)) for a in weights]
    return lm, float(weights[int(np.argmin(nll))])


def fit(cfg: GeneratorConfig, tokenizer: Tokenizer, texts, labels=None, verbose: int = 1):
    """Fit a Keras generator on `texts`; returns (model, history rows)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    if not cfg.context:  # Keras turns XLA off under op determinism; the window model's XLA run repeats as it is
        tf.config.experimental.enable_op_determinism()
    num_words = tokenizer.config.num_words
    seqs = [s for s in tokenizer.encode_many(texts)]
    model = build_generator(cfg, num_words)
    compile_generator(model, cfg)
    callbacks = []
    if cfg.reduce_lr and cfg.validation_split:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg.reduce_lr, patience=0,
                                                           min_delta=cfg.reduce_lr_min_delta))
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
                            callbacks=callbacks, verbose=verbose)
    keys = list(history.history)
    rows = [{k: float(history.history[k][i]) for k in keys} for i in range(len(history.epoch))]
    return model, rows


# -- evaluation ----------------------------------------------------------------
def perplexity(logprobs: np.ndarray) -> float:
    """exp of the mean negative log-probability (natural log) of the predicted words."""
    return float(math.exp(-float(np.mean(logprobs))))


def word_logprobs(net: Net, seqs, batch_size: int = 256) -> np.ndarray:
    """Log-probability of every word from position SKIP of each sequence, in order, as `net` predicts it."""
    seqs = [np.asarray(s, np.int64) for s in seqs if len(s) > SKIP]
    if not seqs:
        raise UserError(f"no test text has more than {SKIP} known words; perplexity needs longer texts")
    out = []
    if net.context:
        x, y = window_pairs(seqs, net.context)
        keep = np.concatenate([np.arange(net.context, len(s)) >= SKIP for s in seqs])
        x, y = x[keep], y[keep]
        for i in range(0, len(x), 8 * batch_size):
            lp = log_softmax(net.window_logits(x[i : i + 8 * batch_size])[:, 1:])  # words only
            out.append(np.take_along_axis(lp, y[i : i + 8 * batch_size, None] - 1, axis=1)[:, 0])
        return np.concatenate(out)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    found = [None] * len(seqs)
    start = start_id(net.num_words)
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        width = len(seqs[idx[-1]])
        x = np.zeros((len(idx), width), np.int64)
        for r, j in enumerate(idx):
            x[r, : len(seqs[j])] = np.r_[start, seqs[j][:-1]]
        top, _ = net.run(x)
        for r, j in enumerate(idx):
            lp = log_softmax(net.head(top[r, SKIP : len(seqs[j])])[:, 1:])
            found[j] = lp[np.arange(len(lp)), seqs[j][SKIP:] - 1]
    lp = np.concatenate(found)
    if net.ngram is not None:  # the mixture renormalised over the words, as the LSTM's own figure is
        a = net.ngram_weight
        lp = np.log((1 - a) * np.exp(lp) + a * np.exp(net.ngram.word_logprobs(seqs, skip=SKIP)))
    return lp


def heldout_split(bundle, data=None):
    """The bundle's test-split texts of the generator's column, and the train texts/labels."""
    gcfg = GeneratorConfig.from_dict(bundle.meta["generator"]["config"]) if "generator" in bundle.meta else None
    column = gcfg.text_column if gcfg else bundle.config.text_column
    return split_texts(resolve_data(bundle, data), bundle.config, column, gcfg and gcfg.max_rows)


def resolve_data(bundle, data=None) -> Path:
    data = bundle.data_path(data)
    if not data.is_file():
        raise UserError(f"{data}: file not found; pass --data CSV (the file the bundle was trained on)")
    return data


def heldout_perplexity(net: Net, tokenizer: Tokenizer, test_texts) -> dict:
    lp = word_logprobs(net, tokenizer.encode_many(test_texts))
    return {"perplexity": round(perplexity(lp), 3), "words_scored": int(len(lp))}


def measure_agreement(bundle, samples: int = 200, words: int = 40, temperature: float = 1.0,
                      top_p: float | None = 0.9, seed: int = 42, best_of: int = 1) -> dict:
    """Share of sentiment-conditioned samples the bundle's classifier puts on the requested side
    (with `best_of` > 1, of the samples `generate` keeps after ranking that many candidates each)."""
    result = {"samples_per_side": samples, "words": words, "temperature": temperature, "top_p": top_p,
              "best_of": best_of, "prompts": list(AGREEMENT_PROMPTS), "threshold": bundle.threshold}
    per_prompt = -(-samples // len(AGREEMENT_PROMPTS))
    for k, sentiment in enumerate(SENTIMENTS):
        texts = []
        for j, prompt in enumerate(AGREEMENT_PROMPTS):
            got = generate(bundle, prompt, words, per_prompt, temperature, None, top_p,
                           seed + 100 * k + j, sentiment, best_of=best_of)
            texts += [s.text for s in got]
        p = bundle.predict_proba(texts[:samples])
        on_side = p >= bundle.threshold if sentiment == "positive" else p < bundle.threshold
        result[sentiment] = round(float(np.mean(on_side)), 4)
    result["overall"] = round((result["positive"] + result["negative"]) / 2, 4)
    return result


# -- saving --------------------------------------------------------------------
def save_generator(path: Path, model, cfg: GeneratorConfig, tokenizer: Tokenizer, meta: dict,
                   history: list[dict], ngram=None, ngram_weight: float = 0.0) -> Net:
    """Write generator.keras and its history atomically and record them (and `meta`) in config.json."""
    import pandas as pd

    from classifier.artifacts import save_keras

    arrays, acts = export_weights(model)

    def write_files(folder: Path) -> list[str]:
        save_keras(model, folder / GENERATOR_KERAS)
        pd.DataFrame(history).to_csv(folder / GENERATOR_HISTORY, index_label="epoch")
        if ngram is None:
            return [GENERATOR_KERAS, GENERATOR_HISTORY]
        ngram.save(folder / GENERATOR_NGRAM)
        return [GENERATOR_KERAS, GENERATOR_HISTORY, GENERATOR_NGRAM]

    spec = net_spec(cfg, tokenizer.config.num_words, acts, ngram_weight if ngram is not None else 0.0)
    stale = (GENERATOR_WEIGHTS,) if ngram is not None else (GENERATOR_WEIGHTS, GENERATOR_NGRAM)
    update_bundle(path, write_files, drop=stale, generator={
        "config": cfg.to_dict(), "tokenizer_sha256": tokenizer.sha256, "spec": spec, **meta})
    return Net(arrays, spec, ngram)


def train_generator(cfg: GeneratorConfig, model_dir, data=None, verbose: int = 1, agreement: bool = True,
                    evaluate: bool = True) -> dict:
    """Train the generator into the bundle at `model_dir`, evaluate it, record it; returns its metrics."""
    model_dir = Path(model_dir)
    bundle = load(model_dir)  # refuses a tokenizer.json that is not the bundle's
    if bundle.config.model == "tfidf":
        raise UserError(f"{model_dir} is a tfidf bundle; the generator needs a word-tokenizer bundle "
                        f"(train one with --preset seed or tuned)")
    data = resolve_data(bundle, data)
    train_texts, labels, test_texts = split_texts(data, bundle.config, cfg.text_column, cfg.max_rows)
    if cfg.sentiment_token and labels is None:
        raise UserError(f"{data} has no label column {bundle.config.label_column!r}: the sentiment token needs it; "
                        f"use --preset seed or a labelled file")
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
        record["agreement"] = measure_agreement(load(model_dir))
    update_generator_meta(model_dir, **record)
    return {**metrics, **({"agreement": record["agreement"]} if "agreement" in record else {})}


def update_generator_meta(model_dir: Path, **updates) -> None:
    from classifier.artifacts import CONFIG_FILE, read_json

    meta = read_json(Path(model_dir) / CONFIG_FILE)
    meta.setdefault("generator", {}).update(updates)
    write_json(Path(model_dir) / CONFIG_FILE, meta)


def evaluate_generator(model_dir, data=None, agreement: bool = False, record: bool = True, best_of: int = 1) -> dict:
    """Test-split perplexity (and, asked for, sentiment agreement) of a bundle's generator, recorded in it."""
    from classifier.generate import load_generator

    bundle = load(model_dir)
    net = load_generator(bundle)
    _, _, test_texts = heldout_split(bundle, data)
    gen = bundle.meta["generator"]
    metrics = {**gen.get("metrics", {}), **heldout_perplexity(net, bundle.tokenizer, test_texts)}
    record_ = {"metrics": metrics}
    if agreement:
        if not net.sentiment_token:
            raise UserError(f"the generator in {model_dir} has no sentiment token; agreement needs the default preset")
        key = "agreement" if best_of == 1 else "agreement_best_of"  # the model's own figure stays on record
        record_[key] = measure_agreement(bundle, best_of=best_of)
    if record:
        update_generator_meta(Path(model_dir), **record_)
    key = "agreement" if best_of == 1 else "agreement_best_of"
    measured = record_.get(key, gen.get(key) if best_of == 1 else None)  # this run's, else the one on record
    return {**metrics, **({"agreement": measured} if measured else {})}


def compare(model_dirs, data=None, ngram: bool = True) -> list[dict]:
    """Perplexity of each bundle's generator and of a Kneser-Ney trigram on the same split and vocabulary."""
    from classifier.generate import load_generator
    from classifier.ngram import KneserNeyTrigram

    bundles = [load(d) for d in model_dirs]
    first = bundles[0]
    for b in bundles[1:]:
        if b.tokenizer.sha256 != first.tokenizer.sha256 or b.config.seed != first.config.seed:
            raise UserError(f"{b.path} and {first.path} have different tokenizers or splits; compare bundles "
                            f"copied from one classifier bundle")
    rows = []
    train_texts, _, test_texts = heldout_split(first, data)
    test_seqs = first.tokenizer.encode_many(test_texts)
    for b in bundles:
        net = load_generator(b)
        lp = word_logprobs(net, test_seqs)
        gcfg = b.meta["generator"]["config"]
        rows.append({"model": f"{gcfg['preset']} preset ({b.path})", "perplexity": perplexity(lp),
                     "words_scored": len(lp), "parameters": b.meta["generator"].get("metrics", {}).get("parameters")})
    if ngram:
        start = time.perf_counter()
        lm = KneserNeyTrigram.fit(first.tokenizer.encode_many(train_texts), first.tokenizer.config.num_words)
        lp = lm.word_logprobs(test_seqs, skip=SKIP)
        rows.append({"model": f"Kneser-Ney trigram (fit in {time.perf_counter() - start:.1f} s)",
                     "perplexity": perplexity(lp), "words_scored": len(lp), "parameters": None})
    return rows


def format_table(rows: list[dict]) -> str:
    width = max(len(r["model"]) for r in rows)
    lines = [f"{'model':<{width}}  {'perplexity':>10}  {'words':>8}  {'weights':>10}"]
    for r in rows:
        weights = f"{r['parameters']:,}" if r.get("parameters") else "-"
        lines.append(f"{r['model']:<{width}}  {r['perplexity']:>10.2f}  {r['words_scored']:>8,}  {weights:>10}")
    if len(rows) > 1:
        best = min(rows, key=lambda r: r["perplexity"])
        lower = [f"{1 - best['perplexity'] / r['perplexity']:.1%} lower than {r['model']}"
                 for r in rows if r is not best]
        lines.append(f"{best['model']}: {', '.join(lower)}")
    return "\n".join(lines)
