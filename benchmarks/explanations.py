"""Faithfulness and speed of explanations: deletion curves (AOPC) of ours, random words and LIME.

    python benchmarks/explanations.py --model saved_models/default --data data/womens_clothing_ecommerce_reviews.csv

On --reviews test reviews (500) of the bundle's split, each method ranks the review's known words
(most pushing towards the predicted class first); dropping the top k (k = 1..10) and re-scoring gives
the fall of the predicted class's probability. AOPC is that fall averaged over k = 1..10 and the
reviews: the higher, the more the ranked words really carried the call. Methods:
  ours    Bundle.explain (leave-one-word-out occlusion on the NumPy engine for an LSTM bundle)
  random  the known words in a random order (seeded)
  lime    lime.lime_text.LimeTextExplainer, --lime-samples (1,000) perturbed texts a review, on the
          tool's own words (positions, bow=False), the bundle's NumPy predict_proba as classifier_fn
Speed: explanations per second, wall and CPU seconds. Then whole processes on the test split's CSV:
`classifier score` against `classifier score --explain 5` (rows/s). Goals: AOPC >= LIME's at >= 30x
its explanations/s; >= 200 reviews/s for the default bundle without TensorFlow; score --explain 5 at
>= 1/20 of plain score's rows/s. Prints a Markdown table; writes --out (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
K = 10
GOALS = {"aopc_vs_lime": 1.0, "speed_vs_lime": 30.0, "ours_per_s": 200.0, "score_ratio": 1 / 20}


def test_reviews(bundle, data: Path, n: int) -> tuple[list[str], object]:
    """(the first `n` test-split reviews with at least one known word, the split)."""
    from classifier.io.dataset import load_labelled, make_split

    cfg = bundle.config
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    texts = [t for t in split.x_test if bundle.tokenizer.encode(t)]
    return texts[:n], split


def known_positions(bundle, words) -> tuple[list[int], list[int]]:
    from classifier.classify.explain import known_ids

    return known_ids(bundle.tokenizer, words)


def deletion_curve(bundle, words: list[list], rankings: list[list[int]], labels: list[int]) -> np.ndarray:
    """(reviews, K + 1) probabilities of each review's predicted class after dropping its top k ranked
    known words, k = 0..K (all of them once k passes their number)."""
    rows = []
    for w, ranking in zip(words, rankings, strict=True):
        ids, where = known_positions(bundle, w)
        at = dict(zip(where, ids, strict=True))
        for k in range(K + 1):
            dropped = set(ranking[:k])
            rows.append([at[p] for p in where if p not in dropped])
    p = np.asarray(bundle.predict_proba_ids(rows), np.float64)  # (rows, k) for every bundle
    p = p.reshape(len(words), K + 1, -1)
    return p[np.arange(len(words)), :, labels]


def aopc(curve: np.ndarray) -> float:
    return float(np.mean(curve[:, :1] - curve[:, 1:]))


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def rank_ours(explanations, bundle, words) -> list[list[int]]:
    out = []
    for e, w in zip(explanations, words, strict=True):
        _, where = known_positions(bundle, w)
        known = set(where)
        out.append([p for p in e.order if p in known])
    return out


def run_lime(bundle, texts, words, labels, samples: int, seed: int) -> list[list[int]]:
    from lime.lime_text import LimeTextExplainer

    rankings = []
    for text, w, label in zip(texts, words, labels, strict=True):
        _, where = known_positions(bundle, w)
        surface = [text[a:b] for _, a, b in w]
        explainer = LimeTextExplainer(split_expression=lambda s, surface=surface: surface, bow=False,
                                      random_state=seed, class_names=None)
        exp = explainer.explain_instance(text, bundle.predict_proba, labels=(label,), num_features=len(w),
                                         num_samples=samples)
        weight = dict(exp.as_map()[label])  # feature j is the review's word j
        rankings.append(sorted(where, key=lambda p: -weight.get(p, 0.0)))
    return rankings


def score_processes(model: Path, split, scratch: Path, repeats: int) -> dict:
    """Rows/s of whole `classifier score` processes on the test split, plain and with --explain 5."""
    import pandas as pd

    csv_path = scratch / "test_split.csv"
    pd.DataFrame({"Review Text": split.x_test, "Recommended IND": split.y_test.astype(int)}).to_csv(csv_path,
                                                                                                  index=False)
    base = [sys.executable, "-m", "classifier", "score", str(csv_path), "--model", str(model), "--quiet",
            "--overwrite", "-o"]
    out = {"rows": len(split.x_test)}
    for name, extra in (("plain", []), ("explain_5", ["--explain", "5"])):
        walls, cpus = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            before = os.times()
            r = subprocess.run([*base, str(scratch / f"{name}.csv"), *extra], capture_output=True, text=True)
            after = os.times()
            if r.returncode != 0:
                raise RuntimeError(f"score {name} failed: {r.stderr.strip()[-400:]}")
            walls.append(time.perf_counter() - start)
            cpus.append(after.children_user + after.children_system - before.children_user - before.children_system)
        out[name] = {"seconds": round(float(np.median(walls)), 2), "cpu_seconds": round(float(np.median(cpus)), 2),
                     "rows_per_s": round(len(split.x_test) / float(np.median(walls)), 1)}
    out["ratio"] = round(out["explain_5"]["rows_per_s"] / out["plain"]["rows_per_s"], 4)
    return out


def run(model: Path, data: Path, n: int, lime_samples: int, seed: int, repeats: int, score: bool = True) -> dict:
    import classifier
    from classifier.classify.explain import tokenizer_words

    bundle = classifier.load(model)
    texts, split = test_reviews(bundle, data, n)
    words = tokenizer_words(bundle.tokenizer, texts)
    bundle.explain(texts[:20])  # build the engine and its padding prefix once, as a server would
    explanations, wall, cpu = timed(lambda: bundle.explain(texts))
    labels = [bundle.classes_.tolist().index(e.label) for e in explanations]
    result = {"model": str(model), "reviews": len(texts), "cpus": os.cpu_count(), "k": K,
              "mean_words": round(float(np.mean([len(known_positions(bundle, w)[0]) for w in words])), 1),
              "tensorflow_imported": "tensorflow" in sys.modules,
              "load_average_before": [round(v, 2) for v in os.getloadavg()]}
    ours = rank_ours(explanations, bundle, words)
    rng = np.random.default_rng(seed)
    rand = [list(rng.permutation(known_positions(bundle, w)[1])) for w in words]
    methods = {"ours": (ours, wall, cpu), "random": (rand, None, None)}
    lime, l_wall, l_cpu = timed(lambda: run_lime(bundle, texts, words, labels, lime_samples, seed))
    methods["lime"] = (lime, l_wall, l_cpu)
    for name, (rankings, w, c) in methods.items():
        curve = deletion_curve(bundle, words, rankings, labels)
        result[name] = {"aopc": round(aopc(curve), 4),
                        "curve": [round(float(v), 4) for v in (curve[:, :1] - curve).mean(axis=0)],
                        "seconds": None if w is None else round(w, 2),
                        "cpu_seconds": None if c is None else round(c, 2),
                        "per_s": None if w is None else round(len(texts) / w, 1)}
    result["speed_vs_lime"] = round(result["ours"]["per_s"] / result["lime"]["per_s"], 1)
    if score:
        with tempfile.TemporaryDirectory(prefix="classifier-bench-explain-") as scratch:
            result["score"] = score_processes(model, split, Path(scratch), repeats)
    return result


def table(r: dict) -> str:
    lines = [f"{r['reviews']} test reviews of `{r['model']}` ({r['mean_words']} known words on average), "
             f"{r['cpus']} cores; fall of the predicted class's probability after dropping the top k words.",
             "",
             "| method | AOPC (k = 1..10) | fall at k = 1 / 5 / 10 | explanations/s | wall s | CPU s |",
             "|---|---|---|---|---|---|"]
    for name in ("ours", "lime", "random"):
        m = r[name]
        curve = m["curve"]
        lines.append(f"| {name} | {m['aopc']:.4f} | {curve[1]:.4f} / {curve[5]:.4f} / {curve[10]:.4f} | "
                     f"{m['per_s'] if m['per_s'] is not None else '-'} | {m['seconds'] or '-'} | "
                     f"{m['cpu_seconds'] or '-'} |")
    s = r.get("score")
    ok = {"AOPC >= LIME's": r["ours"]["aopc"] >= r["lime"]["aopc"],
          f"speed >= 30x LIME's ({r['speed_vs_lime']}x)": r["speed_vs_lime"] >= GOALS["speed_vs_lime"],
          f">= 200 reviews/s without TensorFlow ({r['ours']['per_s']}/s, TensorFlow imported: "
          f"{r['tensorflow_imported']})": r["ours"]["per_s"] >= GOALS["ours_per_s"] and not r["tensorflow_imported"]}
    lines.append("")
    if s:
        ok[f"score --explain 5 >= 1/20 of score's rows/s ({s['explain_5']['rows_per_s']} vs "
           f"{s['plain']['rows_per_s']} rows/s, 1/{1 / s['ratio']:.1f})"] = s["ratio"] >= GOALS["score_ratio"]
        lines += [f"`classifier score` on the {s['rows']} test reviews: {s['plain']['rows_per_s']} rows/s "
                  f"({s['plain']['seconds']} s, CPU {s['plain']['cpu_seconds']} s); with `--explain 5`: "
                  f"{s['explain_5']['rows_per_s']} rows/s ({s['explain_5']['seconds']} s, CPU "
                  f"{s['explain_5']['cpu_seconds']} s).", ""]
    lines += [f"- {'met' if v else 'NOT met'}: {k}" for k, v in ok.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR

    parser = argparse.ArgumentParser(prog="benchmarks/explanations.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reviews", type=int, default=500)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-explain.json"))
    parser.add_argument("--no-score", action="store_true", help="leave out the `classifier score` processes")
    args = parser.parse_args(argv)
    result = run(args.model, args.data, args.reviews, args.lime_samples, args.seed, args.repeats,
                 score=not args.no_score)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
