"""Benchmark plain Keras against the fast paths on one machine in one run; prints a table, writes bench.json.

    python benchmarks/bench.py --model saved_models/default --data data/womens_clothing_ecommerce_reviews.csv

(a) training seconds per epoch, Keras fit vs pad-skipping fit (benchmarks/training.py);
(b) rows/s on the reference test split, model.predict(batch_size=512) vs the NumPy engine, and their
    max abs difference; (c) whole-process wall time, `classifier score` vs a plain Keras script on a CSV
    of the same rows; (d) peak RSS of those two processes; (e) the tuned bundle, its Keras path vs the
    NumPy path, in one process and as whole `classifier score` processes; (f) kiwipiepy, the korean
    analyzer, on Korean reviews: one text a call vs the batches the tokenizer sends (every core).
    Goals: (a) 4x, (b) 20x, (c) 10x, (e) 10x. Each timing is the median of --repeats runs, CPU seconds
    beside wall seconds.
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

from classifier.bundle import load
from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR
from classifier.errors import UserError
from classifier.io.dataset import load_labelled, make_split
from classifier.io.files import write_json

HERE = Path(__file__).resolve().parent
KOREAN_TEST = HERE.parent.parent / "shared" / "data" / "korean_movie_reviews_test.csv"

GOALS = {"training": 4.0, "engine": 20.0, "process": 10.0, "tuned_engine": 10.0, "tuned_process": 10.0}

# The baseline a user would write without this project: Keras, the bundle's tokenizer, model.predict.
KERAS_SCRIPT = """
import sys
import keras
import pandas as pd
from classifier.io.tokenizer import Tokenizer
model_dir, src, dst = sys.argv[1:4]
model = keras.saving.load_model(model_dir + "/classifier.keras", compile=False, safe_mode=True)
tokenizer = Tokenizer.load(model_dir + "/tokenizer.json")
df = pd.read_csv(src)
x = tokenizer.texts_to_padded(df["Review Text"].fillna("").astype(str))
df["proba"] = model.predict(x, batch_size=512, verbose=0).reshape(-1)
df.to_csv(dst, index=False)
"""

# Runs the command as its own child: a child of this (TensorFlow-sized) process would inherit its peak
# RSS through fork and exec, so the small wrapper forks it and reports what wait4 saw.
RSS_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "kb": usage.ru_maxrss}))
"""


def timed_process(cmd: list[str]) -> dict:
    """Wall seconds, CPU seconds (all threads) and peak RSS (MB) of one process, start to exit."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *cmd], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or json.loads(proc.stdout)["code"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {proc.stderr.strip()[-500:]}")
    out = json.loads(proc.stdout)
    return {"seconds": round(out["seconds"], 2), "cpu_seconds": round(out["cpu"], 2),
            "peak_rss_mb": round(out["kb"] / 1024, 1)}


def median_timing(fn, repeats: int) -> tuple[object, float, float]:
    """(fn()'s last result, median wall seconds, median CPU seconds of this process) over `repeats` runs."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return out, float(np.median(walls)), float(np.median(cpus))


def median_process(cmd: list[str], repeats: int) -> dict:
    """timed_process `repeats` times; the median of each figure."""
    runs = [timed_process(cmd) for _ in range(repeats)]
    return {k: round(float(np.median([r[k] for r in runs])), 2) for k in runs[0]}


def compare_in_process(keras_fn, ours_fn, rows: int, repeats: int) -> dict:
    """rows/s, wall and CPU seconds of a Keras path and ours on the same rows, each after a warm-up."""
    keras_fn(), ours_fn()  # trace, load, build
    keras_p, keras_s, keras_cpu = median_timing(keras_fn, repeats)
    ours_p, ours_s, ours_cpu = median_timing(ours_fn, repeats)
    return {
        "rows": rows,
        "keras_rows_per_s": round(rows / keras_s, 1),
        "engine_rows_per_s": round(rows / ours_s, 1),
        "ratio": round(keras_s / ours_s, 1),
        "keras_seconds": round(keras_s, 3),
        "engine_seconds": round(ours_s, 3),
        # CPU seconds (all threads): what the work costs, whatever else shares the machine
        "keras_cpu_seconds": round(keras_cpu, 2),
        "engine_cpu_seconds": round(ours_cpu, 2),
        "cpu_ratio": round(keras_cpu / ours_cpu, 1),
        "max_abs_diff": float(np.abs(np.asarray(ours_p) - np.asarray(keras_p)).max()),
    }


def bench_predict(bundle_dir: Path, texts: list[str], repeats: int) -> dict:
    """(b) in one process: model.predict vs the engine on the same rows."""
    bundle = load(bundle_dir)
    ids = bundle.tokenizer.encode_many(texts)
    x = bundle.tokenizer.pad(ids)
    model = bundle.keras_classifier()
    engine = bundle.numpy_engine()
    result = compare_in_process(lambda: model.predict(x, batch_size=512, verbose=0).reshape(-1),
                                lambda: engine.predict_ids(ids), len(texts), repeats)
    result.update(mean_words=round(float(np.mean([min(len(s), x.shape[1]) for s in ids])), 1), maxlen=int(x.shape[1]))
    return result


def bench_processes(bundle_dir: Path, csv_path: Path, scratch: Path, repeats: int) -> dict:
    """(c) and (d): whole processes, from start to the scored CSV on disk."""
    keras_run = median_process([sys.executable, "-c", KERAS_SCRIPT, str(bundle_dir), str(csv_path),
                                str(scratch / "keras.csv")], repeats)
    ours = median_process([sys.executable, "-m", "classifier", "score", str(csv_path), "--model", str(bundle_dir),
                           "-o", str(scratch / "scored.csv"), "--quiet", "--overwrite"], repeats)
    return process_figures(keras_run, ours, "classifier score")


def process_figures(keras_run: dict, ours: dict, command: str) -> dict:
    return {
        "ours_command": command,
        "keras_script_seconds": keras_run["seconds"],
        "ours_seconds": ours["seconds"],
        "ratio": round(keras_run["seconds"] / ours["seconds"], 1),
        "keras_script_cpu_seconds": keras_run["cpu_seconds"],
        "ours_cpu_seconds": ours["cpu_seconds"],
        "cpu_ratio": round(keras_run["cpu_seconds"] / ours["cpu_seconds"], 1),
        "keras_script_peak_rss_mb": keras_run["peak_rss_mb"],
        "ours_peak_rss_mb": ours["peak_rss_mb"],
    }


def bench_tuned(tuned_dir: Path, texts: list[str], csv_path: Path, scratch: Path, repeats: int) -> dict:
    """(e) the tuned stack: in one process, its Keras LSTM path vs the NumPy path (LSTM, TF-IDF and
    stack all in NumPy); then whole processes, `classifier score --engine keras` vs the default."""
    bundle = load(tuned_dir)
    ids = bundle.encoder.encode_many(texts)
    result = {"in_process": compare_in_process(lambda: bundle.proba_ids(ids, engine="keras"),
                                               lambda: bundle.proba_ids(ids), len(texts), repeats)}
    score = [sys.executable, "-m", "classifier", "score", str(csv_path), "--model", str(tuned_dir), "--quiet",
             "--overwrite", "-o"]
    keras_run = median_process([*score, str(scratch / "tuned-keras.csv"), "--engine", "keras"], repeats)
    ours = median_process([*score, str(scratch / "tuned-numpy.csv")], repeats)
    result["process"] = process_figures(keras_run, ours, "classifier score (tuned, default engine)")
    return result


def bench_training(data: Path, n_batches: int, repeats: int) -> dict:
    """(a) from benchmarks/training.py, the median of `repeats` runs."""
    sys.path.insert(0, str(HERE))
    from training import bench_training as padskip_bench

    runs = [padskip_bench(data, n_batches=n_batches) for _ in range(repeats)]
    median = {k: float(np.median([r[k] for r in runs])) for k in ("keras_seconds_per_epoch",
                                                                  "padskip_seconds_per_epoch", "ratio")}
    return {**runs[-1], **{k: round(v, 2) for k, v in median.items()}, "repeats": repeats}


def bench_scoring_memory(bundle_dir: Path, data: Path) -> dict:
    """benchmarks/scoring_memory.py in its own process (this one holds TensorFlow, which its children
    would count as their peak RSS)."""
    proc = subprocess.run([sys.executable, str(HERE / "scoring_memory.py"), "--model", str(bundle_dir),
                           "--data", str(data)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:])
    return json.loads(proc.stdout)


def bench_korean_analyser(korean_csv: Path, rows: int, repeats: int) -> dict:
    """Reviews/s of kiwipiepy: Kiwi.tokenize on one text at a time (one thread) vs the tokenizer's
    batches (classifier.io.morphemes: one call over a list, a thread per core), nothing cached."""
    from classifier.io import morphemes

    texts = load_labelled(korean_csv, "document", "label")["document"].tolist()[:rows]
    kiwi = morphemes.kiwi()
    morphemes.analyze_many(texts[:64])  # the model loaded outside the timings

    def one_by_one():
        return [morphemes.morphemes(kiwi.tokenize(t)) for t in texts]

    def batched():
        return morphemes.analyze_many(texts)

    singles, single_s, single_cpu = median_timing(one_by_one, repeats)
    batch, batch_s, batch_cpu = median_timing(batched, repeats)
    return {"rows": len(texts), "same_morphemes": singles == batch, "one_by_one_rows_per_s": len(texts) / single_s,
            "batch_rows_per_s": len(texts) / batch_s, "ratio": round(single_s / batch_s, 1),
            "one_by_one_cpu_seconds": round(single_cpu, 2),
            "batch_cpu_seconds": round(batch_cpu, 2), "kiwipiepy": morphemes.kiwi_version()}


def attempt(result: dict, key: str, fn, *args) -> None:
    """result[key] = fn(*args); a failure is recorded (and printed) instead of losing the other parts."""
    try:
        result[key] = fn(*args)
    except Exception as e:  # one broken part must not lose the figures of the others
        result[key] = None
        result["notes"].append(f"{key} failed: {type(e).__name__}: {e}")
        print(f"bench: {key} failed: {e}", file=sys.stderr)


def run(model_dir: Path, data: Path, training_batches: int, tuned_dir: Path | None, repeats: int,
        korean_csv: Path | None = None) -> dict:
    bundle = load(model_dir)
    bundle.numpy_engine()  # UserError now, not after the slow parts, if the engine cannot run the model
    cfg = bundle.config
    df = load_labelled(data, cfg.text_column, cfg.label_column, cfg.max_rows)
    split = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    result = {"model": str(model_dir), "data": str(data), "cpus": os.cpu_count(), "repeats": repeats,
              "load_average_before": [round(v, 2) for v in os.getloadavg()], "notes": []}
    with tempfile.TemporaryDirectory(prefix="classifier-bench-") as scratch:
        scratch = Path(scratch)
        csv_path = scratch / "test_split.csv"
        import pandas as pd

        pd.DataFrame({cfg.text_column: split.x_test, cfg.label_column: split.y_test.astype(int)}).to_csv(
            csv_path, index=False)
        attempt(result, "predict", bench_predict, model_dir, split.x_test, repeats)
        attempt(result, "process", bench_processes, model_dir, csv_path, scratch, repeats)
        result["tuned"] = None
        if tuned_dir is not None:
            attempt(result, "tuned", bench_tuned, tuned_dir, split.x_test, csv_path, scratch, repeats)
        # printed now, so the figures are kept if a later part hangs
        print(json.dumps({k: result[k] for k in ("predict", "process", "tuned")}), file=sys.stderr)
        attempt(result, "training", bench_training, data, training_batches, repeats)
        attempt(result, "scoring_memory", bench_scoring_memory, model_dir, data)
        result["korean"] = None
        if korean_csv is not None:
            attempt(result, "korean", bench_korean_analyser, korean_csv, 5000, repeats)
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return result


def verdict(ratio: float | None, goal: float) -> str:
    return "n/a" if ratio is None else ("yes" if ratio >= goal else "NO")


def table(result: dict) -> str:
    p, c, t = result["predict"], result["process"], result["training"]
    rows = [("measure", "plain Keras", "ours", "ratio", "goal", "met")]
    if t:
        rows.append(("(a) training s/epoch", f"{t['keras_seconds_per_epoch']}", f"{t['padskip_seconds_per_epoch']}",
                     f"{t['ratio']}x", f"{GOALS['training']:g}x", verdict(t["ratio"], GOALS["training"])))
    else:
        rows.append(("(a) training s/epoch", "failed, see notes", "", "", f"{GOALS['training']:g}x", "n/a"))
    if p:
        rows.append((f"(b) rows/s, {p['rows']} test rows", f"{p['keras_rows_per_s']:.0f}",
                     f"{p['engine_rows_per_s']:.0f}", f"{p['ratio']}x", f"{GOALS['engine']:g}x",
                     verdict(p["ratio"], GOALS["engine"])))
        rows.append(("(b) CPU seconds, all threads", f"{p['keras_cpu_seconds']}", f"{p['engine_cpu_seconds']}",
                     f"{p['cpu_ratio']}x", "", ""))
        rows.append(("(b) max abs prob diff", "", f"{p['max_abs_diff']:.1e}", "", "<= 1e-05",
                     "yes" if p["max_abs_diff"] <= 1e-5 else "NO"))
    else:
        rows.append(("(b) rows/s", "failed, see notes", "", "", f"{GOALS['engine']:g}x", "n/a"))
    if c:
        rows.append(("(c) whole process s", f"{c['keras_script_seconds']}", f"{c['ours_seconds']}",
                     f"{c['ratio']}x", f"{GOALS['process']:g}x", verdict(c["ratio"], GOALS["process"])))
        rows.append(("(c) CPU seconds, all threads", f"{c['keras_script_cpu_seconds']}", f"{c['ours_cpu_seconds']}",
                     f"{c['cpu_ratio']}x", "", ""))
        rows.append(("(d) peak RSS MB", f"{c['keras_script_peak_rss_mb']}", f"{c['ours_peak_rss_mb']}",
                     f"{c['keras_script_peak_rss_mb'] / c['ours_peak_rss_mb']:.1f}x", "", ""))
    else:
        rows.append(("(c) whole process s", "failed, see notes", "", "", f"{GOALS['process']:g}x", "n/a"))
    tuned = result.get("tuned")
    if tuned:
        i, q = tuned["in_process"], tuned["process"]
        rows.append((f"(e) tuned rows/s, {i['rows']} rows", f"{i['keras_rows_per_s']:.0f}",
                     f"{i['engine_rows_per_s']:.0f}", f"{i['ratio']}x", f"{GOALS['tuned_engine']:g}x",
                     verdict(i["ratio"], GOALS["tuned_engine"])))
        rows.append(("(e) CPU seconds, all threads", f"{i['keras_cpu_seconds']}", f"{i['engine_cpu_seconds']}",
                     f"{i['cpu_ratio']}x", "", ""))
        rows.append(("(e) max abs prob diff", "", f"{i['max_abs_diff']:.1e}", "", "<= 1e-05",
                     "yes" if i["max_abs_diff"] <= 1e-5 else "NO"))
        rows.append(("(e) tuned whole process s", f"{q['keras_script_seconds']}", f"{q['ours_seconds']}",
                     f"{q['ratio']}x", f"{GOALS['tuned_process']:g}x", verdict(q["ratio"], GOALS["tuned_process"])))
        rows.append(("(e) CPU seconds, all threads", f"{q['keras_script_cpu_seconds']}", f"{q['ours_cpu_seconds']}",
                     f"{q['cpu_ratio']}x", "", ""))
    korean = result.get("korean")
    if korean:
        rows.append((f"(f) kiwipiepy reviews/s, {korean['rows']}", f"{korean['one_by_one_rows_per_s']:.0f}",
                     f"{korean['batch_rows_per_s']:.0f}", f"{korean['ratio']}x", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if c:
        lines.append(f"(c) ours = {c['ours_command']}; Keras = a script that loads the model, pads with the "
                     f"tokenizer, predicts and writes the CSV")
    if p:
        lines.append(f"(b) mean {p['mean_words']} words a review, padded to {p['maxlen']}")
    if t:
        lines.append(f"(a) {t['batches']} batches of {t['batch_size']} per fit, scaled to "
                     f"{t['batches_per_epoch']} batches an epoch")
    if tuned:
        lines.append("(e) plain Keras = the tuned stack with its LSTM run by Keras (`--engine keras`); ours = all "
                     "in NumPy (the default)")
    if korean:
        lines.append(f"(f) kiwipiepy {korean['kiwipiepy']} on Korean reviews: one text a call (plain) vs one batch "
                     f"on every core (ours, what the korean analyzer sends); the analyser alone, no model")
    lines.append(f"every timing is the median of {result['repeats']} runs")
    if result.get("scoring_memory") is not None:
        lines.append(f"scoring memory (benchmarks/scoring_memory.py): {json.dumps(result['scoring_memory'])}")
    lines.append(f"load average before/after: {result['load_average_before']} / {result['load_average_after']} "
                 f"on {result['cpus']} CPUs")
    lines.extend(f"note: {n}" for n in result["notes"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(prog="benchmarks/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="review CSV (default: %(default)s)")
    parser.add_argument("--out", default="bench.json", help="JSON results file (default: %(default)s)")
    parser.add_argument("--training-batches", type=int, default=200,
                        help="training steps timed for each of (a)'s two fits (default: %(default)s)")
    parser.add_argument("--tuned", default="saved_models/tuned", help="tuned bundle for (e) ('' to skip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timing; the median is shown")
    parser.add_argument("--korean", default=str(KOREAN_TEST),
                        help="Korean reviews for (f), kiwipiepy's speed ('' to skip; default: %(default)s)")
    args = parser.parse_args(argv)
    korean = Path(args.korean) if args.korean and Path(args.korean).is_file() else None
    try:
        result = run(Path(args.model), Path(args.data), args.training_batches, Path(args.tuned) if args.tuned else None,
                     args.repeats, korean)
    except UserError as e:
        print(f"classifier: error: {e}", file=sys.stderr)
        return 2
    print(table(result))
    write_json(Path(args.out), result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
