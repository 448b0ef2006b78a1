"""Check the fast text front end against the pure-Python reference on every row of the data sets.

    python benchmarks/check_text_ids.py --data-dir ../shared/data      # make check-ids

For each data set (the clothing reviews, the Korean movie reviews through the `words` analyzer,
the English review domains) and each of its text columns, every row is encoded both ways:
word ids by the two saved bundles' tokenizers and by a tokenizer fitted on the set itself; n-gram
feature ids by a tfidf model fitted on the set (its first 20,000 rows; every row is checked).
The general bundle (n-grams and the lexicon prior's pseudo-terms) encodes every row both ways too.
Then `classifier score` of the clothing file is run in-process through each bundle (reference,
tuned, general, and the tfidf one if --tfidf is given) once with the fast path and once with the
reference one, and the two output files are compared byte for byte. Prints the counts; exit 1
on any difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from classifier.bundle import load
from classifier.classify.score import score_csv
from classifier.config import TokenizerConfig, preset
from classifier.io.fastwords import IdRows
from classifier.io.tokenizer import Tokenizer
from classifier.models.tfidf import TfidfFeatures, fit_tfidf

SETS = {  # file: (text columns, label column)
    "womens_clothing_ecommerce_reviews.csv": (["Review Text", "Title"], "Recommended IND"),
    "korean_movie_reviews_train.csv": (["document"], "label"),
    "korean_movie_reviews_test.csv": (["document"], "label"),
    "english_review_domains.csv": (["text", "title"], "label"),
}
FIT_ROWS = 20_000


def compare(name: str, fast, reference) -> tuple[int, int, bool]:
    """(rows, rows that differ, whether the fast path ran) of two encodings of the same texts."""
    differ = sum(a != b for a, b in zip(fast, reference, strict=True))
    return len(reference), differ, isinstance(fast, IdRows)


def check_set(path: Path, columns: list[str], label: str, bundles: dict) -> list[tuple]:
    df = pd.read_csv(path)
    rows = []
    for column in columns:
        texts = df[column].fillna("").astype(str).tolist()
        own = Tokenizer.fit(texts[:FIT_ROWS], TokenizerConfig(num_words=20_000))
        tokenizers = {**{f"{k} tokenizer": b.tokenizer for k, b in bundles.items() if b.kind != "tfidf"},
                      "own tokenizer (20,000 words)": own}
        for what, tok in tokenizers.items():
            rows.append((path.name, column, what, *compare(what, tok.encode_many(texts),
                                                           tok.encode_many_reference(texts))))
        y = df[label].to_numpy()[:FIT_ROWS]
        for n in (2, 3):
            features: TfidfFeatures = fit_tfidf(texts[:FIT_ROWS], (y == y.max()).astype(int),
                                                preset("tfidf", tfidf_ngrams=n)).features
            rows.append((path.name, column, f"own tfidf 1-{n} grams ({len(features):,} terms)",
                         *compare("tfidf", features.encode_many(texts), features.encode_many_reference(texts))))
        for name, b in bundles.items():
            if b.kind == "tfidf" and b.model.features.lexicon is not None:
                features = b.model.features
                rows.append((path.name, column, f"{name} bundle (n-grams + lexicon)",
                             *compare(name, features.encode_many(texts), features.encode_many_reference(texts))))
        print(f"check_text_ids: {path.name} {column} done", file=sys.stderr)
    return rows


def reference_only(bundle) -> None:
    """Make `bundle` encode through the pure-Python reference (for the byte comparison)."""
    bundle.encoder.encode_many = bundle.encoder.encode_many_reference


def check_score(csv_path: Path, bundle_dirs: dict[str, Path], scratch: Path) -> list[tuple]:
    rows = []
    for name, folder in bundle_dirs.items():
        fast, ref = scratch / f"{name}-fast.csv", scratch / f"{name}-reference.csv"
        score_csv(csv_path, fast, model=load(folder))
        reference = load(folder)
        reference_only(reference)
        score_csv(csv_path, ref, model=reference)
        a, b = fast.read_bytes(), ref.read_bytes()
        lines = a.count(b"\n")
        rows.append((csv_path.name, "score output", f"{name} bundle (output lines)", lines, 0 if a == b else 1, True))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/check_text_ids.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data", help="folder of the data sets (default: %(default)s)")
    parser.add_argument("--model", default="saved_models/default")
    parser.add_argument("--tuned", default="saved_models/tuned")
    parser.add_argument("--tfidf", default="", help="a tfidf bundle to score with too")
    parser.add_argument("--general", default="saved_models/general", help="the general bundle ('' to skip)")
    args = parser.parse_args(argv)
    bundle_dirs = {k: Path(v) for k, v in (("reference", args.model), ("tuned", args.tuned), ("tfidf", args.tfidf),
                                           ("general", args.general)) if v}
    bundles = {k: load(v) for k, v in bundle_dirs.items()}
    data = Path(args.data_dir)
    rows = []
    for name, (columns, label) in SETS.items():
        if (data / name).is_file():
            rows += check_set(data / name, columns, label, bundles)
        else:
            print(f"check_text_ids: {data / name} not found, skipped", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="classifier-check-ids-") as scratch:
        rows += check_score(data / "womens_clothing_ecommerce_reviews.csv", bundle_dirs, Path(scratch))
    print(f"{'data set':40s} {'column':14s} {'encoder':42s} {'rows':>8s} {'differ':>7s} fast path")
    for file, column, what, n, differ, fast in rows:
        print(f"{file:40s} {column:14s} {what:42s} {n:8,d} {differ:7,d} {'yes' if fast else 'NO'}")
    bad = sum(r[4] for r in rows)
    print(f"{sum(r[3] for r in rows if r[1] != 'score output'):,} rows encoded both ways, "
          f"{bad} differ; {np.sum([not r[5] for r in rows])} checks did not take the fast path")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
