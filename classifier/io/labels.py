"""Label values: which labels make the binary 0/1 model, the user's own values otherwise, and their order.

    labels = user_labels(["Tops", "Dresses", "Tops"])      # ["Tops", "Dresses", "Tops"]
    classes = classes_of(labels)                          # ["Dresses", "Tops"]; None for 0/1 labels
    y = class_index(labels, classes, "reviews.csv", "Department Name")   # [1, 0, 1]

The rules (README, train):
- every label, read as a number, is 0 or 1 ("0", "1", "1.0"): the binary model, labels the ints 0 and 1,
  exactly as before multi-class training existed;
- otherwise the labels are the user's values: integers when every one is written as an integer
  (`Rating` 1..5), else the text of each cell as written ("1.5", "Dresses", " 3" stays " 3" only if
  some other label is not an integer);
- classes are sorted: integers ascending, text by code point. The order is stored in the bundle
  (config.json `classes`) and is the column order of every probability output.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np

from classifier.errors import UserError, slot

MAX_CLASSES = 1000  # more distinct labels than this is almost always an id or a free-text column
INTEGER = re.compile(r"[+-]?[0-9]+")


def is_binary(values) -> bool:
    """Whether every value, read as a number, is 0 or 1 (the labels the sigmoid model always took)."""
    return all(as_number(v) in (0, 1) for v in values)


def as_number(value) -> float | None:
    if isinstance(value, numbers.Number):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def integer_of(value) -> int | None:
    """The integer a label stands for, or None: a Python / NumPy integer, a float with no
    fraction (in-memory labels from a column that held NaN), or text that is only digits."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return int(value) if math.isfinite(value) and float(value).is_integer() else None
    text = str(value).strip()
    return int(text) if INTEGER.fullmatch(text) else None


def user_labels(values) -> list:
    """The labels as kept in the bundle: all integers when every value is one, else text as written."""
    values = list(values)
    ints = [integer_of(v) for v in values]
    if all(i is not None for i in ints):
        return ints
    return [v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v) for v in values]


def classes_of(labels) -> list | None:
    """The sorted distinct labels, or None for the binary model's 0/1 labels."""
    distinct = set(labels)
    if distinct <= {0, 1} and all(isinstance(v, numbers.Integral) for v in distinct):
        return None
    return sorted(distinct)


def class_index(labels, classes: list, name: str, column: str) -> np.ndarray:
    """Each label's position in `classes` (int64); a label outside them is a UserError naming it."""
    at = {c: i for i, c in enumerate(classes)}
    unknown = sorted({v for v in labels if v not in at}, key=str)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise UserError(f"{name}: label column {column!r} holds {shown}, not among the bundle's classes "
                        f"({', '.join(map(repr, classes[:10]))}{', ...' if len(classes) > 10 else ''}); "
                        f"give the file the bundle was trained on")
    return np.fromiter((at[v] for v in labels), dtype=np.int64, count=len(labels))


def check_class_count(n: int, name: str, column: str) -> None:
    if n > MAX_CLASSES:
        raise UserError(f"{name}: label column {column!r} has {n:,} distinct values, more than {MAX_CLASSES:,} "
                        f"classes (an id or a text column?); pass {slot('label_column')} NAME of a label column")


def check_min_count(y_train: np.ndarray, classes: list, min_count: int, name: str, column: str) -> None:
    """Refuse classes with fewer than `min_count` training rows, naming them."""
    counts = np.bincount(y_train.astype(np.int64), minlength=len(classes))
    few = [(classes[i], int(counts[i])) for i in np.flatnonzero(counts < min_count)]
    if few:
        shown = ", ".join(f"{c!r} ({n} training row{'s' if n != 1 else ''})" for c, n in few[:10])
        more = f" and {len(few) - 10} more" if len(few) > 10 else ""
        raise UserError(f"{name}: label column {column!r}: class{'es' if len(few) > 1 else ''} {shown}{more} "
                        f"{'have' if len(few) > 1 else 'has'} fewer than {slot('min_count')} {min_count} "
                        f"training rows; "
                        f"drop or merge those rows in the file, or lower {slot('min_count')} (0 keeps them)")


def proba_column(label) -> str:
    """The output column holding P(label)."""
    return f"proba_{label}"
