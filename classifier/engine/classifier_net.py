"""NumPy inference for the classifier: Keras' probabilities without TensorFlow.

    engine = ClassifierEngine.from_keras_file("saved_models/default/classifier.keras")
    engine.predict_ids([[12, 7, 431], []])      # float32, one probability per id list

It runs Embedding -> LSTM -> Dense(1, sigmoid) (the reference model) and Embedding(mask_zero)
-> Bidirectional(LSTM) -> Dense(1, sigmoid) (the tuned preset's), over padded ids, and the same
with a Dense(k, softmax) head (labels other than 0/1: one probability per class). Four facts
make it cheap to run exactly:
- embedding(id) @ kernel + bias is a fixed row per word: one (vocab, 4u) table per direction
  replaces the embedding lookup and the input matmul of every step;
- the padding prefix is the same for every review, so the state after k padding steps depends
  on k alone: computed once for k = 0..maxlen, a review of n words starts from the state after
  maxlen - n pads and runs only its n steps (a masked model skips padding: the zero state);
- a masked bidirectional model reads the words forward, and the same words reversed: the pads
  are skipped both ways, so the backward direction is the forward recipe over reversed rows;
- rows sorted by length and aligned at their last word make every step one batched matmul
  over the rows that have started.
float32 throughout, like Keras. The engine is built from the bundle's own classifier.keras,
read with zip + h5py (`from_keras_file`), so TensorFlow is never imported; `check_architecture`
says which models it runs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from classifier.classify.metrics import sigmoid, softmax
from classifier.engine.cell import Cell, fold_gates, step
from classifier.errors import UserError, slot
from classifier.io.fastwords import flat_ids
from classifier.io.keras_file import keras_layer_path, read_keras_file, saved_layers

# rows per chunk: each step's gate block (rows x 4u floats) stays near the CPU cache
CHUNK_ROWS = 1024
MIN_CHUNK_ROWS = 64  # below this a thread's per-step overhead outweighs its share of the work
IGNORED_LAYERS = ("InputLayer", "Dropout")  # the identity at inference
LSTM_SETTINGS = (("activation", "tanh"), ("recurrent_activation", "sigmoid"), ("use_bias", True),
                 ("return_sequences", False), ("stateful", False))


class Direction:
    """One LSTM reading the rows one way: its input table, recurrent kernel and padding prefix."""

    def __init__(self, table, recurrent, maxlen: int, masked: bool):
        """`table` = embedding @ kernel + bias (vocab, 4u) and `recurrent` (u, 4u), in Keras' gate layout."""
        self.keras_table = np.asarray(table, dtype=np.float32)
        self.recurrent = fold_gates(recurrent)  # (u, 4u)
        units = self.recurrent.shape[0]
        if self.keras_table.shape[1] != 4 * units or self.recurrent.shape[1] != 4 * units:
            raise ValueError(f"inconsistent LSTM shapes: table {self.keras_table.shape}, "
                             f"recurrent {self.recurrent.shape}")
        self.cell = Cell(self.keras_table, recurrent)  # what predictions run on
        # states after k = 0..maxlen padding steps (all zero for a masked model, which skips them)
        self.prefix_h = np.zeros((maxlen + 1, units), dtype=np.float32)
        self.prefix_c = np.zeros_like(self.prefix_h)
        if not masked:
            pad = fold_gates(self.keras_table[:1])
            for k in range(1, maxlen + 1):
                self.prefix_h[k : k + 1], self.prefix_c[k : k + 1] = step(
                    pad, self.prefix_h[k - 1 : k], self.prefix_c[k - 1 : k], self.recurrent)

    @functools.cached_property
    def table(self) -> np.ndarray:
        """(vocab, 4u), the gates as engine.cell.step reads them (explanations step with it); built on
        first use, since predictions run on the cell's own copy."""
        return fold_gates(self.keras_table)

    def final_h(self, flat: np.ndarray, lengths: np.ndarray, skipped: np.ndarray, backwards: bool = False
                ) -> np.ndarray:
        """Last hidden state of each row; `flat` holds the rows' ids one row after another, rows sorted
        longest first and aligned at their last id, so step j updates the rows that have started (a
        prefix of them). `backwards` reads each row's ids last to first."""
        n, longest = len(lengths), int(lengths[0])
        ids = np.zeros((longest, n), dtype=np.int64)  # step-major, so each step reads one contiguous row
        if len(flat):
            row = np.repeat(np.arange(n), lengths)
            at = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # place in its row
            j = longest - 1 - at if backwards else longest - lengths[row] + at  # the step that reads it
            ids[j, row] = flat
        h, c = self.prefix_h[skipped], self.prefix_c[skipped]
        started = np.searchsorted(-lengths, -(longest - np.arange(longest)), side="right")
        self.cell.run(ids, started, h, c)
        return h


_blas = None  # threadpoolctl's view of the loaded BLAS, found once: a fresh look costs as much as a short call


def one_blas_thread():
    """A context that pins NumPy's BLAS to one thread; the library scan behind it is done once per process,
    since a single-review call (the server's) is ~1 ms of work and would otherwise pay that scan each time."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def run_chunks(run, chunks, threads: int) -> None:
    """`run(chunk)` for every chunk, on up to `threads` threads. NumPy drops the GIL inside each step's
    matmul and ufuncs, so chunks run in parallel; BLAS threads on top would only contend with them
    (and spin badly on a busy machine), so BLAS is held to one thread meanwhile."""
    threads = min(threads, len(chunks))
    with one_blas_thread():
        if threads <= 1:
            for chunk in chunks:
                run(chunk)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, chunks))


class ClassifierEngine:
    def __init__(self, directions: list[tuple[np.ndarray, np.ndarray]], dense_kernel, dense_bias, maxlen: int,
                 mask_zero: bool = False, padding: str = "pre", truncating: str = "pre"):
        """`directions`: (table, recurrent) of the forward LSTM, then of the backward one if bidirectional."""
        self.maxlen = int(maxlen)
        self.mask_zero = bool(mask_zero)
        self.padding = str(padding)
        self.truncating = str(truncating)
        if len(directions) == 2 and not self.mask_zero:
            raise ValueError("a bidirectional engine needs a masked embedding (mask_zero=True)")
        self.directions = [Direction(t, r, self.maxlen, self.mask_zero) for t, r in directions]
        kernel = np.asarray(dense_kernel, dtype=np.float32)
        # a Dense(k > 1) head is a softmax over k classes; Dense(1) the sigmoid of the binary model
        self.n_classes = kernel.shape[1] if kernel.ndim == 2 and kernel.shape[1] > 1 else None
        if self.n_classes is None:
            self.dense_kernel = kernel.reshape(-1)  # (u * directions,)
            self.dense_bias = np.float32(np.asarray(dense_bias, dtype=np.float32).reshape(-1)[0])
        else:
            self.dense_kernel = np.ascontiguousarray(kernel)  # (u * directions, k)
            self.dense_bias = np.asarray(dense_bias, dtype=np.float32).reshape(-1)
        if len(self.dense_kernel) != sum(d.recurrent.shape[0] for d in self.directions):
            raise ValueError(f"a dense kernel of {len(self.dense_kernel)} does not read the LSTM outputs")

    @property
    def vocab_size(self) -> int:
        return self.directions[0].keras_table.shape[0]

    @property
    def units(self) -> int:
        """Units of one direction's LSTM."""
        return self.directions[0].recurrent.shape[0]

    # -- prediction ------------------------------------------------------------
    def predict_ids(self, id_lists: Sequence[Sequence[int]], chunk_rows: int = CHUNK_ROWS,
                    threads: int | None = None) -> np.ndarray:
        """Probabilities for id lists (not padded), as the Keras model gives for their padded rows:
        one per list, or (lists, k) for a softmax head."""
        seqs = self._visible(id_lists)
        out = np.empty(len(seqs) if self.n_classes is None else (len(seqs), self.n_classes), dtype=np.float32)
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

        run_chunks(run, chunks, threads)
        return out

    def _visible(self, id_lists: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """The ids the LSTM really steps over, per list: truncated to maxlen, pads dropped for a
        mask_zero model. One array holds them all, so the checks are a few NumPy passes, not a few per list."""
        flat, lengths = flat_ids(id_lists)
        outside = (flat < 0) | (flat >= self.vocab_size)
        if outside.any():
            raise ValueError(f"word id {flat[outside][0]} is outside the model's vocabulary 0..{self.vocab_size - 1}")
        ends = np.cumsum(lengths)
        starts = ends - lengths
        if self.truncating == "pre":
            starts = np.maximum(starts, ends - self.maxlen)
        else:
            ends = np.minimum(ends, starts + self.maxlen)
        seqs = [flat[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        if self.mask_zero:
            if not flat.all():  # Keras carries the state over masked steps
                seqs = [s[s != 0] for s in seqs]
        elif self.padding == "post":
            # trailing pads follow each review's own state, so nothing is shared: run the whole row
            seqs = [np.concatenate([s, np.zeros(self.maxlen - len(s), dtype=np.int64)]) for s in seqs]
        return seqs

    def _run(self, seqs: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
        skipped = self.maxlen - np.minimum(lengths, self.maxlen)  # pad steps before the first word
        flat = np.concatenate(seqs)
        h = [d.final_h(flat, lengths, skipped, backwards=i == 1) for i, d in enumerate(self.directions)]
        z = np.concatenate(h, axis=1) @ self.dense_kernel + self.dense_bias
        return sigmoid(z) if self.n_classes is None else softmax(z)

    # -- from a Keras model file --------------------------------------------------
    @classmethod
    def from_keras_file(cls, path: str | os.PathLike, padding: str = "pre",
                        truncating: str = "pre") -> ClassifierEngine:
        """The engine of a saved .keras model, read with zip + h5py (no TensorFlow); UserError for
        a model of another shape, or a file that is not a Keras model saved by this tool."""
        config, arrays = read_keras_file(Path(path))
        layers, maxlen = saved_layers(config)
        emb_config = check_architecture(layers, maxlen)
        kinds = [kind for kind, _ in layers if kind not in IGNORED_LAYERS]
        groups = ([f"{keras_layer_path('bidirectional')}/{side}_layer" for side in ("forward", "backward")]
                  if kinds[1] == "Bidirectional" else [keras_layer_path("lstm")])
        try:
            return cls.from_weights(
                arrays[f"{keras_layer_path('embedding')}/vars/0"],
                [[arrays[f"{g}/cell/vars/{i}"] for i in range(3)] for g in groups],
                [arrays[f"{keras_layer_path('dense')}/vars/{i}"] for i in range(2)],
                maxlen=maxlen, mask_zero=bool(emb_config.get("mask_zero")), padding=padding, truncating=truncating)
        except (KeyError, ValueError) as e:
            raise UserError(f"{path} is not a Keras model saved by this tool (weights: {e}); retrain it") from None

    @classmethod
    def from_weights(cls, embedding, lstms: list[list], dense: list, maxlen: int, mask_zero: bool, padding: str,
                     truncating: str) -> ClassifierEngine:
        """From the embedding, [kernel, recurrent kernel, bias] of each LSTM direction and the Dense's
        [kernel, bias], of a checked model."""
        embedding = np.asarray(embedding, np.float32)
        directions = []
        for kernel, recurrent, bias in lstms:
            kernel = np.asarray(kernel, np.float32)
            if embedding.shape[1] != kernel.shape[0]:
                raise ValueError(f"embedding {embedding.shape} does not feed an LSTM kernel {kernel.shape}")
            directions.append((embedding @ kernel + np.asarray(bias, np.float32), recurrent))
        return cls(directions, dense[0], dense[1], maxlen=maxlen, mask_zero=mask_zero, padding=padding,
                   truncating=truncating)


def check_architecture(layers: list[tuple[str, dict]], maxlen: int | None) -> dict:
    """The Embedding's config if the layers, (class name, Keras config) in order, are a model the engine
    runs (Dropout and the InputLayer aside) over fixed-length ids: Embedding -> LSTM -> Dense(1, sigmoid),
    or Embedding(mask_zero) -> Bidirectional(LSTM, concat) -> Dense(1, sigmoid), either with
    Dense(k > 1, softmax) instead; else UserError.
    `from_keras` and `from_keras_file` both check through here."""
    kept = [(kind, config) for kind, config in layers if kind not in IGNORED_LAYERS]
    kinds = [kind for kind, _ in kept]
    problems = []
    if kinds in (["Embedding", "LSTM", "Dense"], ["Embedding", "Bidirectional", "Dense"]):
        (_, emb), (_, rnn), (_, dense) = kept
        if kinds[1] == "LSTM":
            lstms = [(rnn, False)]
        else:
            if rnn.get("merge_mode") != "concat":
                problems.append(f"Bidirectional merge_mode={rnn.get('merge_mode')!r}")
            if not emb.get("mask_zero"):
                problems.append("Bidirectional without mask_zero")
            lstms = [(inner_config(rnn.get(side)), side == "backward_layer") for side in ("layer", "backward_layer")]
        for config, backwards in lstms:
            wanted = [*LSTM_SETTINGS, ("go_backwards", backwards)]
            problems += [f"LSTM {key}={config.get(key)!r}" for key, want in wanted if config.get(key) != want]
        softmax_head = isinstance(dense.get("units"), int) and dense.get("units") > 1
        head = (("activation", "softmax"),) if softmax_head else (("units", 1), ("activation", "sigmoid"))
        problems += [f"Dense {key}={dense.get(key)!r}" for key, want in
                     (*head, ("use_bias", True)) if dense.get(key) != want]
    if kinds not in (["Embedding", "LSTM", "Dense"], ["Embedding", "Bidirectional", "Dense"]) or problems:
        shape = " -> ".join(map(str, kinds)) or "a model without layers"
        raise UserError(f"the NumPy engine runs Embedding -> (Bidirectional) LSTM -> Dense(1, sigmoid) or "
                        f"Dense(k, softmax) models, not "
                        f"{shape}{' with ' + ', '.join(problems) if problems else ''}; use {slot('engine')} keras")
    if maxlen is None:
        raise UserError("the NumPy engine needs a model over fixed-length padded ids; use {=engine} keras")
    return kept[0][1]


def inner_config(entry) -> dict:
    """The config of a layer nested in a saved config (a Bidirectional's two LSTMs)."""
    return entry.get("config", {}) if isinstance(entry, dict) else {}


def runs_keras_file(path: str | os.PathLike) -> bool:
    """Whether the engine can run the .keras model at `path`, from its config alone (no weights read)."""
    try:
        check_architecture(*saved_layers(read_keras_file(Path(path), weights=False)[0]))
    except UserError:
        return False
    return True
