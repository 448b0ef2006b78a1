"""How good the generator is: test-split perplexity, sentiment agreement, and a table against
other generators and a Kneser-Ney trigram on the same split and vocabulary.

    python -m classifier evaluate-generator --model saved_models/default
    python -m classifier evaluate-generator --model out/gen-reference --compare saved_models/default --ngram
    python -m classifier evaluate-generator --model saved_models/default --agreement --judge saved_models/tuned

Perplexity is exp of the mean negative log-probability of the test split's words from the
third word of each review on: the reference model needs two words of context, so every model
predicts exactly those words. Probabilities are over the vocabulary's words (a whole-review
model's "end of review" is left out and the rest renormalised), and unknown words are dropped
as the tokenizer does.

Sentiment agreement is judged by a classifier bundle at its own threshold (`--judge`, else the
generator's own bundle), beside the same judge's figure for real test reviews of each class cut
to the samples' length, since a judge misreads short real reviews too. The steering table gives it
per method (none, the start token, the experts, best-of-K) with distinct-2 and words/s.
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
from classifier.textgen.data import split_labelled, split_texts, window_pairs
from classifier.textgen.generate import SENTIMENT_BEST_OF, generate

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


def sample_side(bundle, sentiment: str | None, samples: int, words: int = 40, temperature: float = 1.0,
                top_p: float | None = 0.9, seed: int = 42, best_of: int = 1, strength: float | None = 0.0):
    """`samples` samples over AGREEMENT_PROMPTS for one side (None: no sentiment asked for), and the
    wall and CPU seconds their generation took."""
    per_prompt = -(-samples // len(AGREEMENT_PROMPTS))
    k = SENTIMENTS.index(sentiment) if sentiment else 2
    got, start, cpu = [], time.perf_counter(), time.process_time()
    for j, prompt in enumerate(AGREEMENT_PROMPTS):
        got += generate(bundle, prompt, words, per_prompt, temperature, None, top_p, seed + 100 * k + j,
                        sentiment, best_of=best_of, strength=strength if sentiment else None)
    return got[:samples], (time.perf_counter() - start, time.process_time() - cpu)


def on_side(judge, texts, sentiment: str) -> float:
    """Share of `texts` the judge bundle puts on `sentiment`'s side of its own threshold."""
    p = judge.recommend_proba(list(texts))
    return round(float(np.mean(p >= judge.threshold if sentiment == "positive" else p < judge.threshold)), 4)


def real_reference(judge, tokenizer: Tokenizer, texts, labels, words: int) -> dict:
    """The judge on real reviews of each class, each cut to its first `words` words as the tokenizer
    cleans them (the form the generator writes in): the agreement a sample of that length can hope for."""
    cut = [" ".join(tokenizer.split(t)[:words]) for t in texts]
    labels = np.asarray(labels)
    return {side: on_side(judge, [c for c, y in zip(cut, labels, strict=True) if y == k], side)
            for k, side in enumerate(SENTIMENTS)}


def distinct_2(texts) -> float:
    """Share of distinct word bigrams among all bigrams of `texts` (1: no bigram repeats)."""
    grams = [g for t in texts for g in zip(t.split(), t.split()[1:], strict=False)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def measure_agreement(bundle, samples: int = AGREEMENT_SAMPLES, words: int = 40, temperature: float = 1.0,
                      top_p: float | None = 0.9, seed: int = 42, best_of: int = 1, judge=None,
                      strength: float | None = 0.0) -> dict:
    """Share of sentiment-conditioned samples the bundle's classifier puts on the requested side
    (with `best_of` > 1, of the samples `generate` keeps after ranking that many candidates each;
    `strength` None: the experts at their recorded strength, 0: the start token alone), and,
    given a `judge` bundle, the share it puts there at its own threshold."""
    result = {"samples_per_side": samples, "words": words, "temperature": temperature, "top_p": top_p,
              "best_of": best_of, "prompts": list(AGREEMENT_PROMPTS), "threshold": bundle.threshold}
    if strength != 0.0:
        result["strength"] = strength
    judged = {}
    for sentiment in SENTIMENTS:
        got, _ = sample_side(bundle, sentiment, samples, words, temperature, top_p, seed, best_of, strength)
        texts = [s.text for s in got]
        result[sentiment] = on_side(bundle, texts, sentiment)
        if judge is not None:
            judged[sentiment] = on_side(judge, texts, sentiment)
    result["overall"] = round((result["positive"] + result["negative"]) / 2, 4)
    if judge is not None:
        result["judge"] = {"path": str(judge.path), "threshold": judge.threshold, **judged}
    return result


def steering_table(bundle, judge=None, data=None, samples: int = AGREEMENT_SAMPLES, words: int = 40,
                   best_of: int = SENTIMENT_BEST_OF, temperature: float = 1.0, top_p: float | None = 0.9,
                   seed: int = 42) -> dict:
    """Per method (none, the start token, the experts when the bundle has them, best-of-K): the
    share of samples the judge (default: the bundle's own classifier) puts on each requested side,
    the bundle's own classifier's share, distinct-2 of the continuations and words/s; with the
    judge's figure for real test reviews cut to `words` words."""
    judge = judge or bundle
    _, _, test_texts, test_labels = split_labelled(resolve_data(bundle, data), bundle.config,
                                                   bundle.config.text_column)
    methods = [("none", None, 1), ("control token", 0.0, 1)]
    if bundle.experts() is not None:
        methods.append(("experts", None, 1))
    methods.append((f"best-of-{best_of}", 0.0, best_of))
    rows = []
    for name, strength, k in methods:
        row, conts, n_words, seconds = {"method": name}, [], 0, np.zeros(2)
        for sentiment in SENTIMENTS:
            got, took = sample_side(bundle, sentiment if name != "none" else None, samples, words, temperature,
                                    top_p, seed + 1000 * SENTIMENTS.index(sentiment), k, strength)
            texts = [s.text for s in got]
            row[sentiment] = on_side(judge, texts, sentiment)
            row[f"own_{sentiment}"] = on_side(bundle, texts, sentiment)
            conts += [s.continuation for s in got]
            n_words, seconds = n_words + sum(s.words for s in got), seconds + took
        if name == "experts":
            row["strength"] = float(bundle.meta["generator"]["experts"]["strength"])
        row["distinct_2"] = distinct_2(conts)
        row["words_per_second"], row["words_per_cpu_second"] = (round(n_words / s, 1) for s in seconds)
        rows.append(row)
    return {"judge": str(judge.path), "threshold": judge.threshold, "samples_per_side": samples, "words": words,
            "temperature": temperature, "top_p": top_p,
            "real": real_reference(judge, bundle.tokenizer, test_texts, test_labels, words), "methods": rows}


def format_steering(table: dict) -> str:
    """The steering table as `evaluate-generator --agreement` prints it."""
    real = table["real"]
    lines = [f"judge: {table['judge']} at its threshold {table['threshold']:g}; {table['samples_per_side']} samples "
             f"a side of up to {table['words']} words (temperature {table['temperature']:g}, top-p {table['top_p']})",
             f"real test reviews cut to {table['words']} words, judged on their side: negative {real['negative']:.1%}, "
             f"positive {real['positive']:.1%}",
             f"{'method':<18}{'negative (real)':>18}{'positive (real)':>18}{'own clf neg/pos':>17}"
             f"{'distinct-2':>12}{'words/s':>10}{'words/CPU s':>13}"]
    for r in table["methods"]:
        name = r["method"] + (f" x{r['strength']:g}" if "strength" in r else "")
        lines.append(f"{name:<18}{r['negative']:>8.1%} ({real['negative']:.1%}){r['positive']:>8.1%} "
                     f"({real['positive']:.1%}){r['own_negative']:>8.1%}/{r['own_positive']:.1%}"
                     f"{r['distinct_2']:>12.3f}{r['words_per_second']:>10,.0f}{r['words_per_cpu_second']:>13,.0f}")
    for r in table["methods"]:
        if r["method"] != "none":
            lines.append(f"{r['method']}: generated negative judged negative {r['negative']:.1%} (real negative "
                         f"reviews of this length: {real['negative']:.1%}); generated positive judged positive "
                         f"{r['positive']:.1%} (real positive reviews of this length: {real['positive']:.1%})")
    return "\n".join(lines)


def evaluate_generator(model_dir, data=None, agreement: bool = False, record: bool = True, best_of: int = 1,
                       agreement_samples: int = AGREEMENT_SAMPLES, judge=None) -> dict:
    """Test-split perplexity (and, asked for, sentiment agreement and the steering table, judged by
    the `judge` bundle or folder, default the bundle's own classifier) of a bundle's generator,
    recorded in it."""
    bundle = load(model_dir)
    net = bundle.generator()
    _, _, test_texts = heldout_split(bundle, data)
    gen = bundle.meta["generator"]
    metrics = {**gen.get("metrics", {}), **heldout_perplexity(net, bundle.tokenizer, test_texts)}
    record_ = {"metrics": metrics}
    if agreement:
        if not net.sentiment_token:
            raise UserError(f"the generator in {model_dir} has no sentiment token; agreement needs the default preset")
        judge = load_judge(judge)
        key = "agreement" if best_of == 1 else "agreement_best_of"  # the model's own figure stays on record
        record_[key] = measure_agreement(bundle, agreement_samples, best_of=best_of, judge=judge)
        record_["steering"] = steering_table(bundle, judge, data, agreement_samples,
                                             best_of=best_of if best_of > 1 else SENTIMENT_BEST_OF)
    if record:
        update_meta(Path(model_dir), "generator", **record_)
    key = "agreement" if best_of == 1 else "agreement_best_of"
    measured = record_.get(key, gen.get(key) if best_of == 1 else None)  # this run's, else the one on record
    steering = {"steering": record_["steering"]} if "steering" in record_ else {}
    return {**metrics, **({"agreement": measured} if measured else {}), **steering}


def load_judge(judge):
    """A binary classifier bundle (or None) to judge samples with."""
    if judge is None or isinstance(judge, Bundle):
        return judge
    bundle = load(judge)
    if bundle.multiclass:
        raise UserError(f"{{field}} {judge} is a multi-class bundle; the judge must give P(recommends)",
                        field="judge", value=str(judge))
    return bundle


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
