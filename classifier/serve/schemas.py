"""Request and response bodies, declared once: FastAPI validates requests against them (a bad one is a 400).

    TFPredictRequest.model_validate({"instances": ["love it"]}).texts()     # ["love it"]

Strict: a number is not a text and "3" is not a number; unknown fields are refused, so a typo
("text" for "texts") is an error instead of silently doing nothing. A text may be null, which
scores as an empty text does (probability null, status "empty").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from classifier.limits import LIMITS

Texts = list[str | None]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TFPredictRequest(Body):
    """TF Serving's REST predict body: the row format `instances` or the columnar `inputs`."""

    instances: Texts | None = None
    inputs: Texts | None = None
    signature_name: Literal["serving_default"] | None = None

    @model_validator(mode="after")
    def one_format(self):
        if (self.instances is None) == (self.inputs is None):
            raise ValueError('give exactly one of "instances" and "inputs", a list of review texts')
        return self

    def texts(self) -> Texts:
        return self.instances if self.instances is not None else self.inputs


class TFExplainRequest(TFPredictRequest):
    """:explain takes :predict's body, and how many words to name each way."""

    top: int = Field(5, ge=0, le=100, description="words named each way (top_for, top_against)")


class WordContribution(BaseModel):
    word: str
    position: int
    start: int  # the word's span in the text, in characters (text[start:end])
    end: int
    contribution: float  # to the logit of the predicted class
    contributions: list[float] | None = None  # multi-class: to each class's score, the bundle's order


class ExplanationResult(BaseModel):
    """classifier.classify.explain.Explanation: base + sum(contributions) + residual == logit."""

    label: int | str | None
    proba: float | None
    probas: list[float] | None  # every class's, the bundle's order (binary: P(not), P(recommends))
    logit: float | None
    base: float | None
    residual: float | None
    status: Literal["ok", "truncated", "no_known_words", "empty"]
    method: str
    words: list[WordContribution]
    top_for: list[int]  # word positions, strongest first
    top_against: list[int]
    order: list[int]
    classes: list[int | str] | None = None
    logits: list[float] | None = None
    bases: list[float] | None = None


class TFExplainResponse(BaseModel):
    explanations: list[ExplanationResult]


class TFPredictResponse(BaseModel):
    """`predictions` answers `instances`, `outputs` answers `inputs`, as TF Serving does: a number per
    text (P(recommends)), or for a multi-class bundle a list of its classes' probabilities."""

    predictions: list[float | list[float] | None] | None = None
    outputs: list[float | list[float] | None] | None = None


class PredictRequest(Body):
    texts: Texts
    threshold: float | None = Field(None, ge=LIMITS["threshold"].low, le=LIMITS["threshold"].high,
                                    description="default: the bundle's, else 0.5")


class Result(BaseModel):
    recommend_proba: float | None
    recommend: int | None
    status: Literal["ok", "truncated", "no_known_words", "empty"]


class ClassResult(BaseModel):
    """A multi-class bundle's answer: the most likely class, its probability and every class's."""

    predicted_label: int | str | None
    predicted_proba: float | None
    probabilities: dict[str, float] | None  # class (as text) -> probability, in the bundle's order
    status: Literal["ok", "truncated", "no_known_words", "empty"]


class PredictResponse(BaseModel):
    model: str
    results: list[Result] | list[ClassResult]


class GenerateRequest(Body):
    """The options of `classifier generate`, checked by the same code (so the same limits)."""

    prompt: str
    words: int = 10
    n: int = 1
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    sentiment: Literal["positive", "negative"] | None = None
    best_of: int | None = None
    strength: float | None = None


class Sample(BaseModel):
    prompt: str
    text: str
    continuation: str
    words: int
    sentiment: str | None
    score: float | None


class GenerateResponse(BaseModel):
    model: str
    samples: list[Sample]


class ModelVersionStatus(BaseModel):
    version: str = "1"
    state: Literal["AVAILABLE", "LOADING", "UNAVAILABLE"]
    status: dict[str, str]


class ModelStatusResponse(BaseModel):
    """TF Serving's GET /v1/models/NAME answer."""

    model_version_status: list[ModelVersionStatus]
