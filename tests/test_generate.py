"""`classifier generate`: NumPy generation equals Keras, options, output formats, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from classifier.bundle import GENERATOR_KERAS, load
from classifier.engine.generator import END, Net, start_id
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import load_keras
from classifier.textgen.generate import SENTIMENT_BEST_OF, continue_ids, generate, pick
from tests.conftest import record_files, run_cli, run_python


def keras_greedy_window(model, ids: list[int], words: int, context: int) -> list[int]:
    """The reference loop: feed the last `context` words, append the arg-max, again."""
    ids = list(ids)
    for _ in range(words):
        logits = np.array(model(np.array([ids[-context:]], np.int32), training=False))[0]
        logits[END] = -np.inf
        ids.append(int(logits.argmax()))
    return ids[-words:]


def keras_greedy_review(model, ids: list[int], words: int, num_words: int) -> list[int]:
    """Whole-review model: run the start token and all words so far, take the last step's arg-max."""
    seq = [start_id(num_words), *ids]
    out = []
    for _ in range(words):
        nxt = int(np.asarray(model(np.array([seq], np.int32), training=False))[0, -1].argmax())
        if nxt == END:
            break
        out.append(nxt)
        seq.append(nxt)
    return out


def test_numpy_greedy_matches_keras_seed(seed_generator_bundle):
    bundle = load(seed_generator_bundle)
    net = bundle.generator()
    model = load_keras(seed_generator_bundle / GENERATOR_KERAS)
    ids = bundle.tokenizer.encode("this dress is")
    assert continue_ids(net, ids, 8) == [keras_greedy_window(model, ids, 8, 2)]
    x = np.array([[5, 9], [ids[-2], ids[-1]]])
    np.testing.assert_allclose(net.window_logits(x), np.asarray(model(x.astype(np.int32))), atol=1e-4)


def test_numpy_greedy_matches_keras_default(generator_bundle):
    bundle = load(generator_bundle)
    net = Net.from_keras(generator_bundle / GENERATOR_KERAS, bundle.meta["generator"]["spec"])  # the LSTM alone
    model = load_keras(generator_bundle / GENERATOR_KERAS)
    ids = bundle.tokenizer.encode("the fabric is")
    assert continue_ids(net, ids, 10)[0] == keras_greedy_review(model, ids, 10, net.num_words)
    x = np.array([[net.num_words + 2, *ids]])  # positive start token, then the prompt: every step's logits
    top, _ = net.run(x)
    np.testing.assert_allclose(net.head(top[0]), np.asarray(model(x.astype(np.int32)))[0], atol=1e-4)


def test_cli_greedy_is_the_same_every_run(seed_generator_bundle):
    runs = [run_cli("generate", "This Dress, is!", "--words", "12", "--model", seed_generator_bundle)
            for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    words = runs[0].stdout.split()
    assert words[:3] == ["this", "dress", "is"]  # the prompt, cleaned as the tokenizer does
    assert len(words) == 3 + 12  # window models have no end of review


def test_sampling_is_reproducible_with_a_seed(generator_bundle):
    a = generate(generator_bundle, "this dress", words=15, n=6, temperature=1.0, seed=7)
    b = generate(generator_bundle, "this dress", words=15, n=6, temperature=1.0, seed=7)
    c = generate(generator_bundle, "this dress", words=15, n=6, temperature=1.0, seed=8)
    assert [s.text for s in a] == [s.text for s in b]
    assert [s.text for s in a] != [s.text for s in c]
    assert len({s.text for s in a}) > 1  # the K samples of one call differ from each other


def test_top_k_1_and_tiny_top_p_are_greedy(generator_bundle):
    greedy = generate(generator_bundle, "i love", words=8)[0].text
    assert generate(generator_bundle, "i love", words=8, n=3, temperature=1.5, top_k=1, seed=1)[0].text == greedy
    assert {s.text for s in generate(generator_bundle, "i love", words=8, n=3, temperature=1.5, top_p=1e-6,
                                     seed=1)} == {greedy}


def test_pick_keeps_samples_inside_top_k_and_top_p():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.05, 0.4, 0.3, 0.2, 0.05]] * 2000))
    assert set(pick(logits, 1.0, 2, None, rng)) == {1, 2}
    assert set(pick(logits, 1.0, None, 0.75, rng)) == {1, 2, 3}  # 0.4 + 0.3 < 0.75 <= 0.9
    assert set(pick(logits, 1.0, None, None, rng)) == {0, 1, 2, 3, 4}
    low = pick(logits, 0.2, None, None, rng)
    assert np.mean(low == 1) > 0.7  # a low temperature sharpens toward the arg-max


def test_words_and_n(generator_bundle):
    samples = generate(generator_bundle, "the color", words=5, n=4, temperature=1.0, seed=3)
    assert len(samples) == 4
    for s in samples:
        assert s.text.startswith("the color")
        assert s.words <= 5 and len(s.continuation.split()) == s.words


def test_jsonl_has_the_classifier_score(generator_bundle):
    r = run_cli("generate", "this top", "-n", "3", "--temperature", "0.9", "--seed", "2", "--json",
                "--sentiment", "negative", "--model", generator_bundle)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["sample"] for row in rows] == [0, 1, 2]
    bundle = load(generator_bundle)
    want = bundle.recommend_proba([row["text"] for row in rows])
    for row, p in zip(rows, want, strict=True):
        assert set(row) == {"sample", "prompt", "text", "continuation", "words", "sentiment", "score"}
        assert row["prompt"] == "this top" and row["sentiment"] == "negative"
        assert row["text"] == f"{row['prompt']} {row['continuation']}".strip()
        assert row["score"] == pytest.approx(float(p), abs=1e-4)


@pytest.mark.parametrize("sentiment", ["negative", "positive"])
def test_best_of_keeps_the_candidate_furthest_on_the_requested_side(generator_bundle, sentiment):
    opts = dict(words=8, temperature=1.0, seed=5, sentiment=sentiment)
    kept = generate(generator_bundle, "the fabric", n=3, best_of=4, **opts)
    candidates = generate(generator_bundle, "the fabric", n=12, score=True, best_of=1, **opts)  # the same 12
    assert len(kept) == 3
    for i, s in enumerate(kept):
        group = candidates[4 * i : 4 * i + 4]
        best = (max if sentiment == "positive" else min)(group, key=lambda c: c.score)
        assert (s.text, s.score) == (best.text, best.score)
    assert len({c.text for c in candidates}) > 3  # the groups really hold different candidates


def test_sampling_for_a_sentiment_keeps_the_best_of_8_unless_told(generator_bundle):
    opts = dict(words=6, temperature=1.0, seed=3, sentiment="negative", score=True)
    texts = lambda samples: [(s.text, s.score) for s in samples]  # noqa: E731
    default = generate(generator_bundle, "the fit", n=2, **opts)
    assert texts(default) == texts(generate(generator_bundle, "the fit", n=2, best_of=SENTIMENT_BEST_OF, **opts))
    assert texts(default) != texts(generate(generator_bundle, "the fit", n=2, best_of=1, **opts))
    greedy = generate(generator_bundle, "the fit", words=6, sentiment="negative")  # greedy: one candidate
    assert len(greedy) == 1


def test_best_of_needs_sentiment_and_sampling(generator_bundle):
    for extra in ([], ["--sentiment", "negative"]):  # no sentiment; greedy (temperature 0)
        r = run_cli("generate", "this dress", "--best-of", "4", *extra, "--model", generator_bundle)
        assert r.returncode == 2 and "--best-of" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_sentiment_token_steers_the_words():
    """A toy corpus where only the label tells "love" from "hate": greedy output follows --sentiment."""
    from classifier.config import TokenizerConfig, generator_preset
    from classifier.textgen.train import fit, to_net

    texts = ["i love this dress", "i hate this dress"] * 20
    labels = [1, 0] * 20
    tok = Tokenizer.fit(texts, TokenizerConfig(num_words=16))
    cfg = generator_preset("default", label_dropout=0.0, embedding_dim=8, lstm_units=16, dropout=0.0, epochs=40,
                           learning_rate=0.02, clipnorm=None, validation_split=0.0, patience=0, batch_size=8)
    model, _ = fit(cfg, tok, texts, labels, verbose=0)
    net = to_net(model, cfg, tok.config.num_words)
    prompt = tok.encode("i")
    words = {s: " ".join(tok.words[i - 1] for i in continue_ids(net, prompt, 3, sentiment=s)[0])
             for s in ("positive", "negative")}
    assert words == {"positive": "love this dress", "negative": "hate this dress"}


def test_unknown_prompt_words_warned_and_skipped(generator_bundle):
    r = run_cli("generate", "this zzqxv dress", "--words", "3", "--model", generator_bundle)
    assert r.returncode == 0, r.stderr
    assert "zzqxv" in r.stderr and "warning" in r.stderr
    assert r.stdout.startswith("this zzqxv dress")
    r = run_cli("generate", "zzqxv qqwwee!", "--model", generator_bundle)
    assert r.returncode == 2
    assert r.stderr.startswith("classifier: error:") and "zzqxv" in r.stderr and "Traceback" not in r.stderr


def test_sentiment_needs_the_default_preset(seed_generator_bundle):
    r = run_cli("generate", "this dress", "--sentiment", "positive", "--model", seed_generator_bundle)
    assert r.returncode == 2
    assert "--sentiment" in r.stderr and "default generator preset" in r.stderr


def test_bundle_without_generator_is_a_clear_error(small_bundle):
    r = run_cli("generate", "this dress", "--model", small_bundle)
    assert r.returncode == 2 and "train-generator" in r.stderr


def test_other_tokenizer_is_refused(generator_bundle, tmp_path):
    import shutil

    # the classifier was retrained with another vocabulary, the generator was not
    bundle = tmp_path / "retrained"
    shutil.copytree(generator_bundle, bundle)
    tok = Tokenizer.load(bundle / "tokenizer.json")
    other = Tokenizer(tok.config, list(reversed(tok.words)))
    other.save(bundle / "tokenizer.json")
    record_files(bundle, ["tokenizer.json"], tokenizer_sha256=other.sha256)
    r = run_cli("generate", "this dress", "--model", bundle)
    assert r.returncode == 2 and "another tokenizer" in r.stderr


def test_generate_does_not_import_tensorflow(generator_bundle):
    code = (
        "import sys; from classifier.textgen.generate import generate; "
        f"print(generate({str(generator_bundle)!r}, 'this dress', words=5, n=3)[0].text); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("this dress")
