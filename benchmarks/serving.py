"""Benchmark `classifier serve` against the FastAPI + Keras server a user would write, same machine, same run.

    python benchmarks/serving.py --model saved_models/default --data data/womens_clothing_ecommerce_reviews.csv

32 concurrent clients (keep-alive connections to 127.0.0.1 only) send a fixed number of TF Serving
predict requests of 1 review and of 32 reviews, real reviews from the test split, to (a)
`classifier serve --model MODEL` and (b) benchmarks/serving_keras.py on the same bundle, one
server at a time. Prints requests/s, reviews/s, p50 and p99 latency, the servers' CPU seconds
beside the wall seconds, and the ratios. Goals: 1-review requests >= 40x the Keras server with
p99 <= 100 ms, 32-review requests >= 20x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from classifier.bundle import load
from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR
from classifier.io.dataset import load_labelled, make_split

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOALS = {1: 40.0, 32: 20.0}
P99_GOAL_MS = 100.0
CLIENTS = 32
HOST = "127.0.0.1"  # the only address this benchmark sends to


# -- the load: raw HTTP/1.1 on asyncio, so the client costs little of the CPU the servers share -------------
async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def client(port: int, path: str, bodies: list[bytes], todo: list[int], latencies: list[float],
                 failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while todo[0] > 0:
            todo[0] -= 1
            body = bodies[todo[0] % len(bodies)]
            request = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            start = time.perf_counter()
            writer.write(request)
            status, answer = await read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                failures.append(f"{status} {answer[:200]!r}")
    finally:
        writer.close()


async def load_run(port: int, path: str, bodies: list[bytes], requests: int) -> tuple[float, list[float], list[str]]:
    todo, latencies, failures = [requests], [], []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, path, bodies, todo, latencies, failures) for _ in range(CLIENTS)))
    return time.perf_counter() - start, latencies, failures


# -- the servers ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(cmd: list[str], port: int, timeout: float = 120) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.read().decode()[-800:]}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{' '.join(cmd)} was not ready in {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def predictions(port: int, texts: list[str]) -> np.ndarray:
    body = json.dumps({"instances": texts}).encode()
    request = urllib.request.Request(f"http://{HOST}:{port}/v1/models/default:predict", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as r:
        return np.array(json.loads(r.read())["predictions"], dtype=np.float64)


def measure(name: str, cmd: list[str], port: int, texts: list[str], plan: dict[int, int]) -> dict:
    """For each request size: `plan[size]` requests after a short untimed warm-up."""
    proc = start_server(cmd, port)
    try:
        rows = {}
        for size, requests in plan.items():
            bodies = [json.dumps({"instances": texts[i : i + size]}).encode()
                      for i in range(0, len(texts) - size + 1, size)]
            asyncio.run(load_run(port, "/v1/models/default:predict", bodies, CLIENTS * 2))
            cpu, client_cpu = cpu_seconds(proc.pid), time.process_time()
            wall, latencies, failures = asyncio.run(load_run(port, "/v1/models/default:predict", bodies, requests))
            ms = np.array(latencies) * 1000
            rows[size] = {
                "server": name, "reviews_per_request": size, "requests": requests, "failures": len(failures),
                "wall_seconds": round(wall, 2), "server_cpu_seconds": round(cpu_seconds(proc.pid) - cpu, 2),
                "client_cpu_seconds": round(time.process_time() - client_cpu, 2),
                "requests_per_s": round(requests / wall, 1), "reviews_per_s": round(requests * size / wall, 1),
                "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            }
            if failures:
                print(f"serving: {name}: {len(failures)} failed requests, e.g. {failures[0]}", file=sys.stderr)
        return {"rows": rows, "check": predictions(port, texts[:256])}
    finally:
        stop(proc)


def table(ours: dict, keras: dict) -> str:
    out = ["| server | reviews/request | requests | wall s | server CPU s | requests/s | reviews/s | p50 ms | p99 ms |",
           "|---|---|---|---|---|---|---|---|---|"]
    for result in (ours, keras):
        for r in result["rows"].values():
            out.append(f"| {r['server']} | {r['reviews_per_request']} | {r['requests']:,} | {r['wall_seconds']} | "
                       f"{r['server_cpu_seconds']} | {r['requests_per_s']:,.1f} | {r['reviews_per_s']:,.0f} | "
                       f"{r['p50_ms']} | {r['p99_ms']} |")
    out.append("")
    for size, goal in GOALS.items():
        a, b = ours["rows"][size], keras["rows"][size]
        ratio = a["requests_per_s"] / b["requests_per_s"]
        cpu_ratio = (b["server_cpu_seconds"] / b["requests"]) / max(a["server_cpu_seconds"] / a["requests"], 1e-9)
        p99 = f", p99 {a['p99_ms']} ms (goal <= {P99_GOAL_MS:g})" if size == 1 else ""
        met = ratio >= goal and (size != 1 or a["p99_ms"] <= P99_GOAL_MS)
        out.append(f"{size}-review requests: {ratio:.1f}x the Keras server's requests/s (goal {goal:g}x){p99}; "
                   f"{cpu_ratio:.1f}x less server CPU a request: {'met' if met else 'NOT MET'}")
    diff = np.abs(ours["check"] - keras["check"]).max()
    out.append(f"max abs difference of the two servers' probabilities on {len(ours['check'])} reviews: {diff:.1e}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--requests", type=int, default=3200, help="requests of each size to classifier serve")
    parser.add_argument("--keras-requests", type=int, default=320, help="requests of each size to the Keras server")
    parser.add_argument("--out", help="also write the figures as JSON")
    args = parser.parse_args()
    bundle = load(args.model)
    cfg = bundle.config
    split = make_split(load_labelled(args.data, cfg.text_column, cfg.label_column), cfg.text_column,
                       cfg.label_column, cfg.test_size, cfg.seed)
    texts = list(split.x_test)
    load_before = os.getloadavg()[0]
    print(f"serving: {len(texts):,} test-split reviews, {CLIENTS} clients, {os.cpu_count()} CPUs, "
          f"load average {load_before:.2f}", file=sys.stderr)
    port = free_port()
    ours = measure("classifier serve", [sys.executable, "-m", "classifier", "serve", "--model", args.model,
                                        "--port", str(port)], port, texts, {1: args.requests, 32: args.requests})
    port = free_port()
    keras = measure("FastAPI + Keras", [sys.executable, str(HERE / "serving_keras.py"), "--model", args.model,
                                        "--port", str(port)], port, texts, {1: args.keras_requests,
                                                                            32: args.keras_requests})
    print(table(ours, keras))
    # a shared machine: other work takes CPU from either server, so say how busy it was
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}, on {os.cpu_count()} CPUs")
    if args.out:
        figures = {"ours": list(ours["rows"].values()), "keras": list(keras["rows"].values())}
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
