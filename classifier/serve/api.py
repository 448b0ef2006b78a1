"""The project's own JSON API: /predict (probability, label and status, as `classifier predict`;
a multi-class bundle's most likely class, its probability and every class's) and /generate
(samples, as `classifier generate --json`).

    curl -d '{"texts": ["Love it", ""]}' http://127.0.0.1:8000/predict
    curl -d '{"prompt": "this dress is", "words": 12}' http://127.0.0.1:8000/generate

With several models loaded, `?model=NAME` picks one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from classifier.classify.predict import check_threshold, refuse_threshold
from classifier.serve.deps import ServerState, check_items, documented, json_body
from classifier.serve.registry import ModelNotFound
from classifier.serve.schemas import GenerateRequest, GenerateResponse, PredictRequest, PredictResponse
from classifier.textgen.generate import check_options, generate, steering_defaults

# words one /generate request may write (n x best_of x words): seconds of one core. The CLI's
# own limits allow hours, fine for a user's own machine,
# not for a request from anyone who can reach the server.
MAX_GENERATED_WORDS = 100_000
# a prompt is read word by word through the network before the first new word: bounded like the
# words written, so that no request holds the generator (one request at a time) for long
MAX_PROMPT_BYTES = 8 * 1024
MAX_PROMPT_WORDS = 1000
router = APIRouter()
PredictBody = Annotated[PredictRequest, Depends(json_body(PredictRequest))]
GenerateBody = Annotated[GenerateRequest, Depends(json_body(GenerateRequest))]


@router.post("/predict", response_model=PredictResponse, openapi_extra=documented(PredictRequest))
async def predict(body: PredictBody, state: ServerState, model: str | None = None) -> dict:
    m = state.registry.get(model)
    check_items(body.texts, state.settings)
    threshold = None if body.threshold is None else check_threshold(body.threshold)
    refuse_threshold(m.bundle, threshold)  # a 400: a multi-class bundle picks the most likely class
    predictions = await m.scorer.predict(body.texts, threshold)
    state.metrics.scored(m.name, len(body.texts))
    if m.bundle.multiclass:
        names = [str(c) for c in m.bundle.classes_.tolist()]
        return {"model": m.name, "results": [
            {"predicted_label": p.label, "predicted_proba": p.proba, "status": p.status,
             "probabilities": None if p.probas is None else dict(zip(names, p.probas, strict=True))}
            for p in predictions]}
    return {"model": m.name, "results": [{"recommend_proba": p.proba, "recommend": p.recommend, "status": p.status}
                                         for p in predictions]}


@router.post("/generate", response_model=GenerateResponse, openapi_extra=documented(GenerateRequest))
async def generate_text(body: GenerateBody, state: ServerState, model: str | None = None) -> dict:
    m = state.registry.get(model)
    if m.generator is None:
        raise ModelNotFound(f"model {m.name!r} has no text generator; this server's models: "
                            f"{state.registry.names()} (train one with `classifier train-generator`)")
    check_prompt(body.prompt)
    options = body.model_dump()
    net = m.bundle.generator()
    _, best_of = steering_defaults(m.bundle, body.sentiment, body.temperature, body.strength, body.best_of)
    # the CLI's checks first (a 400 naming the option), then the server's bound on the work
    check_options(net, body.words, body.n, body.temperature, body.top_k, body.top_p, body.sentiment, best_of,
                  body.seed, body.strength, None if net.context else m.bundle.experts())
    if body.n * best_of * body.words > MAX_GENERATED_WORDS:
        raise HTTPException(413, f"n x best_of x words = {body.n * best_of * body.words:,} words, over the server's "
                                 f"limit of {MAX_GENERATED_WORDS:,} a request; ask for fewer, or use "
                                 f"`classifier generate`")
    samples = await m.generator.call(generate, m.bundle, options.pop("prompt"), score=True, **options)
    return {"model": m.name, "samples": [asdict(s) for s in samples]}


def check_prompt(prompt: str) -> None:
    """413 for a prompt over the server's bounds, before it is split or read by the network."""
    size = len(prompt.encode("utf-8", "surrogatepass"))
    if size > MAX_PROMPT_BYTES:
        raise HTTPException(413, f"the prompt is {size:,} bytes, over the server's limit of {MAX_PROMPT_BYTES:,}; "
                                 f"give its last words only")
    words = len(prompt.split())
    if words > MAX_PROMPT_WORDS:
        raise HTTPException(413, f"the prompt has {words:,} words, over the server's limit of "
                                 f"{MAX_PROMPT_WORDS:,}; give its last words only")
