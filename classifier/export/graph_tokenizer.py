"""The bundle's tokenizer as TensorFlow ops, so a SavedModel takes raw review strings.

    ids = GraphTokenizer(bundle.tokenizer)(tf.constant(["Love this dress!"]))   # (1, 400) int32

The same rules as classifier.io.tokenizer, op for op: lower-case (Unicode), every filter
character becomes a space, split on " " dropping empty words, look words up (unknown -> dropped),
drop ids >= num_words, keep the last (or first) maxlen ids, pad with zeros in front (or behind).
Where TensorFlow's lower-casing differs from Python's see classifier/export/lowercase.py.
Imports TensorFlow: the export pipeline imports this module only after its checks.
"""

from __future__ import annotations

import tensorflow as tf

from classifier.io.tokenizer import Tokenizer

NUL = "\x00"


def filters_pattern(filters: str) -> str:
    """An RE2 character class matching exactly the characters of `filters`. Each one is written
    as \\x{HEX}, so `]`, `\\`, `^`, `-` and tab/newline need no escaping rules of their own."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in dict.fromkeys(filters)) + "]"


def lower_utf8(text: tf.Tensor) -> tf.Tensor:
    """tf.strings.lower(encoding="utf-8") of a 1-D string tensor, keeping what follows a NUL.

    ICU's conversion inside tf.strings.lower stops at the first NUL ("a\\x00B c" -> "a"), and the
    separator of tf.strings.reduce_join is cut at a NUL too, so: split at NULs, lower each piece,
    append a NUL to every piece, join with no separator and drop the last NUL. Python's lower()
    gives the same: a NUL is neither cased nor case-ignorable, so no case rule looks across it."""
    pieces = tf.strings.split(text, sep=NUL)
    lowered = tf.strings.join([tf.strings.lower(pieces.flat_values, encoding="utf-8"), NUL])
    joined = tf.strings.reduce_join(pieces.with_flat_values(lowered), axis=-1)
    length = tf.strings.length(joined)
    return tf.strings.substr(joined, tf.zeros_like(length), tf.maximum(length - 1, 0))


class GraphTokenizer(tf.Module):
    """Texts (string, [batch]) -> ids (int32, [batch, maxlen]), as `Tokenizer.texts_to_padded`."""

    def __init__(self, tokenizer: Tokenizer):
        super().__init__(name="tokenizer")
        self.config = tokenizer.config
        words = tokenizer.words
        # default 0 is the padding id, never a word's: a 0 from the table means "unknown, drop it"
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words, dtype=tf.string), tf.range(1, len(words) + 1, dtype=tf.int32)),
            default_value=0,
        )

    def words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """The words of each text, as `Tokenizer.split` gives them."""
        cfg = self.config
        if cfg.lower:
            text = lower_utf8(text)
        if cfg.filters:
            text = tf.strings.regex_replace(text, filters_pattern(cfg.filters), " ")
        words = tf.strings.split(text, sep=" ")
        return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        cfg = self.config
        ids = self.table.lookup(self.words(text))
        ids = tf.ragged.boolean_mask(ids, (ids > 0) & (ids < cfg.num_words))
        ids = ids[:, -cfg.maxlen:] if cfg.truncating == "pre" else ids[:, : cfg.maxlen]
        x = ids.to_tensor(default_value=0, shape=[None, cfg.maxlen])  # zeros behind
        if cfg.padding == "pre":
            # reverse each row's ids in place, then whole rows: [a b c 0 0] -> [c b a 0 0] -> [0 0 a b c]
            lengths = tf.cast(ids.row_lengths(), tf.int32)
            x = tf.reverse(tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0), axis=[1])
        return x
