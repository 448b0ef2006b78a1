"""Score texts in memory: probability, label and status for each, the figures `score` writes.

    predict(bundle, ["Love it", "", "qzx"])   # [Prediction(0.98, 1, 'ok'), (None, None, 'empty'), ...]
    predict_classes(bundle, ["Love it"])      # a multi-class bundle: [ClassPrediction('Tops', 0.71, (...), 'ok')]
    output_columns(bundle), output_rows(bundle, texts)   # the columns `score` adds and their values, any bundle
    classifier predict "Love this dress"      # one tab-separated line a text

Each text is encoded once, for both its status and its probability. A text is empty (not
scored, never dropped) when it is missing or holds only white space; any other text, "NA"
and "null" included, is a review. `predict` is the binary 0/1 bundle's (P(recommends) and a
label at a threshold) and refuses a multi-class bundle; `output_columns` / `output_rows` serve
both kinds, for callers that write columns (Spark, a server).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from classifier.bundle import Bundle
from classifier.errors import UserError
from classifier.io.labels import proba_column
from classifier.limits import check

STATUSES = ("ok", "truncated", "no_known_words", "empty")
BINARY_COLUMNS = ("recommend_proba", "recommend", "status")


class Prediction(NamedTuple):
    proba: float | None  # None for an empty text
    recommend: int | None
    status: str


class ClassPrediction(NamedTuple):
    """A multi-class bundle's answer for one text; None (and probas None) for an empty text."""

    label: int | str | None  # the most likely class (the first in the bundle's order on a tie)
    proba: float | None  # its probability, 6 decimals
    probas: tuple[float, ...] | None  # every class's, in the bundle's `classes_` order, 6 decimals
    status: str


def is_empty_text(text: str | None) -> bool:
    return text is None or not text.strip()


def encode_texts(bundle: Bundle, texts: list[str | None]) -> tuple[list[str], list[list[int]], list[int]]:
    """(status of each text, id lists of the non-empty ones, their positions)."""
    maxlen = bundle.maxlen
    where = [i for i, text in enumerate(texts) if not is_empty_text(text)]
    seqs = bundle.encoder.encode_many([texts[i] for i in where])  # one batch: the Korean analyser wants it
    statuses = ["empty"] * len(texts)
    for i, ids in zip(where, seqs, strict=True):
        statuses[i] = ("no_known_words" if not ids else
                       "truncated" if maxlen is not None and len(ids) > maxlen else "ok")
    return statuses, seqs, where


def predict(bundle: Bundle, texts: list[str | None], threshold: float | None = None,
            engine: str | None = None) -> list[Prediction]:
    """One Prediction per text, in order; `threshold` defaults to the bundle's. Binary bundles only
    (a multi-class one is a UserError: use `predict_classes` or `output_rows`)."""
    if bundle.multiclass:
        raise UserError(f"{bundle.path} is a multi-class bundle ({len(bundle.classes_)} classes of "
                        f"{bundle.config.label_column!r}); this path gives P(recommends) of 0/1 bundles only")
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    statuses, seqs, where = encode_texts(bundle, texts)
    probas: list[float | None] = [None] * len(texts)
    if seqs:
        for i, p in zip(where, bundle.predict_proba_ids(seqs, engine=engine).tolist(), strict=True):
            probas[i] = round(p, 6)  # the label follows the printed value, so the file agrees with itself
    return [
        Prediction(p, None if p is None else int(p >= threshold), s) for p, s in zip(probas, statuses, strict=True)
    ]


def predict_classes(bundle: Bundle, texts: list[str | None], engine: str | None = None) -> list[ClassPrediction]:
    """One ClassPrediction per text of a multi-class bundle, in order."""
    statuses, seqs, where = encode_texts(bundle, texts)
    found: list[ClassPrediction | None] = [None] * len(texts)
    if seqs:
        p = bundle.predict_proba_ids(seqs, engine=engine)
        best = np.argmax(p, axis=1)  # of the unrounded values: the class the model ranks first
        classes = bundle.classes_.tolist()
        rounded = np.round(p.astype(np.float64), 6).tolist()
        for row, (i, b) in enumerate(zip(where, best.tolist(), strict=True)):
            found[i] = ClassPrediction(classes[b], rounded[row][b], tuple(rounded[row]), statuses[i])
    return [f if f is not None else ClassPrediction(None, None, None, s) for f, s in zip(found, statuses, strict=True)]


def output_columns(bundle: Bundle) -> tuple[str, ...]:
    """The columns `score` adds: recommend_proba, recommend, status for a binary bundle;
    predicted_label, predicted_proba, proba_<class> per class (bundle order), status otherwise."""
    if not bundle.multiclass:
        return BINARY_COLUMNS
    return ("predicted_label", "predicted_proba", *map(proba_column, bundle.classes_.tolist()), "status")


def output_rows(bundle: Bundle, texts: list[str | None], threshold: float | None = None,
                engine: str | None = None) -> list[tuple]:
    """One tuple per text of the values of `output_columns(bundle)` (None where a text is empty)."""
    if not bundle.multiclass:
        return [tuple(p) for p in predict(bundle, texts, threshold, engine)]
    refuse_threshold(bundle, threshold)
    k = len(bundle.classes_)
    return [(p.label, p.proba, *(p.probas or (None,) * k), p.status) for p in predict_classes(bundle, texts, engine)]


def refuse_threshold(bundle: Bundle, threshold: float | None) -> None:
    if bundle.multiclass and threshold is not None:
        raise UserError(f"{{field}} applies to 0/1 bundles; {bundle.path} picks the most likely of its "
                        f"{len(bundle.classes_)} classes", field="threshold", value=threshold)


def check_threshold(t: float) -> float:
    check("threshold", t)  # NaN fails too
    return float(t)


def format_prediction(p: Prediction | ClassPrediction, text: str) -> str:
    """One `predict` output line: probability, label, status, text (newlines shown as spaces); for a
    multi-class bundle the most likely class and its probability."""
    label = p.label if isinstance(p, ClassPrediction) else p.recommend
    proba = "" if p.proba is None else f"{p.proba:.6f}"
    label = "" if label is None else str(label)
    return f"{proba}\t{label}\t{p.status}\t{' '.join(text.splitlines())}"


def predict_lines(bundle: Bundle, texts: Iterable[str], out, threshold: float | None = None,
                  engine: str | None = None, flush_every: int = 512) -> int:
    """Print a `format_prediction` line per text, `flush_every` texts at a time; returns the count."""
    refuse_threshold(bundle, threshold)
    n, batch = 0, []

    def answers(texts):
        if bundle.multiclass:
            return predict_classes(bundle, texts, engine)
        return predict(bundle, texts, threshold, engine)

    def flush():
        for p, text in zip(answers(batch), batch, strict=True):
            out.write(format_prediction(p, text) + "\n")
        out.flush()
        batch.clear()

    for text in texts:
        batch.append(text.rstrip("\r\n"))
        n += 1
        if len(batch) >= flush_every:
            flush()
    if batch:
        flush()
    return n
