"""config.json checked at load, field by field: a hand-edited bundle is one line naming the file and
the field, never a traceback later or an error blaming an option the user did not give.

    check_meta(Path("saved_models/default/config.json"), meta, kind_files=("classifier.keras",))
    check_model_fits(path / "config.json", meta, 3000, path / "classifier.keras")  # outputs, embedding rows

A field a newer version may add to the training config is ignored (it cannot change what the
saved model computes); an unknown tokenizer field is refused, as it would change the ids.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from classifier.config import TokenizerConfig, TrainConfig
from classifier.errors import UserError
from classifier.io.morphemes import ANALYZERS

TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "None": (type(None),)}
WORDS = {"str": "a text", "int": "an integer", "float": "a number", "bool": "true or false", "None": "null"}

# (low, high) bounds, both included unless noted in OPEN_ABOVE / OPEN_BELOW; or the allowed values
RANGES: dict[str, tuple | frozenset] = {
    "seed": (0, 2**32 - 1), "init_seed": (0, 2**32 - 1), "test_size": (0, 1), "max_rows": (1, None),
    "min_count": (0, None), "embedding_dim": (1, None), "lstm_units": (1, None), "dropout": (0, 1),
    "tfidf_ngrams": (1, None), "tfidf_min_df": (1, None), "tfidf_c": (0, None), "tfidf_nb": (0, None),
    "batch_size": (1, None), "epochs": (1, None), "validation_split": (0, 1), "patience": (0, None),
    "min_delta": (0, None), "num_words": (2, None), "maxlen": (1, None),
    "model": frozenset({"lstm", "tfidf"}), "fit_engine": frozenset({"padskip", "keras"}),
    "threshold_rule": frozenset({"fixed", "f1_macro"}), "padding": frozenset({"pre", "post"}),
    "truncating": frozenset({"pre", "post"}), "analyzer": frozenset(ANALYZERS),
}
OPEN_BELOW = {"tfidf_c"}  # 0 itself is not allowed (test_size 0: a bundle fit() trained on every row)
OPEN_ABOVE = {"test_size", "dropout", "validation_split"}  # 1 itself is not allowed


def bad(file: Path, field: str, value, wanted: str) -> UserError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return UserError(f"{file}: {field} is {shown}, expected {wanted}; restore the bundle's own config.json "
                     f"or retrain it")


def check_value(file: Path, field: str, value, annotation: str) -> None:
    allowed = tuple(t for name in annotation.split("|") for t in TYPES.get(name.strip(), (object,)))
    if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
        raise bad(file, field, value, " or ".join(WORDS.get(n.strip(), n.strip()) for n in annotation.split("|")))
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(file, field, value, "a finite number")
    rule = RANGES.get(field.rsplit(".", 1)[-1])
    if value is None or rule is None or isinstance(value, bool):
        return
    if isinstance(rule, frozenset):
        if value not in rule:
            raise bad(file, field, value, "one of " + ", ".join(sorted(rule)))
        return
    low, high = rule
    name = field.rsplit(".", 1)[-1]
    too_low = value < low or (name in OPEN_BELOW and value == low)
    too_high = high is not None and (value > high or (name in OPEN_ABOVE and value == high))
    if too_low or too_high:
        above = "above" if name in OPEN_BELOW else "at least"
        below = "" if high is None else f" and {'below' if name in OPEN_ABOVE else 'at most'} {high}"
        raise bad(file, field, value, f"a number {above} {low}{below}")


def check_fields(file: Path, prefix: str, d: dict, cls, unknown_ok: bool) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in d.items():
        if key not in fields:
            if unknown_ok:
                continue
            raise UserError(f"{file}: {prefix}.{key} is a setting this version does not know (a newer "
                            f"classifier's bundle?); upgrade classifier or retrain the bundle")
        if key == "tokenizer":
            continue
        check_value(file, f"{prefix}.{key}", value, fields[key].type)


def check_meta(file: Path, meta: dict, kind_files: tuple[str, ...]) -> None:
    """Every field of a bundle's config.json a load reads, and that the kind's files are all hashed."""
    config = meta["config"]
    check_fields(file, "config", config, TrainConfig, unknown_ok=True)
    tok = config.get("tokenizer", {})
    if not isinstance(tok, dict):
        raise bad(file, "config.tokenizer", tok, "an object of tokenizer settings")
    check_fields(file, "config.tokenizer", tok, TokenizerConfig, unknown_ok=False)
    if "threshold" in meta:
        check_value(file, "threshold", meta["threshold"], "float")
        if not 0 <= meta["threshold"] <= 1:
            raise bad(file, "threshold", meta["threshold"], "a number from 0 to 1")
    if "classes" in meta:
        classes = meta["classes"]
        if (not isinstance(classes, list) or len(classes) < 2
                or any(isinstance(c, bool) or not isinstance(c, (str, int)) for c in classes)
                or len({str(c) for c in classes}) != len(classes)):
            raise bad(file, "classes", classes, "a list of two or more distinct labels (texts or integers)")
    if "blend" in meta:
        blend = meta["blend"]
        if not isinstance(blend, dict) or not ({"coef", "bias"} <= blend.keys()
                                               or {"lstm", "tfidf", "bias"} <= blend.keys()):
            raise bad(file, "blend", blend, "the tuned stack's weights (lstm, tfidf and bias, or coef and bias)")
    files = meta.get("files")
    if not isinstance(files, dict) or any(not isinstance(v, str) for v in files.values()):
        raise bad(file, "files", files, "an object of file name to sha256")
    for name in kind_files:
        if name not in files:
            raise UserError(f"{file}: files has no sha256 of {name}, which this kind of bundle needs; a "
                            f"bundle's files are all hash-checked: restore its own config.json or retrain it")


def check_model_fits(file: Path, meta: dict, num_words: int, keras_file: Path | None,
                     n_outputs: int | None = None) -> None:
    """The model's own shapes against config.json and the tokenizer: as many outputs as classes, an
    embedding row for every id the tokenizer gives. `keras_file` is read for its config only."""
    classes = meta.get("classes")
    want = len(classes) if classes else 1
    if keras_file is not None:
        from classifier.io.keras_file import read_keras_file, saved_layers

        layers, _ = saved_layers(read_keras_file(keras_file, weights=False)[0])
        dense = [c for kind, c in layers if kind == "Dense"]
        emb = [c for kind, c in layers if kind == "Embedding"]
        units = dense[-1].get("units") if dense else None
        if isinstance(units, int) and units != want:
            raise UserError(f"{file}: classes lists {want if classes else 'no classes (a 0/1 bundle)'}"
                            f"{'' if not classes else ' classes'}, but {keras_file.name} has {units} outputs; "
                            f"restore the bundle's own config.json or retrain it")
        dim = emb[0].get("input_dim") if emb else None
        if isinstance(dim, int) and dim < num_words:
            raise UserError(f"{file.parent / 'tokenizer.json'}: config.num_words is {num_words}, but "
                            f"{keras_file.name} has embeddings for ids below {dim} only; restore the bundle's own "
                            f"files or retrain it")
    if keras_file is None and n_outputs != (len(classes) if classes else None):
        raise UserError(f"{file}: classes lists {len(classes) if classes else 'no classes (a 0/1 bundle)'}, but "
                        f"the tfidf model has {n_outputs or 'one output'}; restore the bundle's own config.json "
                        f"or retrain it")
