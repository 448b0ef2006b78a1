"""The word tokenizer every head shares, with the Keras `Tokenizer` semantics.

    tok = Tokenizer.fit(train_texts, TokenizerConfig())
    ids = tok.texts_to_padded(["Love this dress!"])   # (1, 400) int32, front-padded

Keras 3 dropped `keras.preprocessing.text.Tokenizer`, and `TextVectorization`
pads at the end and keeps an [UNK] id, so the reference rules live here:
lower-case, punctuation and tabs/newlines become spaces, split on spaces, ids by
training-set frequency (ties in first-seen order) from 1, only ids below
`num_words` kept, unknown words dropped, pad and truncate at the front.
Pure Python and NumPy: scoring never needs TensorFlow for this.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from classifier.config import TokenizerConfig
from classifier.errors import UserError

FORMAT = "classifier-tokenizer/1"


class Tokenizer:
    def __init__(self, config: TokenizerConfig, words: Sequence[str], counts: Sequence[int] = ()):
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
        tok = cls(config, [])
        for text in texts:
            counts.update(tok.split(text))
        # Counter keeps first-seen order and sorted() is stable: ties rank by first sighting
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
        ranked = ranked[: config.num_words - 1]
        return cls(config, [w for w, _ in ranked], [c for _, c in ranked])

    # -- encoding ------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Clean and split one text into words, as Keras `text_to_word_sequence` does."""
        if self.config.lower:
            text = text.lower()
        return [w for w in text.translate(self._table).split(" ") if w]

    def encode(self, text: str) -> list[int]:
        # ids start at 1, so filter(None) drops exactly the unknown words; map and filter keep the
        # per-word work in C (a third of the time of a generator expression)
        return list(filter(None, map(self.word_index.get, self.split(text))))

    def encode_many(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

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
        return {
            "format": FORMAT,
            "config": dataclasses.asdict(self.config),
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
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError(f"format is {d.get('format')!r}, expected {FORMAT!r}")
            return cls(TokenizerConfig(**d["config"]), d["words"], d.get("counts", ()))
        except FileNotFoundError:
            raise UserError(f"{path} not found: the model folder is not a complete bundle") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is not a tokenizer file of this tool ({e})") from None

    def __len__(self) -> int:
        return len(self.words)
