"""Read and validate a labelled review CSV, drop missing rows, and split it.

    df = load_labelled(path, "Review Text", "Recommended IND")
    split = make_split(df, "Review Text", "Recommended IND", test_size=0.2, seed=42)

`split_rows` is the one split: the classifier (`make_split`) and the generator both use it,
so no classifier test row is ever a generator training row.
"""

from __future__ import annotations

import difflib
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifier.errors import UserError, slot
from classifier.io.inputs import binary_kind, input_format, separator
from classifier.io.labels import as_number, check_class_count, class_index, is_binary, user_labels
from classifier.io.records import check_sep, sniff_bom
from classifier.io.texts import label_list, text_list

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 10  # enough for a test, a validation and a training part


def closest(name: str, columns) -> str:
    """' (did you mean X?)' for the column most like `name`, or ''."""
    match = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.5)
    if not match:
        lowered = {str(c).lower().strip(): str(c) for c in columns}
        match = [lowered[name.lower().strip()]] if name.lower().strip() in lowered else []
    return f" (did you mean {match[0]!r}?)" if match else ""


def missing_column_error(path, name: str, role: str, columns, field: str | None) -> UserError:
    """`field` names the setting that picks the column (text_column, label_column); None when the
    column is fixed (a bundle's own)."""
    listed = ", ".join(repr(str(c)) for c in columns)
    fix = "pass {field} NAME" if field else "give a file with the columns the bundle was trained on"
    return UserError(f"{path}: no {role} column {name!r}{closest(name, columns)}; the columns are {listed}; {fix}",
                     field=field, value=name, file=path, column=name)


def read_csv(path: str | os.PathLike, sep: str | None = None, **kwargs) -> pd.DataFrame:
    """pandas.read_csv with one-line errors for the ways a file can be wrong; a UTF-16 / UTF-32
    byte-order mark picks the encoding. The separator follows `score`'s rule (classifier.io.inputs):
    `sep` as given, else tab for a .tsv / .tab name, comma for .csv, and for other names tab when
    the header has tabs and no commas."""
    import pandas as pd  # here, not at the top: `score` reaches this module and never needs pandas

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found; check the path (for the review data run `make data`)")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a CSV file")
    try:
        with open_binary(path) as f:
            head = f.read(4096)
        kind = binary_kind(head)
        if kind:
            raise UserError(f"{path} is {kind}")
        encoding = sniff_bom(head[:4])
        first = head.decode(encoding or "utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
        sep = check_sep(sep) if sep else separator(input_format(path.name), None, first[0] if first else "")
        return pd.read_csv(path, encoding=encoding, sep=sep, **kwargs)
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not a UTF-8 text CSV ({first_bad_byte(path, encoding, e)}); "
                        f"save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; give a CSV with a header row") from None
    except pd.errors.ParserError as e:
        raise UserError(f"{path} is not a well-formed CSV: {str(e).strip()}") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path}: not a readable gzip file ({e or 'it ends early'}); check the file or "
                        f"decompress it") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None


def open_binary(path: Path):
    """The file's bytes, through gzip when it starts with gzip's magic bytes."""
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb")
    f.seek(0)
    return f


def first_bad_byte(path: Path, encoding: str | None, error: UnicodeDecodeError) -> str:
    """'line L, byte B of the file: REASON' for the first byte that does not decode (pandas reports
    a position inside its own buffer, not the file's)."""
    with open_binary(path) as f:
        data = f.read()
    try:
        data.decode(encoding or "utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return f"line {line}, byte {e.start}: {e.reason}"
    return error.reason


def load_labelled(
    path: str | os.PathLike, text_column: str, label_column: str, max_rows: int | None = None,
    optional_columns: tuple[str, ...] = (), column_flags: bool = True, sep: str | None = None,
) -> pd.DataFrame:
    """The two columns of a CSV file, rows with a missing value dropped, labels read by
    classifier.io.labels' rules (`clean_labelled`): the label column is read as text, so labels are
    kept as written. Missing values are pandas' defaults (empty, NA, N/A, null, ...), as the
    reference recipe's `read_csv(...).dropna()` reads them. Without `column_flags` (evaluating a
    bundle, whose columns are fixed) a missing column's error names no option to change it."""
    df = read_csv(path, sep, dtype={text_column: str, label_column: str}, keep_default_na=True)
    for name, role, flag in ((text_column, "text", "text_column"), (label_column, "label", "label_column")):
        if name not in df.columns:
            err = missing_column_error(path, name, role, df.columns, flag if column_flags else None)
            if len(df.columns) == 1 and any(c in str(df.columns[0]) for c in ",;\t|"):
                raise UserError(f"{err}; or the file uses another separator: pass {slot('sep')}") from None
            raise err
    return clean_labelled(df, text_column, label_column, str(path), max_rows, optional_columns)


def clean_labelled(df: pd.DataFrame, text_column: str, label_column: str, name: str,
                   max_rows: int | None = None, optional_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows with a text and a label (the first `max_rows` of them). Labels that are all 0 or 1 as
    numbers become the ints 0/1 (the binary model); others are the user's values
    (classifier.io.labels.user_labels), at least two and at most MAX_CLASSES of them.

    Those of `optional_columns` the frame has are kept as numbers (NaN where not one); a
    missing value there does not drop the row. Their names match in any case (the tuned stack's
    `Rating` is the Korean set's `rating`) and come back as asked. `name` says where the rows came
    from, in errors."""
    import pandas as pd

    n_read = len(df)
    found = {c: column_like(c, df.columns) for c in optional_columns}
    found = {c: f for c, f in found.items() if f is not None and f not in (text_column, label_column)}
    extra = list(found)
    df = df[[text_column, label_column, *found.values()]].rename(columns={f: c for c, f in found.items()})
    df = df.dropna(subset=[text_column, label_column])
    df = df.assign(**{c: pd.to_numeric(df[c], errors="coerce") for c in extra})
    if is_binary(df[label_column]):
        labels = pd.to_numeric(df[label_column]).astype(np.int64)
    else:
        labels = pd.Series(user_labels(df[label_column]), index=df.index, dtype=object)
    df = df.assign(**{label_column: labels})
    if max_rows is not None:
        df = df.head(max_rows)
    if len(df) < MIN_ROWS:
        raise UserError(
            f"{name}: only {len(df)} usable rows (of {n_read}; rows missing a text or label are "
            f"dropped); need at least {MIN_ROWS} to split into train, validation and test"
        )
    distinct = pd.unique(df[label_column])
    if len(distinct) < 2:
        label = distinct[0]
        binary = df[label_column].dtype == np.int64  # the 0/1 labels; a multi-class column is of objects
        shown, both = (label, "rows of both 0 and 1") if binary else (repr(label), "at least two classes")
        raise UserError(f"{name}: every usable row has label {shown} in {label_column!r}; training needs {both}")
    check_class_count(len(distinct), name, label_column)
    return df


def column_like(name: str, columns) -> str | None:
    """`name` if the frame has it, else its only column of that name in another case, else None."""
    if name in columns:
        return name
    alike = [c for c in columns if str(c).lower() == name.lower()]
    return alike[0] if len(alike) == 1 else None


@dataclass
class Split:
    x_train: list[str]
    x_test: list[str]
    y_train: np.ndarray
    y_test: np.ndarray
    aux_train: np.ndarray | None = None  # an auxiliary numeric column (e.g. Rating), NaN where missing; training only
    train_sources: np.ndarray | None = None  # each row's source name, when several were given (io/sources.py)
    test_sources: np.ndarray | None = None


def split_rows(df: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train rows, test rows): `train_test_split(test_size, random_state=seed)` over the rows of `df`.

    The permutation depends on the row count and seed alone, so it is the reference split
    whichever columns are taken from it. `test_size` 0 (fit() in memory) holds no row out."""
    if not test_size:
        return df, df.iloc[:0]
    from sklearn.model_selection import train_test_split

    train_at, test_at = train_test_split(np.arange(len(df)), test_size=test_size, random_state=seed)
    return df.iloc[train_at], df.iloc[test_at]


def make_split(df: pd.DataFrame, text_column: str, label_column: str, test_size: float, seed: int,
               aux_column: str | None = None, classes: list | None = None, name: str = "the data") -> Split:
    """The classifier's texts and labels on `split_rows`; `aux_column`, when `df` has it (and it is
    not the label), comes along for the training rows. Labels are 0/1 float32 for the binary model;
    with `classes`, each label's position in them (int64; a label outside them is a UserError)."""
    train, test = split_rows(df, test_size, seed)
    aux = aux_column if aux_column and aux_column in df.columns and aux_column != label_column else None
    if classes is None:
        y_train, y_test = (part[label_column].to_numpy(dtype=np.float32) for part in (train, test))
    else:
        y_train, y_test = (class_index(part[label_column].tolist(), classes, name, label_column)
                           for part in (train, test))
    return Split(
        train[text_column].tolist(),
        test[text_column].tolist(),
        y_train,
        y_test,
        None if aux is None else train[aux].to_numpy(dtype=np.float64),
    )


def whole_file(df: pd.DataFrame, text_column: str, label_column: str, classes: list | None = None,
               name: str = "the data") -> Split:
    """Every row of `df` as the test part (a separate test file: `evaluate --all-rows`), labels as
    `make_split` gives them; the training part is empty."""
    if classes is None:
        y_test = df[label_column].to_numpy(dtype=np.float32)
    else:
        y_test = class_index(df[label_column].tolist(), classes, name, label_column)
    return Split([], df[text_column].tolist(), y_test[:0].copy(), y_test)


def texts_and_labels(texts, labels, where: str) -> tuple[list[str | None], list]:
    """In-memory texts and labels by classifier.io.texts' rules, one label per text (None where missing)."""
    texts, labels = text_list(texts, where), label_list(labels, where)
    if len(texts) != len(labels):
        raise UserError(f"{where}: {len(texts)} texts but {len(labels)} labels; give one label per text")
    return texts, labels


def labelled_split(texts, labels, classes: list | None, where: str) -> Split:
    """In-memory texts and labels as the test part (evaluate, score): the rows with a text and a
    label, as a CSV's rows are read; labels as `make_split` gives them, 0/1 for `classes` None."""
    texts, labels = texts_and_labels(texts, labels, where)
    keep = [i for i, (t, y) in enumerate(zip(texts, labels, strict=True)) if t is not None and y is not None]
    if not keep:
        raise UserError(f"{where}: no row has both a text and a label ({len(texts)} rows given)")
    x, y = [texts[i] for i in keep], [labels[i] for i in keep]
    if classes is None:
        if not is_binary(y):
            odd = next(v for v in y if as_number(v) not in (0, 1))
            raise UserError(f"{where}: label {odd!r} is not 0 or 1, but the bundle is a 0/1 bundle; "
                            f"give its 0/1 labels")
        return Split([], x, np.zeros(0, np.float32), np.array([as_number(v) for v in y], dtype=np.float32))
    y_test = class_index(user_labels(y), classes, where, "labels")
    return Split([], x, y_test[:0].copy(), y_test)
