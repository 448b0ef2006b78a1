"""NumPy inference for the classifier: Keras' probabilities without TensorFlow.

    engine = ClassifierEngine.from_keras_file("saved_models/default/classifier.keras")
    engine.predict_ids([[12, 7, 431], []])      # float32, one probability per id list

The model is Embedding -> LSTM -> Dense(1, sigmoid) over front-padded ids, and
three facts make it cheap to run exactly:
- embedding(id) @ kernel + bias is a fixed row per word: one (vocab, 4u) table
  replaces the embedding lookup and the input matmul of every step;
- the padding prefix is the same for every review, so the state after k padding
  steps depends on k alone: computed once for k = 0..maxlen, a review of n words
  starts from the state after maxlen - n pads and runs only its n steps
  (a mask_zero model skips padding, so it starts from the zero state);
- rows sorted by length and aligned at their last word make every step one
  batched matmul over the rows that have started.
float32 throughout, like Keras. The engine is built from the bundle's own classifier.keras,
read with zip + h5py (`from_keras_file`), so TensorFlow is never imported; `from_keras` takes a
live Keras model, and both check the architecture through `check_architecture`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from classifier.engine.cell import lstm_step
from classifier.errors import UserError
from classifier.io.keras_file import keras_layer_path, read_keras_file, saved_layers
from classifier.metrics import sigmoid

# rows per chunk: each step's gate block (rows x 4u floats) stays near the CPU cache
CHUNK_ROWS = 1024
MIN_CHUNK_ROWS = 64  # below this a thread's per-step overhead outweighs its share of the work


class ClassifierEngine:
    def __init__(self, table, recurrent, dense_kernel, dense_bias, maxlen: int, mask_zero: bool = False,
                 padding: str = "pre", truncating: str = "pre"):
        self.table = np.ascontiguousarray(table, dtype=np.float32)  # (vocab, 4u)
        self.recurrent = np.ascontiguousarray(recurrent, dtype=np.float32)  # (u, 4u)
        self.dense_kernel = np.asarray(dense_kernel, dtype=np.float32).reshape(-1)  # (u,)
        self.dense_bias = np.float32(np.asarray(dense_bias, dtype=np.float32).reshape(-1)[0])
        self.maxlen = int(maxlen)
        self.mask_zero = bool(mask_zero)
        self.padding = str(padding)
        self.truncating = str(truncating)
        units = self.recurrent.shape[0]
        if self.table.shape[1] != 4 * units or self.recurrent.shape[1] != 4 * units or len(self.dense_kernel) != units:
            raise ValueError(f"inconsistent engine shapes: table {self.table.shape}, recurrent "
                             f"{self.recurrent.shape}, dense {self.dense_kernel.shape}")
        self.prefix_h, self.prefix_c = self._padding_prefix()

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    @property
    def vocab_size(self) -> int:
        return self.table.shape[0]

    def _padding_prefix(self) -> tuple[np.ndarray, np.ndarray]:
        """States after k = 0..maxlen padding steps (all zero for a mask_zero model, which skips them)."""
        h = np.zeros((self.maxlen + 1, self.units), dtype=np.float32)
        c = np.zeros_like(h)
        if not self.mask_zero:
            pad = self.table[:1]
            for k in range(1, self.maxlen + 1):
                h[k : k + 1], c[k : k + 1] = lstm_step(pad, h[k - 1 : k], c[k - 1 : k], self.recurrent)
        return h, c

    # -- prediction ------------------------------------------------------------
    def predict_ids(self, id_lists: Sequence[Sequence[int]], chunk_rows: int = CHUNK_ROWS,
                    threads: int | None = None) -> np.ndarray:
        """Probabilities for id lists (not padded), as the Keras model gives for their padded rows."""
        seqs = [self._visible(s) for s in id_lists]
        out = np.empty(len(seqs), dtype=np.float32)
        if not seqs:
            return out
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        order = np.argsort(-lengths, kind="stable")  # longest first: the rows that have started are a prefix
        threads = threads or os.cpu_count() or 1
        # a multiple of `threads` chunks of at most chunk_rows, so every thread gets work
        n_chunks = threads * -(-len(order) // (threads * chunk_rows))
        size = max(-(-len(order) // n_chunks), MIN_CHUNK_ROWS)
        chunks = [order[i : i + size] for i in range(0, len(order), size)]

        def run(rows):
            out[rows] = self._run([seqs[i] for i in rows], lengths[rows])

        threads = min(threads, len(chunks))
        # NumPy drops the GIL inside each step's matmul and ufuncs, so chunks run in parallel on
        # threads; BLAS threads on top would only contend with them (and spin badly on a busy machine)
        with threadpool_limits(1, user_api="blas"):
            if threads <= 1:
                for rows in chunks:
                    run(rows)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(run, chunks))
        return out

    def _visible(self, seq: Sequence[int]) -> np.ndarray:
        """The ids the LSTM really steps over: truncated to maxlen, pads dropped for a mask_zero model."""
        ids = np.asarray(seq, dtype=np.int64).reshape(-1)
        if len(ids) > self.maxlen:
            ids = ids[-self.maxlen :] if self.truncating == "pre" else ids[: self.maxlen]
        if len(ids) and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][0]
            raise ValueError(f"word id {bad} is outside the model's vocabulary 0..{self.vocab_size - 1}")
        if self.mask_zero:
            ids = ids[ids != 0]  # Keras carries the state over masked steps
        elif self.padding == "post":
            # trailing pads follow each review's own state, so nothing is shared: run the whole row
            ids = np.concatenate([ids, np.zeros(self.maxlen - len(ids), dtype=np.int64)])
        return ids

    def _run(self, seqs: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """Rows sorted longest first; aligned at their last id, step j updates the rows that have started."""
        n, longest = len(seqs), int(lengths[0])
        ids = np.zeros((longest, n), dtype=np.int64)  # step-major, so each step reads one contiguous row
        for row, seq in enumerate(seqs):
            if len(seq):
                ids[longest - len(seq) :, row] = seq
        skipped = self.maxlen - np.minimum(lengths, self.maxlen)  # pad steps before the first word
        h, c = self.prefix_h[skipped], self.prefix_c[skipped]
        # rows with at least longest - j ids have started by step j
        started = np.searchsorted(-lengths, -(longest - np.arange(longest)), side="right")
        for j in range(longest):
            k = started[j]
            h[:k], c[:k] = lstm_step(self.table[ids[j, :k]], h[:k], c[:k], self.recurrent)
        return sigmoid(h @ self.dense_kernel + self.dense_bias)

    # -- from a Keras model ----------------------------------------------------
    @classmethod
    def from_keras(cls, model, padding: str = "pre", truncating: str = "pre") -> ClassifierEngine:
        """The engine of a live Keras Embedding -> LSTM -> Dense(1, sigmoid) model; UserError for other shapes."""
        layers = [(type(layer).__name__, layer.get_config()) for layer in model.layers]
        emb_config = check_architecture(layers, model.input_shape[1])
        emb, lstm, dense = (layer for layer in model.layers if type(layer).__name__ not in IGNORED_LAYERS)
        return cls.from_weights([*emb.get_weights(), *lstm.get_weights(), *dense.get_weights()],
                                maxlen=model.input_shape[1], mask_zero=bool(emb_config.get("mask_zero")),
                                padding=padding, truncating=truncating)

    @classmethod
    def from_keras_file(cls, path: str | os.PathLike, padding: str = "pre",
                        truncating: str = "pre") -> ClassifierEngine:
        """The engine of a saved .keras model, read with zip + h5py (no TensorFlow); UserError for
        a model of another shape, or a file that is not a Keras model saved by this tool."""
        config, arrays = read_keras_file(Path(path))
        layers, maxlen = saved_layers(config)
        emb_config = check_architecture(layers, maxlen)
        names = [f"{keras_layer_path('embedding')}/vars/0",
                 *(f"{keras_layer_path('lstm')}/cell/vars/{i}" for i in range(3)),
                 *(f"{keras_layer_path('dense')}/vars/{i}" for i in range(2))]
        try:
            return cls.from_weights([arrays[n] for n in names], maxlen=maxlen,
                                    mask_zero=bool(emb_config.get("mask_zero")), padding=padding, truncating=truncating)
        except (KeyError, ValueError) as e:
            raise UserError(f"{path} is not a Keras model saved by this tool (weights: {e}); retrain it") from None

    @classmethod
    def from_weights(cls, weights: list, maxlen: int, mask_zero: bool, padding: str,
                     truncating: str) -> ClassifierEngine:
        """From [embedding, LSTM kernel, recurrent kernel, bias, Dense kernel, bias] of a checked model."""
        embedding, kernel, recurrent, bias, dense_kernel, dense_bias = (np.asarray(w, np.float32) for w in weights)
        if embedding.shape[1] != kernel.shape[0]:
            raise ValueError(f"embedding {embedding.shape} does not feed an LSTM kernel {kernel.shape}")
        table = embedding @ kernel + bias
        return cls(table, recurrent, dense_kernel, dense_bias, maxlen=maxlen, mask_zero=mask_zero,
                   padding=padding, truncating=truncating)


IGNORED_LAYERS = ("InputLayer", "Dropout")  # the identity at inference


def check_architecture(layers: list[tuple[str, dict]], maxlen: int | None) -> dict:
    """The Embedding's config if the layers, (class name, Keras config) in order, are a model the engine
    runs: Embedding -> LSTM -> Dense(1, sigmoid) (Dropout and the InputLayer aside) over fixed-length ids;
    else UserError. `from_keras` and `from_keras_file` both check through here."""
    kept = [(kind, config) for kind, config in layers if kind not in IGNORED_LAYERS]
    kinds = [kind for kind, _ in kept]
    settings = []
    if kinds == ["Embedding", "LSTM", "Dense"]:
        (_, lstm), (_, dense) = kept[1:]
        wanted = [(lstm, "LSTM", "activation", "tanh"), (lstm, "LSTM", "recurrent_activation", "sigmoid"),
                  (lstm, "LSTM", "use_bias", True), (lstm, "LSTM", "return_sequences", False),
                  (lstm, "LSTM", "go_backwards", False), (lstm, "LSTM", "stateful", False),
                  (dense, "Dense", "units", 1), (dense, "Dense", "activation", "sigmoid"),
                  (dense, "Dense", "use_bias", True)]
        settings = [f"{kind} {key}={config.get(key)!r}" for config, kind, key, want in wanted
                    if config.get(key) != want]
    if kinds != ["Embedding", "LSTM", "Dense"] or settings:
        shape = " -> ".join(map(str, kinds)) or "a model without layers"
        raise UserError(f"the NumPy engine runs Embedding -> LSTM -> Dense(1, sigmoid) models, not "
                        f"{shape}{' with ' + ', '.join(settings) if settings else ''}; use --engine keras")
    if maxlen is None:
        raise UserError("the NumPy engine needs a model over fixed-length padded ids; use --engine keras")
    return kept[0][1]


def runs_keras_file(path: str | os.PathLike) -> bool:
    """Whether the engine can run the .keras model at `path`, from its config alone (no weights read)."""
    try:
        check_architecture(*saved_layers(read_keras_file(Path(path), weights=False)[0]))
    except UserError:
        return False
    return True
