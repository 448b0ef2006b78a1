"""Several labelled review sources as one training set, each split on its own.

    sources = [Source.parse("data/clothing.csv", "Review Text", "Recommended IND"),
               Source.parse("domains.csv:text:rating", "Review Text", "Recommended IND")]
    df = load_sources(sources, "Review Text", "Recommended IND", labels=LabelMap.parse("4,5", "1,2"),
                      group_column="domain")
    split = source_split(df, "Review Text", "Recommended IND", test_size=0.2, seed=42)

A source is a file (`FILE[:TEXT_COLUMN[:LABEL_COLUMN]]`), or each group of a file's `group_column`
(a file without that column is one source).
Every source's text and label columns become the config's two; labels other than 0/1 become 0/1
through the user's `LabelMap` (4-5 stars positive, 1-2 negative: a 3 is left out, and each source
says how many rows that was). Each source is split by `split_rows` with the same test_size and
seed, so a source's split is the one it has alone: the clothing file keeps its reference split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.errors import UserError, slot
from classifier.io.dataset import Split, column_like, missing_column_error, read_csv, split_rows
from classifier.io.labels import as_number, is_binary

log = logging.getLogger(__name__)
SOURCE_COLUMN = "_source"  # the frame's column naming each row's source


@dataclass(frozen=True)
class Source:
    path: Path
    text_column: str
    label_column: str

    @classmethod
    def parse(cls, spec: str, text_column: str, label_column: str) -> Source:
        """`FILE`, `FILE:TEXT_COLUMN` or `FILE:TEXT_COLUMN:LABEL_COLUMN` (a path that exists as it is
        is a file, colons and all)."""
        spec = str(spec)
        if Path(spec).exists() or ":" not in spec:
            return cls(Path(spec), text_column, label_column)
        path, *columns = spec.split(":", 2)
        if not path or not all(columns):
            raise UserError(f"{{field}} {spec!r}: give FILE, FILE:TEXT_COLUMN or FILE:TEXT_COLUMN:LABEL_COLUMN",
                            field="data", value=spec)
        return cls(Path(path), columns[0], columns[1] if len(columns) > 1 else label_column)


@dataclass(frozen=True)
class LabelMap:
    """Which label values are positive (1) and which negative (0); any other value is left out."""

    positive: tuple
    negative: tuple

    @classmethod
    def parse(cls, positive: str | None, negative: str | None) -> LabelMap | None:
        if positive is None and negative is None:
            return None
        if not positive or not negative:
            raise UserError(f"give both {slot('positive')} and {slot('negative')} (e.g. {slot('positive')} 4,5 "
                            f"{slot('negative')} 1,2)")
        pos, neg = (tuple(key(v) for v in s.split(",") if v.strip()) for s in (positive, negative))
        if set(pos) & set(neg):
            raise UserError(f"{slot('positive')} and {slot('negative')} share {sorted(set(pos) & set(neg), key=str)}; "
                            f"a label is one or the other")
        return cls(pos, neg)

    def apply(self, labels) -> np.ndarray:
        """1.0, 0.0, or NaN (left out) per label."""
        keys = [key(v) for v in labels]
        return np.array([1.0 if k in self.positive else 0.0 if k in self.negative else np.nan for k in keys])


def key(value):
    """A label as compared with --positive / --negative: a number when it reads as one ("4" == 4.0)."""
    number = as_number(value)
    return number if number is not None else str(value).strip()


def load_sources(sources: list[Source], text_column: str, label_column: str, labels: LabelMap | None = None,
                 group_column: str | None = None, title_column: str | None = None, max_rows: int | None = None,
                 report: bool = True, sep: str | None = None):
    """One frame of every source's clean rows: `text_column`, `label_column` (0/1) and SOURCE_COLUMN.
    A file with `group_column` is a source per value of it, a file without it one source. With
    `title_column`, a source that has that column gets its title joined before the text."""
    import pandas as pd

    parts = []
    for src in sources:
        df = read_csv(src.path, sep)
        for role, name, flag in (("text", src.text_column, "--text-column"), ("label", src.label_column,
                                                                               "--label-column")):
            if column_like(name, df.columns) is None:
                raise missing_column_error(src.path, name, role, df.columns, flag)
        text, label = column_like(src.text_column, df.columns), column_like(src.label_column, df.columns)
        title = column_like(title_column, df.columns) if title_column else None
        group = column_like(group_column, df.columns) if group_column else None  # else the file is one source
        missing = df[text].isna() | df[label].isna()
        if group is not None:
            dropped = missing.groupby(df[group].astype(str)).sum()
        else:
            dropped = pd.Series({src.path.stem: missing.sum()})
        df = df[~missing]
        texts = df[text].astype(str)
        if title is not None:  # "Great fit. The dress is..." : a title is the review's shortest summary
            heads = df[title].fillna("").astype(str).str.strip()
            texts = (heads + ". ").where(heads != "", "") + texts
        names = df[group].astype(str) if group is not None else pd.Series(src.path.stem, index=df.index)
        for name in pd.unique(names):
            rows = (names == name).to_numpy()
            part = pd.DataFrame({text_column: texts[rows].to_numpy(), SOURCE_COLUMN: name,
                                 label_column: mapped(df[label][rows], labels, f"{src.path} ({name})", label,
                                                      int(dropped.get(name, 0)), report)})
            part = part.dropna(subset=[label_column])
            if max_rows is not None:
                part = part.head(max_rows)
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame[label_column] = frame[label_column].astype(np.int64)
    names = [part[SOURCE_COLUMN].iloc[0] for part in parts if len(part)]
    if len(set(names)) < len(names):
        raise UserError(f"two sources are both named {max(names, key=names.count)!r}; give files of different "
                        f"names or groups of different values")
    return frame


def load_texts(spec: str, text_column: str, title_column: str | None = None, sep: str | None = None) -> list[str]:
    """The texts of `FILE[:TEXT_COLUMN]` (unlabelled: `train --adapt-to`), empty ones dropped, the
    title joined before each as load_sources joins it."""
    src = Source.parse(spec, text_column, "")
    df = read_csv(src.path, sep)
    text = column_like(src.text_column, df.columns)
    if text is None:
        listed = ", ".join(repr(str(c)) for c in df.columns)
        raise UserError(f"{src.path}: no text column {src.text_column!r}; the columns are {listed}; pass "
                        f"{{field}} {src.path}:COLUMN", field="adapt_to", value=spec, file=src.path)
    title = column_like(title_column, df.columns) if title_column else None
    df = df[df[text].notna()]
    texts = df[text].astype(str)
    if title is not None:
        heads = df[title].fillna("").astype(str).str.strip()
        texts = (heads + ". ").where(heads != "", "") + texts
    if len(texts) < 2:
        raise UserError(f"{{field}} {spec}: {len(texts)} texts in column {text!r}; self-training needs the "
                        f"target's reviews (hundreds or more)", field="adapt_to", value=spec)
    return texts.tolist()


def mapped(values, labels: LabelMap | None, where: str, column: str, dropped: int, report: bool) -> np.ndarray:
    """A source's labels as 0/1 (NaN: left out), saying what was done to them."""
    if is_binary(values):
        y = np.array([as_number(v) for v in values])
        note = f"labels 0/1 in {column!r} kept as they are"
    elif labels is None:
        values_seen = ", ".join(map(shown, sorted({key(v) for v in values}, key=str)[:8]))
        raise UserError(f"{where}: {column!r} holds labels other than 0/1 ({values_seen}); say which are positive "
                        f"and which negative, e.g. {slot('positive')} 4,5 {slot('negative')} 1,2 (any other value "
                        f"is left out)")
    else:
        y = labels.apply(values)
        left = int(np.isnan(y).sum())
        note = (f"{column!r} {'/'.join(map(shown, labels.positive))} = 1, {'/'.join(map(shown, labels.negative))} = 0"
                f"; {left} rows of other values left out")
    if report:
        kept = y[~np.isnan(y)]
        gone = f"; {dropped} rows without a text or label dropped" if dropped else ""
        log.warning(f"source {where}: {len(kept)} rows ({int(kept.sum())} positive); {note}{gone}")
    return y


def shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def source_split(df, text_column: str, label_column: str, test_size: float, seed: int) -> Split:
    """Each source split by `split_rows` (its own reference split), the parts joined in source order."""
    import pandas as pd

    trains, tests = [], []
    for name in pd.unique(df[SOURCE_COLUMN]):
        train, test = split_rows(df[df[SOURCE_COLUMN] == name], test_size, seed)
        trains.append(train)
        tests.append(test)
    # the training rows of all sources mixed, so the validation cut (the last share) holds every source
    train, test = pd.concat(trains).sample(frac=1, random_state=seed), pd.concat(tests)
    return Split(train[text_column].tolist(), test[text_column].tolist(),
                 train[label_column].to_numpy(dtype=np.float32), test[label_column].to_numpy(dtype=np.float32),
                 train_sources=train[SOURCE_COLUMN].to_numpy(dtype=object),
                 test_sources=test[SOURCE_COLUMN].to_numpy(dtype=object))


def source_weights(sources: np.ndarray | None) -> np.ndarray | None:
    """Sample weights under which every source weighs the same in total (mean weight 1)."""
    if sources is None:
        return None
    names, index, counts = np.unique(sources.astype(str), return_inverse=True, return_counts=True)
    return (len(sources) / (len(names) * counts))[index]
