"""One thread per model runs recommendations(); requests that arrive together share one engine call.

    scorer = Scorer(bundle)
    predictions = await scorer.predict(["love it", "it ripped"], threshold=None)   # from a coroutine
    scorer.close()

Scoring is CPU work, so it never runs on the event loop: each request queues its texts and
awaits a future that the model's thread completes. The thread takes everything queued when it
wakes (up to BATCH_TEXTS) and scores it in one recommendations() call, since the engine's cost is per
LSTM step, not per review: 32 one-review requests cost about what one 32-review request does
(README, Serving, measures it). Probabilities are recommendations()', so they equal `classifier predict`'s.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from classifier.bundle import Bundle
from classifier.classify.predict import ClassPrediction, Prediction, predict_classes, recommendations
from classifier.serve.worker import settle_later

# texts one engine call takes from the queue; a larger request still goes whole, alone
BATCH_TEXTS = 1024
log = logging.getLogger("classifier.serve")


class Job(NamedTuple):
    texts: list[str | None]
    threshold: float | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


class Scorer:
    """`on_batch(requests, texts, seconds)` is told about every engine call (the metrics count them)."""

    def __init__(self, bundle: Bundle, name: str = "", on_batch: Callable[[int, int, float], None] | None = None):
        self.bundle = bundle
        self.on_batch = on_batch
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # a daemon: an engine call in progress never holds the process open after shutdown
        self._thread = threading.Thread(target=self._serve, name=f"scorer-{name}", daemon=True)
        self._thread.start()

    async def predict(self, texts: list[str | None],
                      threshold: float | None = None) -> list[Prediction] | list[ClassPrediction]:
        """recommendations()' answers; a multi-class bundle's are predict_classes()' (no threshold)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put(Job(texts, threshold, loop, future))
        return await future

    def close(self) -> None:
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            jobs, texts = [job], len(job.texts)
            while texts < BATCH_TEXTS:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # finish this batch, then stop
                    break
                jobs.append(job)
                texts += len(job.texts)
            self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        start = time.perf_counter()
        try:
            texts = [t for job in jobs for t in job.texts]
            score_texts = predict_classes if self.bundle.multiclass else recommendations
            merged = score_texts(self.bundle, texts)
        except Exception:
            if len(jobs) > 1:  # find the job that fails, so the others still get their answers
                for job in jobs:
                    self._run([job])
                return
            log.exception("scoring failed")
            raise_in(jobs[0], RuntimeError("scoring failed; the server log has the traceback"))
            return
        if self.on_batch is not None:
            self.on_batch(len(jobs), len(merged), time.perf_counter() - start)
        at = 0
        for job in jobs:
            part = merged[at : at + len(job.texts)]
            at += len(job.texts)
            if job.threshold is not None:
                part = [relabel(p, job.threshold) for p in part]
            answer(job, part)


def relabel(p: Prediction, threshold: float) -> Prediction:
    """`p` at another threshold, by recommendations()' own rule: recommend when the printed value is at or above it."""
    return p if p.proba is None else p._replace(recommend=int(p.proba >= threshold))


def answer(job: Job, result) -> None:
    settle_later(job.loop, job.future, result, None)


def raise_in(job: Job, error: BaseException) -> None:
    settle_later(job.loop, job.future, None, error)
