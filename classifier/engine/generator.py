"""The generator's forward pass in NumPy (float32), from the weights in generator.keras.

    net = Net.from_keras(bundle_path / "generator.keras", spec)
    top, state = net.run(ids)             # top LSTM outputs and the carried state
    logits = net.head(top[:, -1])         # 0 = end of review, 1.. = words

It gives the Keras model's logits (embedding, stacked LSTMs via engine.cell.step,
dense head) without TensorFlow. Whole-review models read a start token first: ids after the
vocabulary are the neutral start and one start token per sentiment (`start_id`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.engine.cell import fold_gates, step
from classifier.errors import UserError
from classifier.io.keras_file import keras_layer_path, read_keras_file

SENTIMENTS = ("negative", "positive")
END = 0  # whole-review models predict id 0 (the padding id, never a word) for "end of review"


def start_id(num_words: int, sentiment: str | None = None) -> int:
    """Input ids after the vocabulary: neutral start, then one start token per sentiment."""
    return num_words + (0 if sentiment is None else 1 + SENTIMENTS.index(sentiment))


class Net:
    """The generator's forward pass in NumPy (float32), from its Keras weights."""

    def __init__(self, arrays: dict[str, np.ndarray], spec: dict, ngram=None):
        self.context = int(spec["context"])  # 0: whole-review model with carried state
        self.num_words = int(spec["num_words"])
        self.sentiment_token = bool(spec.get("sentiment_token", False))
        self.embedding = arrays["embedding"]
        self.lstms = [  # gates folded once, as engine.cell.step reads them
            tuple(fold_gates(arrays[f"lstm{i}_{part}"]) for part in ("kernel", "recurrent", "bias"))
            for i in range(int(spec["lstm_layers"]))
        ]
        self.dense = [
            (arrays[f"dense{i}_kernel"], arrays[f"dense{i}_bias"], act)
            for i, act in enumerate(spec["dense_activations"])
        ]
        self.ngram = ngram  # a KneserNeyTrigram mixed in with weight spec["ngram_weight"], or None
        self.ngram_weight = float(spec.get("ngram_weight", 0.0)) if ngram is not None else 0.0

    @classmethod
    def from_keras(cls, path: Path, spec: dict, ngram=None) -> Net:
        """The arrays of generator.keras, read without TensorFlow."""
        _, w = read_keras_file(path)
        try:
            arrays = {"embedding": w[f"{keras_layer_path('embedding')}/vars/0"]}
            for i in range(int(spec["lstm_layers"])):
                for j, part in enumerate(("kernel", "recurrent", "bias")):
                    arrays[f"lstm{i}_{part}"] = w[f"{keras_layer_path('lstm', i)}/cell/vars/{j}"]
            for i in range(len(spec["dense_activations"])):
                arrays[f"dense{i}_kernel"] = w[f"{keras_layer_path('dense', i)}/vars/0"]
                arrays[f"dense{i}_bias"] = w[f"{keras_layer_path('dense', i)}/vars/1"]
        except KeyError as e:
            raise UserError(f"{path} lacks the weights {e} its recorded settings need; retrain the generator") from None
        return cls(arrays, spec, ngram)

    def zero_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.zeros((batch, r.shape[0]), np.float32),) * 2 for _, r, _ in self.lstms]

    def run(self, ids: np.ndarray, state=None):
        """Top LSTM outputs (B, T, units) for ids (B, T), and the state after the last step."""
        x = self.embedding[ids]
        state = state or self.zero_state(len(ids))
        new_state = []
        for (kernel, recurrent, bias), (h, c) in zip(self.lstms, state, strict=True):
            xz = x @ kernel + bias  # the input half of every step at once
            out = np.empty(ids.shape + (recurrent.shape[0],), np.float32)
            for t in range(ids.shape[1]):
                h, c = step(xz[:, t], h, c, recurrent)
                out[:, t] = h
            x = out
            new_state.append((h, c))
        return x, new_state

    def head(self, h: np.ndarray) -> np.ndarray:
        """Logits over the output ids (0 = end of review, 1.. = words)."""
        for kernel, bias, act in self.dense:
            h = h @ kernel + bias
            if act == "relu":
                h = np.maximum(h, 0)
        return h

    def next_logprobs(self, logits: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Log-probabilities over the output ids after the words u, v (0 = none yet); with an n-gram
        partner, (1 - a) P_lstm(w) + a (1 - P_lstm(end)) P_ngram(w | u, v), end keeping its probability."""
        lp = log_softmax(logits)
        if self.ngram is None:
            return lp
        p = np.exp(lp)
        a = self.ngram_weight
        p[:, 1:] = (1 - a) * p[:, 1:] + a * (1 - p[:, :1]) * self.ngram.next_probs(u, v)
        with np.errstate(divide="ignore"):
            return np.log(p)

    def window_logits(self, contexts: np.ndarray) -> np.ndarray:
        """Window models: logits for the word after each row of `context` ids."""
        top, _ = self.run(contexts)
        return self.head(top[:, -1])


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
