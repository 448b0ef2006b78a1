"""What the Python API takes as texts: the one check behind fit, predict, predict_proba, evaluate and score.

    text_list(df["Review Text"], "predict_proba")   # ["Love it", None, ...]: None where a text is missing
    as_texts(["Love it", float("nan")], "predict")  # ["Love it", ""]: a missing text is an empty one

Accepted, as scikit-learn users pass them: a list, tuple or any iterable of str, a 1-D NumPy array
of str or object, a pandas Series, a one-column DataFrame or (n, 1) array. Refused with a
UserError: a bare string or bytes (iterating one would score each character), a table of several
columns, and items that are not text. None, NaN and pandas' NA mark a missing text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from classifier.errors import UserError


def is_missing(item) -> bool:
    """None, a float NaN (NumPy's too) or pandas' NA / NaT, without importing pandas."""
    if item is None:
        return True
    if isinstance(item, float):
        return math.isnan(item)
    return type(item).__name__ in ("NAType", "NaTType")


def text_list(texts, where: str) -> list[str | None]:
    """`texts` as a list of str, None where a text is missing; `where` names the caller in errors."""
    out: list[str | None] = []
    for i, item in enumerate(items_of(texts, where, "texts")):
        if isinstance(item, str):
            out.append(str(item))  # NumPy's str_ as a plain str
        elif is_missing(item):
            out.append(None)
        else:
            raise UserError(f"{where}: text {i} is {item!r:.40} of type {type(item).__name__}, not a str; pass "
                            f"texts as str (None or NaN for a missing one)")
    return out


def as_texts(texts, where: str) -> list[str]:
    """`text_list` with each missing text empty: it gets what an empty text gets."""
    return ["" if t is None else t for t in text_list(texts, where)]


def label_list(labels, where: str) -> list:
    """`labels` (one per text, any scalar; None / NaN where missing) as a list, by the same rules."""
    return [None if is_missing(v) else v for v in items_of(labels, where, "labels")]


def items_of(texts, where: str, what: str) -> list:
    """The items of a list-like of one value per row, refusing what is not one."""
    if isinstance(texts, str | bytes | bytearray):
        more = "..." if len(texts) > 40 else ""
        raise UserError(f"{where}: got one {type(texts).__name__} ({texts[:40]!r}{more}), not a list of {what}; "
                        f"pass a list, e.g. [text]")
    if isinstance(texts, Mapping):
        raise UserError(f"{where}: got a {type(texts).__name__}, not a list of {what}; pass a list (its values?)")
    columns = getattr(texts, "columns", None)
    if columns is not None and hasattr(texts, "iloc"):  # a DataFrame: its one column, never its column names
        if len(columns) != 1:
            listed = ", ".join(repr(str(c)) for c in list(columns)[:5]) + (", ..." if len(columns) > 5 else "")
            raise UserError(f"{where}: got a table of {len(columns)} columns ({listed}) as {what}; pass one "
                            f"column, e.g. df[{str(columns[0]) if len(columns) else 'NAME'!r}]")
        texts = texts.iloc[:, 0]
    if hasattr(texts, "shape") and hasattr(texts, "dtype"):  # a NumPy array, a pandas Series or Index
        array = np.asarray(texts, dtype=object)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise UserError(f"{where}: got an array of shape {array.shape} as {what}; pass one value per row "
                            f"(a 1-D array or a single column)")
        texts = array.tolist()
    try:
        return list(texts)
    except TypeError:
        raise UserError(f"{where}: got {texts!r:.40} of type {type(texts).__name__}, not a list of {what}; "
                        f"pass a list") from None
