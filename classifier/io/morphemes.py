"""Korean morphemes from kiwipiepy: the tokenizer's `korean` analyzer.

    analyze_many(["사이즈가 작아요"])      # ["사이즈 가 작 어요"]: one space-joined string per text

Korean glues particles and endings to the word (사이즈가, 사이즈는, 사이즈도 are one noun and
three particles), so splitting on spaces sees three unrelated words. Kiwi splits them off; the
forms are kept, separators dropped, Latin letters lower-cased. Each text becomes a string of
morphemes joined by spaces, which the word tokenizer splits as it splits English.

One Kiwi per process, made when first needed (loading its model takes about a second), and
texts go to it as one batch on every core (its `tokenize` over a list). A training run encodes
its texts more than once (vocabulary, ids, the stack's partner), so it runs inside `cached()`
and analyses each only once; scoring analyses each text once and keeps nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

from classifier.errors import UserError

ANALYZERS = ("words", "korean")  # words: the Keras rules (classifier.io.tokenizer); korean: this module
# separators (, / :) only: `...`, `?`, `!` and `~` carry a review's tone (TF-IDF 1-2 grams on 40,000 /
# 10,000 reviews: 0.8592 keeping them, 0.8541 dropping every punctuation mark)
DROPPED_TAGS = frozenset({"SP"})

_kiwi = None
_kiwi_lock = threading.Lock()
_threads = -1  # Kiwi's num_workers: -1 is a thread per core
_cache: dict[str, str] | None = None  # text -> morphemes, inside `cached()` only


def kiwi_version() -> str | None:
    """The installed kiwipiepy's version, or None when it is not installed."""
    import importlib.metadata as md

    try:
        return md.version("kiwipiepy")
    except md.PackageNotFoundError:
        return None


def kiwi():
    """The process's Kiwi, made on first use, with a thread per core for batches."""
    global _kiwi
    with _kiwi_lock:  # a server scores each model in its own thread: one Kiwi for all of them
        if _kiwi is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError:
                raise UserError("the korean analyzer needs kiwipiepy; install it with "
                                "`pip install 'classifier[korean]'` (or `pip install kiwipiepy`)") from None
            _kiwi = Kiwi(num_workers=_threads)
    return _kiwi


def limit_threads(threads: int) -> None:
    """Analyse on `threads` threads instead of every core (a Spark task owns spark.task.cpus cores);
    takes effect if Kiwi is not made yet."""
    global _threads
    _threads = max(1, int(threads))


def morphemes(tokens) -> str:
    """One text's Kiwi tokens as the string the word tokenizer splits: forms, no separators."""
    return " ".join(t.form.lower().replace(" ", "_") for t in tokens if t.tag not in DROPPED_TAGS)


@contextlib.contextmanager
def cached():
    """Keep each text's morphemes for the block (a training run, which encodes its texts several times)."""
    global _cache
    outer = _cache
    if outer is None:
        _cache = {}
    try:
        yield
    finally:
        _cache = outer


def analyze_many(texts: Iterable[str]) -> list[str]:
    """Each text's morphemes joined by spaces; the texts go to Kiwi as one batch (inside `cached()`,
    only those not analysed yet)."""
    texts = list(texts)
    if not texts:
        return []
    cache = _cache
    if cache is None:
        return [morphemes(tokens) for tokens in kiwi().tokenize(texts)]
    todo = [t for t in dict.fromkeys(texts) if t not in cache]
    if todo:
        for text, tokens in zip(todo, kiwi().tokenize(todo), strict=True):
            cache[text] = morphemes(tokens)
    return [cache[t] for t in texts]
