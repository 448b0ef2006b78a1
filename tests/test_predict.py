"""`classifier predict` and the Python API: the same probabilities and statuses as scoring a CSV."""

from __future__ import annotations

import numpy as np

from classifier import load
from classifier.classify.predict import recommendations
from tests.conftest import run_cli, run_python

REVIEWS = ["Love this dress, it fits perfectly", "It ripped after one wash and the color faded", "", "qzxv wkkrpf"]


def parse(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


def test_predict_arguments_and_stdin_agree_with_the_api(small_bundle):
    bundle = load(small_bundle)
    probas = bundle.recommend_proba(REVIEWS)
    by_args = run_cli("predict", *REVIEWS, "--model", small_bundle)
    by_stdin = run_cli("predict", "--model", small_bundle, input="\n".join(REVIEWS) + "\n")
    for result in (by_args, by_stdin):
        assert result.returncode == 0, result.stderr
        rows = parse(result.stdout)
        assert [r[3] for r in rows] == REVIEWS  # one line per review, in order
        assert [r[2] for r in rows] == ["ok", "ok", "empty", "no_known_words"]
        scored = [0, 1, 3]
        np.testing.assert_allclose([float(rows[i][0]) for i in scored], probas[scored], atol=1e-5)
        assert rows[2][:2] == ["", ""]


def test_threshold_decides_the_label(small_bundle):
    bundle = load(small_bundle)
    p = recommendations(bundle, REVIEWS[:2])
    lo, hi = sorted(x.proba for x in p)
    mid = (lo + hi) / 2
    at_mid = recommendations(bundle, REVIEWS[:2], threshold=mid)
    assert [x.recommend for x in at_mid] == [int(x.proba >= mid) for x in p]
    assert [x.recommend for x in recommendations(bundle, REVIEWS[:2], threshold=0.0)] == [1, 1]
    result = run_cli("predict", REVIEWS[0], "--model", small_bundle, "--threshold", "1")
    assert parse(result.stdout)[0][1] == str(int(float(parse(result.stdout)[0][0]) >= 1.0))


def test_scoring_never_imports_tensorflow(small_bundle, tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("Review Text\nlove it\n\n", encoding="utf-8")
    code = (
        "import sys, classifier\n"
        f"classifier.score_csv({str(src)!r}, model={str(small_bundle)!r})\n"
        f"classifier.load({str(small_bundle)!r}).recommend_proba(['nice'])\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.scored.csv").read_text().splitlines()[2] == ",,,empty"  # a blank line is an empty text
