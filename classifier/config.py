"""Typed configs and presets. The `reference` preset is the reference recipe, setting for setting.

    from classifier.config import preset
    cfg = preset("reference", epochs=1, max_rows=2000)
    cfg = preset("reference", **{"tokenizer.num_words": 8000})     # or num_words=8000, or tokenizer={...}
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from classifier.errors import UserError

# what the command line reads and writes when not told otherwise (the Python API takes paths)
DEFAULT_DATA = Path("data/womens_clothing_ecommerce_reviews.csv")
DEFAULT_MODEL_DIR = Path("saved_models/default")
MODEL_ENV = "CLASSIFIER_MODEL"  # the bundle to read when none is named, wherever the command runs
DEFAULT_JUDGE = Path("saved_models/tuned")  # judges generated sentiment, when it is there
# sentiment agreement samples a side: the figures on record are measured with this many
AGREEMENT_SAMPLES = 200


def default_model_dir() -> Path:
    """The bundle a command reads when none is named: $CLASSIFIER_MODEL; else saved_models/default in
    the working folder; else the repository's copy beside the package (an editable install)."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    if DEFAULT_MODEL_DIR.is_dir():
        return DEFAULT_MODEL_DIR
    beside = Path(__file__).resolve().parent.parent / DEFAULT_MODEL_DIR
    if beside.is_dir():
        return beside
    raise UserError(f"no bundle named and none found: pass {{field}} DIR, or set {MODEL_ENV}=DIR "
                    f"(neither {DEFAULT_MODEL_DIR} here nor {beside} exists)", field="model")


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
    # "words": the Keras rules above; "korean": kiwipiepy's morphemes (classifier.io.morphemes), which
    # split the particles and endings Korean glues to its words (lower-casing done there, filters unused)
    analyzer: str = "words"


@dataclass
class TrainConfig:
    """One typed config: data, split, tokenizer, model and fit settings."""

    preset: str = "reference"
    text_column: str = "Review Text"
    label_column: str = "Recommended IND"
    seed: int = 42
    init_seed: int | None = None  # seeds weights and shuffling instead of `seed`, keeping the split
    test_size: float = 0.2
    max_rows: int | None = None  # first N clean rows, for quick runs
    # labels other than 0/1 train a softmax head; a class with fewer training rows than this is refused
    min_count: int = 1
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    # model
    embedding_dim: int = 300
    lstm_units: int = 64
    mask_zero: bool = False  # the reference does not mask padding
    model: str = "lstm"  # "lstm", or "tfidf": the TF-IDF + logistic regression baseline (no Keras)
    bidirectional: bool = False
    dropout: float = 0.0  # on the embeddings and on the LSTM output; 0 adds no layers
    # tfidf baseline: scikit-learn TfidfVectorizer(ngram_range=(1, n), min_df, sublinear_tf) + LogisticRegression(C)
    tfidf_ngrams: int = 2
    tfidf_min_df: int = 2
    tfidf_c: float = 4.0
    # NBSVM-style scaling: each feature times sign(r)|r|**tfidf_nb, r its naive Bayes log-count ratio
    # between the classes (Wang & Manning 2012); 0 is plain TF-IDF. Folded into the saved weights.
    tfidf_nb: float = 0.0
    # the lexicon prior (classifier/models/lexicon.py): VADER's valences as pseudo-terms joined to the
    # n-grams, their idf times this weight; 0 leaves them out
    tfidf_lexicon: float = 0.0
    # pretrained word vectors (classifier/models/vectors.py): each text's mean wordllama vector,
    # standardised, joined to the TF-IDF row as dense columns whose block is about this long (a TF-IDF
    # row's length is 1); 0 leaves them out
    tfidf_vectors: float = 0.0
    # several sources (classifier/io/sources.py): weigh each source's rows so that every source counts
    # the same in the fit, however many rows it has (tfidf only)
    balance_sources: bool = False
    # a column joined before the text where a source has it ("Title. Review text")
    title_column: str | None = None
    # lstm + tfidf: also fit the tfidf model on the tokenizer's word ids and stack the two with a
    # logistic regression over their logits, fitted on the validation split
    blend_tfidf: bool = False
    # blend_tfidf: a numeric column known only at training time (the star `Rating`) that a ridge
    # regression on the same TF-IDF features learns; its prediction is a third input of the stack.
    # Skipped, with a notice, when the file has no such column.
    aux_column: str | None = None
    # fit
    batch_size: int = 128
    epochs: int = 10
    validation_split: float = 0.2
    patience: int = 3
    min_delta: float = 1e-4
    restore_best_weights: bool = False  # the reference keeps the last weights
    deterministic: bool = True  # same seed and data give the same weights
    # "padskip": classifier/fastfit.py, the same model, loss and gradients, running the shared
    # padding prefix once per batch; falls back to "keras" (plain model.fit) for models it cannot run
    fit_engine: str = "padskip"
    bucketing: bool = True  # padskip: batches of similar length; False keeps fit()'s own batches
    # "fixed": 0.5, as the reference; "f1_macro": the cut that maximises the mean F1 of both
    # classes on the validation split, saved in the bundle and used by `score`
    threshold_rule: str = "fixed"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        tok = TokenizerConfig(**d.pop("tokenizer", {}))
        return cls(tokenizer=tok, **{k: v for k, v in d.items() if k in known})


PRESETS: dict[str, dict] = {
    "reference": {},  # the dataclass defaults are the reference recipe
    "tuned": {
        # reviews have at most 116 words: 128 steps with masked padding cost a third of 400
        # and make the prediction independent of padding length; 8000 words ~ every word seen twice
        "tokenizer": {"num_words": 8000, "maxlen": 128},
        "embedding_dim": 64,
        "mask_zero": True,
        "bidirectional": True,  # reads the review both ways: better than one direction on validation
        "dropout": 0.4,
        "batch_size": 64,
        "patience": 2,
        "restore_best_weights": True,  # validation loss is lowest after epoch 1 or 2, then it overfits
        "blend_tfidf": True,  # alone the LSTM stays below the linear model; stacked, each adds to the other
        # the stacked partner: NB-scaled 1-3 grams, stronger alone than plain 1-2 grams
        "tfidf_ngrams": 3,
        "tfidf_nb": 0.5,
        "tfidf_c": 8.0,
        # stars say more than the yes/no label (chosen on the validation split)
        "aux_column": "Rating",
        "threshold_rule": "f1_macro",
        "fit_engine": "keras",  # the pad-skipping fitter does not take masked models
    },
    "tfidf": {"model": "tfidf", "threshold_rule": "f1_macro"},  # SPEC's linear bar, trained in seconds
    # reviews from anywhere (docs/benchmarks.md, "Reviews from other domains"): the tfidf model with the
    # lexicon prior, the title before the text, and every source weighing the same
    "general": {"model": "tfidf", "threshold_rule": "f1_macro", "tfidf_lexicon": 1.0, "balance_sources": True,
                "title_column": "title"},
    # general with the pretrained word vectors beside the n-grams, at the weight the validation folds chose
    "general-vectors": {"model": "tfidf", "threshold_rule": "f1_macro", "tfidf_lexicon": 1.0,
                        "balance_sources": True, "title_column": "title", "tfidf_vectors": 0.1},
}


def apply_overrides(cfg, overrides: dict):
    """Set each field of `overrides` on `cfg`, skipping None (a flag not given)."""
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(cfg, key):
            raise ValueError(f"{type(cfg).__name__} has no field {key!r}")
        setattr(cfg, key, value)
    return cfg


def field_names(cfg: TrainConfig) -> list[str]:
    """Every settable name: the config's fields and the tokenizer's as `tokenizer.NAME`."""
    top = [f.name for f in dataclasses.fields(cfg) if f.name not in ("tokenizer", "preset")]
    return top + [f"tokenizer.{f.name}" for f in dataclasses.fields(cfg.tokenizer)]


def set_field(cfg: TrainConfig, key: str, value) -> None:
    """Set one field by name: `epochs`, `tokenizer.num_words`, a tokenizer field by its own name
    (`num_words`, no TrainConfig field has one), or `tokenizer` to a dict of tokenizer fields (or a
    TokenizerConfig).
    The value must fit the field's type (an int is a float too; None where the field allows it)."""
    if key == "tokenizer" and isinstance(value, TokenizerConfig):
        cfg.tokenizer = value
        return
    if key == "tokenizer" and isinstance(value, dict):
        for name, v in value.items():
            set_field(cfg, f"tokenizer.{name}", v)
        return
    owner, name = cfg, key
    if key.startswith("tokenizer."):
        owner, name = cfg.tokenizer, key.removeprefix("tokenizer.")
    elif key not in {f.name for f in dataclasses.fields(cfg)} and key in {f.name for f in
                                                                        dataclasses.fields(cfg.tokenizer)}:
        owner = cfg.tokenizer
    fields = {f.name: f for f in dataclasses.fields(owner)}
    if name not in fields or (owner is cfg and name in ("tokenizer", "preset")):
        names = field_names(cfg)
        short = {n.removeprefix("tokenizer."): n for n in names}  # `num_word` is close to `num_words`
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6) or [
            short[n] for n in difflib.get_close_matches(key.removeprefix("tokenizer."), short, n=3, cutoff=0.6)]
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UserError(f"no setting {key!r}; {hint}the settings are listed in docs/presets.md")
    setattr(owner, name, typed_value(key, fields[name].type, value))


def typed_value(key: str, annotation: str, value):
    """`value` checked against a field's annotation (a string: this module postpones them)."""
    kinds = [k.strip() for k in str(annotation).split("|")]
    if value is None and "None" in kinds:
        return None
    if "bool" in kinds and isinstance(value, bool):
        return value
    if "int" in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    if "float" in kinds and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if "str" in kinds and isinstance(value, str):
        return value
    wanted = " or ".join({"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                          "None": "null"}.get(k, k) for k in kinds)
    raise UserError(f"setting {key!r} takes {wanted}, got {value!r}")


def preset(name: str, analyzer: str | None = None, **overrides) -> TrainConfig:
    """The named preset with `overrides` (None values are ignored) applied: any field by name,
    `tokenizer.num_words` (as `**{"tokenizer.num_words": 8000}`), a tokenizer field by its own name
    (`num_words=8000`) or `tokenizer={"num_words": 8000}`; `analyzer` is the tokenizer's (words,
    korean). An unknown name or a value of the wrong type is a UserError."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    cfg = TrainConfig.from_dict({"preset": name, **PRESETS[name]})  # fresh objects: presets stay unchanged
    apply_overrides(cfg.tokenizer, {"analyzer": analyzer})
    for key, value in overrides.items():
        if value is not None:
            set_field(cfg, key, value)
    return cfg


@dataclass
class GeneratorConfig:
    """The text-generation head. The dataclass defaults are the reference generator (the `reference` preset)."""

    preset: str = "reference"
    text_column: str = "Review Text"
    max_texts: int | None = None  # the first N texts of the training split, for quick runs
    seed: int = 42
    # model: `context` > 0 is a window model (the last N words predict the next one);
    # 0 reads the whole review from a start token and predicts every next word (teacher forcing)
    context: int = 2
    maxlen: int = 128  # whole-review models: words per review kept (the longest review has 115)
    embedding_dim: int = 16
    lstm_units: int = 64
    lstm_layers: int = 5
    relu_dense: bool = True  # Dense(vocab) -> ReLU before the output Dense(vocab), as the reference
    projection: int = 0  # > 0: a linear Dense of this width between the LSTMs and the output layer
    dropout: float = 0.0
    sentiment_token: bool = False  # start each review with a token for its label
    # whole-review models: mix in a Kneser-Ney trigram of the same training reviews, its weight
    # chosen on the validation reviews (needs validation_split > 0)
    ngram: bool = False
    label_dropout: float = 0.0  # share of reviews given the neutral start token instead
    # fit
    learning_rate: float = 1e-3
    clipnorm: float | None = None
    batch_size: int = 64
    epochs: int = 2  # the reference does not say; its model costs ~9.4M multiplies a word
    validation_split: float = 0.0
    patience: int = 0  # 0: no early stopping
    # > 0: after this many epochs at `learning_rate`, halve the rate every epoch (a fixed schedule
    # reaches the low-rate gains sooner than waiting for validation to stall)
    decay_after: int = 0
    restore_best_weights: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


GENERATOR_PRESETS: dict[str, dict] = {
    "reference": {},  # two-word window, Embedding 16, 5 x LSTM(64), Dense -> ReLU -> Dense, Adam 1e-3, batch 64
    "default": {
        # whole reviews, one wide LSTM carried across the review, sentiment start token;
        # early stopping on validation loss (= log perplexity), best weights kept
        "context": 0,
        "embedding_dim": 128,
        "lstm_units": 256,
        "lstm_layers": 1,
        "relu_dense": False,
        "projection": 128,
        "dropout": 0.2,
        "sentiment_token": True,
        "ngram": True,
        "label_dropout": 0.15,  # so the model also writes reviews of no chosen sentiment
        "clipnorm": 1.0,
        # a high rate, chosen from one-epoch runs on the full data
        "learning_rate": 1e-2,
        "decay_after": 4,  # halving the rate gave the largest single drop; halved on a schedule, fewer epochs do
        # one epoch fewer than the best validation loss, for nearly the same perplexity, so that
        # `make train` stays short on a laptop (docs/benchmarks.md has the figures)
        "epochs": 6,
        "validation_split": 0.1,
        "patience": 2,
        "restore_best_weights": True,
    },
}

EXPERT_PRESET: dict = {
    # a steering expert (or anti-expert): the reviews of one class, read whole from the neutral
    # start token; small, so two of them beside the base keep steered sampling fast
    "context": 0,
    "embedding_dim": 64,
    "lstm_units": 128,
    "lstm_layers": 1,
    "relu_dense": False,
    "projection": 64,
    "dropout": 0.1,
    "learning_rate": 1e-2,
    "clipnorm": 1.0,
    "decay_after": 2,
    "epochs": 4,
    "validation_split": 0.1,
    "patience": 1,
    "restore_best_weights": True,
}


def generator_preset(name: str, **overrides) -> GeneratorConfig:
    """The named generator preset with `overrides` (None values are ignored) applied."""
    if name not in GENERATOR_PRESETS:
        raise UserError(f"unknown generator preset {name!r}; choose one of: {', '.join(GENERATOR_PRESETS)}")
    cfg = GeneratorConfig(preset=name, **GENERATOR_PRESETS[name])
    return apply_overrides(cfg, overrides)


def expert_preset(**overrides) -> GeneratorConfig:
    """The steering experts' settings with `overrides` (None values are ignored) applied."""
    return apply_overrides(GeneratorConfig(preset="expert", **EXPERT_PRESET), overrides)
