"""Lexicon prior: VADER's word valences with its negation and intensifier rules, in NumPy.

    lexicon = Lexicon.installed()                   # vaderSentiment's own vader_lexicon.txt
    lexicon.scores(["not bad at all"])              # (n, 3): positive sum, negative sum, compound
    lexicon.terms(["not bad at all"])               # the pseudo-terms a tfidf model joins to its n-grams

The lexicon is read from the installed vaderSentiment package (never copied into this repository)
and its sha256 is kept in a bundle that uses it, so a bundle never scores with another lexicon.
Each word's valence is moved by the intensifiers ("very", "barely": VADER's BOOSTER_DICT) and
flipped by the negations ("not", "never", any "n't": VADER's NEGATE) among the three words before it,
as VADER does; VADER's rarer rules (capitals, "but", idioms, punctuation) are left out.

A batch's words are found in a few C passes over all its texts at once (`word_arrays`); WORD's
regex text by text (`reference=True`) is what that is tested against (tests/test_fast_text.py).
"""

from __future__ import annotations

import functools
import hashlib
import re
from itertools import repeat

import numpy as np

from classifier.errors import UserError
from classifier.io.fastwords import CHUNK_TEXTS, END, JOIN, SEPARATOR
from classifier.models.lookup import AsciiWords

WINDOW = 3  # words before a sentiment word that can boost or negate it (VADER's)
DECAY = (1.0, 0.95, 0.9)  # an intensifier's weight at 1, 2, 3 words before (VADER's)
ALPHA = 15.0  # VADER's normalisation: compound = s / sqrt(s^2 + ALPHA)
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # words with one inner apostrophe ("don't" stays whole)
BYTE_WORD = re.compile(rb"[a-z]+(?:'[a-z]+)?")
# pseudo-terms: ":" never occurs in a word n-gram, so these never collide with one
COMPOUND_BINS = 8  # the text's compound in [-1, 1], cut into this many equal bins
TERM_PREFIX = "lexicon:"
INSTALL = "pip install vaderSentiment (the `lexicon` extra: pip install 'classifier[lexicon]')"
APOSTROPHE, SPACE = ord("'"), ord(" ")
# word_arrays: every byte but a-z, the apostrophe and the separator becomes a space; a multi-byte
# character's bytes too (WORD's [a-z] is ASCII: any other character ends a word, as a space does)
KEEP = bytes(b if ord("a") <= b <= ord("z") or b in (APOSTROPHE, 0) else SPACE for b in range(256))


class Lexicon:
    def __init__(self, valence: dict[str, float], boosters: dict[str, float], negations: set[str],
                 negation_scale: float, sha256: str):
        self.valence = valence
        self.boosters = {w: s for w, s in boosters.items() if " " not in w}  # one-word intensifiers
        self.negations = negations
        self.negation_scale = negation_scale
        self.sha256 = sha256
        # word_arrays' tables: a code per word with a role (0: none, END: the separator), and each
        # code's valence, boost (an intensifier that is no sentiment word itself) and negation
        known = list(dict.fromkeys([*self.valence, *self.boosters, *sorted(negations)]))
        self.code = {w.encode("utf-8"): i for i, w in enumerate(known, 1)}
        self.code[SEPARATOR.encode("ascii")] = END
        self.code_valence = np.array([0.0] + [self.valence.get(w, 0.0) for w in known])
        self.code_boost = np.array([0.0] + [0.0 if w in self.valence else self.boosters.get(w, 0.0) for w in known])
        self.code_negation = np.array([False] + [w in negations or "n't" in w for w in known])
        # the words WORD can match, looked up from the bytes (None: the dictionary serves)
        self.ascii_codes = AsciiWords.of({w: i for w, i in self.code.items() if i > 0 and BYTE_WORD.fullmatch(w)})

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
        """(row of each word, the words) of lower-cased `texts`, in order: WORD's matches text by text."""
        found = [WORD.findall(str(t).lower()) for t in texts]
        rows = np.repeat(np.arange(len(found)), [len(f) for f in found])
        return rows, [w for f in found for w in f]

    def word_arrays(self, texts, reference: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, valence, boost, negation) of every word of `texts`, in order. Texts that are all str
        are read CHUNK_TEXTS at a time (`_piece_arrays`); `reference`, or a text holding the
        separator or not a str, takes `words` and a look-up a word."""
        texts = texts if isinstance(texts, list) else list(texts)
        parts = [] if not reference and all(isinstance(t, str) for t in texts) else None
        for a in range(0, len(texts) if parts is not None else 0, CHUNK_TEXTS):
            part = self._piece_arrays(texts[a : a + CHUNK_TEXTS])
            if part is None:
                parts = None
                break
            parts.append((part[0] + a, *part[1:]))
        if parts is None:
            rows, words = self.words(texts)
            return (rows, np.array([self.valence.get(w, 0.0) for w in words], dtype=np.float64),
                    np.array([0.0 if w in self.valence else self.boosters.get(w, 0.0) for w in words]),
                    np.array([w in self.negations or "n't" in w for w in words], dtype=bool))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, bool)
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def _piece_arrays(self, texts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """`word_arrays` of a few thousand str, or None when one holds the separator. The texts are
        lower-cased one by one (as `words` does), joined by " \\x00 " and made bytes where only a-z,
        the apostrophe and the separator are not spaces; an apostrophe stays only where WORD takes it
        (`inner_apostrophes`), so the runs left are WORD's matches and the separators, looked up from
        the bytes (`AsciiWords`)."""
        joined = JOIN.join([t.lower() for t in texts])
        if joined.count(SEPARATOR) != len(texts) - 1:
            return None
        raw = joined.encode("utf-8", "surrogatepass").translate(KEEP)
        nt = np.zeros(0, np.int64)
        if b"'" in raw:
            raw, nt = inner_apostrophes(raw)
        if self.ascii_codes is not None:  # every run left is a word or the separator, one letter ones too
            code = self.ascii_codes.ids(raw, drop_single=False)
        else:
            tokens = raw.split()
            code = np.fromiter(map(self.code.get, tokens, repeat(0)), dtype=np.int64, count=len(tokens))
        ends = code == END
        negation = self.code_negation[np.maximum(code, 0)]
        if len(nt):  # a word holding "n't" negates, known or not
            filled = np.frombuffer(raw, np.uint8) != SPACE
            starts = np.flatnonzero(filled[1:] & ~filled[:-1]) + 1
            if filled[0]:
                starts = np.concatenate([[0], starts])
            negation[np.searchsorted(starts, nt, side="right") - 1] = True
        words = ~ends
        code = code[words]
        return np.cumsum(ends)[words], self.code_valence[code], self.code_boost[code], negation[words]

    def valences(self, texts, reference: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(row, valence) of every sentiment word of `texts` after the window's intensifiers and
        negations; one pass over all the texts' words at once."""
        rows, val, boost, neg = self.word_arrays(texts, reference)
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

    def scores(self, texts, reference: bool = False) -> np.ndarray:
        """(n, 3) float64: sum of the positive valences, sum of the negative ones, VADER's compound."""
        texts = texts if isinstance(texts, list) else list(texts)
        return compound_scores(*self.valences(texts, reference), len(texts))

    def term_parts(self, texts, reference: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`terms` as numbers: (each text's compound bin, and the row and rounded non-zero valence of
        each sentiment word in order)."""
        texts = texts if isinstance(texts, list) else list(texts)
        row, v = self.valences(texts, reference)
        compound = compound_scores(row, v, len(texts))[:, 2]
        bins = np.clip(((compound + 1) / 2 * COMPOUND_BINS).astype(np.int64), 0, COMPOUND_BINS - 1)
        value = np.rint(v).astype(np.int64)
        return bins, row[value != 0], value[value != 0]

    def terms(self, texts, reference: bool = False) -> list[list[str]]:
        """Pseudo-terms per text for a linear model: one per sentiment word, its valence rounded
        ("lexicon:+2", a negated "good" gives "lexicon:-1"), and one for the text's compound bin."""
        bins, row, value = self.term_parts(texts, reference)
        out = [[f"{TERM_PREFIX}compound{b}"] for b in bins.tolist()]
        for r, v in zip(row.tolist(), value.tolist(), strict=True):
            out[r].append(f"{TERM_PREFIX}{v:+d}")
        return out


def compound_scores(row: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """(n, 3): the sums of the positive and of the negative valences of each row, and its compound."""
    pos = np.bincount(row, np.maximum(v, 0), minlength=n)
    neg = np.bincount(row, np.minimum(v, 0), minlength=n)
    total = pos + neg
    return np.column_stack([pos, neg, total / np.sqrt(total * total + ALPHA)])


def inner_apostrophes(raw: bytes) -> tuple[bytes, np.ndarray]:
    """(`raw` with every apostrophe WORD does not take made a space, the positions of the kept ones
    between "n" and "t"). WORD takes one apostrophe between letters a word: in a run like
    "rock'n'roll" it matches "rock'n", skips the next apostrophe and matches "roll", so of the
    apostrophes between letters with only letters between them, the 1st, 3rd, ... are kept."""
    chars = np.frombuffer(raw, np.uint8).copy()
    apos = np.flatnonzero(chars == APOSTROPHE)
    letter = (chars >= ord("a")) & (chars <= ord("z"))
    between = apos[(apos > 0) & (apos < len(chars) - 1)]
    inner = between[letter[between - 1] & letter[between + 1]]
    keep = np.ones(len(inner), bool)
    if len(inner) > 1:
        others = np.cumsum(~letter)  # non-letters up to each byte
        chained = others[inner[1:] - 1] == others[inner[:-1]]  # only letters since the previous one
        first = np.flatnonzero(np.concatenate([[True], ~chained]))
        rank = np.arange(len(inner)) - np.repeat(first, np.diff(np.append(first, len(inner))))
        keep = rank % 2 == 0
    chars[apos] = SPACE
    kept = inner[keep]
    chars[kept] = APOSTROPHE
    return chars.tobytes(), kept[(chars[kept - 1] == ord("n")) & (chars[kept + 1] == ord("t"))]
