"""The ASGI layers around the routes: request metrics, the API key, the request body limit.

    app.add_middleware(BodyLimit, max_bytes=16 * 1024 * 1024)
    app.add_middleware(ApiKey, key="s3cret")
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.routes)   # added last: outermost

Plain ASGI (not BaseHTTPMiddleware) so that a refused request costs no task, and the body
limit can answer 413 before the body is read: at once from Content-Length, or as soon as a
chunked body passes the limit.
"""

from __future__ import annotations

import hmac
import json
import re
import time

from starlette.routing import Match

from classifier.serve.prometheus import Metrics

BODY_METHODS = {"POST", "PUT", "PATCH"}
CONVERTOR = re.compile(r"\{(\w+):\w+\}")
OPEN_PATHS = {"/", "/healthz", "/readyz"}  # probes and the page (its own requests carry the key)


async def send_error(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """An `{"error": message}` answer, the same shape the routes' errors have."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts every answer by endpoint (the route's template, so ids in paths add no series) and code."""

    def __init__(self, app, metrics: Metrics, routes: list):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, code = time.perf_counter(), 500

        async def send_seen(message):
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            self.metrics.request(endpoint(scope, self.routes), code, time.perf_counter() - start)


def endpoint(scope, routes) -> str:
    """The route's template with its convertors dropped (/v1/models/{name}:predict), or "unmatched"."""
    route = scope.get("route")
    if route is None:  # answered before routing (a 401, a 413): the route the request was for
        route = next((r for r in routes if r.matches(scope)[0] != Match.NONE), None)
    path = getattr(route, "path", None)
    return CONVERTOR.sub(r"{\1}", path) if path else "unmatched"


class ApiKey:
    """401 unless `Authorization: Bearer KEY`, on every path but OPEN_PATHS."""

    def __init__(self, app, key: str):
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):  # constant time: no guessing the key byte by byte
            return await send_error(send, 401, "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                                    [(b"www-authenticate", b"Bearer")])
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over `max_bytes`: from Content-Length before reading, else counted while reading."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await send_error(send, 400, "Content-Length is not a number", [(b"connection", b"close")])
            if int(declared) > self.max_bytes:
                return await self.too_large(send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self.too_large(send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as the server's receive does

        await self.app(scope, replay, send)

    async def too_large(self, send):
        # close: the rest of the body is never read, so the connection cannot carry another request
        await send_error(send, 413, f"request body over the server's limit of {self.max_bytes:,} bytes "
                                    f"(--max-bytes); send fewer texts per request", [(b"connection", b"close")])
