"""Train a classifier bundle with a preset, from a CSV file or from texts in memory.

    python -m classifier train --preset reference --out saved_models/default
    metrics = train(preset("tuned"), "data/womens_clothing_ecommerce_reviews.csv", "saved_models/tuned")
    bundle = fit(texts, labels, epochs=1)            # in memory until bundle.save(path)
    train(preset("tfidf"), ["clothing.csv", "domains.csv:text:rating"], out, labels=LabelMap.parse("4,5", "1,2"))

Every preset runs the same stages: clean rows, the reference split, a tokenizer fitted on the
training texts, the model (Keras LSTM or TF-IDF), the head (threshold; tuned: the stack), the
test-split figures, and the bundle written whole. Labels that are all 0/1 train the binary
(sigmoid) model; any others a softmax over their classes (classifier.io.labels), whose order is
saved in config.json as `classes`. Several sources (classifier.io.sources) are each split on
their own and joined; metrics.json then has each source's test figures (`per_source`).
`init_from` fine-tunes a tfidf bundle (the general one) on the new rows instead of starting afresh.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from classifier.bundle import (
    CLASSIFIER_FILE,
    GENERATOR_KERAS,
    Bundle,
    check_bundle_destination,
    is_bundle,
    load,
    read_json,
    save_bundle,
)
from classifier.classify.metrics import (
    categorical_accuracy,
    categorical_log_loss,
    choose_threshold,
    keras_accuracy,
    log_loss,
    majority_class,
    majority_share,
    per_source,
)
from classifier.config import TrainConfig, preset
from classifier.errors import UserError, slot
from classifier.io.dataset import Split, clean_labelled, load_labelled, make_split, texts_and_labels
from classifier.io.files import file_sha256, refuse_existing
from classifier.io.labels import check_min_count, classes_of
from classifier.io.morphemes import ANALYZERS, cached
from classifier.io.sources import (
    SOURCE_COLUMN,
    LabelMap,
    Source,
    load_sources,
    load_texts,
    source_split,
    source_weights,
)
from classifier.io.tokenizer import Tokenizer
from classifier.limits import check
from classifier.models.adapt import self_train
from classifier.models.tfidf import fit_from, fit_tfidf
from classifier.models.vectors import TfidfWithVectors, fit_with_vectors

log = logging.getLogger(__name__)

FIT_ENGINES = ("padskip", "keras")  # padskip: classifier/classify/padskip.py; keras: model.fit


def train(cfg: TrainConfig, data, out: str | os.PathLike, verbose: int = 1, labels: LabelMap | None = None,
          group_column: str | None = None, init_from: str | os.PathLike | None = None, sep: str | None = None,
          overwrite: bool = False, adapt_to: str | None = None) -> dict:
    """Fit on the training split of the CSV `data`, evaluate on its test split, save the bundle at
    `out` (an existing bundle there is replaced only with `overwrite`); returns the test metrics.
    `data` may be several sources (a list of `FILE[:TEXT[:LABEL]]`, or one file whose `group_column`
    names each row's source), labels mapped to 0/1 by `labels`.
    `sep`: the field separator (default: as `score` decides it). `adapt_to` (`FILE[:TEXT_COLUMN]`,
    unlabelled texts of the domain the bundle will score) self-trains a tfidf preset on them
    (classifier.models.adapt)."""
    out = Path(out)
    check_config(cfg)
    if not cfg.test_size:
        raise UserError("test_size must be above 0 when training from a file: its test split gives the bundle's "
                        "figures (train on every row in memory with classifier.fit)")
    check_bundle_destination(out)  # before minutes of training, not after
    refuse_existing(out, overwrite)
    init = init_bundle(init_from)
    adapt = None if adapt_to is None else load_texts(adapt_to, cfg.text_column, cfg.title_column, sep)
    specs = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if len(specs) > 1 or group_column or labels or cfg.title_column or isinstance(data, list):
        sources = [Source.parse(s, cfg.text_column, cfg.label_column) for s in specs]
        df = load_sources(sources, cfg.text_column, cfg.label_column, labels, group_column, cfg.title_column,
                          cfg.max_rows, sep=sep)
        source = {"sources": [{"path": str(s.path), "text_column": s.text_column, "label_column": s.label_column,
                               "sha256": file_sha256(s.path)} for s in sources],
                  "group_column": group_column, "rows_used": len(df), **adapted(adapt_to, adapt)}
        return fit_rows(cfg, df, out, source, verbose, init, adapt)
    data = specs[0]
    aux = aux_column(cfg)
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows, optional_columns=(aux,) if aux else (),
                       sep=sep)
    if aux and aux not in df.columns:
        log.warning(f"note: {data} has no {aux!r} column; stacking the LSTM and TF-IDF without the {aux} regression")
    data = Path(data)
    source = {"path": str(data), "sha256": file_sha256(data), "rows_used": len(df), **({"sep": sep} if sep else {}),
              **adapted(adapt_to, adapt)}
    return fit_rows(cfg, df, out, source, verbose, init, adapt)


def adapted(adapt_to, texts) -> dict:
    """What the bundle's data record says of the unlabelled texts it was self-trained on."""
    if adapt_to is None:
        return {}
    return {"adapt_to": {"spec": str(adapt_to), "sha256": file_sha256(Source.parse(adapt_to, "", "").path),
                         "texts": len(texts)}}


def init_bundle(init_from):
    """The tfidf bundle `--init-from` names, loaded, or None."""
    if init_from is None:
        return None
    bundle = load(init_from)
    if bundle.kind != "tfidf" or bundle.multiclass:
        raise UserError(f"{{field}} {init_from}: fine-tuning starts from a binary tfidf bundle (such as "
                        f"saved_models/general); this one is a {bundle.kind} bundle", field="init_from",
                        value=str(init_from))
    return bundle


def fit(texts, labels, preset_name: str = "reference", verbose: int = 0, groups=None, init_from=None,
        **overrides) -> Bundle:
    """Train on every in-memory text and label given (0/1, or any classes: classifier.io.labels; texts
    by classifier.io.texts' rules, rows missing a text or a label dropped) and return the bundle. No
    test split is held out; Keras' `validation_split` (the preset's unless overridden; 0 for none)
    holds out the last rows for early stopping and the threshold. Nothing is written where you can
    see it until `bundle.save(path)`: the files live in a private temporary folder that goes with the bundle.
    `groups` names each text's source (for domain-balanced presets); `init_from` a tfidf bundle to fine-tune."""
    cfg = preset(preset_name, **overrides)
    cfg.test_size = 0.0  # evaluate it on texts of your own: classifier.evaluate(bundle, texts, labels)
    check_config(cfg)
    init = init_bundle(init_from)
    import pandas as pd

    texts, labels = texts_and_labels(texts, labels, "fit")
    frame = pd.DataFrame({cfg.text_column: pd.Series(texts, dtype=object),
                          cfg.label_column: pd.Series(labels, dtype=object)})
    if groups is not None:
        groups = list(groups)
        if len(groups) != len(texts):
            raise UserError(f"fit: {len(texts)} texts but {len(groups)} groups; give one group per text")
    df = clean_labelled(frame, cfg.text_column, cfg.label_column, "fit", cfg.max_rows)
    if groups is not None:
        df[SOURCE_COLUMN] = pd.Series(groups, dtype=object).astype(str).loc[df.index]
    scratch = tempfile.TemporaryDirectory(prefix="classifier-fit-")
    out = Path(scratch.name) / "bundle"
    fit_rows(cfg, df, out, {"in_memory": True, "rows_used": len(df)}, verbose, init)
    bundle = load(out)
    bundle._scratch = scratch  # removed when the bundle is
    return bundle


def check_config(cfg: TrainConfig) -> None:
    if cfg.fit_engine not in FIT_ENGINES:
        raise UserError(f"unknown fit engine {cfg.fit_engine!r}; choose one of: {', '.join(FIT_ENGINES)}")
    check("seed", cfg.seed)
    if cfg.init_seed is not None:
        check("init_seed", cfg.init_seed, like="seed")
    check("min_count", cfg.min_count)
    if cfg.max_rows is not None and (isinstance(cfg.max_rows, bool) or not isinstance(cfg.max_rows, int)
                                     or cfg.max_rows < 1):
        raise UserError(f"{{field}} must be a whole number of 1 or more (None: every row), got {cfg.max_rows!r}",
                        field="max_rows", value=cfg.max_rows)
    if not 0 <= cfg.validation_split < 1:
        raise UserError(f"{{field}} must be at least 0 and below 1, got {cfg.validation_split}",
                        field="validation_split", value=cfg.validation_split)
    if not 0 <= cfg.test_size < 1:
        raise UserError(f"{{field}} must be at least 0 and below 1, got {cfg.test_size}", field="test_size",
                        value=cfg.test_size)
    if cfg.tokenizer.analyzer not in ANALYZERS:
        raise UserError(f"unknown analyzer {cfg.tokenizer.analyzer!r}; choose one of: {', '.join(ANALYZERS)}")
    if cfg.label_column == cfg.text_column:
        raise UserError(f"the label column and the text column are both {cfg.text_column!r}; the model would "
                        f"learn the label from itself: pass {slot('label_column')} or {slot('text_column')} "
                        f"to name another")


def aux_column(cfg: TrainConfig) -> str | None:
    """The column the stack's ridge regression learns at training time; never the label itself."""
    use = cfg.blend_tfidf and cfg.model == "lstm" and cfg.aux_column != cfg.label_column
    return cfg.aux_column if use else None


def fit_rows(cfg: TrainConfig, df, out: Path, source: dict, verbose: int, init: Bundle | None = None,
             adapt: list[str] | None = None) -> dict:
    """Split the clean rows `df`, fit, evaluate and save the bundle at `out`; returns the metrics."""
    with cached():  # the korean analyser's morphemes, analysed once for the run's several encodings
        classes = classes_of(df[cfg.label_column])
        where = source.get("path", "fit")
        if SOURCE_COLUMN in df.columns:
            if classes is not None:
                raise UserError(f"{where}: several sources train the 0/1 model; map the labels with "
                                f"{slot('positive')} and {slot('negative')}")
            split = source_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
        else:
            split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed, aux_column(cfg),
                               classes, where)
        check_min_count(split.y_train, classes or [0, 1], cfg.min_count, where, cfg.label_column)
        if not cfg.validation_split and (cfg.blend_tfidf or (classes is None and cfg.threshold_rule != "fixed")):
            raise UserError(f"validation_split 0 leaves no rows to choose the {cfg.preset} preset's threshold or "
                            f"stack on; give a validation_split above 0")
        return fit_split(cfg, split, out, source, verbose, classes, init, adapt)


def fit_split(cfg: TrainConfig, split: Split, out: Path, source: dict, verbose: int = 0,
              classes: list | None = None, init: Bundle | None = None, adapt: list[str] | None = None) -> dict:
    """Fit on `split`'s training part, evaluate on its test part, save the bundle at `out`."""
    if adapt is not None and (init is not None or cfg.model != "tfidf" or classes is not None or cfg.tfidf_vectors):
        raise UserError(f"{{field}} self-trains a binary tfidf preset (tfidf, general, ...) from scratch: train "
                        f"without it, or without {slot('init_from')} / word vectors / labels other than 0/1",
                        field="adapt_to")
    with cached():
        if init is not None:
            return train_tfidf(cfg, split, init.tokenizer, out, {**source, "init_from": str(init.path)},
                               generator_stays(out, init.tokenizer), classes, init)
        tokenizer = Tokenizer.fit(split.x_train, cfg.tokenizer)
        keep_generator = generator_stays(out, tokenizer)
        if cfg.model == "tfidf":
            return train_tfidf(cfg, split, tokenizer, out, source, keep_generator, classes, adapt=adapt)
        return train_lstm(cfg, split, tokenizer, out, source, keep_generator, verbose, classes)


def test_figures(y, p, classes: list | None) -> tuple[float, float]:
    """(loss, accuracy) as Keras' evaluate counts them: binary or sparse categorical."""
    if classes is None:
        return log_loss(y, p), keras_accuracy(y, p)
    return categorical_log_loss(y, p), categorical_accuracy(y, p)


def class_facts(split: Split, classes: list | None) -> dict:
    """What metrics.json says of the labels: the positive share (binary) or the classes and the
    majority class's test share (classifier.classify.metrics.majority_share)."""
    if classes is None:
        return {"test_positive_share": float(np.mean(split.y_test))} if len(split.y_test) else {}
    majority = majority_class(split.y_train, len(classes))
    test = {"test_majority_share": majority_share(split.y_test, majority)} if len(split.y_test) else {}
    return {"classes": classes, "majority_class": classes[majority], **test}


def generator_stays(out: Path, tokenizer: Tokenizer) -> bool:
    """Whether retraining the classifier at `out` keeps the bundle's generator: yes when it was
    trained with the very tokenizer this run fitted; else say so now, before the training."""
    if not is_bundle(out):
        return False
    generator = read_json(out / "config.json").get("generator")
    if not generator:
        return False
    if generator.get("tokenizer_sha256") == tokenizer.sha256:
        return True
    log.warning(f"note: the generator in {out} was trained with another tokenizer than this run fits; the new "
                f"bundle will not carry it ({GENERATOR_KERAS}); retrain its generator")
    return False


def train_lstm(cfg: TrainConfig, split: Split, tokenizer: Tokenizer, out: Path, source: dict,
               keep_generator: bool, verbose: int, classes: list | None = None) -> dict:
    from classifier.models.keras_lstm import (
        build_classifier,
        compile_classifier,
        history_rows,
        quiet_tensorflow,
        save_keras,
        seeded,
    )
    from classifier.models.stack import fit_head

    quiet_tensorflow()
    import keras

    x_train = tokenizer.texts_to_padded(split.x_train)
    x_test = tokenizer.texts_to_padded(split.x_test)
    run_seed = cfg.seed if cfg.init_seed is None else cfg.init_seed
    with seeded(run_seed, cfg.deterministic):
        n_classes = None if classes is None else len(classes)
        model = build_classifier(cfg, n_classes)
        compile_classifier(model)
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", min_delta=cfg.min_delta, patience=cfg.patience,
            restore_best_weights=cfg.restore_best_weights,
        )
        start = time.perf_counter()
        fit_kwargs = dict(
            batch_size=cfg.batch_size, epochs=cfg.epochs, validation_split=cfg.validation_split,
            callbacks=[stop] if cfg.validation_split else [], verbose=verbose,  # no validation: every epoch runs
        )
        if cfg.fit_engine == "padskip":
            from classifier.classify.padskip import fit as padskip_fit

            history = padskip_fit(model, x_train, split.y_train, bucketing=cfg.bucketing, seed=run_seed, **fit_kwargs)
        else:
            history = model.fit(x_train, split.y_train, **fit_kwargs)
        # threshold; tuned: the stacked TF-IDF model
        head = fit_head(cfg, model, tokenizer, split, x_train, n_classes)
        train_seconds = time.perf_counter() - start
        test, p = {}, None
        if len(x_test):  # fit() holds no test split out
            loss, acc = model.evaluate(x_test, split.y_test, verbose=0)
            test = {"test_loss": float(loss), "test_accuracy": float(acc)}
    if test and head.predict_test is not None:
        lstm_alone = {"lstm_test_loss": test["test_loss"], "lstm_test_accuracy": test["test_accuracy"]}
        p = head.predict_test(x_test, split.x_test)
        loss, acc = test_figures(split.y_test, p, classes)
        test = {"test_loss": float(loss), "test_accuracy": float(acc), **lstm_alone}
    elif test and split.test_sources is not None:
        p = model.predict(x_test, batch_size=512, verbose=0).reshape(-1)
    rows = history_rows(history)
    labels = {} if classes is None else {"classes": classes}
    metrics = {
        **{k: test[k] for k in ("test_loss", "test_accuracy") if k in test},
        "epochs_run": len(rows),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds / max(len(rows), 1), 1),
        "n_train": len(split.x_train),
        "n_test": len(split.x_test),
        **class_facts(split, classes),
        **head.meta,
        **{k: v for k, v in test.items() if k.startswith("lstm_")},
        **sources_facts(split, p),
    }

    def write_files(folder: Path) -> list[str]:
        save_keras(model, folder / CLASSIFIER_FILE)
        return [CLASSIFIER_FILE, *(head.write_files(folder) if head.write_files else [])]

    save_bundle(out, write_files=write_files, tokenizer=tokenizer, config=cfg, history=rows, metrics=metrics,
                extra={"data": source, **labels, **head.meta}, keep_generator=keep_generator)
    return metrics


def sources_facts(split: Split, p) -> dict:
    """metrics.json's `per_source` (several sources): each source's test figures."""
    if split.train_sources is None:
        return {}
    names, counts = np.unique(split.train_sources.astype(str), return_counts=True)
    facts = {"train_rows_per_source": {k: int(v) for k, v in zip(names, counts, strict=True)}}
    if p is not None:  # fit() holds no test split out
        facts["per_source"] = per_source(split.y_test, np.asarray(p, np.float64), split.test_sources)
    return facts


def train_tfidf(cfg: TrainConfig, split: Split, tokenizer: Tokenizer, out: Path, source: dict,
                keep_generator: bool, classes: list | None = None, init: Bundle | None = None,
                adapt: list[str] | None = None) -> dict:
    """Fit on the whole training split (as SPEC measured it); the threshold comes from a second fit
    that holds out the last `validation_split` of it, as Keras' validation_split does. Classes
    other than 0/1 fit a multinomial regression and need no threshold. With `init` (a tfidf
    bundle), its model is fine-tuned (classifier.models.tfidf.fit_from) and its config kept."""
    if init is not None:
        cfg = TrainConfig.from_dict({**init.config.to_dict(), "text_column": cfg.text_column,
                                     "label_column": cfg.label_column, "seed": cfg.seed, "max_rows": cfg.max_rows,
                                     "threshold_rule": cfg.threshold_rule})
    weights = source_weights(split.train_sources) if cfg.balance_sources else None
    if cfg.tfidf_vectors and classes is not None:
        raise UserError(f"the word-vector features (tfidf_vectors) take 0/1 labels; these have "
                        f"{len(classes)} classes: train without them")
    part = getattr(init, "vectors", None)  # a vectors bundle fine-tuned: its vector part stays as it is

    def fitted(x, y, w, sources=None):
        if adapt is not None:  # the vocabulary and idf are counted over the training and target texts
            fit = lambda t, y, w: fit_tfidf(t, y, cfg, sample_weight=w, vocab_texts=list(x) + adapt)  # noqa: E731
            return self_train(fit, x, y, sources if cfg.balance_sources else None, adapt)
        if init is not None:
            tfidf = fit_from(init.model, x, y, cfg.tfidf_c, w, None if part is None else part.logits(x))
            return tfidf if part is None else TfidfWithVectors(tfidf, part)
        if cfg.tfidf_vectors:
            return fit_with_vectors(x, y, cfg, w)
        return fit_tfidf(x, y, cfg, n_classes=None if classes is None else len(classes), sample_weight=w)

    start = time.perf_counter()
    model = fitted(split.x_train, split.y_train, weights, split.train_sources)
    train_seconds = time.perf_counter() - start
    threshold = {}
    if cfg.threshold_rule != "fixed" and classes is None:
        cut = int(len(split.x_train) * (1 - cfg.validation_split))
        held = fitted(split.x_train[:cut], split.y_train[:cut], None if weights is None else weights[:cut],
                      None if split.train_sources is None else split.train_sources[:cut])
        p_val = held.predict_proba(split.x_train[cut:])
        threshold = {"threshold": choose_threshold(split.y_train[cut:], p_val, cfg.threshold_rule)}
    test, p = {}, None
    if split.x_test:  # fit() holds no test split out
        p = model.predict_proba(split.x_test)
        loss, acc = test_figures(split.y_test, p, classes)
        test = {"test_loss": loss, "test_accuracy": acc}
    labels = {} if classes is None else {"classes": classes}
    metrics = {
        **test,
        "epochs_run": 0,
        "train_seconds": round(train_seconds, 1),
        "n_train": len(split.x_train),
        "n_test": len(split.x_test),
        "n_features": len(model.features),
        **class_facts(split, classes),
        **threshold,
        **sources_facts(split, p),
    }
    vectors = {"vectors": model.part.meta()} if isinstance(model, TfidfWithVectors) else {}
    save_bundle(out, write_files=model.save, tokenizer=tokenizer, config=cfg, history=[], metrics=metrics,
                extra={"data": source, **labels, **threshold, **vectors}, keep_generator=keep_generator)
    return metrics
