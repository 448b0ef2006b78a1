"""Pretrained word vectors from the wordllama wheel: read offline, pooled as hand-checked, and a bundle
that uses them reloads, agrees with a second process and refuses other vectors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from classifier.bundle import load
from classifier.classify.train import fit, train
from classifier.config import preset
from classifier.errors import UserError
from classifier.models.vectors import WEIGHTS, WordVectors
from tests.conftest import AGREEMENT, ROOT

pytest.importorskip("wordllama", reason="the `vectors` extra: pip install 'classifier[vectors]'")
pytest.importorskip("vaderSentiment", reason="the general preset's lexicon: pip install 'classifier[lexicon]'")

OFFLINE = """
import socket, sys
def refuse(*a, **k):
    raise OSError("no network in this test")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from classifier.models.vectors import WordVectors
v = WordVectors.installed()
pooled = v.pool(["not bad", "Love it!"])
gone = [m for m in ("wordllama", "huggingface_hub", "requests", "tensorflow") if m in sys.modules]
print(v.matrix.shape[0], v.matrix.shape[1], pooled.shape[0], pooled.shape[1], *gone)
"""


def packaged_matrix() -> np.ndarray:
    """The wheel's matrix read here by hand: safetensors is 8 bytes of header length, a JSON header,
    then the raw little-endian tensor."""
    import importlib.metadata

    raw = importlib.metadata.distribution("wordllama").locate_file(WEIGHTS).read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])["embedding.weight"]
    assert header["dtype"] == "F16"
    start, end = header["data_offsets"]
    return np.frombuffer(raw[8 + size + start : 8 + size + end], "<f2").reshape(header["shape"]).astype(np.float64)


def test_packaged_vectors_load_without_network():
    """The matrix and tokenizer come from the installed wheel: with the hub off and every socket
    refused, they load, with their shape, and neither wordllama nor a hub client is imported."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": "/nonexistent"}
    run = subprocess.run([sys.executable, "-c", OFFLINE], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.split() == ["32000", "256", "2", "256"]
    # read from the package, never copied into the repository (a virtualenv inside the checkout holds
    # the wheel's own copy, so the tracked files are what is checked)
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
        assert tracked and not [f for f in tracked if f.endswith(".safetensors")]


def test_pooled_vectors_hand_checked():
    vectors, matrix = WordVectors.installed(), packaged_matrix()
    np.testing.assert_array_equal(vectors.matrix, matrix)
    # the Llama 2 tokenizer's pieces: "not" -> [451], "bad" -> [4319]; "Love" -> [8155], "it!" -> [372, 29991];
    # "superb" -> "▁super" [2428] + "b" [29890]
    expected = {"not bad": [451, 4319], "Love it!": [8155, 372, 29991], "superb": [2428, 29890]}
    texts = [*expected, "", "not  bad"]
    pooled = vectors.pool(texts)
    for row, ids in zip(pooled, expected.values(), strict=False):
        total = matrix[ids].sum(axis=0)
        np.testing.assert_allclose(row, total / np.linalg.norm(total), rtol=0, atol=1e-12)
    # the BPE model run on "▁" + piece gives the tokenizer's own ids, odd pieces included
    pieces = ["superb", "it!", "café", "☃", "\n\tx", "1,299.99", "don't", "ÉCOLE"]
    encoded = vectors.tokenizer.encode_batch(pieces, add_special_tokens=False)
    assert vectors.token_ids(pieces) == [e.ids for e in encoded]
    assert vectors.token_ids(["<s>"]) != [[1]]  # a review's "<s>" is text, not the start-of-text token
    assert not pooled[3].any()  # no tokens: zeros
    np.testing.assert_array_equal(pooled[4], pooled[0])  # a run of spaces cuts the same pieces
    # a text's vector does not depend on the batch it came in (nor on the pieces cached before)
    np.testing.assert_array_equal(WordVectors.installed().pool(["Love it!"])[0], pooled[1])


def test_pooling_from_several_threads_gives_each_text_its_own_vector(data_path):
    """A server scores on several threads: each adds new pieces to the one cache while others read it."""
    from concurrent.futures import ThreadPoolExecutor

    texts = pd.read_csv(data_path)["Review Text"].dropna().iloc[2000:2400].tolist()
    alone = WordVectors(*(getattr(WordVectors.installed(), k) for k in ("matrix", "tokenizer", "sha256", "version")))
    shared = WordVectors(*(getattr(WordVectors.installed(), k) for k in ("matrix", "tokenizer", "sha256", "version")))
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(shared.pool, [texts[k::8] for k in range(8)]))
    for k, part in enumerate(parts):
        np.testing.assert_allclose(part, alone.pool(texts[k::8]), rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def vectors_bundle(tmp_path_factory, data_path):
    out = tmp_path_factory.mktemp("vectors") / "bundle"
    train(preset("general", tfidf_vectors=0.25, max_rows=800), [str(data_path)], out, verbose=0)
    return out


def test_bundle_with_vectors_reloads_and_agrees_with_another_process(vectors_bundle, tmp_path, data_path):
    bundle = load(vectors_bundle)
    assert bundle.kind == "tfidf" and bundle.meta["vectors"]["sha256"] == WordVectors.installed().sha256
    texts = pd.read_csv(data_path)["Review Text"].dropna().iloc[900:1000].tolist() + ["not good at all", "superb"]
    p = bundle.recommend_proba(texts)
    part = bundle.vectors.logits(texts)
    assert np.abs(part).max() > 0.01  # the vectors move the calls
    z = bundle.model.logits_ids(bundle.model.features.encode_many(texts)) + part
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), atol=1e-6, rtol=0)
    np.testing.assert_allclose(load(bundle.save(tmp_path / "copy")).recommend_proba(texts), p, atol=AGREEMENT, rtol=0)
    code = ("import sys, json; from classifier.bundle import load; "
            f"p = load({str(vectors_bundle)!r}).recommend_proba(json.load(sys.stdin)); "
            "assert 'tensorflow' not in sys.modules; print(json.dumps(p.tolist()))")
    run = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    np.testing.assert_allclose(json.loads(run.stdout), p, atol=AGREEMENT, rtol=0)
    # the explanation adds up to the same call: n-grams, lexicon terms and the vectors' pieces
    for e, q in zip(bundle.explain(texts[-3:]), p[-3:], strict=True):
        assert e.probas[1] == pytest.approx(q, abs=1e-5)
        assert e.base + sum(w.contribution for w in e.words) + e.residual == pytest.approx(e.logit, abs=1e-9)


def test_info_names_the_vectors(vectors_bundle, capsys):
    from classifier import cli

    assert cli.main(["info", "--model", str(vectors_bundle)]) == 0
    out = capsys.readouterr().out
    assert "vectors    wordllama 0.4" in out and WordVectors.installed().sha256["weights"] in out


def test_bundle_refuses_other_vectors(vectors_bundle, tmp_path):
    copy = load(vectors_bundle).save(tmp_path / "other")
    meta = json.loads((copy / "config.json").read_text())
    meta["vectors"]["sha256"]["weights"] = "0" * 64
    (copy / "config.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="trained with other word vectors"):
        load(copy)


def test_vectors_need_the_bundles_own_encoder(vectors_bundle):
    bundle = load(vectors_bundle)
    with pytest.raises(UserError, match="encode the texts with the bundle's encoder"):
        bundle.proba_ids(bundle.model.features.encode_many(["good"]))


def test_fine_tuning_a_vectors_bundle_keeps_its_vectors(vectors_bundle, data_path):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"]).iloc[1000:1200]
    tuned = fit(df["Review Text"], df["Recommended IND"], "general", init_from=vectors_bundle)
    base = load(vectors_bundle)
    assert tuned.meta["vectors"] == base.meta["vectors"]
    np.testing.assert_array_equal(tuned.vectors.coef, base.vectors.coef)  # the vector part stays; the n-grams move
    assert np.abs(tuned.model.coef - base.model.coef).max() > 1e-3


def test_vectors_take_binary_labels_only(data_path):
    df = pd.read_csv(data_path).dropna(subset=["Review Text"]).head(300)
    with pytest.raises(UserError, match="take 0/1 labels"):
        fit(df["Review Text"], df["Rating"], "tfidf", tfidf_vectors=0.25)
