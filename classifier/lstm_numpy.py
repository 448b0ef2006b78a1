"""The LSTM cell in NumPy, exactly as Keras computes it (float32, gate order i, f, c, o).

    xz = x @ kernel + bias              # input part, precomputable per word
    h, c = lstm_step(xz, h, c, recurrent_kernel)

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_c)   o = sigmoid(z_o)
    c = f * c + i * g
    h = o * tanh(c)
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large negative x, same value as 1 / (1 + exp(-x))
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def lstm_step(xz: np.ndarray, h: np.ndarray, c: np.ndarray, recurrent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step for a batch: `xz` (batch, 4u) is x @ kernel + bias; returns the new (h, c)."""
    z = xz + h @ recurrent
    u = h.shape[-1]
    i = sigmoid(z[:, :u])
    f = sigmoid(z[:, u : 2 * u])
    g = np.tanh(z[:, 2 * u : 3 * u])
    o = sigmoid(z[:, 3 * u :])
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, c
