"""NumPy inference for the classifier: Keras' probabilities without TensorFlow.

    engine = ClassifierEngine.load("saved_models/default/classifier.npz")
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
float32 throughout, like Keras; TensorFlow is imported only by `from_keras`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from classifier.errors import UserError
from classifier.files import atomic_write
from classifier.lstm_numpy import lstm_step, sigmoid

FORMAT = "classifier-engine/1"
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

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the .npz atomically (plain arrays and strings: loads with allow_pickle=False)."""
        with atomic_write(path) as f:
            np.savez(
                f, format=np.array(FORMAT), table=self.table, recurrent=self.recurrent,
                dense_kernel=self.dense_kernel, dense_bias=np.array([self.dense_bias]),
                maxlen=np.array(self.maxlen), mask_zero=np.array(self.mask_zero),
                padding=np.array(self.padding), truncating=np.array(self.truncating),
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClassifierEngine:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != FORMAT:
                    raise ValueError(f"format is {str(z['format'])!r}, expected {FORMAT!r}")
                return cls(z["table"], z["recurrent"], z["dense_kernel"], z["dense_bias"], int(z["maxlen"]),
                           bool(z["mask_zero"]), str(z["padding"]), str(z["truncating"]))
        except FileNotFoundError:
            raise UserError(f"{path} not found") from None
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"{path} is not an engine file of this tool ({e}); "
                            f"rewrite it with `classifier export-engine --model {path.parent}`") from None

    # -- from a Keras model (needs TensorFlow) -----------------------------------
    @classmethod
    def from_keras(cls, model, padding: str = "pre", truncating: str = "pre") -> ClassifierEngine:
        """The engine of a Keras Embedding -> LSTM -> Dense(1, sigmoid) model; UserError for other shapes."""
        layers = [layer for layer in model.layers if type(layer).__name__ not in ("InputLayer", "Dropout")]
        kinds = [type(layer).__name__ for layer in layers]
        emb, lstm, dense = layers if kinds == ["Embedding", "LSTM", "Dense"] else (None, None, None)
        supported = (
            emb is not None
            and lstm.activation.__name__ == "tanh" and lstm.recurrent_activation.__name__ == "sigmoid"
            and lstm.use_bias and not (lstm.return_sequences or lstm.go_backwards or lstm.stateful)
            and dense.units == 1 and dense.activation.__name__ == "sigmoid" and dense.use_bias
        )
        if not supported:
            raise UserError(f"the NumPy engine runs Embedding -> LSTM -> Dense(1, sigmoid) models, not "
                            f"{' -> '.join(kinds)}; use --engine keras")
        maxlen = model.input_shape[1]
        if maxlen is None:
            raise UserError("the NumPy engine needs a model over fixed-length padded ids; use --engine keras")
        (embedding,) = emb.get_weights()
        kernel, recurrent, bias = (np.asarray(w, dtype=np.float32) for w in lstm.get_weights())
        dense_kernel, dense_bias = dense.get_weights()
        table = embedding @ kernel + bias
        return cls(table, recurrent, dense_kernel, dense_bias, maxlen=maxlen,
                   mask_zero=emb.mask_zero, padding=padding, truncating=truncating)


def export_engine(model, tokenizer_config, path: str | os.PathLike) -> bool:
    """Save the engine of a Keras classifier beside it; False (nothing written) if the engine cannot run it."""
    try:
        engine = ClassifierEngine.from_keras(model, tokenizer_config.padding, tokenizer_config.truncating)
    except UserError:
        return False
    engine.save(path)
    return True


def export_bundle_engine(model_dir: str | os.PathLike, check_rows: int = 64) -> tuple[Path, float]:
    """Add classifier.npz to a bundle saved without one; returns its path and the max abs
    difference from model.predict on `check_rows` random id lists (refused above 1e-4)."""
    from classifier.artifacts import ENGINE_FILE, load, update_bundle

    bundle = load(model_dir)
    model = bundle.keras_classifier()
    tok = bundle.tokenizer.config
    engine = ClassifierEngine.from_keras(model, tok.padding, tok.truncating)
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, engine.maxlen + 20, check_rows)
    id_lists = [rng.integers(1, engine.vocab_size, n).tolist() for n in lengths]
    keras_p = model.predict(bundle.tokenizer.pad(id_lists), verbose=0).reshape(-1)
    diff = float(np.abs(engine.predict_ids(id_lists) - keras_p).max())
    if diff > 1e-4:
        raise UserError(f"the NumPy engine differs from the Keras model of {bundle.path} by {diff:.2g}; "
                        f"not exported, use --engine keras")
    def write_files(folder: Path) -> list[str]:
        engine.save(folder / ENGINE_FILE)
        return [ENGINE_FILE]

    update_bundle(bundle.path, write_files)
    return bundle.path / ENGINE_FILE, diff
