"""Raw text to probability, stage by stage, for every preset, beside fastText trained in the same run.

    python benchmarks/text_speed.py --model saved_models/default --tuned saved_models/tuned --tfidf /tmp/tfidf \
      --general saved_models/general

On the reference test split (4,529 reviews) and on 100,000 rows (every review of the file, cycled),
one process: where the time goes (reading the CSV as `score` reads it, words to ids, n-gram
features, the LSTM engine or the linear model, the stack), the front end's pure-Python reference
path beside the fast one `encode_many` runs, and rows/s from raw text to probability; fastText
default (`pip install 'classifier[bench]'`) is trained on the same training split and timed on
the same texts, its lower-casing and newline clean-up inside the clock. Wall seconds are the
median of --repeats runs, CPU seconds (all threads) beside them; ROC AUC on the test split.
The general bundle (TF-IDF + the lexicon prior) reads the test split with the title joined, as it
was trained and its metrics were taken (the same rows); TensorFlow is never imported by any of it.
Goals (issue 31): tfidf >= fastText rows/s, tuned >= 20,000 rows/s, reference >= 30,000 rows/s;
(issue 27) general >= 10,000 rows/s.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench import median_timing  # benchmarks/bench.py: one timing rule for make bench

from classifier.bundle import load
from classifier.config import DEFAULT_DATA
from classifier.io.dataset import load_labelled, make_split
from classifier.io.files import write_json
from classifier.io.records import open_source, read_records
from classifier.io.sources import SOURCE_COLUMN, Source, load_sources
from classifier.models.stack import blend_proba, tfidf_parts

GOALS = {"tfidf": "fasttext", "tuned": 20_000, "reference": 30_000, "general": 10_000}
LARGE_ROWS = 100_000


def read_texts(csv_path: Path, column: str) -> list[str]:
    """The text column as `classifier score` reads it (classifier.io.records)."""
    with open_source(csv_path) as src:
        records = read_records(src.text, ",", str(csv_path), 1)
        idx = next(records).cells.index(column)
        return [rec.cells[idx] if rec.cells else "" for rec in records]


class Profile:
    """Stages of one preset on one set of texts: {stage: {seconds, cpu_seconds}}."""

    def __init__(self, rows: int, repeats: int):
        self.rows, self.repeats, self.stages = rows, repeats, {}

    def __call__(self, stage: str, fn):
        out, wall, cpu = median_timing(fn, self.repeats)
        self.stages[stage] = {"seconds": round(wall, 4), "cpu_seconds": round(cpu, 3),
                              "rows_per_s": round(self.rows / wall) if wall else None}
        return out


def profile_lstm(bundle, texts: list[str], repeats: int) -> dict:
    """reference (LSTM) and tuned (stack) bundles: words -> ids, [n-grams], engine, [stack], total."""
    p = Profile(len(texts), repeats)
    tok = bundle.tokenizer
    ref_ids = p("words -> ids, reference (pure Python)", lambda: tok.encode_many_reference(texts))
    ids = p("words -> ids, fast (encode_many)", lambda: tok.encode_many(texts))
    same_ids = ids == ref_ids
    engine = bundle.numpy_engine()
    p_lstm = p("LSTM engine", lambda: engine.predict_ids(ids))
    if bundle.kind == "stack":
        p("n-gram features (word-id n-grams)", lambda: bundle.tfidf.features.id_pairs(ids))
        parts = p("TF-IDF model + rating (features included)", lambda: tfidf_parts(bundle.tfidf, ids))
        p("stack (blend)", lambda: blend_proba(bundle.blend, p_lstm, *parts))
    proba = p("total from raw text, fast front end", lambda: bundle.recommend_proba(texts))
    p("total from raw text, reference front end", lambda: bundle.predict_proba_ids(tok.encode_many_reference(texts)))
    return {"stages": p.stages, "same_ids": same_ids, "proba": proba}


def profile_tfidf(bundle, texts: list[str], repeats: int) -> dict:
    """tfidf and general bundles: text -> n-gram [+ lexicon] feature ids (reference, fast), the
    lexicon pass alone, linear model, total (the text path: pairs scored piece by piece on threads)."""
    p = Profile(len(texts), repeats)
    features, model = bundle.model.features, bundle.model
    ref = p("text -> feature ids, reference (pure Python)", lambda: features.encode_many_reference(texts))
    feats = p("text -> feature ids as lists, fast (encode_many)", lambda: features.encode_many(texts))
    if features.lexicon is not None:
        p("  of it, the lexicon prior (words -> pseudo-terms)", lambda: features.lexicon.term_parts(texts))
    p("TF-IDF + logistic regression, from the lists", lambda: model.predict_proba_ids(feats))
    proba = p("total from raw text, fast front end", lambda: bundle.recommend_proba(texts))
    slow = p("total from raw text, reference front end",
             lambda: bundle.predict_proba_ids(features.encode_many_reference(texts)))
    return {"stages": p.stages, "same_ids": feats == ref, "proba": proba,
            "max_proba_difference": float(np.abs(proba - slow[:, 1]).max()) if len(texts) else 0.0}


def clean_for_fasttext(text: str) -> str:
    return " ".join(text.lower().split())  # fastText reads one example a line


def train_fasttext(train_texts, y_train, scratch: Path) -> dict | None:
    """fastText supervised with its defaults (threads: every core), trained on the training split.
    Trained first in the run: later in a process that has run the engine, 2-thread training stops
    on "Encountered NaN." (fresh processes and 1 thread do not)."""
    try:
        import fasttext
    except ImportError:
        return None
    train_file = scratch / "fasttext.train"
    train_file.write_text("".join(f"__label__{int(y)} {clean_for_fasttext(t)}\n"
                                  for t, y in zip(train_texts, y_train, strict=True)), encoding="utf-8")
    for seed in range(5):
        start = time.perf_counter()
        try:  # seed 0 is fastText's default; another one is recorded if it was needed
            model = fasttext.train_supervised(str(train_file), thread=os.cpu_count() or 1, verbose=0, seed=seed)
            break
        except RuntimeError as e:
            if seed == 4:
                raise RuntimeError(f"fastText failed with seeds 0-4: {e}") from None
    return {"model": model, "seed": seed, "train_seconds": round(time.perf_counter() - start, 2),
            "version": package_version("fasttext-numpy2-wheel")}


def fasttext_peer(peer: dict, texts: list[str], repeats: int) -> dict:
    """fastText's probability of label 1 from raw text, its clean-up (lower-case, line breaks to
    spaces) inside the clock."""
    model = peer["model"]

    def predict() -> np.ndarray:
        labels, probs = model.predict([clean_for_fasttext(t) for t in texts], k=2)
        return np.array([dict(zip(lab, pr, strict=True)).get("__label__1", 0.0) for lab, pr in zip(labels, probs,
                                                                                                    strict=True)])

    p = Profile(len(texts), repeats)
    proba = p("total from raw text (clean-up + predict)", predict)
    return {"stages": p.stages, "proba": proba, **{k: v for k, v in peer.items() if k != "model"}}


def hf_tokenizers_lever(tokenizer, texts: list[str], repeats: int) -> dict | None:
    """A lever tried and measured: Hugging Face `tokenizers` (Rust) as the words -> ids step, a WordLevel
    vocabulary over the texts lower-cased and filtered in Python, split on spaces; ids checked equal."""
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers
    except ImportError:
        return None
    unknown = "\x00unknown"
    hf = Tokenizer(models.WordLevel({**tokenizer.word_index, unknown: 0}, unk_token=unknown))
    hf.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    table = str.maketrans({c: " " for c in tokenizer.config.filters})

    def run():
        cleaned = [t.lower().translate(table) for t in texts]
        return [[i for i in e.ids if i] for e in hf.encode_batch_fast(cleaned, add_special_tokens=False)]

    p = Profile(len(texts), repeats)
    ids = p("words -> ids, Hugging Face tokenizers WordLevel", run)
    return {"stages": p.stages, "same_ids": ids == tokenizer.encode_many_reference(texts),
            "version": package_version("tokenizers")}


def package_version(name: str) -> str | None:
    import importlib.metadata as md

    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4)


def titled_test_split(data: Path, cfg):
    """The test split of `data` with each review's title joined before its text, as the general
    bundle was trained and evaluated (classifier.io.sources; the reference split's rows)."""
    frame = load_sources([Source(data, cfg.text_column, cfg.label_column)], cfg.text_column, cfg.label_column,
                         title_column=cfg.title_column, report=False).drop(columns=[SOURCE_COLUMN])
    return make_split(frame, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)


def run(bundles: dict[str, Path], data: Path, repeats: int, large_rows: int) -> dict:
    loaded = {name: load(path) for name, path in bundles.items()}
    for b in loaded.values():
        b.prepare()
    cfg = next(iter(loaded.values())).config
    df = load_labelled(data, cfg.text_column, cfg.label_column)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    every = df[cfg.text_column].astype(str).tolist()
    large = [every[i % len(every)] for i in range(large_rows)]
    result = {"data": str(data), "cpus": os.cpu_count(), "repeats": repeats,
              "bundles": {k: str(v) for k, v in bundles.items()},
              "load_average_before": [round(v, 2) for v in os.getloadavg()], "sets": {}}
    with tempfile.TemporaryDirectory(prefix="classifier-text-speed-") as scratch:
        scratch = Path(scratch)
        fasttext_model = train_fasttext(split.x_train, split.y_train, scratch)
        for label, texts, reps in (("test split", list(split.x_test), repeats), (f"{large_rows:,} rows", large, 1)):
            csv_path = scratch / "texts.csv"
            with open(csv_path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([cfg.text_column])
                w.writerows([t] for t in texts)
            rows = {}
            read = Profile(len(texts), reps)
            texts = read("reading the CSV (as `score` reads it)", lambda p=csv_path: read_texts(p, cfg.text_column))
            rows["reading"] = {"stages": read.stages}
            for name, bundle in loaded.items():
                own, own_y = texts, split.y_test
                if bundle.config.title_column and label == "test split":
                    titled = titled_test_split(data, bundle.config)
                    own, own_y = list(titled.x_test), titled.y_test
                rows[name] = (profile_tfidf if bundle.kind == "tfidf" else profile_lstm)(bundle, own, reps)
                if own is not texts:
                    rows[name]["texts"] = f"{bundle.config.title_column!r} joined before the text"
                    rows[name]["roc_auc"] = auc(own_y, rows[name].pop("proba"))
                print(f"text_speed: {label}: {name} done", file=sys.stderr)
            if fasttext_model:
                rows["fastText default"] = fasttext_peer(fasttext_model, texts, reps)
            lever = hf_tokenizers_lever(loaded[next(iter(loaded))].tokenizer, texts, reps)
            if lever:
                rows["lever: HF tokenizers"] = lever
            if label == "test split":
                for row in rows.values():
                    if "proba" in row:
                        row["roc_auc"] = auc(split.y_test, row["proba"])
            for row in rows.values():
                row.pop("proba", None)
            result["sets"][label] = {"rows": len(texts), "presets": rows}
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    return result


def total(row: dict, front: str) -> dict | None:
    """The row's total-from-raw-text stage whose name holds `front`."""
    return next((v for k, v in row.get("stages", {}).items() if k.startswith("total") and front in k), None)


def table(result: dict) -> str:
    lines = []
    for label, s in result["sets"].items():
        presets = s["presets"]
        lines.append(f"\n## {label}: {s['rows']:,} rows")
        lines.append(f"{'preset':18s} {'stage':52s} {'wall s':>8s} {'CPU s':>8s} {'rows/s':>9s}")
        for name, row in presets.items():
            for stage, v in row.get("stages", {}).items():
                lines.append(f"{name:18s} {stage:52s} {v['seconds']:8.3f} {v['cpu_seconds']:8.2f} "
                             f"{v['rows_per_s'] or 0:9,d}")
            extra = [f"same ids as the reference: {row['same_ids']}"] if "same_ids" in row else []
            extra += [row["texts"]] if "texts" in row else []
            if "max_proba_difference" in row:
                extra += [f"max |p fast - p reference| {row['max_proba_difference']:.1e}"]
            extra += [f"ROC AUC {row['roc_auc']}"] if "roc_auc" in row else []
            if extra:
                lines.append(f"{'':18s} ({'; '.join(extra)})")
        peer = presets.get("fastText default")
        peer_rate = total(peer, "clean-up")["rows_per_s"] if peer else None
        lines.append("goals (rows/s from raw text, fast front end):")
        for name, goal in GOALS.items():
            if name not in presets:
                continue
            fast = total(presets[name], "fast front end")["rows_per_s"]
            ref = total(presets[name], "reference front end")["rows_per_s"]
            want = peer_rate if goal == "fasttext" else goal
            ratio = f", {fast / peer_rate:.2f}x fastText" if peer_rate else ""
            met = "n/a" if want is None else ("yes" if fast >= want else "NO")
            lines.append(f"  {name}: {fast:,d} (reference front end {ref:,d}){ratio}; goal >= {want or goal}: {met}")
    lines.append(f"\nmedian of {result['repeats']} runs on the test split, 1 run on the large set; load average "
                 f"before/after {result['load_average_before']} / {result['load_average_after']} on "
                 f"{result['cpus']} CPUs; TensorFlow imported: {result['tensorflow_imported']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/text_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/default", help="reference bundle ('' to skip)")
    parser.add_argument("--tuned", default="saved_models/tuned", help="tuned bundle ('' to skip)")
    parser.add_argument("--tfidf", default="", help="tfidf bundle (`classifier train --preset tfidf -o DIR`)")
    parser.add_argument("--general", default="saved_models/general", help="general bundle ('' to skip)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="review CSV (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=LARGE_ROWS, help="rows of the large set (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each test-split timing; the median is shown")
    parser.add_argument("--out", default="bench-text.json", help="JSON results file (default: %(default)s)")
    args = parser.parse_args(argv)
    bundles = {name: Path(p) for name, p in (("reference", args.model), ("tuned", args.tuned),
                                             ("tfidf", args.tfidf), ("general", args.general)) if p}
    result = run(bundles, Path(args.data), args.repeats, args.rows)
    print(table(result))
    write_json(Path(args.out), result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
