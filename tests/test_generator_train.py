"""Training the generator head: presets, the bundle record, the split, perplexity, the n-gram baseline, Korean."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from classifier.bundle import GENERATOR_KERAS, GENERATOR_NGRAM, load
from classifier.config import TokenizerConfig, generator_preset
from classifier.engine.generator import Net, log_softmax
from classifier.io.dataset import load_labelled, make_split
from classifier.io.tokenizer import Tokenizer
from classifier.models.ngram import KneserNeyTrigram
from classifier.textgen.data import split_texts
from classifier.textgen.evaluate import heldout_split, perplexity, word_logprobs
from classifier.textgen.generate import continue_ids
from classifier.textgen.train import build_generator, fit, to_net
from tests.conftest import FIXTURE_AGREEMENT_SAMPLES, assert_user_error, run_cli, run_cli_here


def test_seed_preset_is_the_reference_network():
    from keras import layers

    cfg = generator_preset("reference")
    model = build_generator(cfg, 3000)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding"] + ["LSTM"] * 5 + ["Dense", "ReLU", "Dense"]
    assert model.input_shape == (None, 2)
    lstms = [layer for layer in model.layers if isinstance(layer, layers.LSTM)]
    assert [lstm.units for lstm in lstms] == [64] * 5
    assert [lstm.return_sequences for lstm in lstms] == [True] * 4 + [False]
    assert model.layers[0].output_dim == 16
    v, e, u = 3000, 16, 64
    lstm = lambda n_in: 4 * u * (n_in + u + 1)  # noqa: E731
    assert model.count_params() == v * e + lstm(e) + 4 * lstm(u) + (u * v + v) + (v * v + v) == 9_398_832
    assert (cfg.learning_rate, cfg.batch_size, cfg.context) == (1e-3, 64, 2)
    assert model.loss is None  # built uncompiled; compile_generator adds cross-entropy from logits


def test_train_records_the_generator_in_the_bundle(generator_bundle, small_bundle):
    meta = json.loads((generator_bundle / "config.json").read_text())
    gen = meta["generator"]
    assert gen["config"]["preset"] == "default" and gen["config"]["lstm_units"] == 32
    assert gen["tokenizer_sha256"] == load(small_bundle).tokenizer.sha256
    assert GENERATOR_KERAS in meta["files"]
    m = gen["metrics"]
    assert m["n_train"] == 300 and m["words_scored"] > 1000
    assert 1 < m["perplexity"] < 3000  # better than uniform over the vocabulary
    assert m["perplexity"] < m["perplexity_lstm_alone"]  # 300 reviews: the trigram mix helps a weak LSTM
    a = gen["agreement"]
    assert a["samples_per_side"] == FIXTURE_AGREEMENT_SAMPLES and 0 <= a["positive"] <= 1 and 0 <= a["negative"] <= 1
    # the bundle still loads (files re-hashed) and its classifier is untouched
    bundle = load(generator_bundle)
    np.testing.assert_allclose(bundle.recommend_proba(["love it"]), load(small_bundle).recommend_proba(["love it"]))
    # vocabulary + neutral, negative, positive start tokens
    assert bundle.generator().embedding.shape == (3003, 16)


def test_generator_split_is_the_classifiers(small_bundle, data_path):
    cfg = load(small_bundle).config
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, cfg.max_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    train, labels, test = split_texts(data_path, cfg, "Review Text")
    assert test == split.x_test and train == split.x_train
    assert labels == split.y_train.astype(int).tolist()
    titles, _, title_test = split_texts(data_path, cfg, "Title")
    assert 0 < len(titles) < len(train) and 0 < len(title_test) < len(test)  # rows without a title dropped


def hand_net(context: int) -> Net:
    """Zero LSTM, so the logits are the head's bias: ids [end, 1, 2, 3] -> [ln 100, 0, ln 2, 0]."""
    nw, u = 4, 1
    arrays = {
        "embedding": np.zeros((nw + 3, 1), np.float32),
        "lstm0_kernel": np.zeros((1, 4 * u), np.float32),
        "lstm0_recurrent": np.zeros((u, 4 * u), np.float32),
        "lstm0_bias": np.zeros(4 * u, np.float32),
        "dense0_kernel": np.zeros((u, nw), np.float32),
        "dense0_bias": np.log(np.array([100, 1, 2, 1], np.float32)),
    }
    spec = {"context": context, "num_words": nw, "lstm_layers": 1, "dense_activations": ["linear"]}
    return Net(arrays, spec)


@pytest.mark.parametrize("context", [0, 2])
def test_perplexity_by_hand(context):
    # over the words only (end of review left out): p(1) = 1/4, p(2) = 1/2, p(3) = 1/4.
    # Scored: the words from the third on. [1, 2, 3, 2] -> 3 then 2: p = 1/4 and 1/2;
    # [3, 3] has no third word. Perplexity = (1/4 * 1/2) ** (-1/2) = sqrt(8).
    lp = word_logprobs(hand_net(context), [[1, 2, 3, 2], [3, 3]])
    np.testing.assert_allclose(lp, np.log([0.25, 0.5]))
    assert perplexity(lp) == pytest.approx(math.sqrt(8))


def test_kneser_ney_by_hand():
    # D = 0.5 everywhere. Continuation counts N(. w) from the bigram types {(0,1), (1,2), (2,3), (2,1)}:
    # w=1: 2, w=2: 1, w=3: 1 -> P1(3) = (1 - .5)/4 + .5 * 3/4 * 1/3 = 0.25
    # P2(3|2) = (N(. 2 3) - .5)/N(. 2 .) + .5 * 2/2 * P1(3) = .5/2 + .5 * .25 = 0.375
    # P3(3|1,2) = (c(1 2 3) - .5)/c(1 2 .) + .5 * 2/3 * P2(3|2) = 1.5/3 + .125 = 0.625
    lm = KneserNeyTrigram.fit([[1, 2, 3], [1, 2, 3], [1, 2, 1]], num_words=4, discount=0.5)
    assert lm.prob([1], [2], [3])[0] == pytest.approx(0.625)
    assert perplexity(lm.word_logprobs([[1, 2, 3]], skip=2)) == pytest.approx(1 / 0.625)


def test_kneser_ney_sums_to_one_for_seen_and_unseen_contexts():
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 50, size=rng.integers(1, 30))) for _ in range(200)]
    lm = KneserNeyTrigram.fit(seqs, num_words=60)
    w = np.arange(1, 60)
    for u, v in [(0, 0), (seqs[0][0], seqs[0][1]), (59, 58), (0, 59)]:
        p = lm.prob(np.full_like(w, u), np.full_like(w, v), w)
        assert p.min() > 0 and p.sum() == pytest.approx(1.0)


def test_kneser_ney_next_probs_and_save_load_match_prob(tmp_path):
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(1, 40, size=rng.integers(1, 25))) for _ in range(300)]
    lm = KneserNeyTrigram.fit(seqs, num_words=40)
    lm.save(tmp_path / "ngram.npz")
    again = KneserNeyTrigram.load(tmp_path / "ngram.npz")
    u, v = np.array([0, 0, seqs[0][0], 39, 5]), np.array([0, seqs[1][0], seqs[0][1], 38, 39])
    w = np.arange(1, 40)
    want = np.stack([lm.prob(np.full_like(w, a), np.full_like(w, b), w) for a, b in zip(u, v, strict=True)])
    np.testing.assert_allclose(lm.next_probs(u, v), want, rtol=1e-12)
    np.testing.assert_allclose(again.next_probs(u, v), want, rtol=1e-12)
    assert (again.d1, again.d2, again.d3) == (lm.d1, lm.d2, lm.d3)


def test_default_generator_mixes_in_its_trigram(generator_bundle, data_path):
    bundle = load(generator_bundle)
    assert GENERATOR_NGRAM in bundle.meta["files"]
    net = bundle.generator()
    a = net.ngram_weight
    assert net.ngram is not None and 0 <= a < 1 and a == bundle.meta["generator"]["spec"]["ngram_weight"]
    lstm = Net.from_keras(generator_bundle / GENERATOR_KERAS, bundle.meta["generator"]["spec"])  # no n-gram
    assert lstm.ngram is None
    _, _, test = heldout_split(bundle, data_path)
    seqs = [s for s in bundle.tokenizer.encode_many(test[:200]) if len(s) > 2]
    mixed = word_logprobs(net, seqs)
    parts = np.exp(word_logprobs(lstm, seqs)), np.exp(net.ngram.word_logprobs(seqs, skip=2))
    np.testing.assert_allclose(mixed, np.log((1 - a) * parts[0] + a * parts[1]), rtol=1e-9)
    # generation draws from the same mixture, over end of review + words, after any two words
    u, v = np.array(seqs[0][:1]), np.array(seqs[0][1:2])
    top, _ = net.run(np.array([[net.num_words, u[0], v[0]]]))
    logits = net.head(top[:, -1])
    p_lstm, p_ngram = np.exp(log_softmax(logits))[0], net.ngram.next_probs(u, v)[0]
    step = np.exp(net.next_logprobs(logits, u, v))[0]
    assert step.sum() == pytest.approx(1.0) and step[0] == pytest.approx(p_lstm[0])
    np.testing.assert_allclose(step[1:], (1 - a) * p_lstm[1:] + a * (1 - p_lstm[0]) * p_ngram, rtol=1e-9)


@pytest.mark.slow
def test_korean_passage_is_reproduced_greedily():
    passage = ("나는 오늘 아침 일찍 일어나서 조용한 공원을 천천히 걸었다 하늘은 맑고 바람은 시원했다 "
               "작은 새들이 나무 위에서 노래를 불렀고 나는 그 소리를 들으며 행복을 느꼈다")
    tok = Tokenizer.fit([passage], TokenizerConfig(num_words=64))  # a small output layer learns it fast
    ids = tok.encode(passage)
    assert len(ids) == len(passage.split())  # Hangul words survive cleaning whole
    cfg = generator_preset("default", sentiment_token=False, embedding_dim=16, lstm_units=64, dropout=0.0,
                           epochs=60, learning_rate=0.02, clipnorm=None, validation_split=0.0, patience=0,
                           decay_after=0)
    model, history = fit(cfg, tok, [passage], verbose=0)
    assert history[-1]["loss"] < history[0]["loss"]
    net = to_net(model, cfg, tok.config.num_words)
    out = continue_ids(net, ids[:1], len(ids) + 5)[0]
    assert " ".join(tok.words[i - 1] for i in ids[:1] + out) == passage  # and it ends where the passage ends


def test_evaluate_generator_and_compare_cli(generator_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "bundle"  # evaluate-generator records its figures in the bundle
    shutil.copytree(generator_bundle, bundle)
    r = run_cli("evaluate-generator", "--model", bundle)
    assert r.returncode == 0, r.stderr
    recorded = load(generator_bundle).meta["generator"]["metrics"]["perplexity"]
    assert f"test perplexity: {recorded:.2f}" in r.stdout
    r = run_cli_here("evaluate-generator", "--model", bundle, "--ngram")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["model", "perplexity"]
    assert lines[1].startswith("default preset") and lines[2].startswith("Kneser-Ney trigram")
    words = {line.split()[-2] for line in lines[1:3]}
    assert len(words) == 1  # every model scored on the same words
    (p_gen, p_kn), summary = [float(line.split()[-3]) for line in lines[1:3]], lines[3]
    assert summary.startswith("default preset" if p_gen < p_kn else "Kneser-Ney")
    pct = float(summary.split("% lower than")[0].split()[-1])  # "...: 12.3% lower than <the other>"
    assert pct == pytest.approx(100 * (1 - min(p_gen, p_kn) / max(p_gen, p_kn)), abs=0.06)


@pytest.mark.slow
def test_agreement_with_best_of_is_recorded_beside_the_models_own(generator_bundle, tmp_path):
    import shutil

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(generator_bundle, bundle_dir)
    own = load(bundle_dir).meta["generator"]["agreement"]
    r = run_cli_here("evaluate-generator", "--model", bundle_dir, "--agreement", "--best-of", "3",
                "--agreement-samples", FIXTURE_AGREEMENT_SAMPLES)
    assert r.returncode == 0, r.stderr
    gen = load(bundle_dir).meta["generator"]
    best = gen["agreement_best_of"]
    assert best["best_of"] == 3 and gen["agreement"] == own  # the model's own figure is not overwritten
    assert best["samples_per_side"] == own["samples_per_side"] == FIXTURE_AGREEMENT_SAMPLES
    assert f"negative {best['negative']:.1%}" in r.stdout and "best of 3 candidates" in r.stdout
    assert f"({FIXTURE_AGREEMENT_SAMPLES} samples a side" in r.stdout
    # keeping the best of 3 moves samples towards the requested side
    assert best["negative"] >= own["negative"] and best["positive"] >= own["positive"]


@pytest.mark.slow
def test_train_generator_cli_on_the_title_column(small_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "titles"
    shutil.copytree(small_bundle, bundle)
    r = run_cli_here("train-generator", "--model", bundle, "--text-column", "Title", "--max-rows", "200",
                     "--epochs", "1", "--no-agreement", "--quiet", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert "test perplexity" in r.stdout
    gen = load(bundle).meta["generator"]
    assert gen["config"]["text_column"] == "Title" and gen["metrics"]["n_train"] == 200
    _, _, test = heldout_split(load(bundle))
    assert len(test) == gen["metrics"]["n_test"]
    assert load(bundle).generator().sentiment_token


def test_train_generator_refuses_a_swapped_tokenizer(small_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "swapped"
    shutil.copytree(small_bundle, bundle)
    Tokenizer.fit(["a completely different vocabulary"]).save(bundle / "tokenizer.json")
    # the command's own process: a one-line refusal before any training
    assert_user_error(run_cli("train-generator", "--model", bundle, "--epochs", "1"), "tokenizer")
