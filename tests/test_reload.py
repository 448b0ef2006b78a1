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
