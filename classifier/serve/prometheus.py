"""The server's Prometheus metrics: requests, latency, reviews scored, engine batches, model load time.

    metrics = Metrics()
    metrics.request("/predict", 200, 0.004)
    body, content_type = metrics.exposition()      # what GET /metrics answers

With `--workers N` each process counts its own requests; `serve` then sets PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) so that any worker's /metrics answers for all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# seconds: from a one-review request to the largest batch a request may send
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("classifier_requests", "HTTP requests answered, by endpoint and status code",
                                ["endpoint", "code"], registry=r)
        self.latency = Histogram("classifier_request_duration_seconds", "Time to answer a request, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.reviews = Counter("classifier_reviews_scored", "Texts scored (empty ones included), by model",
                               ["model"], registry=r)
        self.batches = Histogram("classifier_engine_batch_texts", "Texts per engine call (concurrent requests "
                                 "share one call), by model", ["model"], buckets=BATCH_BUCKETS, registry=r)
        self.load_seconds = Gauge("classifier_model_load_seconds", "Seconds to load a model and answer its "
                                  "warm-up call", ["model"], registry=r, multiprocess_mode="max")

    def request(self, endpoint: str, code: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(code)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def scored(self, model: str, texts: int) -> None:
        self.reviews.labels(model).inc(texts)

    def batch(self, model: str, requests: int, texts: int, seconds: float) -> None:
        self.batches.labels(model).observe(texts)

    def model_loaded(self, model: str, seconds: float) -> None:
        self.load_seconds.labels(model).set(seconds)

    def exposition(self) -> tuple[bytes, str]:
        registry = self.registry
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
