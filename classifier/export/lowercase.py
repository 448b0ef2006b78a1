"""Where TensorFlow's lower-casing differs from Python's, and whether a vocabulary can notice.

    vocabulary_mismatches(bundle.tokenizer)   # [] for every bundle this project trains

tf.strings.lower(encoding="utf-8") runs the ICU built into TensorFlow, whose Unicode tables are
older than Python's (TF 2.21 lacks what Unicode 14 added, which Python 3.11 has). Besides the NUL that
graph_tokenizer.lower_utf8 handles, two kinds of string lower-case differently:
  - capital letters new in Unicode 14 (U+2C2F, U+A7C0, U+A7D0, U+A7D6, U+A7D8, Vithkuqi
    U+10570-10595): Python lower-cases them, TensorFlow keeps them;
  - a capital sigma beside one of 303 characters new in Unicode 14 (those capitals, marks such
    as U+0898): whether it becomes final "ς" or "σ" looks past case-ignorable characters, and the
    two tables disagree on which the new characters are.
Either changes a word's id only if the vocabulary holds a character involved (a word of the
first kind, or a Greek word with a sigma for the second): words holding neither are unknown, and
dropped, both ways. The export refuses a vocabulary where that holds, so the graph's ids equal
Python's for every input string.
"""

from __future__ import annotations

import sys

import tensorflow as tf

from classifier.export.graph_tokenizer import lower_utf8
from classifier.io.tokenizer import Tokenizer

SIGMAS = {"σ", "ς"}
# the contexts that decide a capital sigma's lower case: after a letter, and before one
SIGMA_CONTEXTS = ("Α{}Σ", "ΑΣ{}Α")


def all_characters() -> list[str]:
    """Every code point but NUL and the surrogates (which no str holding text can encode)."""
    return [chr(c) for c in range(1, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]


def tf_lower(texts: list[str]) -> list[str]:
    return [t.decode("utf-8") for t in lower_utf8(tf.constant(texts, dtype=tf.string)).numpy()]


def character_mismatches() -> dict[str, tuple[str, str]]:
    """{character: (Python's lower case, TensorFlow's)} where they differ (about a second)."""
    chars = all_characters()
    return {c: (c.lower(), t) for c, t in zip(chars, tf_lower(chars), strict=True) if c.lower() != t}


def sigma_mismatches(chars: list[str] | None = None) -> list[str]:
    """The characters beside which Python and TensorFlow lower-case a capital sigma differently."""
    chars = all_characters() if chars is None else chars
    bad = set()
    for template in SIGMA_CONTEXTS:
        texts = [template.format(c) for c in chars]
        bad |= {c for c, s, t in zip(chars, texts, tf_lower(texts), strict=True) if s.lower() != t}
    return sorted(bad)


def vocabulary_mismatches(tokenizer: Tokenizer) -> list[str]:
    """The characters through which TensorFlow's lower-casing would give this vocabulary other ids
    than Python's; [] when the graph tokenizer is exact for every input."""
    if not tokenizer.config.lower:
        return []
    vocab = set("".join(tokenizer.words))
    bad = {c for c, (py, tf_) in character_mismatches().items() if vocab & set(py + tf_)}
    if vocab & SIGMAS:
        bad |= set(sigma_mismatches())
    return sorted(bad)


def describe(chars: list[str], shown: int = 5) -> str:
    """'U+2C2F, U+A7C0, ... and 38 more' for an error message."""
    names = ", ".join(f"U+{ord(c):04X}" for c in chars[:shown])
    more = f" and {len(chars) - shown} more" if len(chars) > shown else ""
    return f"{names}{more}"
