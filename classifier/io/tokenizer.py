"""The word tokenizer every head shares, with the Keras `Tokenizer` semantics.

    tok = Tokenizer.fit(train_texts, TokenizerConfig())
    ids = tok.texts_to_padded(["Love this dress!"])   # (1, 400) int32, front-padded

Keras 3 dropped `keras.preprocessing.text.Tokenizer`, and `TextVectorization`
pads at the end and keeps an [UNK] id, so the reference rules live here:
lower-case, punctuation and tabs/newlines become spaces, split on spaces, ids by
training-set frequency (ties in first-seen order) from 1, only ids below
`num_words` kept, unknown words dropped, pad and truncate at the front.
Pure Python and NumPy: scoring never needs TensorFlow for this.

With `analyzer="korean"` a text's words are its Korean morphemes instead (classifier.io.morphemes);
ids, vocabulary, padding and the JSON file work as for words. A `words` tokenizer's JSON and hash
are those of the tool before analyzers existed, so every older bundle loads as it did.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from classifier.config import TokenizerConfig
from classifier.errors import UserError
from classifier.io.fastwords import MIN_TEXTS, FastWords, IdRows
from classifier.io.files import read_regular
from classifier.io.morphemes import ANALYZERS, analyze_many, kiwi_version

log = logging.getLogger(__name__)

FORMAT = "classifier-tokenizer/1"
TOKENIZER_LIMIT = 256 << 20  # a vocabulary of millions of words is far less: anything over is not a tokenizer


class Tokenizer:
    def __init__(self, config: TokenizerConfig, words: Sequence[str], counts: Sequence[int] = ()):
        if config.analyzer not in ANALYZERS:
            raise UserError(f"unknown analyzer {config.analyzer!r}; choose one of: {', '.join(ANALYZERS)}")
        self.config = config
        # words[i] has id i + 1; only the ids the model can see are stored
        self.words = list(words)[: config.num_words - 1]
        self.counts = list(counts)[: len(self.words)]
        self.word_index = {w: i + 1 for i, w in enumerate(self.words)}
        self._table = str.maketrans({c: " " for c in config.filters})

    # -- fitting -------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Iterable[str], config: TokenizerConfig | None = None) -> Tokenizer:
        config = config or TokenizerConfig()
        counts: Counter[str] = Counter()
        for words in cls(config, []).split_many(texts):
            counts.update(words)
        # Counter keeps first-seen order and sorted() is stable: ties rank by first sighting
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
        ranked = ranked[: config.num_words - 1]
        return cls(config, [w for w, _ in ranked], [c for _, c in ranked])

    # -- encoding ------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Clean and split one text into words, as Keras `text_to_word_sequence` does."""
        if self.config.lower:
            text = text.lower()
        if self.config.analyzer == "korean":
            return self.split_many([text])[0]
        return [w for w in text.translate(self._table).split(" ") if w]

    def split_many(self, texts: Iterable[str]) -> list[list[str]]:
        """`split` of each text; Korean texts go to the analyser as one batch (far faster than one by one)."""
        if self.config.analyzer == "korean":
            return [m.split(" ") if m else [] for m in analyze_many(texts)]
        return [self.split(t) for t in texts]

    def encode(self, text: str) -> list[int]:
        return self.encode_many([text])[0]

    def encode_many(self, texts: Iterable[str]) -> list[list[int]]:
        """The ids of each text. A words tokenizer runs a batch of MIN_TEXTS or more through
        classifier.io.fastwords (the same ids, in a few C passes, as an IdRows that keeps its flat
        arrays); the rest, and a batch the fast path declines, run `encode_many_reference`."""
        texts = texts if isinstance(texts, list) else list(texts)
        if self.fast_words is not None and len(texts) >= MIN_TEXTS:
            flat = self.fast_words.encode_flat(texts)
            if flat is not None:
                return IdRows(*flat)
        return self.encode_many_reference(texts)

    def encode_many_reference(self, texts: Iterable[str]) -> list[list[int]]:
        """The ids of each text, one text at a time by `split`: the definition the fast path is tested against."""
        # ids start at 1, so filter(None) drops exactly the unknown words; map and filter keep the
        # per-word work in C
        lookup = self.word_index.get
        return [list(filter(None, map(lookup, words))) for words in self.split_many(texts)]

    @functools.cached_property
    def fast_words(self) -> FastWords | None:
        """The batch encoder `encode_many` runs (None for the korean analyzer)."""
        if self.config.analyzer != "words":
            return None  # the korean analyzer's morphemes come from kiwipiepy, batch by batch
        return FastWords(self.words, self.config.filters, self.config.lower)

    def pad(self, seqs: Sequence[Sequence[int]], maxlen: int | None = None) -> np.ndarray:
        """Front-pad / front-truncate as `pad_sequences(padding='pre', truncating='pre')`."""
        maxlen = maxlen or self.config.maxlen
        out = np.zeros((len(seqs), maxlen), dtype=np.int32)
        for row, seq in enumerate(seqs):
            if not len(seq):
                continue
            if self.config.truncating == "pre":
                seq = seq[-maxlen:]
            else:
                seq = seq[:maxlen]
            if self.config.padding == "pre":
                out[row, maxlen - len(seq) :] = seq
            else:
                out[row, : len(seq)] = seq
        return out

    def texts_to_padded(self, texts: Iterable[str]) -> np.ndarray:
        return self.pad(self.encode_many(texts))

    # -- persistence ---------------------------------------------------------
    def to_dict(self) -> dict:
        config = dataclasses.asdict(self.config)
        if config["analyzer"] == "words":
            del config["analyzer"]  # as written before analyzers existed: the same file, the same hash
        analyzer = {"analyzer_versions": {"kiwipiepy": kiwi_version()}} if self.config.analyzer == "korean" else {}
        return {
            "format": FORMAT,
            "config": config,
            **analyzer,
            "words": self.words,
            "counts": self.counts,
        }

    @property
    def sha256(self) -> str:
        """Hash of what decides the ids: settings and vocabulary (not the counts)."""
        d = self.to_dict()
        payload = json.dumps([d["config"], d["words"]], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        path = Path(path)
        try:
            d = json.loads(read_regular(path, TOKENIZER_LIMIT).decode("utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError(f"format is {d.get('format')!r}, expected {FORMAT!r}")
            tokenizer = cls(TokenizerConfig(**d["config"]), d["words"], d.get("counts", ()))
        except FileNotFoundError:
            raise UserError(f"{path} not found: the model folder is not a complete bundle") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is not a tokenizer file of this tool ({e})") from None
        if tokenizer.config.analyzer == "korean":
            check_kiwi_version(path, d.get("analyzer_versions", {}).get("kiwipiepy"))
        return tokenizer

    def __len__(self) -> int:
        return len(self.words)


def check_kiwi_version(path: Path, saved: str | None) -> None:
    """A Korean tokenizer needs kiwipiepy; another version than the one it was fitted with may split
    some texts differently (ids the model never saw), so say so, once, and go on."""
    installed = kiwi_version()
    if installed is None:
        raise UserError(f"{path} uses the korean analyzer, which needs kiwipiepy; install it with "
                        f"`pip install 'classifier[korean]'`")
    if saved != installed:
        log.warning(f"classifier: warning: {path} was fitted with kiwipiepy {saved}, this is {installed}; some "
                    f"texts may be split differently (retrain to be sure)")
