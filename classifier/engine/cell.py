"""The LSTM cell in NumPy, as Keras computes it (float32).

    table, recurrent = fold_gates(embedding @ kernel + bias), fold_gates(recurrent_kernel)   # once
    h, c = step(table[ids], h, c, recurrent)                                                 # per step
    Cell(embedding @ kernel + bias, recurrent_kernel).run(ids, started, h, c)   # many steps, in place

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_c)   o = sigmoid(z_o)
    c = f * c + i * g
    h = o * tanh(c)

Past the matmul, the transcendentals are most of a step's cost, and NumPy's float32 tanh is its fastest one
(faster than exp alone), so every gate goes through one tanh pass: sigmoid(x) = 0.5 + 0.5 tanh(x / 2).
`fold_gates` halves the sigmoid gates' weights (exact in floating point) and puts them first, so
a step is one matmul, one tanh over all four gates and two passes over three of them.
"""

from __future__ import annotations

import numpy as np


def fold_gates(w: np.ndarray) -> np.ndarray:
    """Weights whose last axis holds Keras' gates (i, f, c, o), reordered (i, f, o, c) with i, f, o halved."""
    w = np.asarray(w, dtype=np.float32)
    u = w.shape[-1] // 4
    i, f, g, o = (w[..., k * u : (k + 1) * u] for k in range(4))
    return np.ascontiguousarray(np.concatenate([i * 0.5, f * 0.5, o * 0.5, g], axis=-1), dtype=np.float32)


def gate_major(w: np.ndarray) -> np.ndarray:
    """fold_gates'd gates one after another, from Keras-layout weights (..., 4u): (4, ..., u), the same
    numbers as fold_gates(w) in one pass instead of a copy and a transposed copy."""
    w = np.asarray(w, dtype=np.float32)
    u = w.shape[-1] // 4
    out = np.empty((4, *w.shape[:-1], u), dtype=np.float32)
    for k, (gate, scale) in enumerate(((0, 0.5), (1, 0.5), (3, 0.5), (2, 1.0))):  # i, f, o halved; then c
        np.multiply(w[..., gate * u : (gate + 1) * u], np.float32(scale), out=out[k])
    return out


def step(xz: np.ndarray, h: np.ndarray, c: np.ndarray, recurrent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step for a batch on fold_gates'd weights: `xz` (batch, 4u) is the input part; returns the
    new (h, c), inputs untouched."""
    z = h @ recurrent
    z += xz
    np.tanh(z, out=z)
    u = h.shape[-1]
    sig = z[:, : 3 * u]  # tanh(x / 2) -> sigmoid(x) for i, f, o
    sig *= 0.5
    sig += 0.5
    i, f, o, g = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
    c = f * c
    c += i * g
    h = np.tanh(c)
    h *= o
    return h, c


class Cell:
    """`step` over many steps for a batch, the same arithmetic rounding for rounding, on weights laid
    out gate by gate: the gate block is (4, rows, u), so each gate of the rows that have started is one
    contiguous (k, u) block and every elementwise pass is a few long runs (a pass over a column slice of
    a (rows, 4u) block pays NumPy's per-row overhead). h @ R becomes four (k, u) @ (u, u) products, the
    same sums; buffers are reused from step to step and the state is updated in place."""

    def __init__(self, table: np.ndarray, recurrent: np.ndarray):
        """`table` (vocab, 4u) and `recurrent` (u, 4u) in Keras' gate layout (i, f, c, o), not yet folded."""
        self.table, self.recurrent = gate_major(table), gate_major(recurrent)  # (4, vocab, u), (4, u, u)

    def run(self, ids: np.ndarray, started: np.ndarray, h: np.ndarray, c: np.ndarray, before=None) -> None:
        """Step j reads ids[j, :started[j]] into rows :started[j] of h, c (rows, u), updated in place;
        started never decreases, ids are inside the table. `before(j, k)`, if given, is called before
        step j (explanations keep the states there)."""
        rows, u = h.shape
        z, x, t = np.empty((4, rows, u), np.float32), np.empty((4, rows, u), np.float32), np.empty_like(h)
        for j, k in enumerate(started.tolist()):
            if before is not None:
                before(j, k)
            hk, ck, zk, tk = h[:k], c[:k], z[:, :k], t[:k]
            np.matmul(hk, self.recurrent, out=zk)
            zk += self.table.take(ids[j, :k], axis=1, out=x[:, :k], mode="clip")  # clip: no bounds pass
            np.tanh(zk, out=zk)
            sig = zk[:3]  # tanh(x / 2) -> sigmoid(x) for i, f, o
            sig *= 0.5
            sig += 0.5
            ck *= zk[1]  # c = f * c + i * g
            np.multiply(zk[0], zk[3], out=tk)
            ck += tk
            np.tanh(ck, out=tk)  # h = o * tanh(c)
            np.multiply(tk, zk[2], out=hk)
