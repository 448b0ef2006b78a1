"""The models a server answers for: loaded and warmed up on a background thread, found by name.

    registry = Registry({"default": "saved_models/default"})
    registry.start()        # returns at once; the server answers /healthz (and /readyz 503) meanwhile
    registry.ready          # True once every model has answered one warm-up call
    registry.get("default").scorer

The names are fixed when the registry is made; a request can only pick one of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from classifier.bundle import Bundle, load
from classifier.classify.predict import output_rows
from classifier.serve.scorer import Scorer
from classifier.serve.worker import Worker
from classifier.textgen.generate import generate

WARMUP_TEXT = "I love this dress, it fits perfectly and the color is beautiful."
WARMUP_PROMPT = "this dress is"
log = logging.getLogger("classifier.serve")


class ModelNotFound(LookupError):
    """404: no model of that name, or it has no generator."""


class ModelNotReady(RuntimeError):
    """503: the model is still loading, or failed to load."""


class ModelNotChosen(ValueError):
    """400: several models are loaded and the request named none."""


@dataclass
class Model:
    name: str
    path: str
    bundle: Bundle | None = None
    scorer: Scorer | None = None
    generator: Worker | None = None  # generation runs one request at a time, beside scoring
    explainer: Worker | None = None  # so do explanations
    load_seconds: float | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        return "failed" if self.error else "ready" if self.scorer is not None else "loading"


class Registry:
    """`preloaded` bundles (already loaded by the command, which checked them) are used as they are;
    `on_batch(model, requests, texts, seconds)` hears of every engine call."""

    def __init__(self, models: dict[str, str], preloaded: dict[str, Bundle] | None = None,
                 on_batch: Callable[[str, int, int, float], None] | None = None):
        self.models = {name: Model(name, str(path)) for name, path in models.items()}
        self._preloaded = dict(preloaded or {})
        self._on_batch = on_batch
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return all(m.state == "ready" for m in self.models.values())

    def start(self, on_loaded: Callable[[str, float], None] | None = None) -> None:
        self._thread = threading.Thread(target=self._load_all, args=(on_loaded,), name="load-models", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Until every model has loaded or failed."""
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        for m in self.models.values():
            for worker in (m.scorer, m.generator, m.explainer):
                if worker is not None:
                    worker.close()

    def _load_all(self, on_loaded) -> None:
        for m in self.models.values():
            start = time.perf_counter()
            try:
                self._load(m)
            except Exception as e:  # kept, so /readyz and the model's requests say why
                m.error = " ".join(str(e).split()) or type(e).__name__
                log.exception("model %s (%s) failed to load", m.name, m.path)
                continue
            m.load_seconds = time.perf_counter() - start
            log.info("model %s ready: %s (%.2f s)", m.name, m.bundle, m.load_seconds)
            if on_loaded is not None:
                on_loaded(m.name, m.load_seconds)

    def _load(self, m: Model) -> None:
        bundle = self._preloaded.pop(m.name, None) or load(m.path)
        # the warm-up builds what the first request would (the engine, the generator network)
        output_rows(bundle, [WARMUP_TEXT])
        if has_generator(bundle):
            generate(bundle, WARMUP_PROMPT, words=2)
            m.generator = Worker(f"generate-{m.name}")
        m.explainer = Worker(f"explain-{m.name}")
        report = partial(self._on_batch, m.name) if self._on_batch is not None else None
        m.bundle = bundle
        m.scorer = Scorer(bundle, m.name, on_batch=report)  # set last: a scorer means ready

    def get(self, name: str | None) -> Model:
        """The model called `name` (None: the only one), ready to answer."""
        if name is None:
            if len(self.models) > 1:
                raise ModelNotChosen(f"this server has several models ({self.names()}); pass ?model=NAME")
            name = next(iter(self.models))
        m = self.find(name)
        if m.error:
            raise ModelNotReady(f"model {name!r} failed to load: {m.error}")
        if m.scorer is None:
            raise ModelNotReady(f"model {name!r} is still loading; GET /readyz answers 200 once every model is ready")
        return m

    def find(self, name: str) -> Model:
        """The model called `name`, ready or not."""
        if name not in self.models:
            raise ModelNotFound(f"no model named {name!r}; this server has: {self.names()}")
        return self.models[name]

    def names(self) -> str:
        return ", ".join(self.models)

    def status(self) -> dict[str, str]:
        return {m.name: m.state + (f": {m.error}" if m.error else "") for m in self.models.values()}


def has_generator(bundle: Bundle) -> bool:
    return bool(bundle.meta.get("generator"))
