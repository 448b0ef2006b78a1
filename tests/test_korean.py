"""Korean reviews end to end: the korean analyzer (kiwipiepy morphemes) in the tokenizer, training,
scoring, evaluating a separate test file, the engines, export's refusal; and `words` bundles as before."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import classifier
from classifier.classify.predict import predict
from classifier.config import TokenizerConfig
from classifier.io.tokenizer import Tokenizer
from tests.conftest import ROOT, committed_bundle, missing, run_cli, run_cli_here

KOREAN_DATA = ROOT.parent / "shared/data"
KOREAN_TRAIN = KOREAN_DATA / "korean_movie_reviews_train.csv"
KOREAN_TEST = KOREAN_DATA / "korean_movie_reviews_test.csv"
DEFAULT = committed_bundle("default")
TUNED = committed_bundle("tuned")


@pytest.fixture(scope="module")
def korean_rows() -> list[dict]:
    if not KOREAN_TRAIN.is_file():
        missing(str(KOREAN_TRAIN), "the Korean movie reviews live in ../shared/data (../shared/README.md)")
    with open(KOREAN_TRAIN, encoding="utf-8", newline="") as f:
        return [row for _, row in zip(range(600), csv.DictReader(f), strict=False) if row["document"]]


def test_particles_are_split_off_so_one_noun_is_found_in_three_forms():
    words = Tokenizer(TokenizerConfig(), [])
    korean = Tokenizer(TokenizerConfig(analyzer="korean"), [])
    texts = ["사이즈가 작아요", "사이즈는 커요", "사이즈도, 좋아요!!"]
    assert len({words.split(t)[0] for t in texts}) == 3  # spaces alone: three unrelated words
    split = korean.split_many(texts)
    assert [s[:2] for s in split] == [["사이즈", "가"], ["사이즈", "는"], ["사이즈", "도"]]
    assert split[2][-1] == "!!" and "," not in split[2]  # a review's tone kept, separators dropped
    assert korean.split("LOVE it 😀") == ["love", "it", "😀"]  # Latin lower-cased, emoji kept as a word
    fitted = Tokenizer.fit(texts, TokenizerConfig(analyzer="korean"))
    assert len({ids[0] for ids in fitted.encode_many(texts)}) == 1  # the same noun, the same id


def test_korean_tokenizer_json_round_trip_records_the_analyser(korean_rows, tmp_path, caplog):
    import kiwipiepy

    tok = Tokenizer.fit([r["document"] for r in korean_rows], TokenizerConfig(analyzer="korean", num_words=500))
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["config"]["analyzer"] == "korean"
    assert saved["analyzer_versions"] == {"kiwipiepy": kiwipiepy.__version__}
    back = Tokenizer.load(path)
    texts = [r["document"] for r in korean_rows[:50]]
    assert back.sha256 == tok.sha256 and back.words == tok.words
    assert back.encode_many(texts) == tok.encode_many(texts)
    assert caplog.messages == []  # same kiwipiepy: no warning
    saved["analyzer_versions"]["kiwipiepy"] = "0.0.1"
    path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    Tokenizer.load(path)
    assert len(caplog.messages) == 1 and "kiwipiepy 0.0.1" in caplog.text and "warning" in caplog.text


@pytest.mark.parametrize("bundle_dir", [DEFAULT, TUNED])
def test_words_bundles_load_and_score_exactly_as_before(bundle_dir):
    """The committed English bundles: the tokenizer file is written back byte for byte (so its hash
    is the one recorded), and the ids and probabilities are those the tool gave before analyzers."""
    bundle = classifier.load(bundle_dir)
    text = (bundle_dir / "tokenizer.json").read_text(encoding="utf-8")
    assert json.dumps(bundle.tokenizer.to_dict(), ensure_ascii=False) == text
    assert bundle.tokenizer.config.analyzer == "words" and '"analyzer"' not in text
    texts = ["Love this dress, it fits perfectly!", "It ripped after one wash.", "사이즈가 너무 작아요"]
    assert bundle.tokenizer.encode_many(texts) == [[21, 7, 18, 5, 77, 149], [5, 1483, 203, 55, 363], []]
    before = {"default": [0.9993793368339539, 0.6672801375389099, 0.30494827032089233],
              "tuned": [0.999739944934845, 0.030184300616383553, 0.7283812761306763]}[bundle_dir.name]
    # the same ids give the same numbers to the agreement standard, not bit for bit: the NumPy engine's
    # summation order (threads, BLAS kernels of another CPU) is not fixed (the ids above are exact)
    np.testing.assert_allclose(bundle.recommend_proba(texts), before, atol=1e-5, rtol=0)


def test_python_api_fits_a_korean_tfidf_bundle_and_keeps_it_korean(korean_rows, tmp_path):
    texts, labels = [r["document"] for r in korean_rows], [int(r["label"]) for r in korean_rows]
    bundle = classifier.fit(texts, labels, preset="tfidf", analyzer="korean")
    assert bundle.tokenizer.config.analyzer == "korean" and bundle.encoder.analyzer == "korean"
    p = bundle.predict_proba(["정말 재밌어요 최고", "최악 이다 돈 아깝다"])
    assert p.shape == (2, 2)
    # the morpheme n-grams are the features: a particle alone is one
    assert "가" in bundle.encoder.index or "는" in bundle.encoder.index
    again = classifier.load(bundle.save(tmp_path / "ko-tfidf"))
    np.testing.assert_array_equal(again.predict_proba(texts[:40]), bundle.predict_proba(texts[:40]))


@pytest.fixture(scope="module")
def korean_bundle(tmp_path_factory, korean_rows) -> Path:
    """The reference preset with the korean analyzer, trained by the `train` command on 500 Korean reviews, 1 epoch."""
    folder = tmp_path_factory.mktemp("korean")
    train_csv = folder / "train.csv"
    with open(train_csv, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(korean_rows[0]))
        writer.writeheader()
        writer.writerows(korean_rows[:500])
    out = folder / "bundle"
    r = run_cli_here("train", "--data", train_csv, "--text-column", "document", "--label-column", "label",
                     "--analyzer", "korean", "--epochs", "1", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_korean_bundle_records_its_analyser_and_engines_agree(korean_bundle, korean_rows):
    meta = json.loads((korean_bundle / "config.json").read_text(encoding="utf-8"))
    assert meta["config"]["tokenizer"]["analyzer"] == "korean" and meta["versions"]["kiwipiepy"]
    bundle = classifier.load(korean_bundle)
    texts = [r["document"] for r in korean_rows[500:600]]
    assert sum(map(len, bundle.tokenizer.encode_many(texts))) > 5 * len(texts)  # morphemes, mostly known
    p_numpy = bundle.recommend_proba(texts, engine="numpy")
    np.testing.assert_allclose(p_numpy, bundle.recommend_proba(texts, engine="keras"), atol=1e-5)


@pytest.mark.slow
def test_scoring_a_korean_csv_gives_every_row_its_status(korean_bundle, tmp_path):
    rows = ["정말 재밌어요 😀😀", "", "This movie was 진짜 최고!!", "qzxv wxyz", "   ", "배우 연기가 별로였다 ㅠㅠ"]
    src = tmp_path / "ko.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "document"])
        writer.writerows([i, t] for i, t in enumerate(rows))
    out = tmp_path / "ko.scored.csv"
    r = run_cli("score", src, "-o", out, "--model", korean_bundle, "--quiet")
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8", newline="") as f:
        scored = list(csv.DictReader(f))
    assert [s["document"] for s in scored] == rows
    assert [s["status"] for s in scored] == ["ok", "empty", "ok", "no_known_words", "empty", "ok"]
    assert all(0 <= float(s["recommend_proba"]) <= 1 for s in scored if s["status"] == "ok")
    # the English bundle knows no Korean word: why the analyser exists
    english = [p.status for p in predict(classifier.load(DEFAULT), ["정말 재밌어요"])]
    assert english == ["no_known_words"]


@pytest.mark.slow
def test_evaluate_all_rows_scores_every_row_of_a_test_file(korean_bundle, tmp_path):
    from classifier.classify.metrics import keras_accuracy, log_loss

    test_csv = tmp_path / "test.csv"
    with open(KOREAN_TEST, encoding="utf-8", newline="") as f:
        rows = [row for _, row in zip(range(300), csv.DictReader(f), strict=False) if row["document"]]
    with open(test_csv, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    r = run_cli_here("evaluate", "--model", korean_bundle, "--data", test_csv, "--all-rows")
    assert r.returncode == 0, r.stderr
    bundle = classifier.load(korean_bundle)
    p = bundle.recommend_proba([row["document"] for row in rows], engine="keras")
    y = np.array([int(row["label"]) for row in rows])
    assert r.stdout.strip().splitlines()[-1] == f"[{log_loss(y, p):.4f}, {keras_accuracy(y, p):.4f}]"
    assert len(rows) == 300 and "warning" not in r.stderr
    # without --all-rows the file is split again: 60 of its rows, other figures
    assert classifier.evaluate(bundle, test_csv) != classifier.evaluate(bundle, test_csv, all_rows=True)


@pytest.mark.slow
def test_export_refuses_a_korean_bundle_in_one_line(korean_bundle, tmp_path):
    for fmt, out in (("savedmodel", tmp_path / "sm"), ("onnx", tmp_path / "m.onnx")):
        r = run_cli("export", "--model", korean_bundle, "--to", fmt, "-o", out)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "korean analyzer" in r.stderr and "TF graph" in r.stderr and "Traceback" not in r.stderr
        assert not out.exists()


def test_an_unknown_analyzer_is_a_one_line_error(tmp_path):
    r = run_cli("train", "--analyzer", "thai", "-o", tmp_path / "x")
    assert r.returncode == 2 and "invalid choice: 'thai'" in r.stderr
    with pytest.raises(classifier.UserError, match="unknown analyzer 'thai'"):
        classifier.fit(["좋아요"] * 10 + ["싫어요"] * 10, [1] * 10 + [0] * 10, preset="tfidf", analyzer="thai")


@pytest.mark.slow
def test_tuned_stack_reads_the_lowercase_rating_column_at_training_time(korean_rows, tmp_path):
    from classifier.classify.train import train
    from classifier.config import preset

    src = tmp_path / "train.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(korean_rows[0]))
        writer.writeheader()
        writer.writerows(korean_rows[:400])
    cfg = preset("tuned", analyzer="korean", text_column="document", label_column="label", epochs=1)
    cfg.tokenizer.maxlen = 32
    train(cfg, src, tmp_path / "tuned", verbose=0)
    bundle = classifier.load(tmp_path / "tuned")
    assert bundle.kind == "stack" and "aux" in bundle.blend  # the `rating` regression is in the stack
    p = bundle.recommend_proba(["정말 재밌어요", "돈 아깝다"])  # scoring needs no rating
    assert p.shape == (2,)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")  # the test client's own notice
def test_serve_answers_for_a_korean_bundle_as_local_scoring(korean_rows, tmp_path):
    from fastapi.testclient import TestClient

    from classifier.serve.app import create_app
    from classifier.serve.settings import ServeSettings

    texts, labels = [r["document"] for r in korean_rows], [int(r["label"]) for r in korean_rows]
    folder = classifier.fit(texts, labels, preset="tfidf", analyzer="korean").save(tmp_path / "ko")
    asked = ["정말 재밌어요 😀", "This movie was 진짜 최고!!", "배우 연기가 별로였다 ㅠㅠ"]
    with TestClient(create_app(ServeSettings({"ko": str(folder)}), load_first=True)) as client:
        r = client.post("/v1/models/ko:predict", json={"instances": asked})
    assert r.status_code == 200, r.text
    want = [p.proba for p in predict(classifier.load(folder), asked)]
    assert r.json()["predictions"] == want


def test_morphemes_are_kept_only_for_a_training_run():
    from classifier.io import morphemes

    texts = ["사이즈가 작아요", "배송이 빨라요", "사이즈가 작아요"]
    first = morphemes.analyze_many(texts)
    assert morphemes._cache is None  # scoring millions of rows keeps nothing
    with morphemes.cached():
        assert morphemes.analyze_many(texts) == first
        assert set(morphemes._cache) == set(texts)  # the run's later encodings find them
    assert morphemes._cache is None
