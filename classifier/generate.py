"""Write review text with a bundle's generator, in NumPy (no TensorFlow).

    python -m classifier generate "this dress is" --words 12 --model saved_models/default

    from classifier.generate import generate
    for s in generate("saved_models/default", "this dress is", words=12, n=3, temperature=0.8, seed=1):
        print(s.text)

The weights are read straight from the bundle's `generator.keras` (its HDF5
member, with h5py: no TensorFlow, and no second copy on disk); the
forward pass here (embedding, stacked LSTMs via lstm_numpy.lstm_step, dense
head) gives the same logits as the Keras model. The K samples of one call run
together: one batched step per generated word.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.artifacts import Bundle, keras_layer_path, load, read_keras_file
from classifier.errors import UserError
from classifier.lstm_numpy import lstm_step

GENERATOR_KERAS = "generator.keras"
GENERATOR_NGRAM = "generator_ngram.npz"  # the trigram counts the default preset mixes in
GENERATOR_WEIGHTS = "generator.npz"  # older bundles' copy of the weights; dropped when a generator is retrained
SENTIMENTS = ("negative", "positive")
SENTIMENT_BEST_OF = 8  # candidates per sample when sampling for a sentiment, unless told otherwise
END = 0  # whole-review models predict id 0 (the padding id, never a word) for "end of review"


def start_id(num_words: int, sentiment: str | None = None) -> int:
    """Input ids after the vocabulary: neutral start, then one start token per sentiment."""
    return num_words + (0 if sentiment is None else 1 + SENTIMENTS.index(sentiment))


class Net:
    """The generator's forward pass in NumPy (float32), from its Keras weights."""

    def __init__(self, arrays: dict[str, np.ndarray], spec: dict, ngram=None):
        self.spec = spec
        self.context = int(spec["context"])  # 0: whole-review model with carried state
        self.num_words = int(spec["num_words"])
        self.sentiment_token = bool(spec.get("sentiment_token", False))
        self.embedding = arrays["embedding"]
        self.lstms = [
            (arrays[f"lstm{i}_kernel"], arrays[f"lstm{i}_recurrent"], arrays[f"lstm{i}_bias"])
            for i in range(int(spec["lstm_layers"]))
        ]
        self.dense = [
            (arrays[f"dense{i}_kernel"], arrays[f"dense{i}_bias"], act)
            for i, act in enumerate(spec["dense_activations"])
        ]
        self.ngram = ngram  # a KneserNeyTrigram mixed in with weight spec["ngram_weight"], or None
        self.ngram_weight = float(spec.get("ngram_weight", 0.0)) if ngram is not None else 0.0

    @classmethod
    def from_keras(cls, path: Path, spec: dict, ngram=None) -> Net:
        """The arrays of generator.keras, read without TensorFlow."""
        _, w = read_keras_file(path)
        try:
            arrays = {"embedding": w[f"{keras_layer_path('embedding')}/vars/0"]}
            for i in range(int(spec["lstm_layers"])):
                for j, part in enumerate(("kernel", "recurrent", "bias")):
                    arrays[f"lstm{i}_{part}"] = w[f"{keras_layer_path('lstm', i)}/cell/vars/{j}"]
            for i in range(len(spec["dense_activations"])):
                arrays[f"dense{i}_kernel"] = w[f"{keras_layer_path('dense', i)}/vars/0"]
                arrays[f"dense{i}_bias"] = w[f"{keras_layer_path('dense', i)}/vars/1"]
        except KeyError as e:
            raise UserError(f"{path} lacks the weights {e} its recorded settings need; retrain the generator") from None
        return cls(arrays, spec, ngram)

    def zero_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.zeros((batch, r.shape[0]), np.float32),) * 2 for _, r, _ in self.lstms]

    def run(self, ids: np.ndarray, state=None):
        """Top LSTM outputs (B, T, units) for ids (B, T), and the state after the last step."""
        x = self.embedding[ids]
        state = state or self.zero_state(len(ids))
        new_state = []
        for (kernel, recurrent, bias), (h, c) in zip(self.lstms, state, strict=True):
            xz = x @ kernel + bias  # the input half of every step at once
            out = np.empty(ids.shape + (recurrent.shape[0],), np.float32)
            for t in range(ids.shape[1]):
                h, c = lstm_step(xz[:, t], h, c, recurrent)
                out[:, t] = h
            x = out
            new_state.append((h, c))
        return x, new_state

    def head(self, h: np.ndarray) -> np.ndarray:
        """Logits over the output ids (0 = end of review, 1.. = words)."""
        for kernel, bias, act in self.dense:
            h = h @ kernel + bias
            if act == "relu":
                h = np.maximum(h, 0)
        return h

    def next_logprobs(self, logits: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Log-probabilities over the output ids after the words u, v (0 = none yet); with an n-gram
        partner, (1 - a) P_lstm(w) + a (1 - P_lstm(end)) P_ngram(w | u, v), end keeping its probability."""
        lp = log_softmax(logits)
        if self.ngram is None:
            return lp
        p = np.exp(lp)
        a = self.ngram_weight
        p[:, 1:] = (1 - a) * p[:, 1:] + a * (1 - p[:, :1]) * self.ngram.next_probs(u, v)
        with np.errstate(divide="ignore"):
            return np.log(p)

    def window_logits(self, contexts: np.ndarray) -> np.ndarray:
        """Window models: logits for the word after each row of `context` ids."""
        top, _ = self.run(contexts)
        return self.head(top[:, -1])


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


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


def load_generator(bundle: Bundle) -> Net:
    meta = bundle.meta.get("generator")
    if not meta:
        raise UserError(
            f"{bundle.path} has no generator; train one with `classifier train-generator --model {bundle.path}`"
        )
    if meta.get("tokenizer_sha256") != bundle.tokenizer.sha256:
        raise UserError(
            f"the generator in {bundle.path} was trained with another tokenizer (hash "
            f"{str(meta.get('tokenizer_sha256'))[:12]}, bundle's tokenizer.json {bundle.tokenizer.sha256[:12]}); "
            f"retrain it with `classifier train-generator --model {bundle.path}`"
        )
    if GENERATOR_KERAS not in bundle.meta.get("files", {}):
        raise UserError(f"{bundle.path / GENERATOR_KERAS} is not recorded in the bundle; retrain the generator")
    ngram = None
    if meta["spec"].get("ngram_weight"):
        from classifier.ngram import KneserNeyTrigram

        if GENERATOR_NGRAM not in bundle.meta.get("files", {}):
            raise UserError(f"{bundle.path / GENERATOR_NGRAM} is not recorded in the bundle; retrain the generator")
        try:
            ngram = KneserNeyTrigram.load(bundle.path / GENERATOR_NGRAM)
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"{bundle.path / GENERATOR_NGRAM} is not an n-gram file of this tool ({e}); "
                            f"retrain the generator") from None
    return Net.from_keras(bundle.path / GENERATOR_KERAS, meta["spec"], ngram)


def prompt_ids(bundle: Bundle, prompt: str, warn=None) -> tuple[list[str], list[int]]:
    """The cleaned prompt words and the ids of the known ones; unknown words are named in a warning."""
    words = bundle.tokenizer.split(prompt)
    index = bundle.tokenizer.word_index
    unknown = [w for w in words if w not in index]
    if not words or len(unknown) == len(words):
        listed = ", ".join(repr(w) for w in words) or "none"
        raise UserError(
            f"no word of the prompt {prompt!r} is in the model's vocabulary (words: {listed}); "
            f"start with common review words, e.g. 'this dress is'"
        )
    if unknown:
        (warn or _stderr)(
            f"classifier: warning: prompt words not in the vocabulary, skipped: {', '.join(map(repr, unknown))}"
        )
    return words, [index[w] for w in words if w in index]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def check_options(net: Net, words: int, n: int, temperature: float, top_k: int | None, top_p: float | None,
                  sentiment: str | None, best_of: int = 1) -> None:
    if words < 1 or n < 1:
        raise UserError(f"--words and --n must be 1 or more (got {words} and {n})")
    if temperature < 0:
        raise UserError(f"--temperature must be 0 (greedy) or more, got {temperature}")
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
    if best_of < 1:
        raise UserError(f"--best-of must be 1 or more, got {best_of}")
    if best_of > 1 and (sentiment is None or temperature == 0):
        raise UserError("--best-of picks among sampled candidates for a sentiment: give --sentiment and "
                        "--temperature above 0")


def generate(model: str | Path | Bundle, prompt: str, words: int = 10, n: int = 1, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             sentiment: str | None = None, score: bool = False, warn=None, best_of: int | None = None) -> list[Sample]:
    """`n` continuations of `prompt`; greedy (the same every run) at temperature 0, seeded sampling above.

    With `sentiment` and `best_of` K > 1, K candidates are sampled for each sample (all in the
    same batch) and the one the bundle's classifier puts furthest on the requested side is kept.
    `best_of` None: SENTIMENT_BEST_OF when sampling for a sentiment (the start token alone steers
    weakly, see the README), else 1."""
    if best_of is None:
        best_of = SENTIMENT_BEST_OF if sentiment is not None and temperature > 0 else 1
    bundle = model if isinstance(model, Bundle) else load(model)
    net = load_generator(bundle)
    check_options(net, words, n, temperature, top_k, top_p, sentiment, best_of)
    cleaned, ids = prompt_ids(bundle, prompt, warn)
    vocab = bundle.tokenizer.words
    head = " ".join(cleaned)
    samples = []
    for new in continue_ids(net, ids, words, n * best_of, temperature, top_k, top_p, seed, sentiment):
        cont = " ".join(vocab[i - 1] for i in new)
        samples.append(Sample(head, f"{head} {cont}".strip(), cont, len(new), sentiment))
    if score or best_of > 1:
        p = bundle.predict_proba([s.text for s in samples])
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
