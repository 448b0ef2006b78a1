"""What the routers share: the server's state, JSON bodies read whatever their Content-Type, and
the --max-texts-per-request check.

    PredictBody = Annotated[PredictRequest, Depends(json_body(PredictRequest))]

    @router.post("/predict", openapi_extra=documented(PredictRequest))
    async def predict(body: PredictBody, state: ServerState): ...

A body is JSON whatever Content-Type it is sent with, as TF Serving reads it: `curl -d` sends
form-urlencoded and `requests.post(data=...)` none, and both are what its clients do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from classifier.serve.prometheus import Metrics
from classifier.serve.registry import Registry
from classifier.serve.settings import ServeSettings


@dataclass
class State:
    settings: ServeSettings
    registry: Registry
    metrics: Metrics


async def get_state(request: Request) -> State:
    """async: FastAPI runs a plain `def` dependency on its thread pool, a thread hop per request."""
    return request.app.state.serve


ServerState = Annotated[State, Depends(get_state)]  # a route's parameter of this type gets the state


def check_items(texts: list, settings: ServeSettings) -> None:
    """413 before any work: the body is parsed, but nothing is scored."""
    if len(texts) > settings.max_items:
        raise HTTPException(413, f"{len(texts):,} texts in one request, over the server's limit of "
                                 f"{settings.max_items:,} (--max-texts-per-request); split them into several requests")


def json_body(model: type[BaseModel]):
    """A dependency that parses the body as `model` (pydantic's own JSON parser); a bad body is a 400."""

    async def parse(request: Request) -> BaseModel:
        raw = await request.body()
        if not raw.strip():
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
        try:
            return model.model_validate_json(raw)
        except ValidationError as e:
            raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])}
                                          for problem in e.errors(include_url=False)]) from None

    return parse


def documented(model: type[BaseModel]) -> dict:
    """The body's schema for /openapi.json, which a body read by `json_body` does not get by itself."""
    schema = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": True, "content": schema}}
