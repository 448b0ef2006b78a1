"""Evaluate a bundle on the test split it was trained against.

    python -m classifier evaluate --model saved_models/default     # last line: [loss, acc]
    python -m classifier evaluate --model saved_models/tuned --report out/tuned   # + metrics.json, plots, report.html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from classifier.artifacts import load
from classifier.data import file_sha256, load_labelled, make_split


def format_result(loss: float, acc: float) -> str:
    return f"[{loss:.4f}, {acc:.4f}]"


def evaluate(model_dir: str | os.PathLike, data: str | os.PathLike | None = None,
             report: str | os.PathLike | None = None) -> tuple[float, float]:
    """Rebuild the bundle's test split from `data` and return Keras' (loss, accuracy) on it;
    with `report`, also write metrics.json, the plots and report.html into that folder."""
    bundle = load(model_dir)
    if report is not None:
        from classifier.report import prepare_folder

        prepare_folder(report)
    cfg = bundle.config
    recorded = bundle.meta.get("data", {})
    data = bundle.data_path(data)
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
    if recorded.get("sha256") and file_sha256(data) != recorded["sha256"]:
        print(
            f"classifier: warning: {data} is not the file the model was trained on "
            f"(sha256 differs); the test split may overlap its training rows",
            file=sys.stderr,
        )
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    if cfg.model == "tfidf" or "blend" in bundle.meta:  # not one Keras model: the same figures from probabilities
        from classifier.report import log_loss

        p = bundle.predict_proba(split.x_test, engine="keras" if cfg.model != "tfidf" else "numpy")
        loss, acc = log_loss(split.y_test, p), float(np.mean((p > 0.5) == (split.y_test == 1)))
    else:
        x_test = bundle.tokenizer.texts_to_padded(split.x_test)

        from classifier.model import compile_classifier

        model = bundle.keras_classifier()
        compile_classifier(model)
        loss, acc = model.evaluate(x_test, split.y_test, verbose=0)
        if report is not None:
            p = model.predict(x_test, batch_size=512, verbose=0).reshape(-1)
    if report is not None:
        from classifier.report import write_report

        write_report(
            report, title=f"{Path(model_dir).name}: {cfg.preset} preset on {data.name}",
            subtitle=f"test split: {len(split.y_test):,} reviews (test_size {cfg.test_size}, seed {cfg.seed}); "
                     f"bundle {model_dir}",
            texts=split.x_test, y=split.y_test, p=p, threshold=bundle.threshold, history=read_history(bundle.path),
        )
    return float(loss), float(acc)


def read_history(path: Path) -> list[dict]:
    import pandas as pd

    try:
        df = pd.read_csv(path / "history.csv", index_col="epoch")
    except (FileNotFoundError, ValueError, pd.errors.EmptyDataError):
        return []
    return df.to_dict("records")
