"""The FastAPI app: the routers over the bundle API, errors as {"error": "one line"}, and the middleware.

    app = create_app(ServeSettings({"default": "saved_models/default"}))
    uvicorn.run(app, host="127.0.0.1", port=8000)        # what `classifier serve` does

`create_app_from_env` is the factory each `--workers` process calls (uvicorn imports it by name).
Every error, a bad request or a fault of ours, is answered as JSON with one line; a fault is
logged with its traceback and the server goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from classifier.bundle import Bundle
from classifier.errors import UserError
from classifier.serve import api, ops, tfserving
from classifier.serve.deps import State
from classifier.serve.middleware import ApiKey, BodyLimit, RequestMetrics
from classifier.serve.prometheus import Metrics
from classifier.serve.registry import ModelNotChosen, ModelNotFound, ModelNotReady, Registry
from classifier.serve.settings import ServeSettings

log = logging.getLogger("classifier.serve")
STATUS = {ModelNotFound: 404, ModelNotReady: 503, ModelNotChosen: 400, UserError: 400}
NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}  # pydantic's words for "not a JSON object"


class AsciiJSONResponse(JSONResponse):
    """JSON in ASCII: a lone surrogate in a text (valid JSON, "\\ud800") is echoed back escaped
    instead of failing to encode as UTF-8."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return AsciiJSONResponse({"error": message}, status_code=status, headers=headers)


def json_field(field: str) -> str:
    """A library field as the request body spells it: the JSON field, quoted."""
    return f'"{field}"'


def validation_message(e: RequestValidationError) -> str:
    """The first problem on one line: where it is and what is wrong."""
    problems = e.errors()
    first, more = problems[0], len(problems) - 1
    kind, place, where = first["type"], first["loc"][0], ".".join(str(part) for part in first["loc"][1:])
    if kind == "json_invalid":
        message = f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    elif place == "body" and not where and kind == "missing":
        message = "the request has no body; send a JSON object (docs/serving.md has examples)"
    elif place == "body" and not where and kind in NOT_AN_OBJECT:
        message = "the body must be a JSON object, not a list or a single value (docs/serving.md has examples)"
    else:
        field = where if place == "body" else f"{place} parameter {where}"
        message = f"{field}: {first['msg']}" if field else first["msg"]
        message = message.replace("Value error, ", "")
    return message + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError):
        return error(400, validation_message(e))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        detail = e.detail if isinstance(e.detail, str) else json.dumps(e.detail)
        if e.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        elif e.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.url.path} (docs/serving.md lists them)"
        return error(e.status_code, detail, e.headers)

    async def known(request: Request, e: Exception):
        status = next(STATUS[kind] for kind in type(e).__mro__ if kind in STATUS)
        text = e.worded(json_field) if isinstance(e, UserError) else str(e)
        return error(status, " ".join(text.split()))

    for kind in STATUS:
        app.add_exception_handler(kind, known)

    @app.exception_handler(Exception)
    async def fault(request: Request, e: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, f"internal error ({type(e).__name__}); the server log has the details")


def create_app(settings: ServeSettings, preloaded: dict[str, Bundle] | None = None,
               load_first: bool = False) -> FastAPI:
    """The app for `settings`; its models load in the background once it starts (/readyz says 503 till
    then), or, with `load_first`, before it takes its first connection."""
    metrics = Metrics()
    registry = Registry(settings.models, preloaded, on_batch=metrics.batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        registry.start(on_loaded=metrics.model_loaded)
        if load_first:
            await asyncio.to_thread(registry.wait)
        yield
        registry.close()

    # no /docs: its page loads scripts from a CDN; /openapi.json describes every endpoint
    app = FastAPI(title="classifier", lifespan=lifespan, docs_url=None, redoc_url=None,
                  default_response_class=AsciiJSONResponse)
    app.state.serve = State(settings, registry, metrics)
    routers = [tfserving.router, api.router, ops.router]
    for router in routers:
        app.include_router(router)
    add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_bytes)
    if settings.api_key:
        app.add_middleware(ApiKey, key=settings.api_key)
    # added last: outermost, so it counts the 401s and 413s the others answer too
    app.add_middleware(RequestMetrics, metrics=metrics, routes=[r for router in routers for r in router.routes])
    return app


def create_app_from_env() -> FastAPI:
    """The factory of each `--workers` process: the settings come in SETTINGS_ENV. A worker takes
    connections only once its models are ready: the workers share one socket, and one still loading
    would otherwise answer 503 while the others could answer."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    return create_app(ServeSettings.from_env(), load_first=True)
