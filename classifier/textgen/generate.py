"""Write review text with a bundle's generator, in NumPy (no TensorFlow).

    python -m classifier generate "this dress is" --words 12 --model saved_models/default

    import classifier
    samples = classifier.generate("saved_models/default", "this dress is", words=12, n=3, temperature=0.8, seed=1)
    [s.text for s in samples]

The network is classifier.engine.generator.Net, read from the bundle's generator.keras.
The K samples of one call run together: one batched step per generated word.

Asked for a sentiment, a bundle with steering experts (`train-generator --experts`) decodes
DExperts-style: next-word logits = base + strength x (expert - anti-expert), the expert a small
LSTM of the requested class's reviews, the anti-expert one of the other class's. Without experts,
K candidates a sample are ranked by the bundle's classifier instead (best-of-K).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.bundle import Bundle, load
from classifier.engine.generator import END, SENTIMENTS, Net, start_id
from classifier.errors import UserError
from classifier.limits import LIMITS, check

log = logging.getLogger(__name__)

SENTIMENT_BEST_OF = 8  # candidates per sample when sampling for a sentiment, unless told otherwise
# bounds on one call: samples x candidates x vocabulary floats are held at every step
MAX_WORDS = LIMITS["words"].high
MAX_SAMPLES = LIMITS["n"].high
MAX_BEST_OF = LIMITS["best_of"].high
MIN_TEMPERATURE = LIMITS["temperature"].gap_below
MAX_STRENGTH = LIMITS["strength"].high  # beyond this the experts alone write the text


def pick(logits: np.ndarray, temperature: float, top_k: int | None, top_p: float | None,
         rng: np.random.Generator) -> np.ndarray:
    """One id per row: arg-max at temperature 0, else a sample from the tempered, truncated softmax."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature
    if top_k and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, axis=1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=1)
        # keep the most likely words until their mass reaches top_p (always at least one)
        drop = np.cumsum(sorted_p, axis=1) - sorted_p >= top_p
        sorted_p[drop] = 0
        p = np.zeros_like(p)
        np.put_along_axis(p, order, sorted_p, axis=1)
        p /= p.sum(axis=1, keepdims=True)
    u = rng.random((len(p), 1))
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def continue_ids(net: Net, prompt_ids: list[int], words: int, n: int = 1, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 sentiment: str | None = None, experts: dict | None = None,
                 strength: float = 0.0) -> list[list[int]]:
    """Up to `words` new ids for each of `n` samples; all samples advance together, one step per word.
    With `experts` (sentiment -> Net) and a `strength`, the requested side's expert and the other's
    anti-expert shift each step's logits by strength x (expert - anti-expert)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, words), np.int64)
    alive = np.ones(n, bool)
    lengths = np.full(n, words)
    if net.context:
        ctx = np.zeros((n, net.context), np.int64)  # front-padded with 0 when the prompt is shorter
        tail = prompt_ids[-net.context :]
        ctx[:, net.context - len(tail) :] = tail
    else:
        ids = np.array([[start_id(net.num_words, sentiment), *prompt_ids]] * n, np.int64)
        top, state = net.run(ids)
        u, v = (np.full(n, w, np.int64) for w in [0, 0, *prompt_ids][-2:])  # the n-gram's context
        logits = net.next_logprobs(net.head(top[:, -1]), u, v)
        steer = Steering(experts, sentiment, strength, prompt_ids, n) if experts and strength else None
        if steer:
            logits = steer.shift(logits)
    for t in range(words):
        if net.context:
            logits = net.window_logits(ctx)
            logits[:, END] = -np.inf  # window models have no end of review
        nxt = pick(logits, temperature, top_k, top_p, rng)
        ended = alive & (nxt == END)
        lengths[ended] = t
        alive &= ~ended
        if not alive.any():
            break
        out[:, t] = nxt
        if net.context:
            ctx = np.concatenate([ctx[:, 1:], nxt[:, None]], axis=1)
        elif t + 1 < words:
            top, state = net.run(nxt[:, None], state)
            u, v = v, nxt
            logits = net.next_logprobs(net.head(top[:, -1]), u, v)
            if steer:
                logits = steer.shift(logits, nxt)
    return [out[i, : lengths[i]].tolist() for i in range(n)]


class Steering:
    """The expert and anti-expert of one requested sentiment, run beside the base generator."""

    def __init__(self, experts: dict, sentiment: str, strength: float, prompt_ids: list[int], n: int):
        other = SENTIMENTS[1 - SENTIMENTS.index(sentiment)]
        self.nets = (experts[sentiment], experts[other])
        self.strength = strength
        self.ids = np.array([[start_id(self.nets[0].num_words), *prompt_ids]] * n, np.int64)
        self.states = [None, None]

    def shift(self, logits: np.ndarray, nxt: np.ndarray | None = None) -> np.ndarray:
        """`logits` plus strength x (expert - anti-expert) after the prompt, or after the word `nxt`."""
        ids = self.ids if nxt is None else nxt[:, None]
        heads = []
        for k, net in enumerate(self.nets):
            top, self.states[k] = net.run(ids, self.states[k])
            heads.append(net.head(top[:, -1]))
        return logits + self.strength * (heads[0] - heads[1])


@dataclass
class Sample:
    prompt: str  # the prompt as the tokenizer cleans it
    text: str  # prompt and continuation
    continuation: str
    words: int  # words generated (fewer than asked when the model ended the review)
    sentiment: str | None = None
    score: float | None = None  # the bundle classifier's probability of "recommends"


def prompt_ids(bundle: Bundle, prompt: str) -> tuple[list[str], list[int]]:
    """The cleaned prompt words and the ids of the known ones; unknown words are named in a warning."""
    words = bundle.tokenizer.split(prompt)
    index = bundle.tokenizer.word_index
    unknown = [w for w in words if w not in index]
    if not words or len(unknown) == len(words):
        listed = ", ".join(repr(w) for w in words[:10]) + (", ..." if len(words) > 10 else "") or "none"
        shown = prompt if len(prompt) <= 80 else prompt[:77] + "..."
        raise UserError(
            f"no word of the prompt {shown!r} is in the model's vocabulary (words: {listed}); "
            f"start with common review words, e.g. 'this dress is'"
        )
    if unknown:
        listed = ", ".join(map(repr, unknown[:10])) + (f", ... ({len(unknown)} in all)" if len(unknown) > 10 else "")
        log.warning(f"classifier: warning: prompt words not in the vocabulary, skipped: {listed}")
    return words, [index[w] for w in words if w in index]


def check_options(net: Net, words: int, n: int, temperature: float, top_k: int | None, top_p: float | None,
                  sentiment: str | None, best_of: int = 1, seed: int | None = None, strength: float | None = None,
                  experts: dict | None = None) -> None:
    if seed is not None:
        check("seed", seed)
    check("words", words)
    check("n", n)
    check("temperature", temperature)
    if top_k is not None:
        check("top_k", top_k)
    if top_p is not None:
        check("top_p", top_p)
    if sentiment is not None:
        if sentiment not in SENTIMENTS:
            raise UserError(f"{{field}} must be positive or negative, got {sentiment!r}", field="sentiment",
                            value=sentiment, allowed=SENTIMENTS)
        if not net.sentiment_token:
            raise UserError(
                "this generator was trained without the sentiment tokens {field} needs; retrain it with the "
                "default generator preset", field="sentiment"
            )
    if strength is not None:
        check("strength", strength)
        if sentiment is None:
            raise UserError("{field} steers toward a sentiment: give a sentiment too", field="strength",
                            value=strength)
        if experts is None and strength > 0:
            raise UserError("this bundle's generator has no steering experts for {field}; add them "
                            "(`classifier train-generator`, experts only), or leave the strength out",
                            field="strength", value=strength)
    check("best_of", best_of)
    if best_of > 1 and (sentiment is None or temperature == 0):
        raise UserError("{field} picks among sampled candidates for a sentiment: give a sentiment and a "
                        "temperature above 0", field="best_of", value=best_of)


def steering_defaults(bundle: Bundle, sentiment: str | None, temperature: float, strength: float | None,
                      best_of: int | None) -> tuple[float | None, int]:
    """(strength, best_of) when not given: a bundle with experts steers at its recorded strength and
    ranks nothing; one without, sampling for a sentiment with no strength given, ranks
    SENTIMENT_BEST_OF candidates a sample."""
    experts = bundle.meta.get("generator", {}).get("experts")
    if best_of is None:
        rank = sentiment is not None and temperature > 0 and strength is None and experts is None
        best_of = SENTIMENT_BEST_OF if rank else 1
    if strength is None and sentiment is not None and experts is not None:
        strength = float(experts["strength"])
    return strength, best_of


def generate(model: str | Path | Bundle, prompt: str, words: int = 10, n: int = 1, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             sentiment: str | None = None, score: bool = False, best_of: int | None = None,
             strength: float | None = None) -> list[Sample]:
    """`n` continuations of `prompt`; greedy (the same every run) at temperature 0, seeded sampling above.

    With `sentiment`, a bundle with steering experts shifts every step's logits toward it by
    `strength` (None: the strength chosen on the validation split, recorded in the bundle; 0: the
    sentiment start token alone). With `best_of` K > 1, K candidates are sampled for each sample
    (all in the same batch) and the one the bundle's classifier puts furthest on the requested
    side is kept. `best_of` None: 1 when the experts steer; else SENTIMENT_BEST_OF when sampling
    for a sentiment (the start token alone steers weakly, see docs/generator.md), else 1."""
    bundle = model if isinstance(model, Bundle) else load(model)
    net = bundle.generator()
    experts = bundle.experts() if not net.context else None
    strength, best_of = steering_defaults(bundle, sentiment, temperature, strength, best_of)
    check_options(net, words, n, temperature, top_k, top_p, sentiment, best_of, seed, strength, experts)
    cleaned, ids = prompt_ids(bundle, prompt)
    vocab = bundle.tokenizer.words
    head = " ".join(cleaned)
    samples = []
    for new in continue_ids(net, ids, words, n * best_of, temperature, top_k, top_p, seed, sentiment,
                            experts, strength or 0.0):
        cont = " ".join(vocab[i - 1] for i in new)
        samples.append(Sample(head, f"{head} {cont}".strip(), cont, len(new), sentiment))
    if (score and not bundle.multiclass) or best_of > 1:  # a multi-class bundle has no P(recommends) to give
        p = bundle.recommend_proba([s.text for s in samples])
        for s, p_one in zip(samples, p, strict=True):
            s.score = round(float(p_one), 4)
        if best_of > 1:
            groups = p.reshape(n, best_of)
            chosen = groups.argmax(axis=1) if sentiment == "positive" else groups.argmin(axis=1)
            samples = [samples[i * best_of + k] for i, k in enumerate(chosen)]
    return samples


def format_samples(samples: list[Sample], fmt: str = "text") -> str:
    """text: one sample a line; jsonl: one JSON object a line with the classifier's score."""
    if fmt == "jsonl":
        return "\n".join(json.dumps({"sample": i, **asdict(s)}, ensure_ascii=False) for i, s in enumerate(samples))
    return "\n".join(s.text for s in samples)
