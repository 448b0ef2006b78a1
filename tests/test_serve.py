"""`classifier serve`: a real server process on 127.0.0.1, real HTTP requests, real reviews.

Compares the TF Serving endpoint with `classifier predict`, and checks the limits, the errors,
concurrency (answers never mixed up between requests), the metrics, SIGTERM, the API key,
--workers and a bounded fuzz run. About 25 s.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import AGREEMENT, ROOT, assert_user_error, committed_bundle, run_cli, run_python
from tests.serve_process import HOST, free_port, start_server

DEFAULT = committed_bundle("default")
TF = "/v1/models/default:predict"


@pytest.fixture(scope="module")
def reviews(data_path) -> list[str]:
    """400 real reviews, one line each (the CLI reads one review a line)."""
    with open(data_path, encoding="utf-8", newline="") as f:
        texts = [" ".join(row["Review Text"].split()) for row in csv.DictReader(f) if row["Review Text"].strip()]
    return texts[:400]


@pytest.fixture(scope="module")
def nogen_bundle(tmp_path_factory) -> Path:
    """saved_models/default without its generator: a bundle /generate must answer 404 for."""
    out = tmp_path_factory.mktemp("bundles") / "nogen"
    shutil.copytree(DEFAULT, out, ignore=shutil.ignore_patterns("generator*"))
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.pop("generator")
    config["files"] = {n: s for n, s in config["files"].items() if not n.startswith("generator")}
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory, nogen_bundle):
    """Two models, the default limits."""
    s = start_server(tmp_path_factory.mktemp("serve"), "--model", str(DEFAULT), "--model", f"nogen={nogen_bundle}")
    yield s
    assert s.stop() == 0, s.output()


def cli_probabilities(texts: list[str]) -> list[float | None]:
    result = run_cli("predict", "--model", DEFAULT, input="".join(t + "\n" for t in texts))
    assert result.returncode == 0, result.stderr
    return [float(line.split("\t")[0]) if line.split("\t")[0] else None for line in result.stdout.splitlines()]


# -- the numbers -----------------------------------------------------------------------------------------
def test_no_access_log_by_default(server):
    assert server.post(TF, {"instances": ["love it"]}).status_code == 200
    assert "POST /v1/models" not in server.output()  # a line a request is --access-log's


def test_tf_serving_predict_matches_classifier_predict(server, reviews):
    texts = reviews[:200] + ["", "   ", "qzxv blorp"]
    want = cli_probabilities(texts)
    for path, key, field in [(TF, "instances", "predictions"), ("/v1/models/default/versions/1:predict",
                                                                "instances", "predictions"), (TF, "inputs", "outputs")]:
        r = server.post(path, {key: texts})
        assert r.status_code == 200, r.text
        got = r.json()[field]
        assert list(r.json()) == [field]
        assert len(got) == len(want)
        assert got[-3:-1] == [None, None]  # empty and blank: not scored
        assert max(abs(g - w) for g, w in zip(got, want, strict=True) if w is not None) <= AGREEMENT
        assert all((g is None) == (w is None) for g, w in zip(got, want, strict=True))


def test_predict_gives_labels_and_statuses(server, reviews):
    long_review = " ".join(["lovely"] * 100_000)  # 100,000 words: scored (truncated), not refused
    texts = [reviews[0], "", "qzxv blorp", long_review]
    r = server.post("/predict?model=default", {"texts": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "default"
    results = body["results"]
    assert [x["status"] for x in results] == ["ok", "empty", "no_known_words", "truncated"]
    assert results[0]["recommend_proba"] == cli_probabilities([reviews[0]])[0]
    assert results[1] == {"recommend_proba": None, "recommend": None, "status": "empty"}
    p = results[0]["recommend_proba"]
    assert results[0]["recommend"] == int(p >= 0.5)
    for threshold in (0.0, 1.0, p):  # the label follows the printed value, as `classifier predict`'s
        r = server.post("/predict?model=default", {"texts": [reviews[0]], "threshold": threshold})
        assert r.json()["results"][0]["recommend"] == int(p >= threshold)


def test_several_models_need_a_name(server, reviews):
    r = server.post("/predict", {"texts": ["love it"]})
    assert r.status_code == 400 and "?model=NAME" in r.json()["error"]
    a = server.post("/predict?model=default", {"texts": reviews[:5]}).json()["results"]
    b = server.post("/predict?model=nogen", {"texts": reviews[:5]}).json()["results"]
    assert a == b  # the same classifier, served twice


def test_model_status_and_metadata(server):
    from classifier.bundle import load

    bundle = load(DEFAULT)
    want = {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}
    for path in ("/v1/models/default", "/v1/models/default/versions/1"):
        r = server.get(path)
        assert r.status_code == 200 and r.json() == want
    meta = server.get("/v1/models/default/metadata").json()
    assert meta["model_spec"] == {"name": "default", "signature_name": "serving_default", "version": "1"}
    m = meta["metadata"]
    assert m["tokenizer_sha256"] == bundle.tokenizer.sha256
    assert m["threshold"] == bundle.threshold
    assert m["config"] == json.loads(json.dumps(bundle.config.to_dict()))
    assert m["metrics"]["test_accuracy"] == bundle.metrics["test_accuracy"]
    assert m["engine"] == "numpy" and m["generator"] is True


def test_generate_as_the_cli_does(server):
    r = server.post("/generate?model=default", {"prompt": "this dress is", "words": 8})
    assert r.status_code == 200, r.text
    (sample,) = r.json()["samples"]
    cli = run_cli("generate", "this dress is", "--words", "8", "--model", DEFAULT)
    assert sample["text"] == cli.stdout.strip()
    assert 0 <= sample["score"] <= 1
    r = server.post("/generate?model=default", {"prompt": "this dress is", "words": 5, "n": 3, "temperature": 0.9,
                                                "seed": 7, "sentiment": "negative", "best_of": 4})
    assert r.status_code == 200, r.text
    assert len(r.json()["samples"]) == 3
    # the steering experts, as `classifier.generate(..., sentiment=, strength=)` runs them
    import classifier

    options = {"words": 8, "n": 2, "temperature": 1.0, "seed": 3, "sentiment": "negative", "strength": 1.5}
    r = server.post("/generate?model=default", {"prompt": "this dress", **options})
    assert r.status_code == 200, r.text
    assert [s["text"] for s in r.json()["samples"]] == [s.text for s in classifier.generate(DEFAULT, "this dress",
                                                                                            **options)]


def test_generate_errors(server):
    r = server.post("/generate?model=nogen", {"prompt": "this dress is"})
    assert r.status_code == 404 and "has no text generator" in r.json()["error"]
    r = server.post("/generate?model=default", {"prompt": "this dress is", "words": 1001})
    # the library's own check, worded with the JSON field (the CLI says --words)
    assert r.status_code == 400 and r.json()["error"] == '"words" must be 1 to 1000, got 1001', r.json()
    r = server.post("/generate?model=default", {"prompt": "this dress is", "best_of": 4})
    assert r.status_code == 400 and '"best_of" picks' in r.json()["error"] and "--" not in r.json()["error"]
    r = server.post("/generate?model=default", {"prompt": "this dress is", "sentiment": "positive", "strength": 50})
    assert r.status_code == 400 and r.json()["error"].startswith('"strength" must be 0 to'), r.json()
    r = server.post("/generate?model=default", {"prompt": "qzxv"})
    assert r.status_code == 400 and "vocabulary" in r.json()["error"]
    r = server.post("/generate?model=default", {"prompt": "this", "words": 1000, "n": 1000})
    assert r.status_code == 413 and "limit" in r.json()["error"]


# -- bad requests and limits -----------------------------------------------------------------------------
@pytest.mark.parametrize("body, needle", [
    (b'{"instances": ["love it"', "malformed JSON"),
    (b"", "no body"),
    (b'{"instances": "one string"}', "instances"),
    (b'{"instances": [1, 2]}', "instances.0"),
    (b'["love it"]', "JSON object"),
    (b'"love it"', "JSON object"),
    (b'{"instances": ["a"], "inputs": ["b"]}', "exactly one"),
    (b'{"instance": ["a"]}', "instance"),
    (b'{"instances": ["a"], "signature_name": "other"}', "signature_name"),
    (b"\xff\xfe not utf-8", "malformed JSON"),
    (b"[" * 100_000, "malformed JSON"),  # nesting deeper than any parser's recursion
])
def test_bad_requests_are_400(server, body, needle):
    r = server.post(TF, content=body)
    assert r.status_code == 400, r.text
    assert list(r.json()) == ["error"] and needle in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_bad_predict_bodies_are_400(server):
    for body in ({"texts": [3]}, {"texts": ["a"], "threshold": 1.5}, {"texts": ["a"], "threshold": "0.5"},
                 {"text": ["a"]}, {"texts": None}):
        r = server.post("/predict?model=default", body)
        assert r.status_code == 400, (body, r.text)


def test_unknown_model_version_and_path_are_404(server):
    tf_body, body = {"instances": ["a"]}, {"texts": ["a"]}
    for method, path, sent in [("POST", "/v1/models/nope:predict", tf_body), ("GET", "/v1/models/nope", None),
                               ("GET", "/v1/models/nope/metadata", None),
                               ("POST", "/v1/models/default/versions/2:predict", tf_body),
                               ("POST", "/predict?model=nope", body), ("GET", "/nothing/here", None)]:
        r = server.client.request(method, path, json=sent)
        assert r.status_code == 404, (path, r.text)
        assert set(r.json()) == {"error"}


def test_wrong_method_is_405(server):
    for method, path in [("GET", TF), ("PUT", TF), ("GET", "/predict"), ("DELETE", "/generate"),
                         ("POST", "/healthz"), ("POST", "/v1/models/default")]:
        r = server.client.request(method, path)
        assert r.status_code == 405, (method, path, r.text)
        assert "not allowed" in r.json()["error"]


def metric(server, name: str, **labels) -> float:
    """The value of one series in /metrics (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in server.get("/metrics").text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m and ",".join(sorted((m.group(1) or "").split(","))) == want:
            return float(m.group(2))
    return 0.0


def test_too_many_texts_is_413_before_any_work(server):
    scored = metric(server, "classifier_reviews_scored_total", model="default")
    start = time.perf_counter()
    r = server.post(TF, {"instances": ["good"] * 200_000})
    assert r.status_code == 413, r.text
    assert "200,000 texts" in r.json()["error"] and "10,000" in r.json()["error"]
    assert time.perf_counter() - start < 5
    assert metric(server, "classifier_reviews_scored_total", model="default") == scored  # nothing was scored
    r = server.post("/predict?model=default", {"texts": [""] * 10_001})
    assert r.status_code == 413
    assert server.post("/predict?model=default", {"texts": [""] * 10_000}).status_code == 200  # the limit itself


def raw_request(port: int, head: bytes, chunks=(), timeout: float = 30) -> bytes:
    """Send a request by hand (headers, then body chunks) and return what the server answers until it closes.
    The answer is read while sending: a server that refuses a body may answer, close and reset the
    connection before the client has sent it all."""
    answer = []
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        def read():
            try:
                while data := s.recv(65536):
                    answer.append(data)
            except ConnectionResetError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            s.sendall(head)
            for chunk in chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body, as it should be
        reader.join(timeout)
    return b"".join(answer)


def test_body_over_max_bytes_is_413(server):
    # Content-Length over the limit: refused before a byte of the body is sent
    head = (f"POST {TF} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {16 * 1024 * 1024 + 1}\r\n\r\n").encode()
    answer = raw_request(server.port, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"16,777,216 bytes" in answer
    # chunked, no Content-Length: counted while reading; 16 MiB + 1 byte of a (valid) JSON body
    body = b'{"instances": ["' + b"a" * (16 * 1024 * 1024 - 18) + b'"]}'
    assert len(body) == 16 * 1024 * 1024 + 1
    parts = [body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)]
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]
    head = f"POST {TF} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    answer = raw_request(server.port, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert server.get("/readyz").status_code == 200


# -- concurrency, metrics, the page ---------------------------------------------------------------------------
def test_640_requests_from_32_clients(server, reviews):
    """Every answer is its own request's: concurrent requests share engine calls, never answers."""
    expected = dict(zip(reviews, server.post(TF, {"instances": reviews}).json()["predictions"], strict=True))
    batches = metric(server, "classifier_engine_batch_texts_count", model="default")
    rng = random.Random(12)
    jobs = [rng.sample(reviews, rng.choice([1, 1, 1, 4, 32])) for _ in range(640)]

    def client(part: list[list[str]]) -> list[tuple[int, list[str], list]]:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            return [(r.status_code, texts, r.json().get("predictions"))
                    for texts in part for r in [c.post(TF, json={"instances": texts})]]

    with ThreadPoolExecutor(32) as pool:
        answers = [a for part in pool.map(client, [jobs[i::32] for i in range(32)]) for a in part]
    assert len(answers) == 640
    for code, texts, got in answers:
        assert code == 200
        assert max(abs(g - expected[t]) for g, t in zip(got, texts, strict=True)) <= AGREEMENT
    # fewer engine calls than requests: concurrent requests were scored together
    assert metric(server, "classifier_engine_batch_texts_count", model="default") - batches < 640


def test_metrics(server):
    server.post(TF, {"instances": ["love it", "hate it"]})
    server.post(TF, {"instances": "bad"})
    server.get("/nothing")
    text = server.get("/metrics").text
    assert metric(server, "classifier_requests_total", endpoint="/v1/models/{name}:predict", code="200") >= 1
    assert metric(server, "classifier_requests_total", endpoint="/v1/models/{name}:predict", code="400") >= 1
    assert metric(server, "classifier_requests_total", endpoint="unmatched", code="404") >= 1
    assert metric(server, "classifier_request_duration_seconds_count", endpoint="/v1/models/{name}:predict") >= 2
    assert "classifier_request_duration_seconds_bucket{" in text
    assert metric(server, "classifier_reviews_scored_total", model="default") >= 2
    assert metric(server, "classifier_model_load_seconds", model="default") > 0
    assert metric(server, "classifier_model_load_seconds", model="nogen") > 0


def test_health_ready_and_page(server):
    assert server.get("/healthz").json() == {"status": "ok"}
    assert server.get("/readyz").json() == {"ready": True, "models": {"default": "ready", "nogen": "ready"}}
    assert set(server.readyz_before_ready) <= {503}  # never anything but 503 before ready
    r = server.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<textarea" in r.text and 'id="score"' in r.text and 'id="generate"' in r.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text)  # nothing loaded from elsewhere
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert '"models": ["default", "nogen"]' in r.text


def test_numpy_engine_bundles_never_load_tensorflow(server):
    server.post(TF, {"instances": ["love it"]})
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "libtensorflow" not in maps and "_pywrap_tensorflow" not in maps


def test_fuzz_never_breaks_the_server(server, reviews):
    """Random bytes and random JSON to every endpoint: never a 5xx, and afterwards still ready and right."""
    rng = random.Random(2024)
    want = server.post(TF, {"instances": reviews[:3]}).json()
    paths = [TF, "/v1/models/default/versions/1:predict", "/v1/models/default", "/v1/models/default/metadata",
             "/predict", "/predict?model=default", "/predict?model=nogen", "/generate?model=default",
             "/generate?model=nogen", "/healthz", "/readyz", "/metrics", "/", "/v1/models/%00:predict"]
    atoms = [None, True, False, 0, -1, 1.5, 1e308, -1e308, 2**70, "", "a", "this dress is", "\ud800", "\x00",
             "x" * 5000, "positive", "serving_default"]
    keys = ["instances", "inputs", "texts", "threshold", "prompt", "words", "n", "temperature", "top_k", "top_p",
            "seed", "sentiment", "best_of", "strength", "signature_name", "x"]

    def value(depth=0):
        kind = rng.random()
        if depth > 3 or kind < 0.5:
            return rng.choice(atoms)
        if kind < 0.75:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randrange(4))}

    with httpx.Client(base_url=server.url, timeout=30) as c:
        for i in range(300):
            path = rng.choice(paths)
            if i % 3 == 0:
                body = rng.randbytes(rng.randrange(1, 400))
            else:
                obj = {k: value(1) for k in rng.sample(keys, rng.randrange(1, 4))} if i % 3 == 1 else value()
                body = json.dumps(obj).encode()
            method = rng.choice(["POST", "POST", "GET", "PUT"])
            r = c.request(method, path, content=body)
            assert r.status_code < 500, (method, path, body[:200], r.text)
            if r.status_code >= 400:
                assert set(r.json()) == {"error"}
    assert server.get("/readyz").status_code == 200
    assert server.post(TF, {"instances": reviews[:3]}).json() == want


# -- processes: SIGTERM, the API key, --workers, bad command lines ------------------------------------------------
def test_sigterm_finishes_the_request_in_flight_and_exits_0(tmp_path, reviews):
    s = start_server(tmp_path, "--model", str(DEFAULT))
    texts = (reviews * 25)[:10_000]  # about a second of scoring
    result = {}

    def slow():
        result["response"] = httpx.post(f"{s.url}{TF}", json={"instances": texts}, timeout=60)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.4)  # the request is in flight
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    code = s.proc.wait(timeout=15)
    thread.join(timeout=15)
    assert code == 0, s.output()
    assert time.monotonic() - start < 10
    assert result["response"].status_code == 200
    assert len(result["response"].json()["predictions"]) == 10_000
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{s.url}/healthz", timeout=2)


def test_api_key(tmp_path):
    s = start_server(tmp_path, "--model", str(DEFAULT), "--access-log", env={"CLASSIFIER_API_KEY": "s3cret-key"})
    try:
        r = s.post(TF, {"instances": ["love it"]})
        assert r.status_code == 401 and "Bearer" in r.json()["error"]
        assert r.headers["www-authenticate"] == "Bearer"
        assert s.post(TF, {"instances": ["love it"]}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert s.get("/metrics").status_code == 401
        ok = s.post(TF, {"instances": ["love it"]}, headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200 and len(ok.json()["predictions"]) == 1
        for path in ("/healthz", "/readyz", "/"):  # probes and the page (which asks for the key) stay open
            assert s.get(path).status_code == 200
        assert '"api_key": true' in s.get("/").text
        assert "s3cret-key" not in s.output()
        assert metric_with_key(s) >= 2
        # --access-log: a line per request, refused ones too (the module's server runs without: none)
        assert re.search(r'"POST /v1/models/default:predict HTTP/1.1" 401', s.output())
        assert re.search(r'"POST /v1/models/default:predict HTTP/1.1" 200', s.output())
    finally:
        assert s.stop() == 0


def metric_with_key(s) -> float:
    text = s.get("/metrics", headers={"Authorization": "Bearer s3cret-key"}).text
    m = re.search(r'classifier_requests_total\{code="401",endpoint="/v1/models/\{name\}:predict"\} (\S+)', text)
    return float(m.group(1)) if m else 0.0


def test_workers_share_the_port_and_the_metrics(tmp_path, reviews):
    s = start_server(tmp_path, "--model", str(DEFAULT), "--workers", "2")
    try:
        want = cli_probabilities(reviews[:2])
        for _ in range(20):
            with httpx.Client(base_url=s.url) as c:  # new connections, so both workers get some
                assert c.post(TF, json={"instances": reviews[:2]}).json()["predictions"] == want
        text = s.get("/metrics").text
        m = re.search(r'classifier_requests_total\{code="200",endpoint="/v1/models/\{name\}:predict"\} (\S+)', text)
        assert m and float(m.group(1)) == 20  # every worker's requests, whichever worker answers
    finally:
        assert s.stop() == 0


def test_bad_command_lines_exit_2(tmp_path):
    assert_user_error(run_cli("serve", "--model", tmp_path / "missing"), "no such model folder")
    assert_user_error(run_cli("serve", "--model", f"={DEFAULT}"), "NAME=DIR")
    assert_user_error(run_cli("serve", "--model", f"bad/name={DEFAULT}"), "cannot go into a URL")
    assert_user_error(run_cli("serve", "--model", str(DEFAULT), "--model", str(DEFAULT)),
                      "two models are named 'default'")
    assert_user_error(run_cli("serve", "--model", str(DEFAULT), "--host", "no.such.host.invalid"),
                      "--host")
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_user_error(run_cli("serve", "--model", str(DEFAULT), "--port", port), "in use")


def test_importing_classifier_imports_no_server_packages():
    r = run_python("import sys, classifier, classifier.cli; "
                   "print(sorted(m for m in ('fastapi', 'uvicorn', 'prometheus_client') if m in sys.modules))")
    assert r.stdout.strip() == "[]", r.stderr


def test_a_model_that_fails_to_load_keeps_the_server_unready(tmp_path):
    """Loading happens after the server starts (so /readyz can say 503); a model broken by then is reported."""
    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT, broken, ignore=shutil.ignore_patterns("generator*"))
    port = free_port()
    code = ("import sys, uvicorn; from classifier.serve.app import create_app; "
            "from classifier.serve.settings import ServeSettings; "
            f"uvicorn.run(create_app(ServeSettings({{'broken': {str(broken)!r}}})), host='127.0.0.1', port={port})")
    (broken / "tokenizer.json").write_text("{}", encoding="utf-8")  # after the copy: its hash no longer matches
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://{HOST}:{port}/readyz", timeout=2)
                if "failed" in r.json()["models"]["broken"] or time.monotonic() > deadline:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        assert r.status_code == 503 and r.json()["ready"] is False
        r = httpx.post(f"http://{HOST}:{port}{TF.replace('default', 'broken')}", json={"instances": ["a"]})
        assert r.status_code == 503 and "failed to load" in r.json()["error"]
        status = httpx.get(f"http://{HOST}:{port}/v1/models/broken").json()["model_version_status"][0]
        assert status["state"] == "UNAVAILABLE" and status["status"]["error_code"] == "UNAVAILABLE"
        assert httpx.get(f"http://{HOST}:{port}/healthz").status_code == 200  # alive, not ready
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_a_tfidf_bundle_is_served(tmp_path, data_path, reviews):
    from classifier.bundle import load
    from classifier.classify.predict import predict
    from classifier.classify.train import train
    from classifier.config import preset

    bundle_dir = tmp_path / "tfidf"
    train(preset("tfidf", max_rows=2000), data_path, bundle_dir, verbose=0)
    want = [p.proba for p in predict(load(bundle_dir), reviews[:50])]
    server = start_server(tmp_path, "--model", str(bundle_dir))
    try:
        r = server.post("/v1/models/tfidf:predict", {"instances": reviews[:50]})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == want
    finally:
        assert server.stop() == 0, server.output()


def test_generate_request_fields_are_bounded(server):
    from classifier.serve.api import MAX_PROMPT_BYTES, MAX_PROMPT_WORDS

    start = time.perf_counter()
    r = server.post("/generate?model=default", {"prompt": "this dress is " * (2_000_000 // 14)})
    assert r.status_code == 413 and "bytes" in r.json()["error"]
    r = server.post("/generate?model=default", {"prompt": "a " * (MAX_PROMPT_WORDS + 1)})
    assert len(("a " * (MAX_PROMPT_WORDS + 1)).encode()) <= MAX_PROMPT_BYTES
    assert r.status_code == 413 and "words" in r.json()["error"]
    assert time.perf_counter() - start < 10  # refused before the network reads a word
    for t in (1e-308, 5e-324):
        r = server.post("/generate?model=default", {"prompt": "this dress is", "temperature": t})
        assert r.status_code == 400 and '"temperature" must be' in r.json()["error"], r.text  # the JSON field


def test_an_empty_api_key_is_refused(tmp_path):
    assert_user_error(run_cli("serve", "--model", str(DEFAULT), "--api-key", ""), "--api-key", "empty")
    assert_user_error(run_cli("serve", "--model", str(DEFAULT), env={"CLASSIFIER_API_KEY": ""}),
                      "CLASSIFIER_API_KEY", "empty")
