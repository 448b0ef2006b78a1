"""The LSTM cell in NumPy, as Keras computes it (float32).

    table, recurrent = fold_gates(embedding @ kernel + bias), fold_gates(recurrent_kernel)   # once
    h, c = step(table[ids], h, c, recurrent)                                                 # per step

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_c)   o = sigmoid(z_o)
    c = f * c + i * g
    h = o * tanh(c)

The transcendentals are most of a step's cost, and NumPy's float32 tanh is its fastest one
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

