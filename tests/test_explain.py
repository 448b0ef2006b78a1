"""Explanations: per-word contributions for every bundle kind, checked against what they claim to be
(exact sums for the linear parts, Keras' own outputs without each word for the occlusion path)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import classifier
from classifier.classify.explain import empty_scores, lstm_occlusion, tfidf_contributions, tokenizer_words
from classifier.classify.metrics import sigmoid, softmax
from classifier.classify.train import train
from classifier.config import preset
from classifier.models.stack import tfidf_parts
from tests.conftest import missing
from tests.test_korean import KOREAN_TRAIN
from tests.test_multiclass import colour_rows, tiny

REVIEWS = ["Love this dress, it fits perfectly!", "It ripped after one wash. Returned it.",
           "The colour is great but the fabric is thin and cheap", "Runs small; order a size up",
           "qzx", "", "I'm 5'4\" and the length was perfect, wish it came in more colours"]


def keras_without_each_word(bundle, ids: list[int]):
    """The Keras model's probabilities for `ids` and for `ids` without each one, padded as the bundle pads."""
    rows = [ids] + [ids[:i] + ids[i + 1:] for i in range(len(ids))]
    p = bundle.keras_classifier().predict(bundle.tokenizer.pad(rows), verbose=0)
    return p.reshape(len(rows), -1).astype(np.float64)


def assert_occlusion_matches_keras(bundle, texts):
    """Each known word's contribution is the Keras model's logit change when the word is removed (1e-5 on
    probabilities), for the predicted class (binary) or every class (multi-class)."""
    for e in bundle.explain(texts):
        ids = bundle.tokenizer.encode(e.text)
        known = [w for w in e.words if w.word in bundle.tokenizer.word_index]
        assert len(known) == len(ids)
        p = keras_without_each_word(bundle, ids)
        if bundle.multiclass:
            z = np.array(e.logits)
            np.testing.assert_allclose(softmax(z[None]), p[:1], atol=1e-5)
            for w, want in zip(known, p[1:], strict=True):
                np.testing.assert_allclose(softmax((z - np.array(w.contributions))[None])[0], want, atol=1e-5)
        else:
            sign = 1 if e.label == 1 else -1
            assert sigmoid(sign * e.logit) == pytest.approx(p[0, 0], abs=1e-5)
            got = [sigmoid(sign * (e.logit - w.contribution)) for w in known]
            np.testing.assert_allclose(got, p[1:, 0], atol=1e-5)
        assert all(w.contribution == 0 for w in e.words if w.word not in bundle.tokenizer.word_index)


@pytest.fixture(scope="module")
def tfidf_bundle(tmp_path_factory, data_path):
    out = tmp_path_factory.mktemp("explain") / "tfidf"
    train(preset("tfidf", max_rows=1500), data_path, out, verbose=0)
    return out


@pytest.fixture(scope="module")
def stack_bundle(tmp_path_factory, data_path):
    """The tuned preset, narrowed: a masked bidirectional LSTM stacked with TF-IDF and the rating regression."""
    out = tmp_path_factory.mktemp("explain") / "tuned"
    train(preset("tuned", max_rows=800, epochs=1, embedding_dim=8, lstm_units=8), data_path, out, verbose=0)
    return out


# -- the words ------------------------------------------------------------------------------------------
def test_words_and_spans_are_the_tokenizers_own(small_bundle, data_path):
    import pandas as pd

    bundle = classifier.load(small_bundle)
    texts = pd.read_csv(data_path, nrows=400)["Review Text"].dropna().tolist() + REVIEWS
    words = tokenizer_words(bundle.tokenizer, texts)
    assert [[w for w, _, _ in ws] for ws in words] == bundle.tokenizer.split_many(texts)
    for text, ws in zip(texts, words, strict=True):
        assert all(text[a:b].lower() == w for w, a, b in ws)


# -- the LSTM: occlusion on the NumPy engine ------------------------------------------------------------
def test_lstm_occlusion_equals_keras_without_each_word(small_bundle):
    bundle = classifier.load(small_bundle)
    assert_occlusion_matches_keras(bundle, REVIEWS)
    [e] = bundle.explain(["Love this dress, it fits perfectly!"], top=2)
    assert e.method == "occlusion" and len(e.top_for) <= 2 and len(e.top_against) <= 2
    assert e.logit == pytest.approx(e.base + sum(w.contribution for w in e.words) + e.residual)
    assert e.proba == pytest.approx(float(bundle.predict_proba([e.text])[0, int(e.label)]), abs=1e-6)


def test_empty_and_unknown_reviews_explain_to_the_base(small_bundle):
    bundle = classifier.load(small_bundle)
    empty, unknown = bundle.explain(["", "qzx wkkrpf"])
    assert (empty.status, unknown.status) == ("empty", "no_known_words")
    for e in (empty, unknown):
        # the base is computed in another batch than the review: equal to the agreement standard, not bit for bit
        assert e.logit == pytest.approx(e.base, abs=1e-5) and e.residual == pytest.approx(0, abs=1e-5)
        assert all(w.contribution == 0 for w in e.words) and e.top_for == e.top_against == []


@pytest.mark.slow  # trains a Keras model
def test_tuned_stack_bidirectional_occlusion_and_a_truncated_review_match_keras(stack_bundle):
    """The masked bidirectional LSTM (each direction keeps its own prefix), and a review longer than the
    window (128 ids), where removing a word brings in the one before the window."""
    bundle = classifier.load(stack_bundle)
    words = bundle.tokenizer.words
    long_review = " ".join(words[i % 40] for i in range(140))
    texts = [*REVIEWS[:4], long_review]
    ids = bundle.tokenizer.encode_many(texts)
    assert len(ids[-1]) > bundle.maxlen
    full, less = lstm_occlusion(bundle.numpy_engine(), ids)
    for row, (seq, z, z_less) in enumerate(zip(ids, full, less, strict=True)):
        p = keras_without_each_word(bundle, seq)[:, 0]
        np.testing.assert_allclose(sigmoid(z[0]), p[0], atol=1e-5, err_msg=f"review {row}")
        np.testing.assert_allclose(sigmoid(z_less[:, 0]), p[1:], atol=1e-5, err_msg=f"review {row}")
    assert np.all(less[-1][: len(ids[-1]) - bundle.maxlen] == full[-1])  # before the window: no effect
    assert bundle.explain([long_review])[0].status == "truncated"


@pytest.mark.slow  # trains a Keras model
def test_tuned_stack_blend_is_exact_over_its_inputs(stack_bundle):
    bundle = classifier.load(stack_bundle)
    blend, tfidf = bundle.blend, bundle.tfidf
    assert "aux" in blend  # the rating regression is a third input
    explanations = bundle.explain(REVIEWS)
    ids = bundle.tokenizer.encode_many(REVIEWS)
    full, less = lstm_occlusion(bundle.numpy_engine(), ids)
    t, aux = tfidf.scores_pairs(*tfidf.features.id_pairs(ids), len(ids))
    p = bundle.predict_proba(REVIEWS)
    want = [p[r, int(e.label)] for r, e in enumerate(explanations)]
    np.testing.assert_allclose([e.proba for e in explanations], want, atol=1e-5)
    empty = empty_scores(bundle.numpy_engine())[0]
    for e, seq, z, z_less, t_r, a_r in zip(explanations, ids, full, less, t, aux, strict=True):
        sign = 1 if e.label == 1 else -1
        lstm_part = blend["lstm"] * float((z[0] - z_less[:, 0]).sum())
        linear = blend["tfidf"] * (t_r - tfidf.intercept) + blend["aux"] * (a_r - tfidf.aux_intercept)
        assert sign * sum(w.contribution for w in e.words) - lstm_part == pytest.approx(linear, abs=1e-9)
        # what is left unsplit is the LSTM's alone: its logit less its empty review's, less its removals
        assert sign * e.residual == pytest.approx(blend["lstm"] * (z[0] - empty) - lstm_part, abs=1e-9)
        assert len(seq) == sum(w.word in bundle.tokenizer.word_index for w in e.words)


# -- TF-IDF: exact --------------------------------------------------------------------------------------
def test_tfidf_contributions_sum_to_the_logit_exactly(tfidf_bundle, data_path):
    import pandas as pd

    bundle = classifier.load(tfidf_bundle)
    texts = pd.read_csv(data_path, nrows=200)["Review Text"].dropna().tolist() + REVIEWS
    logits = bundle.model.logits_ids(bundle.encoder.encode_many(texts))
    for e, z in zip(bundle.explain(texts), logits, strict=True):
        sign = 1 if e.label == 1 else -1
        assert e.method == "exact" and e.base == sign * bundle.model.intercept
        assert sign * (e.base + sum(w.contribution for w in e.words)) == pytest.approx(z, abs=1e-9)
        assert e.residual == pytest.approx(0, abs=1e-9)
        assert [w.word for w in e.words] == bundle.model.features._token.findall(e.text.lower())
    # a word in a bigram takes half the bigram's share: "not" moves a review through "not flattering"
    [e] = bundle.explain(["this top is not flattering"])
    share, _, _ = tfidf_contributions(bundle.model, [w.word for w in e.words])
    np.testing.assert_allclose(share[:, 0], [(1 if e.label == 1 else -1) * w.contribution for w in e.words])


# -- multi-class ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def colours_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "colours.csv"
    colour_rows(240).to_csv(path, index=False)
    return path


COLOUR_TEXTS = ["the ocean my sky very denim one", "a kiwi this lettuce thing lime item", "cherry my brick quite",
                "ocean lime cherry", "thing"]


@pytest.mark.slow  # trains a Keras model
def test_multiclass_lstm_occlusion_per_class_matches_keras(tmp_path, colours_csv):
    train(tiny("reference", epochs=6), colours_csv, tmp_path / "b", verbose=0)
    bundle = classifier.load(tmp_path / "b")
    assert_occlusion_matches_keras(bundle, COLOUR_TEXTS)
    [e] = bundle.explain(["ocean sky sapphire"])
    assert e.classes == ["blue", "green", "red, dark"] and len(e.words[0].contributions) == 3
    assert e.words[0].contribution == e.words[0].contributions[e.classes.index(e.label)]


def test_multiclass_tfidf_sums_per_class_exactly(tmp_path, colours_csv):
    train(tiny("tfidf"), colours_csv, tmp_path / "b", verbose=0)
    bundle = classifier.load(tmp_path / "b")
    z = bundle.model.logits_ids(bundle.encoder.encode_many(COLOUR_TEXTS))
    for e, z_r in zip(bundle.explain(COLOUR_TEXTS), z, strict=True):
        sums = np.array(e.bases) + np.sum([w.contributions for w in e.words], axis=0)
        np.testing.assert_allclose(sums, z_r, atol=1e-9)
        np.testing.assert_allclose(e.logits, z_r, atol=1e-9)


@pytest.mark.slow  # trains a Keras model
def test_multiclass_stack_is_its_scores_without_each_word(tmp_path, colours_csv):
    """The multi-class blend over log probabilities: each word's contributions are the blend's scores
    minus its scores without the word, the LSTM half of those run by Keras."""
    train(tiny("tuned", epochs=3), colours_csv, tmp_path / "b", verbose=0)
    bundle = classifier.load(tmp_path / "b")
    assert bundle.kind == "stack" and bundle.multiclass
    for e in bundle.explain(COLOUR_TEXTS):
        ids = bundle.tokenizer.encode(e.text)
        rows = [ids] + [ids[:i] + ids[i + 1:] for i in range(len(ids))]
        p = bundle.predict_proba_ids(rows, engine="keras")
        z = np.array(e.logits)
        np.testing.assert_allclose(softmax(z[None])[0], p[0], atol=1e-5)
        known = [w for w in e.words if w.word in bundle.tokenizer.word_index]
        for w, want in zip(known, p[1:], strict=True):
            np.testing.assert_allclose(softmax((z - np.array(w.contributions))[None])[0], want, atol=1e-5)


# -- Korean: the analyzer's morphemes are the words -----------------------------------------------------
@pytest.mark.slow  # trains a Keras model
def test_korean_morphemes_are_the_words_and_occlusion_matches_keras(tmp_path):
    if not KOREAN_TRAIN.is_file():
        missing(str(KOREAN_TRAIN), "the Korean movie reviews live in ../shared/data (../shared/README.md)")
    with open(KOREAN_TRAIN, encoding="utf-8", newline="") as f:
        rows = [r for _, r in zip(range(300), csv.DictReader(f), strict=False) if r["document"]]
    path = tmp_path / "ko.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cfg = preset("reference", analyzer="korean", text_column="document", label_column="label", epochs=1,
                 embedding_dim=16, lstm_units=16)
    cfg.tokenizer.maxlen = 60
    train(cfg, path, tmp_path / "b", verbose=0)
    bundle = classifier.load(tmp_path / "b")
    texts = ["사이즈가 너무 작아요", "정말 재미있는 영화였다 최고!", rows[0]["document"]]
    [e] = bundle.explain(texts[:1])
    assert [w.word for w in e.words] == bundle.tokenizer.split_many(texts[:1])[0]
    assert [w.word for w in e.words] == ["사이즈", "가", "너무", "작", "어요"]
    assert (e.words[0].start, e.words[0].end) == (0, 3)
    assert_occlusion_matches_keras(bundle, texts)
    # a Korean tfidf bundle: the morphemes are its n-grams' tokens too, and the sum is exact
    train(preset("tfidf", analyzer="korean", text_column="document", label_column="label"), path, tmp_path / "t",
          verbose=0)
    tfidf = classifier.load(tmp_path / "t")
    z = tfidf.model.logits_ids(tfidf.encoder.encode_many(texts))
    for e, z_r in zip(tfidf.explain(texts), z, strict=True):
        sign = 1 if e.label == 1 else -1
        assert [w.word for w in e.words] == bundle.tokenizer.split_many([e.text])[0]
        assert sign * (e.base + sum(w.contribution for w in e.words)) == pytest.approx(z_r, abs=1e-9)


@pytest.mark.slow  # trains a Keras model
def test_tfidf_parts_agree_with_the_stacks_own(stack_bundle):
    """The stack's TF-IDF half, decomposed, equals the vectorised path scoring uses."""
    bundle = classifier.load(stack_bundle)
    ids = bundle.tokenizer.encode_many(REVIEWS)
    p, aux = tfidf_parts(bundle.tfidf, ids)
    for seq, p_r, a_r in zip(ids, p, aux, strict=True):
        share, aux_share, _ = tfidf_contributions(bundle.tfidf, [str(i) for i in seq])
        assert sigmoid(bundle.tfidf.intercept + share.sum()) == pytest.approx(p_r, abs=1e-12)
        assert bundle.tfidf.aux_intercept + aux_share.sum() == pytest.approx(a_r, abs=1e-12)


def test_the_deletion_order_starts_with_the_strongest_and_then_removes_greedily(small_bundle):
    """order[:2] are the two largest contributions; the next two, of the following candidates, are those
    whose removal then lowers the call most (checked with the engine's own probabilities)."""
    from classifier.classify.explain import REFINE_CANDIDATES, REFINE_TAKE

    bundle = classifier.load(small_bundle)
    text = "I love this dress, the fit is perfect and the colour is lovely but the zipper broke and it runs small"
    [e] = bundle.explain([text])
    known = [w.position for w in e.words if w.word in bundle.tokenizer.word_index]
    assert sorted(e.order) == list(range(len(e.words)))
    by_contribution = sorted(known, key=lambda p: -e.words[p].contribution)
    assert e.order[:REFINE_TAKE] == by_contribution[:REFINE_TAKE]
    ids = {p: bundle.tokenizer.word_index[e.words[p].word] for p in known}
    taken = e.order[:REFINE_TAKE]
    candidates = [p for p in by_contribution if p not in taken][:REFINE_CANDIDATES]
    rows = [[ids[p] for p in known if p not in taken and p != c] for c in candidates]
    p_call = bundle.predict_proba_ids(rows)
    p_call = p_call if e.label == 1 else 1 - p_call
    best = [candidates[i] for i in np.argsort(p_call, kind="stable")[:REFINE_TAKE]]
    assert e.order[REFINE_TAKE: 2 * REFINE_TAKE] == best
    assert e.top_for == [e.words[p] for p in e.order if e.words[p].contribution > 0][: e.top]


# -- the command ----------------------------------------------------------------------------------------
def test_explain_command_text_jsonl_and_html(small_bundle):
    import json

    from tests.conftest import assert_user_error, run_cli, run_cli_here

    bundle = classifier.load(small_bundle)
    texts = ["Love this dress, it fits perfectly!", "It ripped after one wash."]
    want = bundle.explain(texts, top=2)
    r = run_cli("explain", "--model", small_bundle, "--top", "2", *texts)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    predicted = run_cli_here("predict", "--model", small_bundle, *texts).stdout.splitlines()
    for head, figures, e, p in zip(lines[::2], lines[1::2], want, predicted, strict=True):
        proba, label, status, marked = head.split("\t")
        assert (label, status) == (str(e.label), e.status)
        assert proba == p.split("\t")[0] and label == p.split("\t")[1]  # predict's figures
        assert marked.replace("[+", "").replace("[-", "").replace("]", "") == e.text
        for w in e.top_for:
            assert f"[+{e.text[w.start:w.end]}]" in marked and f"{w.word} {w.contribution:+.3f}" in figures
        for w in e.top_against:
            assert f"[-{e.text[w.start:w.end]}]" in marked
        assert figures.startswith("\tfor: ") and f"base {e.base:+.3f}" in figures

    r = run_cli_here("explain", "--model", small_bundle, "--format", "jsonl", *texts)
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert got == [json.loads(json.dumps(e.to_dict())) for e in bundle.explain(texts)]

    r = run_cli_here("explain", "--model", small_bundle, "--format", "html", "<>& <i> love it")
    assert r.stdout.startswith("<!doctype html>") and "&lt;&gt;&amp;" in r.stdout and "<i>" not in r.stdout
    assert 'class="w"' in r.stdout and 'title="love +' in r.stdout

    assert_user_error(run_cli_here("explain", "--model", "/nonexistent/bundle", "love"), "/nonexistent/bundle")
    r = run_cli("explain", "--model", small_bundle, "--top", "-1", "love")
    assert r.returncode == 2 and "--top" in r.stderr


def test_explain_reads_stdin_one_review_a_line(small_bundle):
    from tests.conftest import run_cli

    r = run_cli("explain", "--model", small_bundle, "--format", "jsonl", input="love it\n\nqzx\n")
    assert r.returncode == 0, r.stderr
    import json

    assert [json.loads(line)["status"] for line in r.stdout.splitlines()] == ["ok", "empty", "no_known_words"]


# -- score --explain K ----------------------------------------------------------------------------------
def test_score_explain_adds_one_column_and_keeps_every_other_byte(small_bundle, tmp_path):
    import io

    from classifier.classify.score import csv_cell
    from classifier.io.records import read_records
    from tests.conftest import awkward_csv, run_cli, run_cli_here

    bundle = classifier.load(small_bundle)
    raw, statuses = awkward_csv(bundle)
    (tmp_path / "in.csv").write_bytes(raw)
    plain = run_cli_here("score", tmp_path / "in.csv", "--model", small_bundle, "-o", tmp_path / "plain.csv")
    assert plain.returncode == 0, plain.stderr
    r = run_cli("score", tmp_path / "in.csv", "--model", small_bundle, "-o", tmp_path / "why.csv", "--explain", "3")
    assert r.returncode == 0, r.stderr

    def records(path):  # (raw text without its line ending, the ending, the cells) of each record
        text = io.StringIO(path.read_bytes().decode("utf-8"), newline="")
        return list(read_records(text, ",", path.name))

    before, after = records(tmp_path / "plain.csv"), records(tmp_path / "why.csv")
    assert len(before) == len(after) == len(statuses) + 1
    assert after[0].cells[-1] == "top_words"
    for old, new in zip(before, after, strict=True):  # every byte as it was, one cell more
        assert new.body == old.body + "," + csv_cell(new.cells[-1], ",") and new.end == old.end
    want = bundle.explain([rec.cells[2] for rec in after[1:]], top=3)
    assert [e.status for e in want] == statuses
    for rec, e in zip(after[1:], want, strict=True):
        cell = rec.cells[-1]
        if e.status == "empty":
            assert cell == ""
            continue
        got = [w.rsplit(":", 1) for w in cell.split()]
        assert [w for w, _ in got] == [w.word for w in e.strongest(3)]
        assert [float(c) for _, c in got] == pytest.approx([w.contribution for w in e.strongest(3)], abs=6e-4)


def test_score_explain_multiclass_and_its_errors(tmp_path, colours_csv):
    from tests.conftest import assert_user_error, run_cli_here

    train(tiny("tfidf"), colours_csv, tmp_path / "b", verbose=0)
    r = run_cli_here("score", colours_csv, "--model", tmp_path / "b", "-o", tmp_path / "o.csv", "--explain", "2",
                     "--text-column", "text")
    assert r.returncode == 0, r.stderr
    import pandas as pd

    df = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert list(df.columns)[-2:] == ["status", "top_words"]
    first = classifier.load(tmp_path / "b").explain([df["text"][0]], top=2)[0]
    assert df["top_words"][0].split()[0].startswith(first.strongest(2)[0].word + ":+")
    assert_user_error(run_cli_here("score", colours_csv, "--model", tmp_path / "b", "--explain", "2", "--spark",
                                   "local[1]", "-o", tmp_path / "s"), "--explain", "--spark")
