"""classifier: review sentiment / "would recommend" models from CSV files.

    import classifier
    bundle = classifier.load("saved_models/default")
    bundle.predict_proba(["Love this dress!", "It ripped after one wash."])   # (2, 2), columns = bundle.classes_
    bundle = classifier.fit(texts, labels, epochs=1)                          # in memory; bundle.save(path)
    classifier.fit(korean_texts, labels, analyzer="korean")                   # Korean morphemes (kiwipiepy)

Importing the package does not import TensorFlow; training and the Keras path load it when
first needed. The submodules' names differ from these functions' on purpose: importing a
submodule never replaces one of them.
"""

from classifier.bundle import Bundle, load
from classifier.classify.score import score_csv, score_files
from classifier.config import TrainConfig, preset
from classifier.errors import UserError


def train(cfg: TrainConfig, data, out, verbose: int = 1) -> dict:
    """Train a bundle from the CSV file `data` into the folder `out`; returns its test metrics."""
    from classifier.classify.train import train as train_from_csv

    return train_from_csv(cfg, data, out, verbose=verbose)


def fit(texts, labels, preset: str = "reference", verbose: int = 0, **overrides) -> Bundle:
    """Train on texts and labels in memory: 0/1 labels the binary model, any others a softmax over
    their classes (`overrides` set preset fields, e.g. epochs=1);
    returns the bundle, written nowhere until `bundle.save(path)`. Seeds and TensorFlow's op
    determinism are set for the fit only; TensorFlow's global seed stays set afterwards."""
    from classifier.classify.train import fit as fit_in_memory

    return fit_in_memory(texts, labels, preset, verbose=verbose, **overrides)


def evaluate(model, data=None, all_rows: bool = False) -> tuple[float, float]:
    """(loss, accuracy) of a bundle (a folder or a loaded Bundle) on its test split of `data`
    (default: the file it was trained on); with `all_rows`, on every row of `data`, a test file of its own."""
    from classifier.classify.evaluate import evaluate as evaluate_bundle

    return evaluate_bundle(model, data, all_rows=all_rows)


def generate(model, prompt: str, **options) -> list:
    """Samples continuing `prompt` from the bundle's generator (see classifier.textgen.generate)."""
    from classifier.textgen.generate import generate as generate_text

    return generate_text(model, prompt, **options)


__all__ = ["Bundle", "TrainConfig", "UserError", "evaluate", "fit", "generate", "load", "preset", "score_csv",
           "score_files", "train"]
