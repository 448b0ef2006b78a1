"""Peak memory of `classifier score` on 10,000 vs 1,000,000 rows: streaming keeps it flat.

    python benchmarks/scoring_memory.py --model saved_models/default    # prints the figures as JSON

`bench_memory()` is what `make bench` calls. Each file is scored in a fresh
process, and that process's own peak RSS is read from os.wait4, so the
benchmark's own memory (or an earlier run's) never counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR

GOAL_MB = 300  # 1M rows may use at most this much more than 10k rows


def write_repeated(data: str | os.PathLike, path: Path, rows: int) -> None:
    """The data set's rows repeated in order until there are `rows` of them (header once)."""
    with open(data, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for start in range(0, rows, len(body)):
            w.writerows(body[: min(len(body), rows - start)])


def score_peak(path: Path, model: str | os.PathLike, engine: str) -> dict:
    """Score `path` in a new process; its peak RSS (MB) and wall time."""
    out = path.with_name(path.stem + ".scored.csv")
    cmd = [sys.executable, "-m", "classifier", "score", str(path), "-o", str(out), "--model", str(model),
           "--engine", engine, "--quiet", "--overwrite"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()}")
    out.unlink()
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "seconds": round(seconds, 1)}  # ru_maxrss is KiB


def bench_memory(model: str | os.PathLike = DEFAULT_MODEL_DIR, data: str | os.PathLike = DEFAULT_DATA,
                 sizes: tuple[int, int] = (10_000, 1_000_000), engine: str = "numpy",
                 workdir: str | os.PathLike | None = None) -> dict:
    """Peak RSS scoring a small and a large CSV (the data set repeated); goal: difference < GOAL_MB."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-score-") as tmp:
        result = {"engine": engine, "files": {}}
        for rows in sizes:
            path = Path(tmp) / f"rows{rows}.csv"
            write_repeated(data, path, rows)
            figures = {"mb_on_disk": round(path.stat().st_size / 1e6, 1), **score_peak(path, model, engine)}
            figures["rows_per_second"] = round(rows / figures["seconds"])
            result["files"][str(rows)] = figures
            path.unlink()
    small, large = (result["files"][str(n)]["peak_rss_mb"] for n in sizes)
    result["difference_mb"] = round(large - small, 1)
    result["goal_mb"] = GOAL_MB
    result["passed"] = result["difference_mb"] < GOAL_MB
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--engine", default="numpy", choices=["numpy", "keras"])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 1_000_000], metavar=("SMALL", "LARGE"))
    args = parser.parse_args(argv)
    print(json.dumps(bench_memory(args.model, args.data, tuple(args.sizes), args.engine), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
