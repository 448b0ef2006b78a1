"""Write review text with a bundle's generator, in NumPy (no TensorFlow).

    python -m classifier generate "this dress is" --words 12 --model saved_models/default

    import classifier
    for s in classifier.generate("saved_models/default", "this dress is", words=12, n=3, temperature=0.8, seed=1):
        print(s.text)

The network is classifier.engine.generator.Net, read from the bundle's generator.keras.
The K samples of one call run together: one batched step per generated word.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.bundle import Bundle, load
from classifier.engine.generator import END, SENTIMENTS, Net, start_id
from classifier.errors import UserError

SENTIMENT_BEST_OF = 8  # candidates per sample when sampling for a sentiment, unless told otherwise
# bounds on one call: samples x candidates x vocabulary floats are held at every step
MAX_WORDS = 1000
MAX_SAMPLES = 1000
MAX_BEST_OF = 64
# below this a sample is the arg-max in all but name, and logits / t overflows near 1e-308: say 0 for greedy
MIN_TEMPERATURE = 1e-6


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
                 sentiment: str | None = None) -> list[list[int]]:
    """Up to `words` new ids for each of `n` samples; all samples advance together, one step per word."""
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
    return [out[i, : lengths[i]].tolist() for i in range(n)]


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
        print(f"classifier: warning: prompt words not in the vocabulary, skipped: {listed}", file=sys.stderr)
    return words, [index[w] for w in words if w in index]


def check_options(net: Net, words: int, n: int, temperature: float, top_k: int | None, top_p: float | None,
                  sentiment: str | None, best_of: int = 1, seed: int | None = None) -> None:
    if seed is not None and not 0 <= seed < 2**32:
        raise UserError(f"--seed must be 0 to {2**32 - 1}, got {seed}")
    if not 1 <= words <= MAX_WORDS or not 1 <= n <= MAX_SAMPLES:
        raise UserError(f"--words must be 1 to {MAX_WORDS} and --n 1 to {MAX_SAMPLES} (got {words} and {n})")
    if not math.isfinite(temperature) or temperature < 0 or 0 < temperature < MIN_TEMPERATURE:
        raise UserError(f"--temperature must be 0 (greedy) or a finite number from {MIN_TEMPERATURE:g}, "
                        f"got {temperature}")
    if top_k is not None and top_k < 1:
        raise UserError(f"--top-k must be 1 or more, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise UserError(f"--top-p must be in (0, 1], got {top_p}")
    if sentiment is not None:
        if sentiment not in SENTIMENTS:
            raise UserError(f"--sentiment must be positive or negative, got {sentiment!r}")
        if not net.sentiment_token:
            raise UserError(
                "this generator was trained without sentiment tokens; train the default preset "
                "(`classifier train-generator --preset default`) to use --sentiment"
            )
    if not 1 <= best_of <= MAX_BEST_OF:
        raise UserError(f"--best-of must be 1 to {MAX_BEST_OF}, got {best_of}")
    if best_of > 1 and (sentiment is None or temperature == 0):
        raise UserError("--best-of picks among sampled candidates for a sentiment: give --sentiment and "
                        "--temperature above 0")


def generate(model: str | Path | Bundle, prompt: str, words: int = 10, n: int = 1, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             sentiment: str | None = None, score: bool = False, best_of: int | None = None) -> list[Sample]:
    """`n` continuations of `prompt`; greedy (the same every run) at temperature 0, seeded sampling above.

    With `sentiment` and `best_of` K > 1, K candidates are sampled for each sample (all in the
    same batch) and the one the bundle's classifier puts furthest on the requested side is kept.
    `best_of` None: SENTIMENT_BEST_OF when sampling for a sentiment (the start token alone steers
    weakly, see the README), else 1."""
    if best_of is None:
        best_of = SENTIMENT_BEST_OF if sentiment is not None and temperature > 0 else 1
    bundle = model if isinstance(model, Bundle) else load(model)
    net = bundle.generator()
    check_options(net, words, n, temperature, top_k, top_p, sentiment, best_of, seed)
    cleaned, ids = prompt_ids(bundle, prompt)
    vocab = bundle.tokenizer.words
    head = " ".join(cleaned)
    samples = []
    for new in continue_ids(net, ids, words, n * best_of, temperature, top_k, top_p, seed, sentiment):
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
