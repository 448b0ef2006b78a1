"""The LSTM cell in NumPy, exactly as Keras computes it (float32, gate order i, f, c, o).

    xz = x @ kernel + bias              # input part, precomputable per word
    h, c = lstm_step(xz, h, c, recurrent_kernel)

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_c)   o = sigmoid(z_o)
    c = f * c + i * g
    h = o * tanh(c)
"""

from __future__ import annotations

import numpy as np


def _sigmoid_inplace(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written over x: one exp pass, the cheapest form in NumPy."""
    np.negative(x, out=x)
    with np.errstate(over="ignore"):  # exp(88+) is inf, and 1 / inf is the right 0
        np.exp(x, out=x)
    x += 1.0
    return np.reciprocal(x, out=x)


def lstm_step(xz: np.ndarray, h: np.ndarray, c: np.ndarray, recurrent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step for a batch: `xz` (batch, 4u) is x @ kernel + bias; returns the new (h, c), inputs untouched."""
    z = h @ recurrent
    z += xz
    u = h.shape[-1]
    # the transcendentals are most of the cost: one exp pass serves all four gates, as
    # tanh(x) = 2 * sigmoid(2x) - 1
    g = z[:, 2 * u : 3 * u]
    g *= 2.0
    _sigmoid_inplace(z)
    g *= 2.0
    g -= 1.0
    i, f, o = z[:, :u], z[:, u : 2 * u], z[:, 3 * u :]
    c = f * c
    c += i * g
    h = _sigmoid_inplace(2.0 * c)
    h *= 2.0
    h -= 1.0
    h *= o
    return h, c
