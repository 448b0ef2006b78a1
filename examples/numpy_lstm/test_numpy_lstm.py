"""The from-scratch NumPy LSTM (SPEC section 3): Keras' gate equations, exact gradients, clipping, Korean."""

from __future__ import annotations

import numpy as np
from numpy_lstm import PARAMS, NumpyLSTM, clip_by_global_norm

from classifier.config import TokenizerConfig
from classifier.engine.cell import fold_gates, step
from classifier.io.tokenizer import Tokenizer

PASSAGE = ("봄비가 조용히 내리는 저녁 나는 창가에 앉아 따뜻한 차를 마셨다 "
           "골목길의 불빛이 하나씩 켜지고 멀리서 아이들이 웃는 소리가 들렸다 "
           "나는 오래된 편지를 꺼내 천천히 읽으며 지난 여름을 떠올렸다")


def test_cell_is_the_keras_lstm_step():
    lm = NumpyLSTM.init(vocab_size=9, embedding_dim=5, units=6, seed=3)
    rng = np.random.default_rng(1)
    x, h, c = rng.normal(size=5), rng.normal(size=6), rng.normal(size=6)
    h_new, c_new, _ = lm.cell(x, h, c)
    xz = (x @ lm.params["kernel"] + lm.params["bias"]).astype(np.float32)[None]
    want_h, want_c = step(fold_gates(xz), h.astype(np.float32)[None], c.astype(np.float32)[None],
                          fold_gates(lm.params["recurrent"].astype(np.float32)))
    np.testing.assert_allclose(h_new, want_h[0], atol=1e-5)
    np.testing.assert_allclose(c_new, want_c[0], atol=1e-5)


def test_gradients_match_finite_differences():
    lm = NumpyLSTM.init(vocab_size=7, embedding_dim=3, units=4, seed=0)
    ids = [1, 4, 2, 6, 4, 3, 5]
    _, grads = lm.loss_and_grads(ids)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in PARAMS:
        value = lm.params[name]
        for flat in rng.choice(value.size, size=min(5, value.size), replace=False):
            idx = np.unravel_index(flat, value.shape)
            keep = value[idx]
            value[idx] = keep + eps
            up, _ = lm.loss_and_grads(ids)
            value[idx] = keep - eps
            down, _ = lm.loss_and_grads(ids)
            value[idx] = keep
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grads[name][idx]) <= 1e-6 + 1e-4 * abs(numeric), (name, idx)


def test_clipping_scales_to_the_norm_only_when_above_it():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}  # global norm 5
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    same, _ = clip_by_global_norm(grads, 10.0)
    assert same is grads


def test_trained_on_a_korean_passage_it_reproduces_it():
    tok = Tokenizer.fit([PASSAGE], TokenizerConfig(num_words=64))
    ids = tok.encode(PASSAGE)
    assert len(ids) == len(PASSAGE.split())  # Hangul words pass the tokenizer whole
    lm = NumpyLSTM.init(vocab_size=tok.config.num_words, embedding_dim=16, units=32, seed=0)
    losses = [lm.train_step(ids, learning_rate=0.02, clip_norm=1.0) for _ in range(300)]
    assert losses[-1] < 0.05 * losses[0]
    out = lm.greedy(ids[:1], len(ids) - 1)
    assert " ".join(tok.words[i - 1] for i in ids[:1] + out) == PASSAGE
