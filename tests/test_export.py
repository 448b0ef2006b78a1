"""`classifier export`: the SavedModel on raw text and the ONNX model on ids give the bundle's
probabilities, each checked in a fresh process that never imports this package."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier.bundle import load
from classifier.errors import UserError
from classifier.export.pipeline import export_bundle
from classifier.io.dataset import load_labelled, make_split
from tests.conftest import ROOT, assert_user_error, committed_bundle, run_cli, run_cli_here

DEFAULT = committed_bundle("default")
TUNED = committed_bundle("tuned")
TOLERANCE = 1e-5
BATCH = 256  # rows per call in the child processes: 256 x 400 x 300 embedding floats is 120 MB

TRICKY = [
    "Love this dress! 😍😍 fits perfectly 👗🔥",
    "사이즈가 딱 맞아요 love the dress",  # Korean
    "Great dress\r\nwould buy again\r\n",  # \r stays inside words, \n is a filter
    "ÉTÉ DÉJÀ vu: LOVE IT",
    "İstanbul trip, perfect dress",  # İ lower-cases to i + combining dot (2 code points)
    "Straße STRASSE ẞ ß great",
    "ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ'Α ΑΣ.Α",  # final sigma and its context
    "a" * 5000 + " dress",
    "x" * 5000,
    " ".join(["perfect", "dress", "small"] * 1000),  # 3,000 words: the first 2,600 are cut
    "",
    "!!!...???",
    "\t\n \t  ",
    "the dress\x00 is LOVELY\x00 and SOFT",  # tf.strings.lower alone stops at the NUL
    "\x00",
    "DRESS\u00a0FITS well",  # a no-break space is not a separator
    "don't love it – it’s “fine”",
    "\u2c2f \ua7c0VITH \U00010570 DRESS",  # capitals new in Unicode 14: Python lower-cases them, TensorFlow does not
    "Α\u0898Σ dress ΑΣ\u0898Α",  # a sigma beside a mark new in Unicode 14: TF lower-cases these differently
]

SAVEDMODEL_CHILD = r"""
import json, os, sys
import numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf

folder, texts_file, out_file = sys.argv[1:]
texts = json.load(open(texts_file, encoding="utf-8"))
model = tf.saved_model.load(folder)
serve, tokenize = model.signatures["serving_default"], model.signatures["tokenize"]
proba, recommend, ids = [], [], []
for i in range(0, len(texts), BATCH):
    batch = tf.constant(texts[i:i + BATCH], dtype=tf.string)
    out = serve(text=batch)
    proba.append(out["recommend_proba"].numpy())
    recommend.append(out["recommend"].numpy())
    ids.append(tokenize(text=batch)["ids"].numpy())
np.savez(out_file, proba=np.concatenate(proba), recommend=np.concatenate(recommend), ids=np.concatenate(ids))
empty = serve(text=tf.constant([], dtype=tf.string))
spec = lambda s: [s.name, s.dtype.name, s.shape.as_list()]
print(json.dumps({
    "inputs": {k: spec(s) for k, s in serve.structured_input_signature[1].items()},
    "outputs": {k: spec(s) for k, s in serve.structured_outputs.items()},
    "signatures": sorted(model.signatures),
    "empty": {k: v.shape.as_list() for k, v in empty.items()},
    "classifier_imported": "classifier" in sys.modules,
}))
""".replace("BATCH", str(BATCH))

ONNX_CHILD = r"""
import json, sys
import numpy as np
import onnxruntime as ort

path, ids_file, out_file = sys.argv[1:]
ids = np.load(ids_file)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
proba = np.concatenate([session.run(["recommend_proba"], {"ids": ids[i:i + BATCH]})[0]
                        for i in range(0, len(ids), BATCH)])
np.save(out_file, proba)
value = lambda v: [v.name, v.type, v.shape]
print(json.dumps({
    "inputs": [value(v) for v in session.get_inputs()],
    "outputs": [value(v) for v in session.get_outputs()],
    "metadata": session.get_modelmeta().custom_metadata_map,
    "imported": sorted(m for m in ("classifier", "tensorflow", "keras") if m in sys.modules),
}))
""".replace("BATCH", str(BATCH))


def run_fresh(code: str, *args, cwd: Path) -> dict:
    """Run `code` in a new Python outside the project folder, so `import classifier` could not
    even find this package; its last stdout line is JSON."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bundle():
    return load(DEFAULT)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Both formats of saved_models/default, exported once by the `export` command, run in this process
    (the refusals below run it in its own); the onnx folder is made by the export."""
    out = tmp_path_factory.mktemp("export")
    paths = {"savedmodel": out / "savedmodel" / "1", "onnx": out / "onnx" / "model.onnx"}
    paths["savedmodel"].mkdir(parents=True)  # an empty folder is taken without --overwrite
    for fmt, path in paths.items():
        result = run_cli_here("export", "--model", DEFAULT, "--to", fmt, "-o", path)
        assert result.returncode == 0, result.stderr
        assert f"wrote {path}" in result.stdout.splitlines()
    return paths


@pytest.fixture(scope="module")
def test_texts(data_path) -> list[str]:
    df = load_labelled(data_path, "Review Text", "Recommended IND")
    texts = list(make_split(df, "Review Text", "Recommended IND", 0.2, 42).x_test)
    assert len(texts) == 4529
    return texts


@pytest.fixture(scope="module")
def savedmodel_answers(exported, test_texts, tmp_path_factory) -> tuple[dict, dict]:
    """The exported SavedModel's answers for every test review, then the TRICKY strings, from one
    new Python that loads TensorFlow alone (each answer array is in that order)."""
    folder = tmp_path_factory.mktemp("savedmodel-run")
    texts_file = folder / "texts.json"
    texts_file.write_text(json.dumps(test_texts + TRICKY), encoding="utf-8")
    info = run_fresh(SAVEDMODEL_CHILD, exported["savedmodel"], texts_file, folder / "out.npz", cwd=folder)
    assert info["classifier_imported"] is False
    with np.load(folder / "out.npz") as f:
        return info, dict(f)


def answers_for(answers: dict, rows: slice) -> dict:
    return {name: values[rows] for name, values in answers.items()}


def check_against_bundle(bundle, texts: list[str], got: dict) -> float:
    """ids exactly, probabilities within TOLERANCE, labels wherever the threshold is not within it."""
    np.testing.assert_array_equal(got["ids"], bundle.tokenizer.texts_to_padded(texts))
    want = bundle.recommend_proba(texts)
    diff = float(np.max(np.abs(got["proba"] - want)))
    assert diff <= TOLERANCE, diff
    clear = np.abs(want - bundle.threshold) > TOLERANCE
    np.testing.assert_array_equal(got["recommend"][clear], bundle.predict(texts)[clear])
    return diff


# -- the SavedModel ------------------------------------------------------------------------------
@pytest.mark.slow
def test_savedmodel_equals_bundle_on_every_test_review(savedmodel_answers, bundle, test_texts):
    info, answers = savedmodel_answers
    diff = check_against_bundle(bundle, test_texts, answers_for(answers, slice(0, len(test_texts))))
    print(f"SavedModel vs bundle on {len(test_texts):,} test reviews: max |diff| {diff:.2e}")
    assert info["inputs"] == {"text": ["text", "string", [None]]}
    assert info["outputs"] == {"recommend_proba": ["recommend_proba", "float32", [None]],
                               "recommend": ["recommend", "int64", [None]]}
    assert info["signatures"] == ["serving_default", "tokenize"]
    assert info["empty"] == {"recommend_proba": [0], "recommend": [0]}


def test_savedmodel_on_tricky_strings(savedmodel_answers, bundle):
    _, answers = savedmodel_answers
    diff = check_against_bundle(bundle, TRICKY, answers_for(answers, slice(-len(TRICKY), None)))
    print(f"SavedModel vs bundle on {len(TRICKY)} tricky strings: max |diff| {diff:.2e}")


# -- ONNX ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_onnx_equals_bundle_on_the_same_ids(exported, bundle, test_texts, tmp_path):
    texts = test_texts + TRICKY
    ids = bundle.tokenizer.texts_to_padded(texts)
    np.save(tmp_path / "ids.npy", ids)
    info = run_fresh(ONNX_CHILD, exported["onnx"], tmp_path / "ids.npy", tmp_path / "proba.npy", cwd=tmp_path)
    assert info["imported"] == []  # onnxruntime and NumPy only
    diff = float(np.max(np.abs(np.load(tmp_path / "proba.npy") - bundle.predict_proba_ids(list(ids)))))
    print(f"ONNX vs bundle on {len(texts):,} id rows: max |diff| {diff:.2e}")
    assert diff <= TOLERANCE, diff
    assert info["inputs"] == [["ids", "tensor(int32)", ["batch", 400]]]
    assert info["outputs"] == [["recommend_proba", "tensor(float)", ["batch"]]]
    meta = info["metadata"]
    assert float(meta["threshold"]) == bundle.threshold
    assert (meta["maxlen"], meta["padding"], meta["truncating"]) == ("400", "pre", "pre")


def test_onnx_tokenizer_json_is_the_bundles(exported, bundle):
    from classifier.io.files import file_sha256
    from classifier.io.tokenizer import Tokenizer

    tokenizer_file = exported["onnx"].parent / "tokenizer.json"
    assert Tokenizer.load(tokenizer_file).sha256 == bundle.tokenizer.sha256
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(exported["onnx"])).metadata_props}
    assert meta["tokenizer_json_sha256"] == file_sha256(tokenizer_file)


def readme_onnx_example() -> str:
    text = (ROOT / "docs/export.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "onnxruntime" in b]
    assert len(blocks) == 1, "docs/export.md should have one onnxruntime example"
    return blocks[0]


def test_readme_onnx_example_runs_and_agrees(exported, bundle):
    """docs/export.md's plain-Python tokenizing + onnxruntime example, run as written beside the files."""
    code = readme_onnx_example() + "\nimport json, sys\nprint(json.dumps({'texts': texts, 'proba': proba.tolist(), " \
                                   "'classifier': 'classifier' in sys.modules}))\n"
    out = run_fresh(code, cwd=exported["onnx"].parent)
    assert out["classifier"] is False
    np.testing.assert_allclose(out["proba"], bundle.recommend_proba(out["texts"]), atol=TOLERANCE)



@pytest.mark.parametrize("settings", [
    {},
    {"maxlen": 3, "padding": "post", "truncating": "post"},
    {"maxlen": 3, "padding": "pre", "truncating": "post"},
    {"lower": False, "filters": "!]^-\\", "num_words": 4},
])
def test_graph_tokenizer_follows_every_setting(settings):
    import tensorflow as tf

    from classifier.config import TokenizerConfig
    from classifier.export.graph_tokenizer import GraphTokenizer
    from classifier.io.tokenizer import Tokenizer

    cfg = TokenizerConfig(**{"maxlen": 6, **settings})
    tok = Tokenizer(cfg, ["dress", "Dress", "fits", "a-b", "x]y", "w^"])
    texts = ["Dress dress, fits! a-b x]y w^ a\\b", "fits", "", "DRESS-fits]dress^x\\y"]
    got = GraphTokenizer(tok)(tf.constant(texts)).numpy()
    np.testing.assert_array_equal(got, tok.texts_to_padded(texts))


# -- where TensorFlow lower-cases differently ------------------------------------------------------
def test_tf_lowercasing_differences_are_the_documented_ones():
    """Pins the list in docs/export.md: if TensorFlow's ICU or Python's Unicode tables change, update it."""
    import tensorflow as tf

    from classifier.export.graph_tokenizer import lower_utf8
    from classifier.export.lowercase import character_mismatches, sigma_mismatches

    raw = tf.strings.lower(tf.constant(["a\x00B c"]), encoding="utf-8").numpy()[0]
    assert raw == b"a"  # cut at the NUL: why graph_tokenizer.lower_utf8 splits around NULs
    chars = character_mismatches()
    vithkuqi = [c for c in range(0x10570, 0x10596) if c not in (0x1057B, 0x1058B, 0x10593)]
    assert sorted(map(ord, chars)) == [0x2C2F, 0xA7C0, 0xA7D0, 0xA7D6, 0xA7D8, *vithkuqi]
    assert all(tf_ == c != py for c, (py, tf_) in chars.items())  # Python lower-cases them, TF keeps them
    assert chars["\u2c2f"] == ("\u2c5f", "\u2c2f")  # GLAGOLITIC CAPITAL LETTER CAUDATE CHRIVI
    sigma = sigma_mismatches()
    assert len(sigma) == 303 and set(chars) < set(sigma) and "\u0898" in sigma  # 263 more than the capitals
    # U+0898 is case-ignorable to Python, unknown to TensorFlow: the sigma's context differs
    text = "Α\u0898Σ"
    assert (text.lower(), lower_utf8(tf.constant([text])).numpy()[0].decode()) == ("α\u0898ς", "α\u0898σ")


def test_lowercasing_agrees_on_the_strings_people_write():
    import tensorflow as tf

    from classifier.export.graph_tokenizer import lower_utf8

    texts = ["İstanbul", "ΟΔΟΣ", "ΟΔΟΣ.Α", "ẞ STRASSE", "ÉTÉ DÉJÀ", "ǅemal", "a\x00B c", "\x00", ""]
    got = [t.decode("utf-8") for t in lower_utf8(tf.constant(texts)).numpy()]
    assert got == [t.lower() for t in texts]
    assert got[0] == "i\u0307stanbul"  # 2 code points for İ, both ways


def test_default_vocabulary_cannot_notice_the_differences(bundle):
    from classifier.export.lowercase import vocabulary_mismatches

    assert vocabulary_mismatches(bundle.tokenizer) == []


def test_vocabularies_that_would_notice_are_found():
    from classifier.config import TokenizerConfig
    from classifier.export.lowercase import vocabulary_mismatches
    from classifier.io.tokenizer import Tokenizer

    assert vocabulary_mismatches(Tokenizer(TokenizerConfig(), ["dress", "\u2c5fx"])) == ["\u2c2f"]
    greek = vocabulary_mismatches(Tokenizer(TokenizerConfig(), ["dress", "οδος", "ας"]))
    assert len(greek) == 303
    assert vocabulary_mismatches(Tokenizer(TokenizerConfig(lower=False), ["\u2c5fx", "ας"])) == []



def test_savedmodel_export_refuses_a_vocabulary_that_would_notice(tmp_path, monkeypatch):
    import classifier.export.lowercase as lowercase

    monkeypatch.setattr(lowercase, "vocabulary_mismatches", lambda tokenizer: ["\u2c2f"])
    with pytest.raises(UserError, match="lower-cases differently.*U\\+2C2F.*export to onnx"):
        export_bundle(DEFAULT, "savedmodel", tmp_path / "1")
    assert list(tmp_path.iterdir()) == []


# -- what cannot be exported, and where nothing is written ---------------------------------------
@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_tuned_stack_is_refused_in_one_line(fmt, tmp_path):
    out = tmp_path / "out.onnx"
    result = run_cli("export", "--model", TUNED, "--to", fmt, "-o", out)
    assert_user_error(result, "stack bundle", "not one graph", f"cannot be exported as {fmt}", "only lstm bundles")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_tfidf_bundle_is_refused(tmp_path, data_path):
    from classifier.classify.train import train
    from classifier.config import preset

    train(preset("tfidf", max_rows=2000), data_path, tmp_path / "tfidf", verbose=0)
    with pytest.raises(UserError, match="tfidf bundle.*no Keras model.*only lstm bundles"):
        export_bundle(tmp_path / "tfidf", "onnx", tmp_path / "model.onnx")


def test_existing_output_is_kept_without_overwrite(exported):
    for fmt, path in exported.items():
        before = sorted((p.name, p.stat().st_mtime_ns) for p in path.parent.rglob("*"))
        result = run_cli("export", "--model", DEFAULT, "--to", fmt, "-o", path)
        assert_user_error(result, "already exists", "--overwrite")
        assert sorted((p.name, p.stat().st_mtime_ns) for p in path.parent.rglob("*")) == before


def test_tokenizer_json_beside_is_kept_without_overwrite(tmp_path):
    (tmp_path / "tokenizer.json").write_text("mine", encoding="utf-8")
    result = run_cli("export", "--model", DEFAULT, "--to", "onnx", "-o", tmp_path / "model.onnx")
    assert_user_error(result, "tokenizer.json already exists", "--overwrite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json"]


def test_never_writes_into_a_bundle(tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(DEFAULT, copy)
    before = sorted(p.name for p in copy.iterdir())
    for fmt, out in [("savedmodel", copy), ("savedmodel", copy / "export"), ("onnx", copy / "model.onnx"),
                     ("savedmodel", tmp_path)]:
        with pytest.raises(UserError, match="bundle"):
            export_bundle(copy, fmt, out, overwrite=True)
    assert sorted(p.name for p in copy.iterdir()) == before


def test_overwrite_replaces_only_an_earlier_export(tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(UserError, match="not a SavedModel"):
        export_bundle(DEFAULT, "savedmodel", other, overwrite=True)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_failed_export_leaves_the_old_one_whole(exported, tmp_path, monkeypatch):
    import classifier.export.savedmodel as savedmodel

    old = tmp_path / "1"
    shutil.copytree(exported["savedmodel"], old)
    before = sorted(str(p.relative_to(old)) for p in old.rglob("*"))

    def half_written(model, tokenizer, threshold, folder):
        (Path(folder) / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt  # Ctrl-C half way

    monkeypatch.setattr(savedmodel, "write_savedmodel", half_written)
    with pytest.raises(KeyboardInterrupt):
        export_bundle(DEFAULT, "savedmodel", old, overwrite=True)
    assert sorted(str(p.relative_to(old)) for p in old.rglob("*")) == before
    assert (old / "saved_model.pb").read_bytes() == (exported["savedmodel"] / "saved_model.pb").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]  # the staging folder is gone


def test_overwrite_replaces_an_earlier_export(exported, tmp_path):
    out = tmp_path / "model.onnx"
    shutil.copy(exported["onnx"], out)
    (tmp_path / "tokenizer.json").write_text("old", encoding="utf-8")
    assert export_bundle(DEFAULT, "onnx", out, overwrite=True) == [out, tmp_path / "tokenizer.json"]
    assert json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))["format"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "tokenizer.json"]
