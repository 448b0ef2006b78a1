"""A word-level LSTM language model written from scratch in NumPy: forward, backpropagation through
time, gradient clipping and Adam (SPEC section 3). It shows the gate equations of classifier/engine/cell.py
trained without a framework; the production generator is the Keras one in classifier/textgen.

    lm = NumpyLSTM.init(vocab_size=40, embedding_dim=16, units=32, seed=0)
    for _ in range(300):
        lm.train_step(ids, learning_rate=0.02, clip_norm=5.0)
    lm.greedy(ids[:1], len(ids) - 1)

Gates as Keras computes them (order i, f, c, o): z = x @ W + h @ U + b,
i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o), c = f*c + i*g, h = o*tanh(c).
float64, so the analytic gradients can be checked against finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PARAMS = ("embedding", "kernel", "recurrent", "bias", "out_kernel", "out_bias")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def clip_by_global_norm(grads: dict[str, np.ndarray], clip_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Scale every gradient by clip_norm / global norm when that norm is above clip_norm."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm <= clip_norm:
        return grads, norm
    scale = clip_norm / norm
    return {k: g * scale for k, g in grads.items()}, norm


@dataclass
class NumpyLSTM:
    params: dict[str, np.ndarray]
    step: int = 0
    _m: dict[str, np.ndarray] = field(default_factory=dict)
    _v: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def init(cls, vocab_size: int, embedding_dim: int, units: int, seed: int = 0) -> NumpyLSTM:
        rng = np.random.default_rng(seed)

        def glorot(n_in, n_out):
            limit = np.sqrt(6.0 / (n_in + n_out))
            return rng.uniform(-limit, limit, (n_in, n_out))

        bias = np.zeros(4 * units)
        bias[units : 2 * units] = 1.0  # forget gate starts open, as Keras' unit_forget_bias
        return cls({
            "embedding": rng.uniform(-0.05, 0.05, (vocab_size, embedding_dim)),
            "kernel": glorot(embedding_dim, 4 * units),
            "recurrent": np.linalg.qr(rng.normal(size=(4 * units, units)))[0].T,  # orthogonal, as Keras
            "bias": bias,
            "out_kernel": glorot(units, vocab_size),
            "out_bias": np.zeros(vocab_size),
        })

    @property
    def units(self) -> int:
        return self.params["recurrent"].shape[0]

    def cell(self, x: np.ndarray, h: np.ndarray, c: np.ndarray):
        """One step; returns (h, c, gates) with the gates kept for the backward pass."""
        p, u = self.params, self.units
        z = x @ p["kernel"] + h @ p["recurrent"] + p["bias"]
        i, f, g, o = _sigmoid(z[:u]), _sigmoid(z[u : 2 * u]), np.tanh(z[2 * u : 3 * u]), _sigmoid(z[3 * u :])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        return h_new, c_new, (i, f, g, o)

    def loss_and_grads(self, ids) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy of predicting ids[t + 1] from ids[: t + 1], and its exact gradients."""
        p, u = self.params, self.units
        inputs, targets = list(ids[:-1]), list(ids[1:])
        h, c = np.zeros(u), np.zeros(u)
        cache, loss = [], 0.0
        for w, y in zip(inputs, targets, strict=True):
            x = p["embedding"][w]
            h_prev, c_prev = h, c
            h, c, gates = self.cell(x, h, c)
            logits = h @ p["out_kernel"] + p["out_bias"]
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            loss -= np.log(probs[y])
            cache.append((w, x, h_prev, c_prev, c, h, gates, probs, y))
        n = len(targets)
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        dh_next, dc_next = np.zeros(u), np.zeros(u)
        for w, x, h_prev, c_prev, c, h, (i, f, g, o), probs, y in reversed(cache):
            dlogits = probs.copy()
            dlogits[y] -= 1.0
            dlogits /= n
            grads["out_kernel"] += np.outer(h, dlogits)
            grads["out_bias"] += dlogits
            dh = dlogits @ p["out_kernel"].T + dh_next
            tc = np.tanh(c)
            do = dh * tc
            dc = dh * o * (1 - tc**2) + dc_next
            di, df, dg = dc * g, dc * c_prev, dc * i
            dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)])
            grads["kernel"] += np.outer(x, dz)
            grads["recurrent"] += np.outer(h_prev, dz)
            grads["bias"] += dz
            grads["embedding"][w] += dz @ p["kernel"].T
            dh_next = dz @ p["recurrent"].T
            dc_next = dc * f
        return loss / n, grads

    def train_step(self, ids, learning_rate: float = 0.01, clip_norm: float = 5.0,
                   beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> float:
        """One Adam step on clipped gradients; returns the loss before the step."""
        loss, grads = self.loss_and_grads(ids)
        grads, _ = clip_by_global_norm(grads, clip_norm)
        self.step += 1
        for k, g in grads.items():
            m = self._m.setdefault(k, np.zeros_like(g))
            v = self._v.setdefault(k, np.zeros_like(g))
            m[:] = beta1 * m + (1 - beta1) * g
            v[:] = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1**self.step)
            v_hat = v / (1 - beta2**self.step)
            self.params[k] -= learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        return loss

    def greedy(self, prompt, words: int) -> list[int]:
        """The `words` most likely next ids after `prompt`, one at a time."""
        p, u = self.params, self.units
        h, c = np.zeros(u), np.zeros(u)
        out = []
        for w in prompt:
            h, c, _ = self.cell(p["embedding"][w], h, c)
        for _ in range(words):
            nxt = int(np.argmax(h @ p["out_kernel"] + p["out_bias"]))
            out.append(nxt)
            h, c, _ = self.cell(p["embedding"][nxt], h, c)
        return out
