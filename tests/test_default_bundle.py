"""The committed saved_models/default and saved_models/tuned bundles load and evaluate to their recorded figures."""

import json

import pytest

import classifier
from tests.conftest import committed_bundle, run_cli, run_cli_here, run_python

DEFAULT = committed_bundle("default")


@pytest.mark.slow  # the whole test split through Keras
def test_committed_bundle_evaluates_to_recorded_line(data_path):
    metrics = json.loads((DEFAULT / "metrics.json").read_text())
    bundle = classifier.load(DEFAULT)
    assert bundle.config.preset == "reference" and bundle.config.max_rows is None
    assert metrics["n_test"] == 4529
    # within the band of the plain-Keras run of the recipe ([0.2977, 0.8805])
    assert 0.87 <= metrics["test_accuracy"] <= 0.90 and metrics["test_loss"] <= 0.32
    result = run_cli_here("evaluate", "--model", DEFAULT, "--data", data_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"


@pytest.mark.slow  # the whole test split through Keras
def test_committed_tuned_bundle_evaluates_to_recorded_line(data_path):
    tuned = committed_bundle("tuned")
    metrics = json.loads((tuned / "metrics.json").read_text())
    assert classifier.load(tuned).config.preset == "tuned"
    result = run_cli_here("evaluate", "--model", tuned, "--data", data_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"[{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"


def test_committed_bundle_runs_on_the_numpy_engine_from_its_keras_file():
    import numpy as np

    bundle = classifier.load(DEFAULT)
    assert bundle.default_engine() == "numpy"
    texts = ["Love this dress, it fits perfectly", "It ripped after one wash and the color faded", "qzxv"]
    p = bundle.recommend_proba(texts)
    np.testing.assert_allclose(p, bundle.recommend_proba(texts, engine="keras"), atol=1e-5)
    assert p[0] > 0.5 > p[1]


def test_committed_bundle_writes_the_same_readable_text_every_run():
    runs = [run_cli("generate", "this dress is", "--words", "12", "--model", DEFAULT) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    words = runs[0].stdout.split()
    assert words[:3] == ["this", "dress", "is"] and len(words) == 15
    assert len(set(words)) >= 10  # not a loop of a few words


def test_committed_generator_is_a_quarter_below_the_trigram(data_path):
    from classifier.models.ngram import KneserNeyTrigram
    from classifier.textgen.evaluate import SKIP, heldout_split, perplexity, word_logprobs

    bundle = classifier.load(DEFAULT)
    train, _, test = heldout_split(bundle, data_path)
    seqs = bundle.tokenizer.encode_many(test[:500])  # a slice of the test split keeps this quick
    ours = perplexity(word_logprobs(bundle.generator(), seqs))
    trigram = KneserNeyTrigram.fit(bundle.tokenizer.encode_many(train), bundle.tokenizer.config.num_words)
    assert ours <= 0.75 * perplexity(trigram.word_logprobs(seqs, skip=SKIP))


TUNED = committed_bundle("tuned")


def test_committed_tuned_bundle_scores_without_tensorflow(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("Review Text\nlove this dress\nit ripped after one wash\n", encoding="utf-8")
    code = (
        "import sys, classifier\n"
        f"bundle = classifier.load({str(TUNED)!r})\n"
        "assert bundle.kind == 'stack' and bundle.default_engine() == 'numpy', bundle.default_engine()\n"
        f"classifier.score_csv({str(src)!r}, model=bundle)\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.scored.csv").read_text().count("\n") == 3


@pytest.mark.slow  # the whole test split through Keras
def test_committed_tuned_bundle_numpy_path_equals_keras_on_the_test_split(data_path):
    import numpy as np

    from classifier.io.dataset import load_labelled, make_split

    bundle = classifier.load(TUNED)
    cfg = bundle.config
    split = make_split(load_labelled(data_path, cfg.text_column, cfg.label_column), cfg.text_column,
                       cfg.label_column, cfg.test_size, cfg.seed)
    ids = bundle.encoder.encode_many(split.x_test)
    numpy_p, keras_p = bundle.predict_proba_ids(ids), bundle.predict_proba_ids(ids, engine="keras")
    assert len(numpy_p) == 4529 and np.abs(numpy_p - keras_p).max() <= 1e-5
    assert np.array_equal(numpy_p >= bundle.threshold, keras_p >= bundle.threshold)


def test_committed_bundle_carries_steering_experts_that_pull_both_ways():
    """The committed experts: recorded and hashed in config.json (load checks them), a strength chosen
    on the validation reviews, and, at it, samples the tuned judge puts further on the asked-for side."""
    import numpy as np

    from classifier.bundle import EXPERT_FILES
    from classifier.io.files import file_sha256

    meta = json.loads((DEFAULT / "config.json").read_text(encoding="utf-8"))
    experts = meta["generator"]["experts"]
    for name in EXPERT_FILES.values():
        assert meta["files"][name] == file_sha256(DEFAULT / name)
    assert experts["strength"] > 0 and experts["selection"]["judge"].endswith("tuned")
    judge = classifier.load(TUNED)

    def mean_p(sentiment, strength):
        return float(np.mean(judge.recommend_proba([s.text for s in classifier.generate(
            DEFAULT, "the fabric", words=30, n=30, temperature=1.0, top_p=0.9, seed=5, sentiment=sentiment,
            strength=strength)])))

    assert mean_p("negative", None) < mean_p("negative", 0.0) - 0.1
    assert mean_p("positive", None) > mean_p("positive", 0.0)
