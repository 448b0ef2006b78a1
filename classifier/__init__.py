"""classifier: review sentiment / "would recommend" models from CSV files.

    import classifier
    bundle = classifier.load("saved_models/default")
    bundle.predict_proba(["Love this dress!", "It ripped after one wash."])   # (2, 2), columns = bundle.classes_
    bundle = classifier.fit(texts, labels, epochs=1)                          # in memory; bundle.save(path)
    classifier.evaluate(bundle, texts, labels), bundle.score(texts, labels)   # (loss, acc); accuracy of predict
    classifier.fit(korean_texts, labels, analyzer="korean")                   # Korean morphemes (kiwipiepy)

Importing the package does not import TensorFlow; training and the Keras path load it when
first needed. The submodules' names differ from these functions' on purpose: importing a
submodule never replaces one of them.
"""

import os
import warnings

from classifier.bundle import Bundle, load
from classifier.classify.score import score_csv, score_files
from classifier.config import TrainConfig, preset
from classifier.errors import UserError


def train(cfg: TrainConfig, data, out, verbose: int = 1) -> dict:
    """Train a bundle from the CSV file `data` into the folder `out`; returns its test metrics."""
    from classifier.classify.train import train as train_from_csv

    return train_from_csv(cfg, data, out, verbose=verbose)


def fit(texts, labels, preset: str = "reference", verbose: int = 0, validation_split: float | None = None,
        **overrides) -> Bundle:
    """Train on every text and label given: 0/1 labels the binary model, any others a softmax over
    their classes. No test split is held out; `validation_split` (default: the preset's, 0.2 for
    the reference; 0 for none) is Keras': the last rows, for early stopping and the threshold.
    `overrides` set preset fields (epochs=1, **{"tokenizer.num_words": 8000}). Returns the bundle,
    written nowhere until `bundle.save(path)`. Seeds and TensorFlow's op determinism are set for
    the fit only; TensorFlow's global seed stays set afterwards."""
    from classifier.classify.train import fit as fit_in_memory

    return fit_in_memory(texts, labels, preset, verbose=verbose, validation_split=validation_split, **overrides)


def evaluate(model, texts=None, labels=None, *, data=None, all_rows: bool = False) -> tuple[float, float]:
    """(loss, accuracy) of a bundle (a folder or a loaded Bundle), as Keras' evaluate counts them:
    `evaluate(bundle, texts, labels)` on every in-memory row with a text and a label;
    `evaluate(bundle, data=CSV)` on the test split of a CSV file (default: the file it was trained
    on), with `all_rows` on every row of it (a test file of its own)."""
    if labels is None and isinstance(texts, str | os.PathLike):
        warnings.warn("evaluate(model, CSV) is now evaluate(model, data=CSV); evaluate(model, texts, labels) "
                      "evaluates texts in memory", DeprecationWarning, stacklevel=2)
        texts, data = None, texts
    if texts is not None or labels is not None:
        if texts is None or labels is None:
            raise UserError("evaluate: give both texts and labels (or data=CSV for a file)")
        if data is not None or all_rows:
            raise UserError("evaluate: give texts and labels, or data=CSV, not both")
        from classifier.classify.evaluate import evaluate_texts

        return evaluate_texts(model, texts, labels)
    from classifier.classify.evaluate import evaluate as evaluate_file

    return evaluate_file(model, data, all_rows=all_rows)


def generate(model, prompt: str, **options) -> list:
    """Samples continuing `prompt` from the bundle's generator (see classifier.textgen.generate)."""
    from classifier.textgen.generate import generate as generate_text

    return generate_text(model, prompt, **options)


__all__ = ["Bundle", "TrainConfig", "UserError", "evaluate", "fit", "generate", "load", "preset", "score_csv",
           "score_files", "train"]
