"""Interpolated Kneser-Ney trigram over the tokenizer's ids: the generators' baseline.

    lm = KneserNeyTrigram.fit(tokenizer.encode_many(train_texts), num_words=3000)
    lp = lm.word_logprobs(tokenizer.encode_many(test_texts), skip=2)   # natural logs

Counts live in sorted NumPy arrays (searchsorted lookups), so a million
training words fit in seconds; nltk.lm takes minutes on that. Each text is
preceded by two boundary ids (0, never a word). Probabilities are over the
words 1..num_words-1 and sum to 1 for every context; the unigram level is
interpolated with the uniform distribution so no word gets 0. Discounts are
D = n1 / (n1 + 2 n2) per order (Ney et al.), from the counts of that order.
"""

from __future__ import annotations

import numpy as np

BOUNDARY = 0


def _discount(counts: np.ndarray) -> float:
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 else 0.5


def _group(keys: np.ndarray, counts: np.ndarray, size: int):
    """Per prefix (key // size): the sorted prefixes, their total count and their number of types."""
    prefix = keys // size
    uniq, first = np.unique(prefix, return_index=True)
    return uniq, np.add.reduceat(counts, first), np.diff(np.r_[first, len(keys)])


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(query), values.dtype)
    i = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == query, values[i], 0)


class KneserNeyTrigram:
    def __init__(self, num_words: int):
        self.size = num_words  # ids 0..num_words-1; 0 is the boundary

    @classmethod
    def fit(cls, seqs, num_words: int, discount: float | None = None) -> KneserNeyTrigram:
        """Count the trigrams of `seqs`; `discount` fixes D for every order (else estimated)."""
        S = np.int64(num_words)
        u, v, w = cls(num_words)._triples(seqs)
        return cls.from_counts(*np.unique((u * S + v) * S + w, return_counts=True), num_words, discount)

    @classmethod
    def from_counts(cls, k3: np.ndarray, c3: np.ndarray, num_words: int,
                    discount: float | None = None) -> KneserNeyTrigram:
        """From the sorted trigram keys ((u * V + v) * V + w) and their counts: all the rest derives from them."""
        lm = cls(num_words)
        S = np.int64(num_words)
        lm.k3, lm.c3 = np.asarray(k3, np.int64), np.asarray(c3, np.int64)
        lm.ctx3, lm.total3, lm.types3 = _group(lm.k3, lm.c3, S)
        # continuation counts: N(. v w) = distinct words before the bigram (v, w)
        lm.k2, lm.n2 = np.unique(lm.k3 % (S * S), return_counts=True)
        lm.ctx2, lm.total2, lm.types2 = _group(lm.k2, lm.n2, S)
        # N(. w) = distinct words before w
        lm.n1 = np.bincount(lm.k2 % S, minlength=num_words).astype(np.int64)
        lm.n1[BOUNDARY] = 0
        lm.d3, lm.d2, lm.d1 = _discount(lm.c3), _discount(lm.n2), _discount(lm.n1[lm.n1 > 0])
        if discount is not None:
            lm.d3 = lm.d2 = lm.d1 = discount
        return lm

    def save(self, path) -> None:
        """The trigram counts only (sorted keys stored as gaps, compressed: about 1 MB for a million words)."""
        np.savez_compressed(path, num_words=np.int64(self.size), key_gaps=np.diff(self.k3, prepend=0).astype(np.uint64),
                            counts=self.c3.astype(np.uint32))

    @classmethod
    def load(cls, path) -> KneserNeyTrigram:
        with np.load(path, allow_pickle=False) as z:
            return cls.from_counts(np.cumsum(z["key_gaps"]).astype(np.int64), z["counts"], int(z["num_words"]))

    def next_probs(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """P(w | u, v) for every word w = 1..num_words-1 (columns), one row per context: a context's
        seen continuations are one contiguous run of the sorted keys, so a row costs two lookups."""
        S = np.int64(self.size)
        total1, types1 = self.n1.sum(), (self.n1 > 0).sum()
        unigram = np.maximum(self.n1 - self.d1, 0) / total1 + self.d1 * types1 / total1 / (self.size - 1)
        out = np.empty((len(u), self.size - 1))
        for r, (a, b) in enumerate(zip(np.asarray(u, np.int64), np.asarray(v, np.int64), strict=True)):
            p = self._level(unigram, self.k2, self.n2, self.ctx2, self.total2, self.types2, b, self.d2)
            out[r] = self._level(p, self.k3, self.c3, self.ctx3, self.total3, self.types3, a * S + b, self.d3)[1:]
        return out

    def _level(self, lower, keys, counts, ctxs, totals, types, ctx, d) -> np.ndarray:
        i = np.searchsorted(ctxs, ctx)
        if i == len(ctxs) or ctxs[i] != ctx:  # unseen context: the lower order as it is
            return lower
        p = d * types[i] / totals[i] * lower
        lo, hi = np.searchsorted(keys, [ctx * self.size, (ctx + 1) * self.size])
        p[keys[lo:hi] - ctx * self.size] += np.maximum(counts[lo:hi] - d, 0) / totals[i]
        return p

    def _triples(self, seqs):
        us, vs, ws = [], [], []
        for s in seqs:
            a = np.r_[BOUNDARY, BOUNDARY, np.asarray(s, np.int64)]
            us.append(a[:-2])
            vs.append(a[1:-1])
            ws.append(a[2:])
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64)  # noqa: E731
        return cat(us), cat(vs), cat(ws)

    def prob(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """P(w | u, v) for arrays of ids (w in 1..num_words-1)."""
        S = np.int64(self.size)
        u, v, w = (np.asarray(x, np.int64) for x in (u, v, w))
        words = self.size - 1
        total1, types1 = self.n1.sum(), (self.n1 > 0).sum()
        p = np.maximum(self.n1[w] - self.d1, 0) / total1 + self.d1 * types1 / total1 / words
        total = _lookup(self.ctx2, self.total2, v)
        seen = total > 0
        lam = self.d2 * _lookup(self.ctx2, self.types2, v) / np.maximum(total, 1)
        hit = _lookup(self.k2, self.n2, v * S + w)
        p = np.where(seen, np.maximum(hit - self.d2, 0) / np.maximum(total, 1) + lam * p, p)
        ctx = u * S + v
        total = _lookup(self.ctx3, self.total3, ctx)
        seen = total > 0
        lam = self.d3 * _lookup(self.ctx3, self.types3, ctx) / np.maximum(total, 1)
        hit = _lookup(self.k3, self.c3, ctx * S + w)
        return np.where(seen, np.maximum(hit - self.d3, 0) / np.maximum(total, 1) + lam * p, p)

    def word_logprobs(self, seqs, skip: int = 0) -> np.ndarray:
        """log P of every word from position `skip` of each sequence (natural log), in order."""
        u, v, w = self._triples(seqs)
        keep = np.concatenate([np.arange(len(s)) >= skip for s in seqs]) if len(seqs) else np.zeros(0, bool)
        return np.log(self.prob(u[keep], v[keep], w[keep]))
