"""Evaluate a bundle on the test split it was trained against.

    python -m classifier evaluate --model saved_models/default     # last line: [loss, acc]
    python -m classifier evaluate --model saved_models/tuned --report out/tuned   # + metrics.json, plots, report.html
    python -m classifier evaluate --model out/ko --data test.csv --all-rows      # every row of a separate test file

A multi-class bundle's [loss, acc] are sparse categorical cross-entropy and accuracy, and its
report gives per-class precision / recall / F1, macro F1 and the confusion matrix.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path

from classifier.bundle import HISTORY_FILE, Bundle, load
from classifier.classify.explain import report_section
from classifier.classify.metrics import (
    categorical_accuracy,
    categorical_log_loss,
    keras_accuracy,
    log_loss,
    majority_class,
)
from classifier.errors import UserError
from classifier.io.dataset import load_labelled, make_split, whole_file
from classifier.io.files import file_sha256

log = logging.getLogger(__name__)

SPLIT_SETTINGS = ("test_size", "seed", "text_column", "label_column")


def format_result(loss: float, acc: float) -> str:
    return f"[{loss:.4f}, {acc:.4f}]"


def evaluate(model: str | os.PathLike | Bundle, data: str | os.PathLike | None = None,
             report: str | os.PathLike | None = None, overwrite: bool = False,
             all_rows: bool = False, sep: str | None = None) -> tuple[float, float]:
    """Rebuild the bundle's test split from `data` (default: the file it was trained on) and return
    Keras' (loss, accuracy) on it; with `report`, also write metrics.json, the plots and report.html
    into that folder. With `all_rows`, every clean row of `data` (a test file of its own) is the
    test set: nothing is split off. `sep`: the field separator (default: the one the bundle was
    trained with on its own file, else as `score` decides it)."""
    bundle = model if isinstance(model, Bundle) else load(model)
    missing = [k for k in SPLIT_SETTINGS if k not in bundle.meta["config"]]
    if missing:
        raise UserError(f"{bundle.path / 'config.json'} lacks the split settings {', '.join(missing)}: its test "
                        f"split cannot be rebuilt; restore the bundle's own config.json or retrain")
    if report is not None:
        from classifier.classify.report import prepare_folder

        prepare_folder(report, overwrite)
    cfg = bundle.config
    recorded = bundle.meta.get("data", {})
    sep = sep or (recorded.get("sep") if data is None else None)
    data = bundle.data_path(data)
    df = load_labelled(data, cfg.text_column, cfg.label_column, None if all_rows else cfg.max_rows,
                       column_flags=False, sep=sep)
    trained_on = recorded.get("sha256") and file_sha256(data) == recorded["sha256"]
    if all_rows and trained_on:
        log.warning(f"classifier: warning: {data} is the file the model was trained on; evaluating all its rows "
                    f"counts its training rows too")
    elif recorded.get("sha256") and not trained_on and not all_rows:
        log.warning(f"classifier: warning: {data} is not the file the model was trained on "
                    f"(sha256 differs); the test split may overlap its training rows")
    classes = bundle.classes_.tolist() if bundle.multiclass else None
    if classes is None and df[cfg.label_column].dtype != "int64":
        raise UserError(f"{data}: label column {cfg.label_column!r} holds labels other than 0 and 1, but "
                        f"{bundle.path} is a 0/1 bundle; give the file it was trained on")
    if all_rows:
        split = whole_file(df, cfg.text_column, cfg.label_column, classes=classes, name=str(data))
    else:
        split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed, classes=classes,
                           name=str(data))
    described = (f"every row of {data.name}: {len(split.y_test):,} reviews" if all_rows else
                 f"test split: {len(split.y_test):,} reviews (test_size {cfg.test_size}, seed {cfg.seed})")
    if bundle.kind == "lstm":  # one Keras model: its own evaluate gives the reference [loss, acc]
        from classifier.models.keras_lstm import compile_classifier

        x_test = bundle.tokenizer.texts_to_padded(split.x_test)
        keras_model = bundle.keras_classifier()
        compile_classifier(keras_model)
        loss, acc = keras_model.evaluate(x_test, split.y_test, verbose=0)
        p = keras_model.predict(x_test, batch_size=512, verbose=0) if report is not None else None
        p = p.reshape(-1) if p is not None and classes is None else p
    elif classes is not None:
        p = bundle.predict_proba_ids(bundle.encoder.encode_many(split.x_test),
                                     engine="keras" if bundle.kind == "stack" else None)
        loss, acc = categorical_log_loss(split.y_test, p), categorical_accuracy(split.y_test, p)
    else:  # not one Keras model: the same figures from its probabilities
        p = bundle.recommend_proba(split.x_test, engine="keras" if bundle.kind == "stack" else None)
        loss, acc = log_loss(split.y_test, p), keras_accuracy(split.y_test, p)
    if report is not None and classes is not None:
        from classifier.classify.report import write_multiclass_report

        write_multiclass_report(
            report, title=f"{bundle.path.name}: {cfg.preset} preset, {cfg.label_column!r} on {data.name}",
            subtitle=f"{described}; bundle {bundle.path}",
            texts=split.x_test, y=split.y_test, p=p, classes=classes, history=read_history(bundle.path),
            majority=training_majority(bundle, split), explain=partial(report_section, bundle),
        )
    elif report is not None:
        from classifier.classify.report import write_report

        write_report(
            report, title=f"{bundle.path.name}: {cfg.preset} preset on {data.name}",
            subtitle=f"{described}; bundle {bundle.path}",
            texts=split.x_test, y=split.y_test, p=p, threshold=bundle.threshold, history=read_history(bundle.path),
            explain=partial(report_section, bundle),
        )
    return float(loss), float(acc)


def training_majority(bundle: Bundle, split) -> int:
    """The index of the training labels' most common class, as metrics.json recorded it at training time
    (an --all-rows test file has no training rows to count)."""
    classes = bundle.classes_.tolist()
    recorded = bundle.metrics.get("majority_class")
    if recorded in classes:
        return classes.index(recorded)
    return majority_class(split.y_train, len(classes))


def read_history(path: Path) -> list[dict]:
    import pandas as pd

    try:
        df = pd.read_csv(path / HISTORY_FILE, index_col="epoch")
    except (FileNotFoundError, ValueError, pd.errors.EmptyDataError):
        return []
    return df.to_dict("records")
