"""Read and validate a labelled review CSV, drop missing rows, and split it.

    df = load_labelled(path, "Review Text", "Recommended IND")
    split = make_split(df, cfg)   # the reference 80/20 split, random_state=seed
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifier.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 10  # enough for a test, a validation and a training part


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def closest(name: str, columns) -> str:
    """' (did you mean X?)' for the column most like `name`, or ''."""
    match = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.5)
    if not match:
        lowered = {str(c).lower().strip(): str(c) for c in columns}
        match = [lowered[name.lower().strip()]] if name.lower().strip() in lowered else []
    return f" (did you mean {match[0]!r}?)" if match else ""


def missing_column_error(path, name: str, role: str, columns, flag: str) -> UserError:
    listed = ", ".join(repr(str(c)) for c in columns)
    return UserError(
        f"{path}: no {role} column {name!r}{closest(name, columns)}; "
        f"the columns are {listed}; pass {flag} NAME"
    )


def read_csv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: `score` reaches this module and never needs pandas

    """pandas.read_csv with one-line errors for the ways a file can be wrong."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found; check the path (for the review data run `make data`)")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a CSV file")
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not a UTF-8 text CSV (byte {e.start}: {e.reason})") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; give a CSV with a header row") from None
    except pd.errors.ParserError as e:
        raise UserError(f"{path} is not a well-formed CSV: {str(e).strip()}") from None


def load_labelled(
    path: str | os.PathLike, text_column: str, label_column: str, max_rows: int | None = None,
    optional_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The two columns, rows with a missing value dropped, labels checked to be 0/1.

    Those of `optional_columns` the file has are kept as numbers (NaN where not one); a
    missing value there does not drop the row."""
    import pandas as pd

    df = read_csv(path, dtype={text_column: str}, keep_default_na=True)
    for name, role, flag in ((text_column, "text", "--text-column"), (label_column, "label", "--label-column")):
        if name not in df.columns:
            raise missing_column_error(path, name, role, df.columns, flag)
    n_read = len(df)
    extra = [c for c in optional_columns if c in df.columns and c not in (text_column, label_column)]
    df = df[[text_column, label_column, *extra]].dropna(subset=[text_column, label_column])
    df = df.assign(**{c: pd.to_numeric(df[c], errors="coerce") for c in extra})
    labels = pd.to_numeric(df[label_column], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        values = pd.unique(df.loc[bad, label_column].astype(str))[:5]
        first_row = int(df.index[bad.to_numpy()][0]) + 1
        raise UserError(
            f"{path}: label column {label_column!r} must hold 0 or 1, found "
            f"{', '.join(repr(v) for v in values)} (first at data row {first_row}); "
            f"map the labels to 0/1 or pass --label-column NAME"
        )
    df = df.assign(**{label_column: labels.astype(np.int64)})
    if max_rows is not None:
        df = df.head(max_rows)
    if len(df) < MIN_ROWS:
        raise UserError(
            f"{path}: only {len(df)} usable rows (of {n_read}; rows missing a text or label are "
            f"dropped); need at least {MIN_ROWS} to split into train, validation and test"
        )
    classes = sorted(df[label_column].unique())
    if len(classes) < 2:
        raise UserError(
            f"{path}: every usable row has label {classes[0]} in {label_column!r}; "
            f"training needs rows of both 0 and 1"
        )
    return df


@dataclass
class Split:
    x_train: list[str]
    x_test: list[str]
    y_train: np.ndarray
    y_test: np.ndarray
    aux_train: np.ndarray | None = None  # an auxiliary numeric column (e.g. Rating), NaN where missing; training only


def make_split(df: pd.DataFrame, text_column: str, label_column: str, test_size: float, seed: int,
               aux_column: str | None = None) -> Split:
    """The reference split: `train_test_split(test_size, random_state=seed)` over the clean rows.

    `aux_column`, when `df` has it, is split along (the permutation does not depend on how
    many columns are split)."""
    from sklearn.model_selection import train_test_split

    aux = [df[aux_column]] if aux_column and aux_column in df.columns else []
    x_train, x_test, y_train, y_test, *aux_parts = train_test_split(
        df[text_column], df[label_column], *aux, test_size=test_size, random_state=seed
    )
    return Split(
        list(x_train),
        list(x_test),
        y_train.to_numpy(dtype=np.float32),
        y_test.to_numpy(dtype=np.float32),
        aux_parts[0].to_numpy(dtype=np.float64) if aux_parts else None,  # [train, test]: the test part is not used
    )
