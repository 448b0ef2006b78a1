"""The TF Serving REST API, so its clients work unchanged: predict, model status, metadata.

    curl -d '{"instances": ["Love this dress!"]}' http://127.0.0.1:8000/v1/models/default:predict
    # {"predictions": [0.987654]}

A prediction is the probability `classifier predict` prints for the text (6 decimals; null for an
empty or blank text); for a multi-class bundle, the list of its classes' probabilities in the
bundle's order (`metadata` lists the classes). Each bundle is served as version 1, its only version; the /versions/1
paths answer as the plain ones do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.convertors import StringConvertor, register_url_convertor

from classifier.serve.deps import ServerState, check_items, documented, json_body
from classifier.serve.registry import Model, ModelNotFound
from classifier.serve.schemas import (
    ModelStatusResponse,
    TFExplainRequest,
    TFExplainResponse,
    TFPredictRequest,
    TFPredictResponse,
)


class NameConvertor(StringConvertor):
    """A path segment without ':', so /v1/models/NAME:predict is never read as a model called 'NAME:predict'
    (a GET there is then a 405, not an unknown model)."""

    regex = "[^/:]+"


register_url_convertor("name", NameConvertor())
router = APIRouter(prefix="/v1/models/{name:name}")
Body = Annotated[TFPredictRequest, Depends(json_body(TFPredictRequest))]
ExplainBody = Annotated[TFExplainRequest, Depends(json_body(TFExplainRequest))]
STATES = {"ready": "AVAILABLE", "loading": "LOADING", "failed": "UNAVAILABLE"}


def version_1(version: str) -> None:
    if version != "1":
        raise ModelNotFound(f"version {version} not found: each model is served as version 1 only")


@router.post(":predict", response_model=TFPredictResponse, response_model_exclude_none=True,
             openapi_extra=documented(TFPredictRequest))
async def tf_predict(name: str, body: Body, state: ServerState) -> dict:
    model = state.registry.get(name)
    texts = body.texts()
    check_items(texts, state.settings)
    predictions = await model.scorer.predict(texts)
    state.metrics.scored(name, len(texts))
    if model.bundle.multiclass:
        probas = [None if p.probas is None else list(p.probas) for p in predictions]
    else:
        probas = [p.proba for p in predictions]
    return {"predictions": probas} if body.instances is not None else {"outputs": probas}


@router.post(":explain", response_model=TFExplainResponse, openapi_extra=documented(TFExplainRequest))
async def tf_explain(name: str, body: ExplainBody, state: ServerState) -> dict:
    """Which words made each call (classifier.classify.explain), with :predict's limits; on the model's own
    thread beside its scorer, so scoring requests are not queued behind an explanation."""
    model = state.registry.get(name)
    texts = body.texts()
    check_items(texts, state.settings)
    explanations = await model.explainer.call(model.bundle.explain, ["" if t is None else t for t in texts],
                                              top=body.top)
    state.metrics.scored(name, len(texts))
    out = []
    for e in explanations:
        d = e.to_dict()
        del d["text"]  # the client sent it
        if e.status == "empty":
            d.update(label=None, proba=None, probas=None, logit=None, base=None, residual=None)
        out.append(d)
    return {"explanations": out}


@router.get("", response_model=ModelStatusResponse)
async def tf_status(name: str, state: ServerState) -> dict:
    m = state.registry.find(name)
    status = {"error_code": "UNAVAILABLE", "error_message": m.error} if m.error else {"error_code": "OK",
                                                                                     "error_message": ""}
    return {"model_version_status": [{"version": "1", "state": STATES[m.state], "status": status}]}


@router.get("/metadata")
async def tf_metadata(name: str, state: ServerState) -> dict:
    return {"model_spec": {"name": name, "signature_name": "serving_default", "version": "1"},
            "metadata": describe(state.registry.get(name))}


@router.post("/versions/{version:name}:predict", response_model=TFPredictResponse, response_model_exclude_none=True,
             openapi_extra=documented(TFPredictRequest))
async def tf_predict_version(name: str, version: str, body: Body,
                             state: ServerState):
    version_1(version)
    return await tf_predict(name, body, state)


@router.get("/versions/{version:name}", response_model=ModelStatusResponse)
async def tf_status_version(name: str, version: str, state: ServerState):
    version_1(version)
    return await tf_status(name, state)


@router.get("/versions/{version:name}/metadata")
async def tf_metadata_version(name: str, version: str, state: ServerState):
    version_1(version)
    return await tf_metadata(name, state)


def describe(model: Model) -> dict:
    """What a client needs to trust the numbers: the settings, test figures, threshold and tokenizer hash."""
    b = model.bundle
    if b.multiclass:
        outputs = ("for each text, the probability of each class in `classes` order (6 decimals), as "
                   "`classifier score` writes them; null for an empty text")
    else:
        outputs = "P(recommends) rounded to 6 decimals, as `classifier predict` prints it; null for an empty text"
    return {
        "kind": b.kind,
        "classes": b.classes_.tolist(),
        "engine": b.default_engine(),
        "threshold": b.threshold,
        "tokenizer_sha256": b.tokenizer.sha256,
        "config": b.config.to_dict(),
        "metrics": b.metrics,
        "generator": bool(b.meta.get("generator")),
        "inputs": "review texts (strings; null scores as an empty text)",
        "outputs": outputs,
    }
