"""Train several presets on the same split and compare them in one table (also compare.json).

    python -m classifier compare --out out/compare             # make compare: reference, tuned, tfidf
    python -m classifier compare --max-rows 2000 --epochs 1    # a quick look
    python -m classifier compare --label-columns "Department Name,Class Name,Rating" -o out/compare-multiclass

Every preset gets the same data, clean rows and split (test_size 0.2, seed 42), so the
figures are comparable. Scoring speed is `Bundle.recommend_proba` over the test texts,
tokenizing included, with the bundle's default engine (Keras when the NumPy engine cannot run its model).
With `label_columns` (`compare_classes`) each preset is trained on each of those columns instead
(their clean rows, the same test_size and seed), and the table gives accuracy, macro F1 and the
majority share (classifier.classify.metrics.majority_share), the floor any model must beat.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from classifier.bundle import CONFIG_FILE, METRICS_FILE, load, read_json
from classifier.classify.metrics import (
    categorical_log_loss,
    class_scores,
    keras_accuracy,
    log_loss,
    majority_class,
    majority_share,
    multiclass_scores,
)
from classifier.classify.train import train
from classifier.config import TrainConfig, preset
from classifier.errors import UserError, slot
from classifier.io.dataset import load_labelled, make_split
from classifier.io.files import refuse_existing, resolved, write_json
from classifier.io.staging import check_can_write

log = logging.getLogger(__name__)

DEFAULT_PRESETS = ("reference", "tuned", "tfidf")
COLUMNS = [  # (key, header, format)
    ("preset", "preset", "{}"), ("loss", "log loss", "{:.4f}"), ("accuracy", "accuracy", "{:.4f}"),
    ("roc_auc", "ROC AUC", "{:.4f}"), ("f1_not_rec", "F1 not-rec", "{:.4f}"),
    ("f1_not_rec_at_threshold", "F1 not-rec @thr", "{:.4f}"), ("threshold", "thr", "{:.2f}"),
    ("train_seconds", "train s", "{:.0f}"), ("score_rows_per_s", "score rows/s", "{:,.0f}"),
]


CLASS_COLUMNS = [  # the multi-class table: (key, header, format)
    ("label_column", "label column", "{}"), ("classes", "classes", "{}"), ("preset", "preset", "{}"),
    ("loss", "log loss", "{:.4f}"), ("accuracy", "accuracy", "{:.4f}"), ("f1_macro", "macro F1", "{:.4f}"),
    ("majority_share", "majority share", "{:.4f}"), ("train_seconds", "train s", "{:.0f}"),
]


def make_out_folder(out: str | os.PathLike) -> Path:
    """-o: a folder (made if missing) for the bundles and compare.json; a file there is a one-line error."""
    out = resolved(out)
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise UserError(f"{out} is a file; compare {slot('out')} names a folder for its bundles and compare.json: "
                        f"choose another {slot('out')}")
    check_can_write(out / "compare.json", "out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create the output folder ({e.strerror}); "
                        f"choose another {slot('out')}") from None
    return out


def score_timed(predict_ids, encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Probabilities and rows/s (encoding included) of `predict_ids`, the bundle's default engine."""
    predict_ids(encoder.encode_many(texts[:64]))  # load the model outside the timing
    start = time.perf_counter()
    p = predict_ids(encoder.encode_many(texts))
    return np.asarray(p, dtype=np.float64), len(texts) / (time.perf_counter() - start)


def compare_one(bundle_dir: Path, split, lstm_alone: bool = False) -> dict:
    """One table row; `lstm_alone` scores a blended bundle's LSTM without its TF-IDF partner."""
    from sklearn.metrics import roc_auc_score

    bundle = load(bundle_dir)
    predict_ids = bundle.lstm_proba_ids if lstm_alone else bundle.predict_proba_ids
    p, rows_per_s = score_timed(predict_ids, bundle.encoder, split.x_test)
    y = split.y_test.astype(int)
    trained = json.loads((bundle_dir / METRICS_FILE).read_text(encoding="utf-8"))
    not_rec = "not recommended"
    return {
        "preset": bundle.config.preset + (" (LSTM alone)" if lstm_alone else ""),
        "bundle": str(bundle_dir),
        "loss": log_loss(y, p),
        "accuracy": keras_accuracy(y, p),
        "roc_auc": float(roc_auc_score(y, p)),
        "f1_not_rec": class_scores(y, p, 0.5)["per_class"][not_rec]["f1"],
        "f1_not_rec_at_threshold": class_scores(y, p, bundle.threshold)["per_class"][not_rec]["f1"],
        "threshold": bundle.threshold,
        "train_seconds": float(trained.get("train_seconds", float("nan"))),
        "epochs_run": trained.get("epochs_run"),
        "score_rows_per_s": rows_per_s,
        "engine": bundle.default_engine(),
        "n_test": len(y),
    }


def format_table(rows: list[dict], columns=None) -> str:
    columns = columns or (CLASS_COLUMNS if rows and "f1_macro" in rows[0] else COLUMNS)
    cells = [[h for _, h, _ in columns]] + [[f.format(r[k]) for k, _, f in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    left = [fmt == "{}" and key != "classes" for key, _, fmt in columns]  # names left, numbers right
    lines = ["  ".join(c.ljust(w) if left[i] else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def same_settings(bundle_dir: Path, cfg) -> bool:
    """Whether the bundle was trained with `cfg` (fields added since count at their defaults)."""
    saved = TrainConfig.from_dict(read_json(bundle_dir / CONFIG_FILE)["config"])
    for c in (saved, cfg):
        c.init_seed = c.seed if c.init_seed is None else c.init_seed
    return saved.to_dict() == cfg.to_dict()


def reusable(bundle_dir: Path, cfg) -> bool:
    return (bundle_dir / CONFIG_FILE).exists() and same_settings(bundle_dir, cfg)


def refuse_replacing(out: Path, retrained: list[Path], overwrite: bool) -> None:
    """Before any training: the table and every bundle to retrain are the user's until `overwrite`."""
    for path in [out / "compare.json", *retrained]:
        refuse_existing(path, overwrite)


def summary_rows(name: str, rows: list[dict]) -> list[dict]:
    """Mean and spread (max - min) over the seeds of one preset, as two table rows."""
    keys = [k for k, _, f in COLUMNS if k != "preset"]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    spread = {k: float(np.max([r[k] for r in rows]) - np.min([r[k] for r in rows])) for k in keys}
    n = len(rows)
    return [{"preset": f"{name} mean of {n} seeds", **mean}, {"preset": f"{name} spread (max - min)", **spread}]


def compare(data: str | os.PathLike, out: str | os.PathLike,
            presets=DEFAULT_PRESETS, max_rows: int | None = None, epochs: int | None = None,
            reuse: bool = False, verbose: int = 0, init_seeds=None, overwrite: bool = False) -> list[dict]:
    """Train each preset into out/PRESET (or reuse a bundle there trained with the same settings),
    score the shared test split, write out/compare.json and return its rows.

    With `init_seeds`, each preset is trained once per seed (weights and shuffling; the split stays
    the reference one) into out/PRESET-seedS, and mean and spread rows follow its rows. An existing
    compare.json, or a bundle it would retrain, is replaced only with `overwrite`."""
    out = resolved(out)
    plan = {(name, init_seed): preset(name, max_rows=max_rows, epochs=epochs, init_seed=init_seed)
            for name in presets for init_seed in init_seeds or [None]}
    dirs = {key: out / (key[0] if key[1] is None else f"{key[0]}-seed{key[1]}") for key in plan}
    retrain = {key: not (reuse and reusable(dirs[key], plan[key])) for key in plan}
    refuse_replacing(out, [dirs[key] for key in plan if retrain[key]], overwrite)
    out = make_out_folder(out)
    rows = []
    split = None
    for name in presets:
        seed_rows = []
        for init_seed in init_seeds or [None]:
            cfg, bundle_dir = plan[name, init_seed], dirs[name, init_seed]
            if retrain[name, init_seed]:
                log.info(f"compare: training {name} into {bundle_dir}")
                train(cfg, data, bundle_dir, verbose=verbose, overwrite=True)
            if split is None:  # one split for all: the presets share text/label columns, test_size and seed
                df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
                split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
            row = compare_one(bundle_dir, split)
            if init_seed is not None:
                row["preset"] += f" (seed {init_seed})"
            rows.append(row)
            seed_rows.append(row)
            if load(bundle_dir).kind == "stack":
                rows.append(compare_one(bundle_dir, split, lstm_alone=True))
        if len(seed_rows) > 1:
            rows.extend(summary_rows(name, seed_rows))
    write_json(out / "compare.json", {"data": str(data), "max_rows": max_rows, "init_seeds": init_seeds,
                                      "rows": rows})
    return rows


def compare_classes(data: str | os.PathLike, out: str | os.PathLike, label_columns, presets=DEFAULT_PRESETS,
                    max_rows: int | None = None, epochs: int | None = None, reuse: bool = False,
                    verbose: int = 0, min_count: int = 1, overwrite: bool = False) -> list[dict]:
    """Train each preset on each label column into out/COLUMN/PRESET (or reuse one trained with the
    same settings), score that column's test split, write out/compare.json and return its rows.
    `min_count` 0 keeps a class only the test split holds (`Class Name`'s one 'Casual bottoms').
    An existing compare.json, or a bundle it would retrain, is replaced only with `overwrite`."""
    out = resolved(out)
    plan = {(column, name): preset(name, label_column=column, max_rows=max_rows, epochs=epochs, min_count=min_count)
            for column in label_columns for name in presets}
    dirs = {key: out / key[0].replace("/", "_").replace(" ", "_") / key[1] for key in plan}
    retrain = {key: not (reuse and reusable(dirs[key], plan[key])) for key in plan}
    refuse_replacing(out, [dirs[key] for key in plan if retrain[key]], overwrite)
    out = make_out_folder(out)
    rows = []
    for column in label_columns:
        split = classes = None
        for name in presets:
            cfg, bundle_dir = plan[column, name], dirs[column, name]
            if retrain[column, name]:
                log.info(f"compare: training {name} on {column!r} into {bundle_dir}")
                train(cfg, data, bundle_dir, verbose=verbose, overwrite=True)
            bundle = load(bundle_dir)
            if split is None:  # the presets share the column's clean rows, test_size and seed
                classes = bundle.classes_.tolist() if bundle.multiclass else None
                df = load_labelled(data, cfg.text_column, column, cfg.max_rows)
                split = make_split(df, cfg.text_column, column, cfg.test_size, cfg.seed, classes=classes,
                                   name=str(data))
            rows.append(class_row(bundle, bundle_dir, split, classes))
    write_json(out / "compare.json", {"data": str(data), "max_rows": max_rows, "rows": rows})
    return rows


def class_row(bundle, bundle_dir: Path, split, classes: list | None) -> dict:
    """One row of the multi-class table (a 0/1 column is scored as two classes)."""
    p = np.asarray(bundle.predict_proba_ids(bundle.encoder.encode_many(split.x_test)), dtype=np.float64)
    if classes is None:
        p, classes = np.column_stack([1 - p, p]), [0, 1]
    y = split.y_test.astype(np.int64)
    trained = json.loads((bundle_dir / METRICS_FILE).read_text(encoding="utf-8"))
    return {
        "label_column": bundle.config.label_column, "classes": len(classes), "preset": bundle.config.preset,
        "bundle": str(bundle_dir), "loss": categorical_log_loss(y, p),
        **{k: v for k, v in multiclass_scores(y, p, classes).items() if k in ("accuracy", "f1_macro")},
        "majority_share": majority_share(y, majority_class(split.y_train, len(classes))),
        "train_seconds": float(trained.get("train_seconds", float("nan"))), "n_test": len(y),
    }
