"""How good the generator is: test-split perplexity, sentiment agreement, and a table against
other generators and a Kneser-Ney trigram on the same split and vocabulary.

    python -m classifier evaluate-generator --model saved_models/default
    python -m classifier evaluate-generator --model out/gen-reference --compare saved_models/default --ngram

Perplexity is exp of the mean negative log-probability of the test split's words from the
third word of each review on: the reference model needs two words of context, so every model
predicts exactly those words. Probabilities are over the vocabulary's words (a whole-review
model's "end of review" is left out and the rest renormalised), and unknown words are dropped
as the tokenizer does.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from classifier.bundle import Bundle, load, update_meta
from classifier.config import AGREEMENT_SAMPLES, GeneratorConfig
from classifier.engine.generator import SENTIMENTS, Net, log_softmax, start_id
from classifier.errors import UserError, slot
from classifier.io.tokenizer import Tokenizer
from classifier.models.ngram import KneserNeyTrigram
from classifier.textgen.data import split_texts, window_pairs
from classifier.textgen.generate import generate

SKIP = 2  # words at the start of each review that no model is scored on (the reference model's context)
AGREEMENT_PROMPTS = ("this dress", "the fabric", "i ordered this", "the fit", "this top")


def perplexity(logprobs: np.ndarray) -> float:
    """exp of the mean negative log-probability (natural log) of the predicted words."""
    return float(math.exp(-float(np.mean(logprobs))))


def word_logprobs(net: Net, seqs, batch_size: int = 256) -> np.ndarray:
    """Log-probability of every word from position SKIP of each sequence, in order, as `net` predicts it."""
    seqs = [np.asarray(s, np.int64) for s in seqs if len(s) > SKIP]
    if not seqs:
        raise UserError(f"no test text has more than {SKIP} known words; perplexity needs longer texts")
    out = []
    if net.context:
        x, y = window_pairs(seqs, net.context)
        keep = np.concatenate([np.arange(net.context, len(s)) >= SKIP for s in seqs])
        x, y = x[keep], y[keep]
        for i in range(0, len(x), 8 * batch_size):
            lp = log_softmax(net.window_logits(x[i : i + 8 * batch_size])[:, 1:])  # words only
            out.append(np.take_along_axis(lp, y[i : i + 8 * batch_size, None] - 1, axis=1)[:, 0])
        return np.concatenate(out)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    found = [None] * len(seqs)
    start = start_id(net.num_words)
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        width = len(seqs[idx[-1]])
        x = np.zeros((len(idx), width), np.int64)
        for r, j in enumerate(idx):
            x[r, : len(seqs[j])] = np.r_[start, seqs[j][:-1]]
        top, _ = net.run(x)
        for r, j in enumerate(idx):
            lp = log_softmax(net.head(top[r, SKIP : len(seqs[j])])[:, 1:])
            found[j] = lp[np.arange(len(lp)), seqs[j][SKIP:] - 1]
    lp = np.concatenate(found)
    if net.ngram is not None:  # the mixture renormalised over the words, as the LSTM's own figure is
        a = net.ngram_weight
        lp = np.log((1 - a) * np.exp(lp) + a * np.exp(net.ngram.word_logprobs(seqs, skip=SKIP)))
    return lp


def heldout_split(bundle: Bundle, data=None):
    """The bundle's test-split texts of the generator's column, and the train texts/labels."""
    gcfg = GeneratorConfig.from_dict(bundle.meta["generator"]["config"]) if "generator" in bundle.meta else None
    column = gcfg.text_column if gcfg else bundle.config.text_column
    return split_texts(resolve_data(bundle, data), bundle.config, column, gcfg and gcfg.max_texts)


def resolve_data(bundle, data=None) -> Path:
    data = bundle.data_path(data)
    if not data.is_file():
        raise UserError(f"{data}: file not found; pass {slot('data')} CSV (the file the bundle was trained on)")
    return data


def heldout_perplexity(net: Net, tokenizer: Tokenizer, test_texts) -> dict:
    lp = word_logprobs(net, tokenizer.encode_many(test_texts))
    return {"perplexity": round(perplexity(lp), 3), "words_scored": int(len(lp))}


def measure_agreement(bundle, samples: int = AGREEMENT_SAMPLES, words: int = 40, temperature: float = 1.0,
                      top_p: float | None = 0.9, seed: int = 42, best_of: int = 1) -> dict:
    """Share of sentiment-conditioned samples the bundle's classifier puts on the requested side
    (with `best_of` > 1, of the samples `generate` keeps after ranking that many candidates each)."""
    result = {"samples_per_side": samples, "words": words, "temperature": temperature, "top_p": top_p,
              "best_of": best_of, "prompts": list(AGREEMENT_PROMPTS), "threshold": bundle.threshold}
    per_prompt = -(-samples // len(AGREEMENT_PROMPTS))
    for k, sentiment in enumerate(SENTIMENTS):
        texts = []
        for j, prompt in enumerate(AGREEMENT_PROMPTS):
            got = generate(bundle, prompt, words, per_prompt, temperature, None, top_p,
                           seed + 100 * k + j, sentiment, best_of=best_of)
            texts += [s.text for s in got]
        p = bundle.recommend_proba(texts[:samples])
        on_side = p >= bundle.threshold if sentiment == "positive" else p < bundle.threshold
        result[sentiment] = round(float(np.mean(on_side)), 4)
    result["overall"] = round((result["positive"] + result["negative"]) / 2, 4)
    return result


def evaluate_generator(model_dir, data=None, agreement: bool = False, record: bool = True, best_of: int = 1,
                       agreement_samples: int = AGREEMENT_SAMPLES) -> dict:
    """Test-split perplexity (and, asked for, sentiment agreement) of a bundle's generator, recorded in it."""
    bundle = load(model_dir)
    net = bundle.generator()
    _, _, test_texts = heldout_split(bundle, data)
    gen = bundle.meta["generator"]
    metrics = {**gen.get("metrics", {}), **heldout_perplexity(net, bundle.tokenizer, test_texts)}
    record_ = {"metrics": metrics}
    if agreement:
        if not net.sentiment_token:
            raise UserError(f"the generator in {model_dir} has no sentiment token; agreement needs the default preset")
        key = "agreement" if best_of == 1 else "agreement_best_of"  # the model's own figure stays on record
        record_[key] = measure_agreement(bundle, agreement_samples, best_of=best_of)
    if record:
        update_meta(Path(model_dir), "generator", **record_)
    key = "agreement" if best_of == 1 else "agreement_best_of"
    measured = record_.get(key, gen.get(key) if best_of == 1 else None)  # this run's, else the one on record
    return {**metrics, **({"agreement": measured} if measured else {})}


def compare(model_dirs, data=None, ngram: bool = True) -> list[dict]:
    """Perplexity of each bundle's generator and of a Kneser-Ney trigram on the same split and vocabulary."""
    bundles = [load(d) for d in model_dirs]
    first = bundles[0]
    for b in bundles[1:]:
        if b.tokenizer.sha256 != first.tokenizer.sha256 or b.config.seed != first.config.seed:
            raise UserError(f"{b.path} and {first.path} have different tokenizers or splits; compare bundles "
                            f"copied from one classifier bundle")
    rows = []
    train_texts, _, test_texts = heldout_split(first, data)
    test_seqs = first.tokenizer.encode_many(test_texts)
    for b in bundles:
        net = b.generator()
        lp = word_logprobs(net, test_seqs)
        gcfg = b.meta["generator"]["config"]
        rows.append({"model": f"{gcfg['preset']} preset ({b.path})", "perplexity": perplexity(lp),
                     "words_scored": len(lp), "parameters": b.meta["generator"].get("metrics", {}).get("parameters")})
    if ngram:
        start = time.perf_counter()
        lm = KneserNeyTrigram.fit(first.tokenizer.encode_many(train_texts), first.tokenizer.config.num_words)
        lp = lm.word_logprobs(test_seqs, skip=SKIP)
        rows.append({"model": f"Kneser-Ney trigram (fit in {time.perf_counter() - start:.1f} s)",
                     "perplexity": perplexity(lp), "words_scored": len(lp), "parameters": None})
    return rows


def format_table(rows: list[dict]) -> str:
    width = max(len(r["model"]) for r in rows)
    lines = [f"{'model':<{width}}  {'perplexity':>10}  {'words':>8}  {'weights':>10}"]
    for r in rows:
        weights = f"{r['parameters']:,}" if r.get("parameters") else "-"
        lines.append(f"{r['model']:<{width}}  {r['perplexity']:>10.2f}  {r['words_scored']:>8,}  {weights:>10}")
    if len(rows) > 1:
        best = min(rows, key=lambda r: r["perplexity"])
        lower = [f"{1 - best['perplexity'] / r['perplexity']:.1%} lower than {r['model']}"
                 for r in rows if r is not best]
        lines.append(f"{best['model']}: {', '.join(lower)}")
    return "\n".join(lines)
