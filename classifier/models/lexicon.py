"""Lexicon prior: VADER's word valences with its negation and intensifier rules, in NumPy.

    lexicon = Lexicon.installed()                   # vaderSentiment's own vader_lexicon.txt
    lexicon.scores(["not bad at all"])              # (n, 3): positive sum, negative sum, compound
    lexicon.terms(["not bad at all"])               # the pseudo-terms a tfidf model joins to its n-grams

The lexicon is read from the installed vaderSentiment package (never copied into this repository)
and its sha256 is kept in a bundle that uses it, so a bundle never scores with another lexicon.
Each word's valence is moved by the intensifiers ("very", "barely": VADER's BOOSTER_DICT) and
flipped by the negations ("not", "never", any "n't": VADER's NEGATE) among the three words before it,
as VADER does; VADER's rarer rules (capitals, "but", idioms, punctuation) are left out.
"""

from __future__ import annotations

import functools
import hashlib
import re

import numpy as np

from classifier.errors import UserError

WINDOW = 3  # words before a sentiment word that can boost or negate it (VADER's)
DECAY = (1.0, 0.95, 0.9)  # an intensifier's weight at 1, 2, 3 words before (VADER's)
ALPHA = 15.0  # VADER's normalisation: compound = s / sqrt(s^2 + ALPHA)
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # words with one inner apostrophe ("don't" stays whole)
# pseudo-terms: ":" never occurs in a word n-gram, so these never collide with one
COMPOUND_BINS = 8  # the text's compound in [-1, 1], cut into this many equal bins
TERM_PREFIX = "lexicon:"
INSTALL = "pip install vaderSentiment (the `lexicon` extra: pip install 'classifier[lexicon]')"


class Lexicon:
    def __init__(self, valence: dict[str, float], boosters: dict[str, float], negations: set[str],
                 negation_scale: float, sha256: str):
        self.valence = valence
        self.boosters = {w: s for w, s in boosters.items() if " " not in w}  # one-word intensifiers
        self.negations = negations
        self.negation_scale = negation_scale
        self.sha256 = sha256

    @classmethod
    @functools.cache
    def installed(cls) -> Lexicon:
        """VADER's lexicon, intensifiers and negations from the installed vaderSentiment."""
        try:
            from importlib.resources import files

            from vaderSentiment import vaderSentiment as vader
        except ImportError:
            raise UserError(f"the lexicon features need vaderSentiment: {INSTALL}") from None
        raw = (files("vaderSentiment") / "vader_lexicon.txt").read_bytes()
        valence = {}
        for line in raw.decode("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and WORD.fullmatch(parts[0]):  # words only: emoticons never survive WORD
                valence[parts[0]] = float(parts[1])
        return cls(valence, dict(vader.BOOSTER_DICT), set(vader.NEGATE), float(vader.N_SCALAR),
                   hashlib.sha256(raw).hexdigest())

    def words(self, texts) -> tuple[np.ndarray, list[str]]:
        """(row of each word, the words) of lower-cased `texts`, in order."""
        found = [WORD.findall(str(t).lower()) for t in texts]
        rows = np.repeat(np.arange(len(found)), [len(f) for f in found])
        return rows, [w for f in found for w in f]

    def valences(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(row, valence) of every sentiment word of `texts` after the window's intensifiers and
        negations; one pass over all the texts' words at once."""
        rows, words = self.words(texts)
        val = np.array([self.valence.get(w, 0.0) for w in words], dtype=np.float64)
        # an intensifier counts only when it is not itself a sentiment word (VADER's rule)
        boost = np.array([0.0 if w in self.valence else self.boosters.get(w, 0.0) for w in words])
        neg = np.array([w in self.negations or "n't" in w for w in words], dtype=bool)
        at = np.flatnonzero(val != 0)
        base = val[at]
        added = np.zeros(len(at))
        scale = np.ones(len(at))
        for k in range(1, WINDOW + 1):
            prev = at - k
            inside = (prev >= 0) & (rows[np.maximum(prev, 0)] == rows[at])  # never across two texts
            prev = np.maximum(prev, 0)
            added += np.where(inside, boost[prev] * DECAY[k - 1] * np.sign(base), 0.0)
            scale *= np.where(inside & neg[prev], self.negation_scale, 1.0)
        return rows[at], (base + added) * scale

    def scores(self, texts) -> np.ndarray:
        """(n, 3) float64: sum of the positive valences, sum of the negative ones, VADER's compound."""
        texts = list(texts)
        row, v = self.valences(texts)
        n = len(texts)
        pos = np.bincount(row, np.maximum(v, 0), minlength=n)
        neg = np.bincount(row, np.minimum(v, 0), minlength=n)
        total = pos + neg
        return np.column_stack([pos, neg, total / np.sqrt(total * total + ALPHA)])

    def terms(self, texts) -> list[list[str]]:
        """Pseudo-terms per text for a linear model: one per sentiment word, its valence rounded
        ("lexicon:+2", a negated "good" gives "lexicon:-1"), and one for the text's compound bin."""
        texts = list(texts)
        row, v = self.valences(texts)
        compound = self.scores(texts)[:, 2] if texts else np.zeros(0)
        bins = np.clip(((compound + 1) / 2 * COMPOUND_BINS).astype(np.int64), 0, COMPOUND_BINS - 1)
        out = [[f"{TERM_PREFIX}compound{b}"] for b in bins.tolist()]
        for r, value in zip(row.tolist(), np.rint(v).astype(np.int64).tolist(), strict=True):
            if value:
                out[r].append(f"{TERM_PREFIX}{value:+d}")
        return out
