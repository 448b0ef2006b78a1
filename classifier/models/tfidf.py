"""TF-IDF + logistic regression (`--preset tfidf`, SPEC's linear bar), and the tuned stack's partner.

    model = fit_tfidf(texts, y, cfg)          # scikit-learn fits it
    model.predict_proba(["love it"])          # plain Python and NumPy predict it
    fit_tfidf(texts, y, cfg, n_classes=6)     # class indices: multinomial logistic regression, softmax

The files keep the n-gram vocabulary as JSON and idf, weights and bias as .npz (no pickle).
With the korean analyzer (cfg.tokenizer.analyzer) the n-grams are of Korean morphemes
(classifier.io.morphemes), every morpheme a term, one syllable ones included.
`TfidfFeatures` maps a text to the ids of its known n-grams, so scoring drives a tfidf bundle
like the LSTM bundles (`predict_proba_ids`). With the lexicon prior (cfg.tfidf_lexicon) a text also
gets the pseudo-terms of classifier.models.lexicon beside its n-grams, in the same vocabulary.
`fit_from` fine-tunes a fitted model on new labels, its weights pulled towards the old ones.
"""

from __future__ import annotations

import functools
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

import numpy as np

from classifier.classify.metrics import sigmoid, softmax
from classifier.config import TrainConfig
from classifier.errors import UserError
from classifier.io.fastwords import (
    CHUNK_TEXTS,
    END,
    JOIN,
    MIN_TEXTS,
    SEPARATOR,
    IdRows,
    flat_ids,
    in_pieces,
    row_pieces,
)
from classifier.io.morphemes import analyze_many
from classifier.models.lexicon import COMPOUND_BINS, TERM_PREFIX, Lexicon
from classifier.models.lookup import DROP, AsciiWords, KeyTable

FORMAT = "classifier-tfidf/1"
VOCAB_FILE = "tfidf.json"
WEIGHTS_FILE = "tfidf.npz"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of 2+ word characters
ID_PATTERN = r"\S+"  # the tuned blend: n-grams of the word tokenizer's ids, written "12 507"
MORPHEME_PATTERN = r"\S+"  # the korean analyzer's morphemes, joined by spaces (particles are one syllable)
THREAD_TEXTS = 1024  # logits_texts: fewer texts run on one thread (a thread's start would cost more than it saves)
ASCII_WORD = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
# every ASCII byte but \w's and the separator becomes a space
ASCII_RUN = re.compile(rb"[0-9A-Za-z_]+")
ASCII_NON_WORD = bytes(b if b in ASCII_WORD or b == 0 else 32 for b in range(128)) + bytes(range(128, 256))


class TfidfFeatures:
    """TfidfVectorizer(lowercase, ngram_range=(1, n), sublinear_tf, norm="l2") rebuilt from its vocabulary."""

    def __init__(self, terms: list[str], ngrams: int, token_pattern: str = TOKEN_PATTERN, analyzer: str = "words",
                 lexicon: Lexicon | None = None):
        self.terms = terms
        self.lexicon = lexicon  # the lexicon prior's pseudo-terms are among the terms
        self.ngrams = ngrams
        self.token_pattern = token_pattern
        self.analyzer = analyzer  # "korean": texts become their morphemes before the n-grams are taken
        self._token = re.compile(token_pattern)
        self._id_keys = None  # ID_PATTERN features as sorted int64 keys, built when first needed

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.terms)}

    def encode(self, text: str) -> list[int]:
        """Ids of the known n-grams of `text`, one per occurrence (the order does not matter)."""
        if self.analyzer == "korean" or self.lexicon is not None:
            return self.encode_many([text])[0]
        return self.encode_terms(text)

    def encode_terms(self, text: str) -> list[int]:
        """`encode` of a text already analysed (or one the analyzer leaves as it is)."""
        words = self._token.findall(text.lower())
        index = self.index
        ids = [index[w] for w in words if w in index]
        for n in range(2, self.ngrams + 1):
            ids += [i for i in (index.get(" ".join(words[k : k + n])) for k in range(len(words) - n + 1))
                    if i is not None]
        return ids

    def encode_many(self, texts) -> list[list[int]]:
        """`encode` of each text. A batch of MIN_TEXTS or more is encoded at once (`encode_fast`);
        `encode_many_reference`, one text at a time, is what that is tested against."""
        texts = self.analyzed(texts)
        found = self.encode_fast(texts) if len(texts) >= MIN_TEXTS else None
        return self.encode_analyzed(texts) if found is None else found

    def encode_many_reference(self, texts) -> list[list[int]]:
        return self.encode_analyzed(self.analyzed(texts))

    def analyzed(self, texts) -> list:
        """The texts as a list, made their morphemes by the korean analyzer (one batch for it)."""
        texts = texts if isinstance(texts, list) else list(texts)
        return analyze_many(texts) if self.analyzer == "korean" else texts

    def encode_analyzed(self, texts: list) -> list[list[int]]:
        """The reference: `encode_terms` text by text, then the lexicon's pseudo-terms (found by its regex)."""
        ids = [self.encode_terms(t) for t in texts]
        if self.lexicon is not None:
            index = self.index
            for row, terms in zip(ids, self.lexicon.terms(texts, reference=True), strict=True):
                row += [index[t] for t in terms if t in index]
        return ids

    def encode_fast(self, texts: list) -> IdRows | None:
        """`encode_analyzed` of every text, the same ids in the same order, or None where it must run
        instead (a text that is not a str or holds the separator, keys past int64): `piece_pairs`
        CHUNK_TEXTS texts at a time, each piece's pairs ordered by text."""
        if not self.fast_ready(texts):
            return None
        found = in_pieces(self._ordered_piece, texts)
        return None if found is None else IdRows(*found)

    def fast_ready(self, texts: list) -> bool:
        """Whether `piece_pairs` takes these texts; its tables are built here, before pieces go to threads."""
        if self.word_keys is None or not all(isinstance(t, str) for t in texts):
            return False
        if self.token_pattern == TOKEN_PATTERN:
            _ = self.ascii_words
        if self.lexicon is not None:
            _ = self.lexicon_ids
        return True

    def _ordered_piece(self, texts: list) -> tuple[np.ndarray, np.ndarray] | None:
        pairs = self.piece_pairs(texts)
        if pairs is None:
            return None
        rows, feats = pairs
        # a text's unigrams, then its bigrams, ..., each in text order, then its pseudo-terms; rows
        # as uint16 (a piece's) are sorted by radix
        order = np.argsort(rows.astype(np.uint16) if len(texts) <= 1 << 16 else rows, kind="stable")
        return feats[order], np.bincount(rows, minlength=len(texts))

    def piece_pairs(self, texts: list) -> tuple[np.ndarray, np.ndarray] | None:
        """(row, feature id) of every known n-gram of a few thousand analysed str, n by n, each n in
        text order, then of every lexicon pseudo-term; None when a text holds the separator. The texts,
        lower-cased one by one as in `encode_terms`, are joined by " \\x00 " and their tokens found in
        one pass (`_ascii_tokens` or the regex); each token becomes the id of a word the terms hold (0
        for others), and the n-grams are matched as int64 keys (`match_ngrams`)."""
        word_id, base, keys = self.word_keys
        lowered = [t.lower() for t in texts]
        ascii_texts = np.zeros(len(lowered), bool)
        if self.token_pattern == TOKEN_PATTERN:
            ascii_texts = np.fromiter(map(str.isascii, lowered), dtype=bool, count=len(lowered))
        ids, row = [], []
        for which, lookup in ((np.flatnonzero(ascii_texts), self._ascii_ids),
                              (np.flatnonzero(~ascii_texts), self._regex_ids)):
            if not len(which):
                continue
            joined = JOIN.join([lowered[i] for i in which.tolist()])
            if joined.count(SEPARATOR) != len(which) - 1:
                return None
            part = lookup(joined)
            ends = part == END
            kept = part >= 0
            ids.append(part[kept])
            row.append(which[np.cumsum(ends)[kept]])
        if not ids:
            rows, feats = np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            rows, feats = match_ngrams(np.concatenate(ids), np.concatenate(row), base, keys)
        if self.lexicon is not None:
            lex_rows, lex_feats = self.lexicon_pairs(texts)
            rows, feats = np.concatenate([rows, lex_rows]), np.concatenate([feats, lex_feats])
        return rows, feats

    def lexicon_pairs(self, texts: list) -> tuple[np.ndarray, np.ndarray]:
        """(row, feature id) of the lexicon pseudo-terms the terms hold: each text's compound bin, then
        its sentiment words' rounded valences in order (`Lexicon.term_parts`, what `terms` spells)."""
        bins, row, value = self.lexicon.term_parts(texts)
        compound, by_value, top = self.lexicon_ids
        value_ids = by_value[np.clip(value + top, 0, 2 * top)]
        value_ids[np.abs(value) > top] = -1
        rows = np.concatenate([np.arange(len(texts)), row])
        feats = np.concatenate([compound[bins], value_ids])
        known = feats >= 0
        return rows[known], feats[known]

    @functools.cached_property
    def lexicon_ids(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(feature id of each compound bin, of each rounded valence from -top to top, top); -1 for a
        pseudo-term the terms do not hold."""
        compound = np.full(COMPOUND_BINS, -1, np.int64)
        values = {}
        for i, term in enumerate(self.terms):
            if term.startswith(TERM_PREFIX):
                name = term[len(TERM_PREFIX):]
                if name.startswith("compound"):
                    compound[int(name[len("compound"):])] = i
                else:
                    values[int(name)] = i
        top = max(map(abs, values), default=0)
        by_value = np.full(2 * top + 1, -1, np.int64)
        for v, i in values.items():
            by_value[v + top] = i
        return compound, by_value, top

    def _ascii_ids(self, joined: str) -> np.ndarray:
        """The word id (0: unknown, END: the separator, DROP: no token) of each of TOKEN_PATTERN's
        tokens of ASCII text: an ASCII \\w is [0-9A-Za-z_], so the tokens are the runs of those bytes
        once every other byte is a space (runs of one byte are no token); the separator byte stays
        a run of its own. The runs are looked up straight from the bytes (`AsciiWords`), or as bytes
        objects in the dictionary when the words cannot be packed."""
        raw = joined.encode("ascii").translate(ASCII_NON_WORD)
        if self.ascii_words is not None:
            return self.ascii_words.ids(raw)
        found = raw.split()
        return np.fromiter(map(self.word_keys[0][1].get, found, repeat(0)), dtype=np.int64, count=len(found))

    def _regex_ids(self, joined: str) -> np.ndarray:
        found = self._token_or_end.findall(joined)
        return np.fromiter(map(self.word_keys[0][0].get, found, repeat(0)), dtype=np.int64, count=len(found))

    @functools.cached_property
    def ascii_words(self) -> AsciiWords | None:
        """The terms' words made of ASCII word characters, as `AsciiWords` (None if they cannot be)."""
        (_, ascii_id), _, _ = self.word_keys
        return AsciiWords.of({w: i for w, i in ascii_id.items() if i > 0 and ASCII_RUN.fullmatch(w)})

    @functools.cached_property
    def _token_or_end(self) -> re.Pattern:
        return re.compile(f"{self.token_pattern}|{SEPARATOR}")

    @functools.cached_property
    def word_keys(self) -> tuple[tuple[dict[str, int], dict[bytes, int]], int, dict] | None:
        """(({word: id from 1}, the same with ASCII words as bytes) of the words the terms hold, base,
        `ngram_keys` over those ids), or None when keys would overflow int64 or a word holds the
        separator. Built in C passes over the terms."""
        words = " ".join(self.terms).split(" ") if self.terms else []  # a term's words are joined by spaces
        word_id = {w: i for i, w in enumerate(dict.fromkeys(words), 1)}
        if SEPARATOR in word_id or (len(word_id) + 1) ** self.ngrams >= 2**62:
            return None
        sizes = np.fromiter(map(str.count, self.terms, repeat(" ")), dtype=np.int64, count=len(self.terms)) + 1
        flat = np.fromiter(map(word_id.__getitem__, words), dtype=np.int64, count=len(words))
        base = len(word_id) + 1
        ascii_id = {w.encode("ascii"): i for w, i in word_id.items() if w.isascii()}
        # one-character runs are no token of TOKEN_PATTERN (2+ characters): dropped, not unknown
        ascii_id.update({bytes([b]): DROP for b in ASCII_WORD if bytes([b]) not in ascii_id})
        word_id[SEPARATOR] = END
        ascii_id[SEPARATOR.encode("ascii")] = END
        return (word_id, ascii_id), base, ngram_keys(flat, sizes, base)

    def encode_ids(self, ids) -> list[int]:
        """Feature ids of a word-id sequence (for ID_PATTERN features)."""
        return self.encode_terms(" ".join(map(str, ids)))

    def id_pairs(self, id_lists) -> tuple[np.ndarray, np.ndarray]:
        """(row, feature id) of every known n-gram of each word-id sequence, for ID_PATTERN features:
        what `encode_ids` gives row by row, with n-grams as int64 keys looked up in a hash table;
        CHUNK_TEXTS sequences at a time."""
        flat, lengths = flat_ids(id_lists)
        pairs = [self.id_pairs_flat(flat[lo:hi], lengths[a:b]) for a, b, lo, hi in row_pieces(lengths)]
        if not pairs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        starts = [a for a, _, _, _ in row_pieces(lengths)]
        return (np.concatenate([r + a for (r, _), a in zip(pairs, starts, strict=True)]),
                np.concatenate([f for _, f in pairs]))

    def id_pairs_flat(self, flat: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`id_pairs` of sequences given end to end (`flat`, `lengths` ids a sequence), in one piece."""
        base, keys = self.id_keys()
        if base ** self.ngrams >= 2**62:  # keys would overflow int64: the string path, row by row
            found = [self.encode_ids(s.tolist()) for s in np.split(flat, np.cumsum(lengths)[:-1])]
            return (np.repeat(np.arange(len(lengths)), [len(f) for f in found]).astype(np.int64),
                    np.asarray(sum(found, []), np.int64))
        return match_ngrams(flat, np.repeat(np.arange(len(lengths)), lengths), base, keys)

    def id_keys(self) -> tuple[int, dict[int, KeyTable]]:
        """(base, `ngram_keys`) of the terms read as word ids. Built once per process from the terms,
        parsed in one C pass (a loop over the ~200,000 terms of the tuned bundle cost a scoring
        process a tenth of its time)."""
        if self._id_keys is None:
            text = "\n".join(self.terms)  # newlines between terms, spaces inside them
            chars = np.frombuffer(text.encode("utf-8"), np.uint8)
            term_starts = np.concatenate([[0], np.flatnonzero(chars == ord("\n")) + 1])
            sizes = np.zeros(0, np.int64)  # words a term
            if self.terms:
                sizes = np.add.reduceat((chars == ord(" ")).astype(np.int64), term_starts) + 1
            try:
                flat = np.fromstring(text, np.int64, sep=" ")  # one C pass (newlines are white space too)
            except ValueError:
                flat = None
            if flat is None or len(flat) != sizes.sum():
                raise UserError("the tuned bundle's TF-IDF terms are not word-id n-grams; retrain the bundle")
            base = int(flat.max()) + 1 if len(flat) else 1
            self._id_keys = (base, ngram_keys(flat, sizes, base))
        return self._id_keys

    def __len__(self) -> int:
        return len(self.terms)


def ngram_keys(flat: np.ndarray, sizes: np.ndarray, base: int) -> dict[int, KeyTable]:
    """{n: n-gram key -> feature id} of terms given as word ids (`flat`, `sizes` words a term, term i
    being feature i): an n-gram w1..wn is the key sum(wi * base^(n-i)), every wi below base."""
    starts = np.cumsum(sizes) - sizes
    keys = {}
    for n in np.unique(sizes).tolist():
        at = np.flatnonzero(sizes == n)
        parts = flat[starts[at, None] + np.arange(n)]  # (terms of n words, n)
        keys[n] = KeyTable(parts @ (base ** np.arange(n - 1, -1, -1, dtype=np.int64)), at)
    return keys


def match_ngrams(flat: np.ndarray, row: np.ndarray, base: int, keys: dict[int, KeyTable]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(row, feature id) of every n-gram of the word ids `flat` (`row`: the text of each) that `keys`
    holds, n by n, each n's in text order. A word id at or above `base` is in no term."""
    rows, feats = [], []
    for n, table in keys.items():
        m = len(flat) - n + 1  # n-grams starting at 0..m-1
        if m <= 0 or not len(table):
            continue
        inside = row[:m] == row[n - 1 :]  # an n-gram never spans two texts
        key = flat[:m]
        for j in range(n):
            inside &= flat[j : j + m] < base  # an id no term holds: no n-gram through it is known
            key = key * base + flat[j : j + m] if j else key
        at = np.flatnonzero(inside)
        found = table.get(key[at])
        hit = found >= 0
        rows.append(row[at[hit]])
        feats.append(found[hit])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(feats)


class TfidfModel:
    """Logistic regression weights over TF-IDF features; optionally a second linear model (`aux`,
    the tuned preset's ridge regression on the star rating) over the same features. `coef` is one
    weight per feature (the binary model, a sigmoid) or (features, k) with k intercepts (a softmax)."""

    def __init__(self, features: TfidfFeatures, idf: np.ndarray, coef: np.ndarray, intercept,
                 aux_coef: np.ndarray | None = None, aux_intercept: float = 0.0):
        self.features = features
        self.idf = idf.astype(np.float64)
        self.coef = coef.astype(np.float64)
        self.n_classes = self.coef.shape[1] if self.coef.ndim == 2 else None
        self.intercept = float(intercept) if self.n_classes is None else np.asarray(intercept, np.float64).reshape(-1)
        self.aux_coef = None if aux_coef is None else aux_coef.astype(np.float64)
        self.aux_intercept = float(aux_intercept)

    def scores_ids(self, id_lists) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, aux predictions or None) for lists of feature ids."""
        feats, lengths = flat_ids(id_lists)
        return self._scores_in_pieces(lengths, lambda a, b, lo, hi: self.scores_pairs(
            np.repeat(np.arange(b - a), lengths[a:b]), feats[lo:hi], b - a))

    def scores_word_ids(self, word_id_lists) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, aux predictions or None) for word-id sequences (the tuned stack's ID_PATTERN features)."""
        flat, lengths = flat_ids(word_id_lists)
        return self._scores_in_pieces(lengths, lambda a, b, lo, hi: self.scores_pairs(
            *self.features.id_pairs_flat(flat[lo:hi], lengths[a:b]), b - a))

    def _scores_in_pieces(self, lengths: np.ndarray, score) -> tuple[np.ndarray, np.ndarray | None]:
        """`score(first row, end row, first id, end id)` -> (logits, aux) over row_pieces, joined."""
        parts = [score(*piece) for piece in row_pieces(lengths)]
        if not parts:
            return self.scores_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
        if len(parts) == 1:
            return parts[0]
        aux = None if parts[0][1] is None else np.concatenate([a for _, a in parts])
        return np.concatenate([z for z, _ in parts]), aux

    def scores_pairs(self, rows: np.ndarray, feats: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, aux predictions or None) of `n` rows from their (row, feature id) occurrences: the
        sparse TF-IDF row of each, sublinear tf times idf, l2-normalised, times the weights. Logits
        are (n,), or (n, k) for a softmax model."""
        size = np.int64(len(self.idf))
        # np.unique's cells and counts, by a stable sort: the occurrences come in row order (or in a
        # few such runs), which it merges instead of sorting from scratch
        key = np.sort(rows.astype(np.int64) * size + feats, kind="stable")
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, np.int64)
        cell, counts = key[first], np.diff(np.append(first, len(key)))
        row, feat = cell // size, cell % size
        x = (1.0 + np.log(counts)) * self.idf[feat]
        norm = np.sqrt(np.bincount(row, x * x, minlength=n))
        norm[norm == 0] = 1.0  # a row with no known feature scores the intercept alone
        if self.n_classes is None:
            logits = self.intercept + np.bincount(row, x * self.coef[feat], minlength=n) / norm
        else:  # a bincount per class: k passes over the occurrences, no (n, features) matrix
            weights = self.coef[feat]
            logits = self.intercept + np.column_stack(
                [np.bincount(row, x * weights[:, c], minlength=n) for c in range(self.n_classes)]) / norm[:, None]
        aux = None
        if self.aux_coef is not None:
            aux = self.aux_intercept + np.bincount(row, x * self.aux_coef[feat], minlength=n) / norm
        return logits, aux

    def logits_ids(self, id_lists) -> np.ndarray:
        return self.scores_ids(id_lists)[0]

    def logits_texts(self, texts) -> np.ndarray:
        """`logits_ids` of `features.encode_many(texts)`, without the lists: each piece's (row, feature
        id) pairs (`TfidfFeatures.piece_pairs`) are scored as they come, the pieces on a thread a
        core: NumPy drops the GIL in the look-ups, the sort and the sums, which then overlap with
        another piece's tokens being found."""
        features = self.features
        texts = features.analyzed(texts)
        if len(texts) < MIN_TEXTS or not features.fast_ready(texts):
            return self.logits_ids(features.encode_analyzed(texts))
        threads = os.cpu_count() or 1 if len(texts) >= THREAD_TEXTS else 1
        pieces = threads * -(-len(texts) // (threads * CHUNK_TEXTS))  # a multiple of threads, each a thread's
        size = -(-len(texts) // pieces)

        def run(a: int) -> np.ndarray:
            piece = texts[a : a + size]
            pairs = features.piece_pairs(piece)
            if pairs is None:  # a text holds the separator: this piece the reference way
                return self.logits_ids(features.encode_analyzed(piece))
            return self.scores_pairs(*pairs, len(piece))[0]

        if threads == 1:
            return np.concatenate([run(a) for a in range(0, len(texts), size)])
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(run, range(0, len(texts), size))))

    def proba(self, z: np.ndarray) -> np.ndarray:
        return (sigmoid(z) if self.n_classes is None else softmax(z)).astype(np.float32)

    def predict_proba_ids(self, id_lists) -> np.ndarray:
        return self.proba(self.logits_ids(id_lists))

    def predict_proba(self, texts) -> np.ndarray:
        return self.proba(self.logits_texts(texts))

    # -- persistence ---------------------------------------------------------
    def save(self, folder: Path) -> list[str]:
        vocab = {"format": FORMAT, "ngrams": self.features.ngrams, "token_pattern": self.features.token_pattern,
                 "terms": self.features.terms}
        if self.features.analyzer != "words":  # a words model's file stays as it was before analyzers
            vocab["analyzer"] = self.features.analyzer
        if self.features.lexicon is not None:  # scoring checks it reads the very same lexicon
            vocab["lexicon_sha256"] = self.features.lexicon.sha256
        (folder / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        with open(folder / WEIGHTS_FILE, "wb") as f:
            aux = {} if self.aux_coef is None else {"aux_coef": self.aux_coef,
                                                    "aux_intercept": np.array([self.aux_intercept])}
            np.savez(f, idf=self.idf, coef=self.coef, intercept=np.atleast_1d(self.intercept), **aux)
        return [VOCAB_FILE, WEIGHTS_FILE]

    @classmethod
    def load(cls, folder: Path) -> TfidfModel:
        try:
            vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
            if vocab.get("format") != FORMAT or vocab.get("token_pattern") not in (TOKEN_PATTERN, ID_PATTERN):
                raise ValueError(f"format is {vocab.get('format')!r}, expected {FORMAT!r}")
            with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as w:
                idf, coef, intercept = w["idf"], w["coef"], w["intercept"]
                intercept = float(intercept[0]) if coef.ndim == 1 else intercept
                aux_coef = w["aux_coef"] if "aux_coef" in w else None
                aux_intercept = float(w["aux_intercept"][0]) if "aux_intercept" in w else 0.0
        except FileNotFoundError as e:
            name = Path(e.filename).name
            raise UserError(f"{folder} is not a complete tfidf bundle: {name} is missing; retrain it") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{folder}: the tfidf files are not readable ({e}); retrain the bundle") from None
        if not (len(vocab["terms"]) == len(idf) == len(coef)) or (aux_coef is not None and len(aux_coef) != len(coef)):
            raise UserError(f"{folder}: {VOCAB_FILE} and {WEIGHTS_FILE} disagree in size; retrain the bundle")
        lexicon = None
        if "lexicon_sha256" in vocab:
            lexicon = Lexicon.installed()
            if lexicon.sha256 != vocab["lexicon_sha256"]:
                raise UserError(f"{folder} was trained with another VADER lexicon (sha256 "
                                f"{vocab['lexicon_sha256'][:12]}) than the installed vaderSentiment's "
                                f"({lexicon.sha256[:12]}); install vaderSentiment 3.3.2 or retrain the bundle")
        features = TfidfFeatures(vocab["terms"], int(vocab["ngrams"]), vocab["token_pattern"],
                                 vocab.get("analyzer", "words"), lexicon)
        return cls(features, idf, coef, intercept, aux_coef, aux_intercept)


def fit_tfidf(texts: list[str], y: np.ndarray, cfg: TrainConfig, token_pattern: str = TOKEN_PATTERN,
              aux: np.ndarray | None = None, n_classes: int | None = None,
              sample_weight: np.ndarray | None = None, dense: np.ndarray | None = None,
              vocab_texts: list[str] | None = None) -> TfidfModel:
    """With `aux` (a number per text, NaN where unknown), also a ridge regression on it over the
    same plain TF-IDF rows. With `n_classes`, `y` holds class indices and the regression is
    multinomial (a softmax over n_classes; naive Bayes scaling, defined for two classes, is skipped).
    Texts (not the stack's word ids) are analysed by cfg.tokenizer.analyzer first. With `dense`
    ((n, d) columns, binary only), the regression also takes them beside each l2-normalised row;
    their weights are the model's `dense_coef` (classifier.models.vectors). With `vocab_texts`
    (labelled or not), the vocabulary and idf are counted over them instead of over `texts`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    analyzer = cfg.tokenizer.analyzer if token_pattern == TOKEN_PATTERN else "words"
    counted = None if vocab_texts is None else list(vocab_texts)
    if analyzer == "korean":
        texts, token_pattern = analyze_many(texts), MORPHEME_PATTERN
        counted = None if counted is None else analyze_many(counted)

    lexicon = None
    if cfg.tfidf_lexicon and token_pattern == TOKEN_PATTERN and analyzer == "words":
        lexicon = Lexicon.installed()
        texts = lexicon_docs(texts, cfg.tfidf_ngrams, lexicon)
        counted = None if counted is None else lexicon_docs(counted, cfg.tfidf_ngrams, lexicon)
        vec = TfidfVectorizer(analyzer=list, min_df=cfg.tfidf_min_df, sublinear_tf=True)
    else:
        vec = TfidfVectorizer(ngram_range=(1, cfg.tfidf_ngrams), min_df=cfg.tfidf_min_df, sublinear_tf=True,
                              token_pattern=token_pattern)
    try:
        if lexicon is None:
            x = vec.fit_transform(texts) if counted is None else vec.fit(counted).transform(texts)
        else:  # the pseudo-terms' idf times the weight, before the l2 norm: the weight is in the saved idf
            vec.fit(texts if counted is None else counted)
            weight = np.array([cfg.tfidf_lexicon if t.startswith(TERM_PREFIX) else 1.0
                               for t in vec.get_feature_names_out()])
            vec.idf_ = vec.idf_ * weight
            x = vec.transform(texts)
    except ValueError as e:  # every n-gram below min_df, or no word of 2+ letters
        raise UserError(f"the training texts leave no TF-IDF features ({e}); give more or longer texts, "
                        f"or train an LSTM preset") from None
    aux_fit = {}
    if aux is not None:
        known = np.isfinite(aux)
        ridge = Ridge(alpha=1.0).fit(x[known], aux[known])  # alpha 1 was best on validation of 0.3, 1, 3, 10
        aux_fit = {"aux_coef": ridge.coef_, "aux_intercept": float(ridge.intercept_)}
    scale = np.ones(x.shape[1])
    if cfg.tfidf_nb and n_classes is None:
        y = np.asarray(y)
        present = (x > 0).astype(np.float64)
        pos, neg = 1.0 + present[y == 1].sum(axis=0).A1, 1.0 + present[y == 0].sum(axis=0).A1
        r = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
        scale = np.sign(r) * np.abs(r) ** cfg.tfidf_nb
        x = x.multiply(scale).tocsr()  # after the l2 norm, so the scale folds into coef below
    if dense is not None:
        from scipy.sparse import hstack

        x = hstack([x, dense]).tocsr()
    lr = LogisticRegression(C=cfg.tfidf_c, max_iter=1000).fit(x, y, sample_weight=sample_weight)
    terms = [""] * len(vec.vocabulary_)
    for term, i in vec.vocabulary_.items():
        terms[i] = term
    features = TfidfFeatures(terms, cfg.tfidf_ngrams, token_pattern, analyzer, lexicon)
    if n_classes is None:
        model = TfidfModel(features, vec.idf_, lr.coef_[0][: len(terms)] * scale, lr.intercept_[0], **aux_fit)
        model.dense_coef = None if dense is None else lr.coef_[0][len(terms) :]
        return model
    return TfidfModel(features, vec.idf_, *softmax_weights(lr, n_classes), **aux_fit)


def softmax_weights(lr, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(coef (features, n_classes), intercepts) of a fitted LogisticRegression as softmax logits over
    all n_classes: two classes give one logit, which is class 1's against 0 for class 0; a class the
    fit never saw (absent from its rows) gets zero weights and an intercept 20 below the lowest."""
    coef, intercept = lr.coef_, lr.intercept_
    if len(lr.classes_) == 2:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    full_coef = np.zeros((n_classes, coef.shape[1]))
    full_intercept = np.full(n_classes, intercept.min() - 20.0)
    full_coef[lr.classes_.astype(np.int64)] = coef
    full_intercept[lr.classes_.astype(np.int64)] = intercept
    return full_coef.T, full_intercept




def lexicon_docs(texts, ngrams: int, lexicon: Lexicon) -> list[list[str]]:
    """Each text's word n-grams (as TfidfVectorizer and `TfidfFeatures.encode_terms` take them) and
    its lexicon pseudo-terms."""
    token = re.compile(TOKEN_PATTERN)
    docs = []
    for text, extra in zip(texts, lexicon.terms(texts), strict=True):
        words = token.findall(text.lower())
        grams = list(words)
        for n in range(2, ngrams + 1):
            grams += [" ".join(words[k : k + n]) for k in range(len(words) - n + 1)]
        docs.append(grams + extra)
    return docs


def fit_from(init: TfidfModel, texts: list[str], y: np.ndarray, c: float,
             sample_weight: np.ndarray | None = None, offset: np.ndarray | None = None) -> TfidfModel:
    """Fine-tune the binary `init` on `texts`: its vocabulary and idf stay, its weights w0 move to
    w0 + d minimising the log loss plus |d|^2 / (2c). A few hundred labels move the weights the new
    domain needs and leave the rest where the large training set put them. `offset`: a fixed part
    of each text's logit from outside the n-grams (a bundle's word vectors), kept as it is."""
    from scipy.optimize import minimize
    from scipy.sparse import csr_matrix

    if init.n_classes is not None or init.aux_coef is not None:
        raise UserError("fine-tuning starts from a binary tfidf bundle without a rating regression")
    ids = init.features.encode_many(texts)
    lengths = [len(i) for i in ids]
    rows = np.repeat(np.arange(len(ids)), lengths)
    feats = np.concatenate([np.asarray(i, np.int64) for i in ids]) if sum(lengths) else rows
    size = np.int64(len(init.idf))
    cell, counts = np.unique(rows * size + feats, return_counts=True)
    row, feat = cell // size, cell % size
    x = (1.0 + np.log(counts)) * init.idf[feat]
    norm = np.sqrt(np.bincount(row, x * x, minlength=len(ids)))
    norm[norm == 0] = 1.0
    x = csr_matrix((x / norm[row], (row, feat)), shape=(len(ids), len(init.idf)))
    y = np.asarray(y, np.float64)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    z0 = x @ init.coef + init.intercept + (0.0 if offset is None else offset)

    def loss(params):
        d, b = params[:-1], params[-1]
        z = z0 + x @ d + b
        p = 1.0 / (1.0 + np.exp(-z))
        nll = np.sum(w * (np.logaddexp(0, z) - y * z))
        g = w * (p - y)
        return nll + d @ d / (2 * c), np.concatenate([x.T @ g + d / c, [g.sum()]])

    fitted = minimize(loss, np.zeros(len(init.idf) + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    d, b = fitted.x[:-1], fitted.x[-1]
    return TfidfModel(init.features, init.idf, init.coef + d, init.intercept + b)
