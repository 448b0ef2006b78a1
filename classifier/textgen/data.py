"""The generator's data: texts on the classifier's own split, window pairs and teacher-forcing rows.

    train_texts, labels, test_texts = split_texts(data, bundle.config, "Review Text")
    train_texts, labels, test_texts, test_labels = split_labelled(data, bundle.config, "Review Text")

Rows are split by classifier.io.dataset.split_rows, the one split both heads share, so no
classifier test row is ever a generator training row.
"""

from __future__ import annotations

import numpy as np

from classifier.config import GeneratorConfig
from classifier.engine.generator import END, SENTIMENTS, start_id
from classifier.errors import UserError
from classifier.io.dataset import MIN_ROWS, missing_column_error, read_csv, split_rows


def split_texts(data, bundle_cfg, text_column: str, max_texts: int | None = None):
    """(train texts, train labels, test texts): `split_labelled` less the test labels."""
    train_texts, labels, test_texts, _ = split_labelled(data, bundle_cfg, text_column, max_texts)
    return train_texts, labels, test_texts


def split_labelled(data, bundle_cfg, text_column: str, max_texts: int | None = None):
    """(train texts, train labels, test texts, test labels) of `text_column` on the classifier's split.

    Rows are cleaned and split exactly as the classifier's (rows missing its text or label
    dropped, its max_rows, `split_rows`), so no classifier test row is trained on; then the
    generator's column is taken from those rows, its own missing values dropped, and the first
    `max_texts` training texts kept. A file without the classifier's columns is split over the
    rows that have `text_column`; labels are then None.
    """
    import pandas as pd

    label = bundle_cfg.label_column
    df = read_csv(data, dtype={text_column: str, bundle_cfg.text_column: str})
    if text_column not in df.columns:
        raise missing_column_error(data, text_column, "text", df.columns, "text_column")
    split_on = [c for c in (bundle_cfg.text_column, label) if c in df.columns]
    if len(split_on) < 2:
        split_on = [text_column]
    df = df.dropna(subset=split_on)
    if bundle_cfg.max_rows is not None:
        df = df.head(bundle_cfg.max_rows)
    if len(df) < MIN_ROWS:
        raise UserError(f"{data}: only {len(df)} usable rows; need at least {MIN_ROWS} to split into train and test")
    train, test = split_rows(df, bundle_cfg.test_size, bundle_cfg.seed)
    train = train.dropna(subset=[text_column])
    if max_texts is not None:
        train = train.head(max_texts)
    test = test.dropna(subset=[text_column])
    labels = test_labels = None
    if label in df.columns:
        labels, test_labels = ((pd.to_numeric(d[label], errors="coerce").fillna(0) > 0.5).astype(int).tolist()
                               for d in (train, test))
    return train[text_column].tolist(), labels, test[text_column].tolist(), test_labels


def window_pairs(seqs, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of `context` words and the word after it."""
    xs, ys = [], []
    for s in seqs:
        s = np.asarray(s, np.int32)
        if len(s) > context:
            xs.append(np.lib.stride_tricks.sliding_window_view(s[:-1], context))
            ys.append(s[context:])
    if not xs:
        raise UserError(f"no text has more than {context} known words; give more or longer texts")
    return np.concatenate(xs), np.concatenate(ys)


def review_rows(seq, start: int, maxlen: int) -> tuple[list[int], list[int]]:
    """Teacher forcing: input is the start token and the words, target the words and the end."""
    return ([start, *seq])[:maxlen], ([*seq, END])[:maxlen]


def review_split(cfg: GeneratorConfig, seqs, labels, num_words: int):
    """Whole-review models: (teacher-forcing rows, their id lists, training indices, validation indices).

    Empty reviews are left out; each row starts with its label's token, or the neutral one for a
    `label_dropout` share of them; the validation rows are a seeded `validation_split` share."""
    rng = np.random.default_rng(cfg.seed)
    rows, kept = [], []
    for i, s in enumerate(seqs):
        if not s:
            continue
        sentiment = None
        if cfg.sentiment_token and labels is not None and rng.random() >= cfg.label_dropout:
            sentiment = SENTIMENTS[labels[i]]
        rows.append(review_rows(s, start_id(num_words, sentiment), cfg.maxlen))
        kept.append(s)
    if not rows:
        raise UserError("no text has a word of the vocabulary; give more or longer texts")
    order = rng.permutation(len(rows))
    n_val = int(len(rows) * cfg.validation_split)
    return rows, kept, order[n_val:], order[:n_val]
