"""Steering experts (DExperts-style): they move the judge the requested way, run on NumPy as on
Keras, live hash-checked in the bundle beside an untouched base generator; the fair measure."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest

from classifier.bundle import EXPERT_FILES, GENERATOR_KERAS, load
from classifier.engine.generator import start_id
from classifier.errors import UserError
from classifier.io.files import file_sha256
from classifier.models.keras_lstm import load_keras
from classifier.textgen.evaluate import distinct_2, real_reference
from classifier.textgen.generate import generate
from tests.conftest import AGREEMENT, assert_user_error, built_once, committed_bundle, run_cli_here

JUDGE = committed_bundle("tuned")
PROMPTS = ("this dress", "the fabric", "the fit")


@pytest.fixture(scope="session")
def steered_bundle(tmp_path_factory, generator_bundle, data_path) -> object:
    """generator_bundle's copy with narrow experts (300 reviews a side, 1 epoch), added by
    `train-generator --experts-only`, judged by the committed tuned bundle."""
    def build(out):
        r = run_cli_here("train-generator", "--experts-only", "--model", generator_bundle, "-o", out, "--data",
                         data_path, "--epochs", "1", "--max-texts", "300", "--agreement-samples", "10",
                         "--judge", JUDGE, "--quiet")
        assert r.returncode == 0, r.stderr

    return built_once(tmp_path_factory, "steered", build)


@functools.cache
def judge():
    return load(JUDGE)


def judge_mean(texts) -> float:
    return float(np.mean(judge().recommend_proba(texts)))


def samples(bundle, sentiment, strength):
    return [s.text for k, p in enumerate(PROMPTS)
            for s in generate(bundle, p, words=20, n=10, temperature=1.0, top_p=0.9, seed=k,
                              sentiment=sentiment, strength=strength)]


def test_steering_moves_the_judges_probability_the_requested_way(steered_bundle):
    bundle = load(steered_bundle)
    assert bundle.meta["generator"]["experts"]["strength"] > 0
    strength = 2.0  # the recorded one is chosen on a handful of samples here
    for sentiment, sign in (("negative", -1), ("positive", 1)):
        plain, steered = (judge_mean(samples(bundle, sentiment, s)) for s in (0.0, strength))
        assert sign * (steered - plain) > 0.05, (sentiment, plain, steered)
    # the requested side decides the direction: the same strength, opposite ends
    assert judge_mean(samples(bundle, "negative", strength)) < judge_mean(samples(bundle, "positive", strength))


def test_experts_run_on_numpy_as_on_keras(steered_bundle):
    bundle = load(steered_bundle)
    experts = bundle.experts()
    rng = np.random.default_rng(0)
    ids = np.concatenate([np.full((3, 1), start_id(bundle.tokenizer.config.num_words)),
                          rng.integers(1, bundle.tokenizer.config.num_words, (3, 17))], axis=1)
    for side, name in EXPERT_FILES.items():
        keras_logits = np.asarray(load_keras(steered_bundle / name)(ids.astype(np.int32), training=False))
        top, _ = experts[side].run(ids)
        np.testing.assert_allclose(experts[side].head(top), keras_logits, atol=AGREEMENT)
        assert keras_logits.std() > 0.01


def test_experts_are_recorded_and_hash_checked_beside_an_untouched_base(steered_bundle, generator_bundle, tmp_path):
    meta = json.loads((steered_bundle / "config.json").read_text())
    for name in EXPERT_FILES.values():
        assert meta["files"][name] == file_sha256(steered_bundle / name)
    # --experts-only left the base generator's file, and so its unsteered text, as it was
    assert file_sha256(steered_bundle / GENERATOR_KERAS) == file_sha256(generator_bundle / GENERATOR_KERAS)
    plain = [s.text for s in generate(steered_bundle, "this dress", words=12, n=3, temperature=0.8, seed=1)]
    assert plain == [s.text for s in generate(generator_bundle, "this dress", words=12, n=3, temperature=0.8, seed=1)]
    copy = tmp_path / "bundle"
    shutil.copytree(steered_bundle, copy)
    with open(copy / EXPERT_FILES["negative"], "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(UserError, match=EXPERT_FILES["negative"]):
        load(copy)


def test_strength_needs_experts_and_a_sentiment(generator_bundle, steered_bundle):
    r = run_cli_here("generate", "this dress", "--sentiment", "negative", "--strength", "2", "--model",
                     generator_bundle)
    assert_user_error(r, "no steering experts", "--experts-only")
    assert_user_error(run_cli_here("generate", "this dress", "--strength", "2", "--model", steered_bundle),
                      "--strength", "--sentiment")
    assert_user_error(run_cli_here("generate", "this dress", "--sentiment", "positive", "--strength", "-1",
                                   "--model", steered_bundle), "--strength must be 0 to")
    # asked for a sentiment, a bundle with experts steers and ranks nothing (one candidate a sample)
    r = run_cli_here("generate", "this dress", "--sentiment", "negative", "--temperature", "1", "--seed", "3",
                     "--n", "2", "--format", "jsonl", "--model", steered_bundle)
    assert r.returncode == 0, r.stderr
    strength = load(steered_bundle).meta["generator"]["experts"]["strength"]
    want = generate(steered_bundle, "this dress", n=2, temperature=1.0, seed=3, sentiment="negative",
                    strength=strength, best_of=1)
    assert [json.loads(line)["text"] for line in r.stdout.splitlines()] == [s.text for s in want]
    # strength 0: the start token alone, ranking nothing unless asked to
    plain = dict(n=2, temperature=1.0, seed=3, sentiment="negative", strength=0.0)
    assert generate(steered_bundle, "this dress", **plain) == generate(steered_bundle, "this dress", best_of=1, **plain)


def test_evaluate_generator_prints_every_method_beside_real_reviews(steered_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(steered_bundle, copy)
    r = run_cli_here("evaluate-generator", "--model", copy, "--agreement", "--agreement-samples", "10",
                     "--best-of", "2", "--judge", JUDGE)
    assert r.returncode == 0, r.stderr
    table = load(copy).meta["generator"]["steering"]
    assert [m["method"] for m in table["methods"]] == ["none", "control token", "experts", "best-of-2"]
    assert table["judge"] == str(JUDGE) and table["threshold"] == load(JUDGE).threshold
    real = table["real"]
    assert 0.5 < real["negative"] < 1 and 0.5 < real["positive"] < 1
    experts = table["methods"][2]
    assert (f"experts: generated negative judged negative {experts['negative']:.1%} (real negative reviews of "
            f"this length: {real['negative']:.1%})") in r.stdout
    for m in table["methods"]:
        assert 0 < m["distinct_2"] <= 1 and m["words_per_second"] > 0
        assert m["method"] in r.stdout


def test_distinct_2_and_the_real_reference():
    assert distinct_2(["a b a b", "a b c"]) == round(3 / 5, 4)  # (a b) x3, (b a), (b c)
    assert distinct_2(["one"]) == 0.0
    texts = ["I love this dress, it is perfect and so soft", "it ripped and i returned it, cheap fabric"]
    ref = real_reference(judge(), judge().tokenizer, texts, [1, 0], words=40)
    assert ref == {"negative": 1.0, "positive": 1.0}
    ref = real_reference(judge(), judge().tokenizer, texts, [0, 1], words=40)
    assert ref == {"negative": 0.0, "positive": 0.0}


def test_a_new_base_generator_drops_the_old_experts(steered_bundle, data_path, tmp_path):
    out = tmp_path / "bundle"
    r = run_cli_here("train-generator", "--model", steered_bundle, "-o", out, "--data", data_path, "--max-texts", "50",
                     "--epochs", "1", "--no-agreement", "--quiet")
    assert r.returncode == 0, r.stderr
    bundle = load(out)
    assert bundle.experts() is None and not any((out / name).exists() for name in EXPERT_FILES.values())
    assert not set(EXPERT_FILES.values()) & set(bundle.meta["files"])
    assert_user_error(run_cli_here("generate", "this dress", "--sentiment", "negative", "--strength", "1",
                                   "--model", out), "no steering experts")
