"""A bundle reloaded in a new process gives identical predictions."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd

import classifier

SCRIPT = """
import sys, numpy as np, pandas as pd, classifier
bundle = classifier.load(sys.argv[1])
texts = pd.read_csv(sys.argv[2])["Review Text"].dropna().head(64).tolist()
x = bundle.tokenizer.texts_to_padded(texts)
np.save(sys.argv[3], bundle.keras_classifier().predict(x, verbose=0))
"""


def test_reload_in_new_process_identical(small_bundle, data_path, tmp_path):
    texts = pd.read_csv(data_path)["Review Text"].dropna().head(64).tolist()
    bundle = classifier.load(small_bundle)
    here = bundle.keras_classifier().predict(bundle.tokenizer.texts_to_padded(texts), verbose=0)
    out = tmp_path / "p.npy"
    subprocess.run([sys.executable, "-c", SCRIPT, str(small_bundle), str(data_path), str(out)], check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    there = np.load(out, allow_pickle=False)
    assert there.shape == (64, 1)
    assert np.array_equal(here, there)
    assert here.std() > 0  # the predictions really depend on the text


def test_update_bundle_is_all_or_nothing(small_bundle, tmp_path):
    import shutil

    import pytest

    from classifier.bundle import update_bundle

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    before = {f.name: f.read_bytes() for f in bundle.iterdir()}

    def fails_half_way(folder):
        (folder / "extra.bin").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        update_bundle(bundle, fails_half_way, note="never")
    assert {f.name: f.read_bytes() for f in bundle.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging folder left behind

    def writes(folder):
        (folder / "extra.bin").write_bytes(b"whole")
        return ["extra.bin"]

    update_bundle(bundle, writes, note="added")
    loaded = classifier.load(bundle)  # every recorded hash, the new file's included, checks out
    assert loaded.meta["note"] == "added" and "extra.bin" in loaded.meta["files"]
    assert all((bundle / name).read_bytes() == data for name, data in before.items() if name != "config.json")
