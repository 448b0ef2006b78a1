"""Evaluate a bundle on the test split it was trained against.

    python -m classifier evaluate --model saved_models/default     # last line: [loss, acc]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from classifier.artifacts import load
from classifier.data import file_sha256, load_labelled, make_split


def format_result(loss: float, acc: float) -> str:
    return f"[{loss:.4f}, {acc:.4f}]"


def evaluate(model_dir: str | os.PathLike, data: str | os.PathLike | None = None) -> tuple[float, float]:
    """Rebuild the bundle's test split from `data` and return Keras' (loss, accuracy) on it."""
    bundle = load(model_dir)
    cfg = bundle.config
    recorded = bundle.meta.get("data", {})
    data = Path(data or recorded.get("path") or "data/womens_clothing_ecommerce_reviews.csv")
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
    if recorded.get("sha256") and file_sha256(data) != recorded["sha256"]:
        print(
            f"classifier: warning: {data} is not the file the model was trained on "
            f"(sha256 differs); the test split may overlap its training rows",
            file=sys.stderr,
        )
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    x_test = bundle.tokenizer.texts_to_padded(split.x_test)

    from classifier.model import compile_classifier

    model = bundle.keras_classifier()
    compile_classifier(model)
    loss, acc = model.evaluate(x_test, split.y_test, verbose=0)
    return float(loss), float(acc)
