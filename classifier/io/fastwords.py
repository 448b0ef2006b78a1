"""Word ids for many texts at once, in a handful of C passes: the Keras rules of classifier.io.tokenizer
(its pure-Python `split` stays the reference; tests/test_fast_text.py holds the two equal).

    words = FastWords(tokenizer.words, config.filters, config.lower)
    flat, lengths = words.encode_flat(texts)     # every text's ids end to end, and how many each has
    IdRows(flat, lengths)                        # the same as the reference's lists of ids

Each text is lower-cased by `str.lower` (the reference's own call), then all are joined with
" \\x00 " and cleaned as one string: UTF-8, `bytes.translate` mapping the filter characters to
spaces (ASCII bytes never occur inside a multi-byte character, so this is the reference's
`str.translate`), `split(b" ")`, and one dictionary look-up a word through `map`. The separator
word marks where a text ends; unknown words (and the empty strings between two spaces) look up 0
and are dropped.

`None` means "not for this batch, use the reference": a text that is not a str or holds the
separator, filters outside ASCII, a vocabulary word holding the separator.
"""

from __future__ import annotations

import gc
from itertools import chain, repeat

import numpy as np

SEPARATOR = "\x00"  # a control character no review holds (a batch where one does takes the reference path)
JOIN = f" {SEPARATOR} "
END = -1  # the separator's id
# fewer texts go the reference way (the same ids): a batch's dozens of NumPy calls cost more than
# a few texts one by one (a server's one-review request)
MIN_TEXTS = 16
# texts a piece: a piece's arrays (a few MB) stay in the CPU caches; a 100,000-review batch in one
# piece ran 2-3x slower a row
CHUNK_TEXTS = 4096


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate (a broken file) as the reference keeps it


class FastWords:
    def __init__(self, words: list[str], filters: str, lower: bool):
        self.lower = lower
        self.usable = all(ord(c) < 128 for c in filters) and not any(SEPARATOR in w for w in words)
        ascii_filters = bytes(ord(c) for c in filters if ord(c) < 128)
        self.table = bytes.maketrans(ascii_filters, b" " * len(ascii_filters))
        self.index = {utf8(w): i + 1 for i, w in enumerate(words)}
        self.index[utf8(SEPARATOR)] = END

    def encode_flat(self, texts: list) -> tuple[np.ndarray, np.ndarray] | None:
        """(ids of every text end to end as int64, ids per text), or None where the reference must run."""
        if not self.usable or not all(isinstance(t, str) for t in texts):
            return None
        return in_pieces(self._encode_piece, texts)

    def _encode_piece(self, texts: list) -> tuple[np.ndarray, np.ndarray] | None:
        # each text lower-cased on its own: an ASCII text takes str.lower's fast path, and Python's
        # one context rule (a final Greek sigma) sees the text's own ends, as the reference does
        joined = JOIN.join([t.lower() for t in texts] if self.lower else texts)
        if joined.count(SEPARATOR) != len(texts) - 1:
            return None  # a text holds the separator
        tokens = utf8(joined).translate(self.table).split(b" ")
        ids = np.fromiter(map(self.index.get, tokens, repeat(0)), dtype=np.int64, count=len(tokens))
        ends = ids == END
        text_of = np.cumsum(ends)  # the text each token belongs to
        known = ids > 0
        return ids[known], np.bincount(text_of[known], minlength=len(texts))


class IdRows(list):
    """A list of per-text id lists (what `encode_many` returns) that also keeps the flat arrays it was
    cut from, so the engine and the n-gram features read those instead of flattening the lists again."""

    def __init__(self, flat: np.ndarray, lengths: np.ndarray):
        values = flat.tolist()
        ends = np.cumsum(lengths).tolist()
        # lists of ints hold no cycles: with the collector on, the burst of new lists set off
        # collections that scanned every live object (100,000 rows: 1.2 s -> 0.4 s without)
        was_on = gc.isenabled()
        gc.disable()
        try:
            super().__init__(values[a:b] for a, b in zip([0, *ends][:-1], ends, strict=True))
        finally:
            if was_on:
                gc.enable()
        self.flat, self.lengths = flat, lengths


def in_pieces(encode, texts: list) -> tuple[np.ndarray, np.ndarray] | None:
    """`encode` (texts -> (flat, lengths) or None) over CHUNK_TEXTS texts at a time, joined."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    parts = []
    for a in range(0, len(texts), CHUNK_TEXTS):
        part = encode(texts[a : a + CHUNK_TEXTS])
        if part is None:
            return None
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([f for f, _ in parts]), np.concatenate([n for _, n in parts])


def row_pieces(lengths: np.ndarray):
    """(first row, end row, first id, end id) of CHUNK_TEXTS rows at a time, for work over flat ids."""
    ends = np.cumsum(lengths).tolist()
    for a in range(0, len(lengths), CHUNK_TEXTS):
        b = min(a + CHUNK_TEXTS, len(lengths))
        yield a, b, ends[a - 1] if a else 0, ends[b - 1]


def flat_ids(id_lists) -> tuple[np.ndarray, np.ndarray]:
    """(every list's ids end to end as int64, ids per list) of any lists of ids; IdRows give theirs
    (unless rows were added or removed since: read-only is what they are meant to be)."""
    if isinstance(id_lists, IdRows) and len(id_lists) == len(id_lists.lengths):
        return id_lists.flat, id_lists.lengths
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    flat = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths
