"""classifier: review sentiment / "would recommend" models from CSV files.

    import classifier
    bundle = classifier.load("saved_models/default")
    bundle.predict_proba(["Love this dress!", "It ripped after one wash."])

Importing the package does not import TensorFlow; training and the Keras
path load it when first needed.
"""

from classifier.artifacts import Bundle, load
from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR, TrainConfig, preset
from classifier.errors import UserError
from classifier.score import score_csv, score_files


def train(cfg=None, data=DEFAULT_DATA, out=DEFAULT_MODEL_DIR, verbose=1):
    """Train a bundle (default: the seed preset) and return its test metrics."""
    from classifier.train import train as _train

    return _train(cfg or preset("seed"), data, out, verbose=verbose)


def evaluate(model_dir=DEFAULT_MODEL_DIR, data=None):
    """(loss, accuracy) of a bundle on its test split."""
    from classifier.evaluate import evaluate as _evaluate

    return _evaluate(model_dir, data)


__all__ = ["Bundle", "TrainConfig", "UserError", "evaluate", "load", "preset", "score_csv", "score_files", "train"]
