"""A real `classifier serve` process on 127.0.0.1 for the serve tests (a helper module, not tests).

    server = start_server(tmp_path, "--model", "DIR")
    server.post("/predict", {"texts": ["love it"]}).json()
    assert server.stop() == 0
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path, readyz: list[int]):
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://{HOST}:{port}"
        self.readyz_before_ready = readyz  # the /readyz codes seen while starting
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, body=None, **kw) -> httpx.Response:
        return self.client.post(path, json=body, **kw) if body is not None else self.client.post(path, **kw)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then the exit code (killed after `timeout` s: the test then fails on the code)."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(tmp: Path, *args: str, env: dict | None = None, timeout: float = 60) -> Server:
    """Start `classifier serve ARGS --port FREE` and return once /readyz answers 200."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    with open(log, "wb") as out:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen([sys.executable, "-m", "classifier", "serve", *args, "--port", str(port)],
                                cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    codes: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"classifier serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            code = httpx.get(f"http://{HOST}:{port}/readyz", timeout=5).status_code
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if code == 200:
            return Server(proc, port, log, codes)
        codes.append(code)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"classifier serve was not ready in {timeout} s:\n{log.read_text()}")
