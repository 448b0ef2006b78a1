"""Score texts in memory: probability, label and status for each, the figures `score` writes.

    predict(bundle, ["Love it", "", "qzx"])   # [Prediction(0.98, 1, 'ok'), (None, None, 'empty'), ...]
    classifier predict "Love this dress"      # one tab-separated line a text

Each text is encoded once, for both its status and its probability. A text is empty (not
scored, never dropped) when it is missing or holds only white space; any other text, "NA"
and "null" included, is a review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from classifier.bundle import Bundle
from classifier.errors import UserError

STATUSES = ("ok", "truncated", "no_known_words", "empty")


class Prediction(NamedTuple):
    proba: float | None  # None for an empty text
    recommend: int | None
    status: str


def is_empty_text(text: str | None) -> bool:
    return text is None or not text.strip()


def predict(bundle: Bundle, texts: list[str | None], threshold: float | None = None,
            engine: str | None = None) -> list[Prediction]:
    """One Prediction per text, in order; `threshold` defaults to the bundle's."""
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    maxlen = bundle.maxlen
    encode = bundle.encoder.encode
    statuses, seqs, where = [], [], []
    for i, text in enumerate(texts):
        if is_empty_text(text):
            statuses.append("empty")
            continue
        ids = encode(text)
        statuses.append("no_known_words" if not ids else
                        "truncated" if maxlen is not None and len(ids) > maxlen else "ok")
        seqs.append(ids)
        where.append(i)
    probas: list[float | None] = [None] * len(texts)
    if seqs:
        for i, p in zip(where, bundle.predict_proba_ids(seqs, engine=engine).tolist(), strict=True):
            probas[i] = round(p, 6)  # the label follows the printed value, so the file agrees with itself
    return [
        Prediction(p, None if p is None else int(p >= threshold), s) for p, s in zip(probas, statuses, strict=True)
    ]


def check_threshold(t: float) -> float:
    if not 0.0 <= t <= 1.0:  # NaN fails too
        raise UserError(f"threshold {t} is outside 0..1; pass --threshold between 0 and 1")
    return float(t)


def format_prediction(p: Prediction, text: str) -> str:
    """One `predict` output line: probability, label, status, text (newlines shown as spaces)."""
    proba = "" if p.proba is None else f"{p.proba:.6f}"
    label = "" if p.recommend is None else str(p.recommend)
    return f"{proba}\t{label}\t{p.status}\t{' '.join(text.splitlines())}"


def predict_lines(bundle: Bundle, texts: Iterable[str], out, threshold: float | None = None,
                  engine: str | None = None, flush_every: int = 512) -> int:
    """Print a `format_prediction` line per text, `flush_every` texts at a time; returns the count."""
    n, batch = 0, []

    def flush():
        for p, text in zip(predict(bundle, batch, threshold, engine), batch, strict=True):
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
