"""1,000,000 rows scored by local `classifier score` and by `--spark local[1]` / `local[2]`, in one run.

    python benchmarks/spark_scoring.py --model saved_models/default --data data/womens_clothing_ecommerce_reviews.csv

The data set's rows are repeated to --rows rows and written once as one CSV, as --files CSV files
and as --files Parquet files. Each run is a whole process (JVM and Python workers included): wall
seconds, CPU seconds and peak memory of the process tree (PSS summed; and the RSS of its JVM and
largest Python worker) are read from /proc every 0.2 s; the job's own seconds (session up to
_SUCCESS) come from --summary-json. Goals: local[2] within 2x of local scoring's wall
time, and local[2] at least 1.6x local[1]'s rows/s. Prints a table, writes --out (JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR

GOAL_VS_LOCAL = 2.0  # local[2] wall time at most this many times local scoring's
GOAL_SCALING = 1.6  # local[2] rows/s at least this many times local[1]'s
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


# -- the inputs ---------------------------------------------------------------------------------
def write_inputs(data: Path, folder: Path, rows: int, files: int) -> dict[str, Path]:
    """One CSV of `rows` rows (the data set repeated), the same rows as `files` CSVs and as `files`
    Parquet files (every column a string, blank cells null, as Spark reads the CSV)."""
    with open(data, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    header = [h or "row" for h in header]  # the data's blank first header cell
    one, many, parquet = folder / "one.csv", folder / "csv", folder / "parquet"
    many.mkdir()
    parquet.mkdir()
    per_file = -(-rows // files)
    outs = [open(many / f"part{i}.csv", "w", newline="", encoding="utf-8") for i in range(files)]
    writers = [csv.writer(o) for o in outs]
    with open(one, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for x in writers:
            x.writerow(header)
        for i in range(rows):
            row = body[i % len(body)]
            w.writerow(row)
            writers[i // per_file].writerow(row)
    for o in outs:
        o.close()
    strings = pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=True,
                                   quoted_strings_can_be_null=False)
    for i in range(files):
        table = pacsv.read_csv(many / f"part{i}.csv", parse_options=pacsv.ParseOptions(newlines_in_values=True),
                               convert_options=strings)
        pq.write_table(table, parquet / f"part{i}.parquet", row_group_size=50_000)
    return {"one_csv": one, "csv_files": many, "parquet_files": parquet}


# -- measuring a process tree ---------------------------------------------------------------------
def proc_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def sample(pid: int) -> tuple[str, float, float, float] | None:
    """(role, RSS MB, PSS MB, CPU seconds) of one process. PSS shares each page among the processes
    mapping it, so the forked Python workers' common pages are counted once in a sum."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    pss = next((int(line.split()[1]) / 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0.0)
    role = "jvm" if "java" in cmd.split(" ")[0] else "worker" if "pyspark" in cmd and "daemon" in cmd else "driver"
    return role, int(stat[21]) * PAGE_MB, pss, (int(stat[11]) + int(stat[12])) / TICKS


def measure(cmd: list[str]) -> dict:
    """Wall seconds, CPU seconds and peak memory (MB) of `cmd` and every process it starts."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    cpu: dict[int, tuple[str, float]] = {}
    peak = {"total": 0.0, "jvm": 0.0, "worker": 0.0, "driver": 0.0}
    done = threading.Event()

    def watch():
        while not done.is_set():
            total = 0.0
            for pid in proc_tree(proc.pid):
                got = sample(pid)
                if got:
                    role, rss, pss, seconds = got
                    cpu[pid] = role, seconds
                    total += pss
                    peak[role] = max(peak[role], rss)
            peak["total"] = max(peak["total"], total)
            done.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:8]))} ... failed: {err.decode(errors='replace')[-800:]}")
    by_role = {role: round(sum(c for r, c in cpu.values() if r == role), 1) for role in ("driver", "jvm", "worker")}
    return {"seconds": round(seconds, 1), "cpu_seconds": round(sum(c for _, c in cpu.values()), 1),
            "cpu_seconds_by_process": by_role,
            "peak_pss_mb": round(peak["total"]), "jvm_rss_mb": round(peak["jvm"]),
            "worker_rss_mb": round(peak["worker"]), "driver_rss_mb": round(peak["driver"])}


# -- the runs -------------------------------------------------------------------------------------
def score_cmd(model: str, inputs: list[Path], out: Path, master: str | None = None,
              fmt: str = "csv") -> list[str]:
    cmd = [sys.executable, "-m", "classifier", "score", *map(str, inputs), "-o", str(out), "--model", model,
           "--overwrite"]
    if master:
        cmd += ["--spark", master, "--spark-format", fmt, "--summary-json", str(out) + ".json"]
    return cmd


def run(name: str, cmd: list[str], rows: int, out: Path, master: str | None) -> dict:
    figures = {"run": name, **measure(cmd)}
    figures["rows_per_second"] = round(rows / figures["seconds"])
    if master:  # every row once: the summary counts what executors scored
        summary = json.loads(Path(str(out) + ".json").read_text())
        assert summary["rows"] == rows, f"{name}: {summary['rows']:,} rows out of {rows:,}"
        # the job alone: read, score, write, once the session is up (what a long-lived cluster pays)
        figures["job_seconds"] = round(summary["job_seconds"], 1)
        figures["job_rows_per_second"] = round(rows / summary["job_seconds"])
    print(format_row(figures), flush=True)
    return figures


HEADER = ("| run | rows/s | wall s | job s (rows/s) | CPU s | peak memory, all processes (PSS, MB) | JVM RSS (MB) | "
          "largest Python worker RSS (MB) |\n"
          "|---|---|---|---|---|---|---|---|")


def format_row(r: dict) -> str:
    worker = r["worker_rss_mb"] or "-"
    jvm = r["jvm_rss_mb"] or "-"
    job = f"{r['job_seconds']} ({r['job_rows_per_second']:,})" if "job_seconds" in r else "-"
    return (f"| {r['run']} | {r['rows_per_second']:,} | {r['seconds']} | {job} | {r['cpu_seconds']} | "
            f"{r['peak_pss_mb']:,} | {jvm} | {worker} |")


def bench_spark(model: str, data: Path, rows: int, files: int, workdir: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-spark-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        inputs = write_inputs(data, folder, rows, files)
        print(f"inputs: {rows:,} rows, written in {time.perf_counter() - start:.0f} s: one CSV "
              f"({inputs['one_csv'].stat().st_size / 1e6:.0f} MB), {files} CSV files, {files} Parquet files "
              f"({sum(p.stat().st_size for p in inputs['parquet_files'].iterdir()) / 1e6:.0f} MB)", flush=True)
        print(f"load average before: {os.getloadavg()[0]:.2f}\n{HEADER}", flush=True)
        plan = [
            ("classifier score, one CSV", inputs["one_csv"], None, folder / "local.csv"),
            (f"--spark local[1], {files} Parquet files", inputs["parquet_files"], "local[1]", folder / "p1"),
            (f"--spark local[2], {files} Parquet files", inputs["parquet_files"], "local[2]", folder / "p2"),
            (f"--spark local[1], {files} CSV files", inputs["csv_files"], "local[1]", folder / "c1"),
            (f"--spark local[2], {files} CSV files", inputs["csv_files"], "local[2]", folder / "c2"),
            ("--spark local[2], one CSV (repartitioned)", inputs["one_csv"], "local[2]", folder / "o2"),
        ]
        runs = []
        for name, source, master, out in plan:
            runs.append(run(name, score_cmd(model, [source], out, master), rows, out, master))
            subprocess.run(["rm", "-rf", str(out)], check=True)  # keep the disk to what one run writes
        result = {"rows": rows, "files": files, "runs": runs, "load_average_after": round(os.getloadavg()[0], 2)}
    by = {r["run"]: r for r in runs}
    local = by["classifier score, one CSV"]
    for kind in ("Parquet", "CSV"):
        one, two = by[f"--spark local[1], {files} {kind} files"], by[f"--spark local[2], {files} {kind} files"]
        result[f"goals_{kind.lower()}"] = {
            "local2_vs_local_time": round(two["seconds"] / local["seconds"], 2), "goal_vs_local": GOAL_VS_LOCAL,
            "local2_vs_local1_rows_per_s": round(two["rows_per_second"] / one["rows_per_second"], 2),
            "local2_vs_local1_job_rows_per_s": round(two["job_rows_per_second"] / one["job_rows_per_second"], 2),
            "goal_scaling": GOAL_SCALING,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4, help="CSV and Parquet files the rows are split into")
    parser.add_argument("--out", default="bench-spark.json")
    args = parser.parse_args(argv)
    result = bench_spark(args.model, Path(args.data), args.rows, args.files)
    for kind in ("parquet", "csv"):
        g = result[f"goals_{kind}"]
        print(f"{kind}: local[2] takes {g['local2_vs_local_time']}x local scoring's time (goal <= {GOAL_VS_LOCAL}x: "
              f"{'met' if g['local2_vs_local_time'] <= GOAL_VS_LOCAL else 'not met'}); local[2] scores "
              f"{g['local2_vs_local1_rows_per_s']}x local[1]'s rows/s (goal >= {GOAL_SCALING}x: "
              f"{'met' if g['local2_vs_local1_rows_per_s'] >= GOAL_SCALING else 'not met'}; the job alone, "
              f"start-up left out: {g['local2_vs_local1_job_rows_per_s']}x)")
    print(f"load average after: {result['load_average_after']}")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
