"""Paths and presets. The `seed` preset is the reference recipe, setting for setting.

    from classifier.config import preset
    cfg = preset("seed", epochs=1, max_rows=2000)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA = Path("data/womens_clothing_ecommerce_reviews.csv")
DEFAULT_MODEL_DIR = Path("saved_models/default")
DATA_SHA256 = "bd93cc515747ad1f87b8bc863c9e40da758509e6db6506a96d06976e61e36ee0"

# Keras Tokenizer's default filters: apostrophes are not in it, so "it's" stays one word.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


@dataclass
class TokenizerConfig:
    num_words: int = 3000  # indices 1..num_words-1; 0 is padding
    maxlen: int = 400
    padding: str = "pre"
    truncating: str = "pre"
    lower: bool = True
    filters: str = KERAS_FILTERS


@dataclass
class TrainConfig:
    """One typed config: data, split, tokenizer, model and fit settings."""

    preset: str = "seed"
    text_column: str = "Review Text"
    label_column: str = "Recommended IND"
    seed: int = 42
    test_size: float = 0.2
    max_rows: int | None = None  # first N clean rows, for quick runs
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    # model
    embedding_dim: int = 300
    lstm_units: int = 64
    mask_zero: bool = False  # the reference does not mask padding
    # fit
    batch_size: int = 128
    epochs: int = 10
    validation_split: float = 0.2
    patience: int = 3
    min_delta: float = 1e-4
    restore_best_weights: bool = False  # the reference keeps the last weights
    deterministic: bool = True  # same seed and data give the same weights

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        tok = TokenizerConfig(**d.pop("tokenizer", {}))
        return cls(tokenizer=tok, **{k: v for k, v in d.items() if k in known})


PRESETS: dict[str, dict] = {
    "seed": {},  # the dataclass defaults are the reference recipe
}


def preset(name: str, **overrides) -> TrainConfig:
    """The named preset with `overrides` (None values are ignored) applied."""
    from classifier.errors import UserError

    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    cfg = TrainConfig(preset=name, **PRESETS[name])
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(cfg, key):
            raise ValueError(f"TrainConfig has no field {key!r}")
        setattr(cfg, key, value)
    return cfg
