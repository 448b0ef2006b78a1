"""Which words made the call: a contribution for every word of a review, for every bundle kind.

    bundle = classifier.load("saved_models/default")
    [e] = bundle.explain(["Love the colour but it ripped"], top=3)
    e.label, e.proba, e.base, e.logit      # the call, and the logit its words add up from / to
    e.top_for, e.top_against               # the 3 words that pushed hardest towards / away from it
    e.words                                # every word: Word(word, position, start, end, contribution)

What a contribution means: a word's share of the logit of the predicted class (binary: log odds
of the predicted label, so a positive number always pushes towards the call; multi-class: the
class's score before the softmax, one column per class in `Word.contributions`). The numbers add
up from `base`, the model's logit for a review with no known words:
    base + sum(contributions) + residual == logit
- tfidf (logistic regression over TF-IDF n-grams): exact. A feature adds coefficient x value (its
  sublinear tf-idf, l2-normalised); an n-gram's share is split evenly over its n words and over its
  occurrences. residual == 0, to float rounding.
  With the lexicon prior, a sentiment word's pseudo-term goes to that word and the text's
  compound bin is split over all its words.
- lstm: leave-one-word-out occlusion on the NumPy engine (no TensorFlow): a word's contribution is
  logit(review) - logit(review without that word), exactly what the Keras model gives for the two
  padded rows. The interactions occlusion does not split are `residual`. Cost: removing word i keeps
  the states over words 0..i-1, so one pass records those states and each removal only runs the
  words after it: about n/2 forward passes for n words (n^2/2 steps), batched over every removal
  of many reviews at once, aligned at their last word as the engine aligns reviews.
- tfidf with word vectors (classifier.models.vectors): the pooled vector's share is exact as well:
  each space-separated piece adds its tokens' share, split over the words inside it.
- stack (tuned): the blend is linear in its inputs, so it is exact over them; each input brings its
  own explanation: the LSTM's logit by occlusion, the TF-IDF logit and the rating regression exactly.
  Multi-class: the blend reads log-probabilities, each taken by occlusion (the TF-IDF's recomputed
  without the word), then combined exactly.
The "words" are the tokenizer's (Korean: the analyzer's morphemes; tfidf bundles: the n-gram
vectorizer's tokens), with their character spans in the text; unknown words contribute 0.
`order` ranks the words that carried the call first: for an LSTM, the occlusion ranking refined by
a few greedy rounds (`deletion_order`), which is what `make bench-explain`'s deletion curve rewards.
The end of the module words explanations for the places they appear: `classifier explain`'s text
and HTML, `score --explain`'s top_words cell and the evaluation report's section.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.classify.metrics import sigmoid, softmax
from classifier.engine.classifier_net import ClassifierEngine, one_blas_thread, run_chunks
from classifier.errors import UserError
from classifier.io.morphemes import DROPPED_TAGS, kiwi
from classifier.models.lexicon import TERM_PREFIX as lexicon_prefix
from classifier.models.lexicon import WORD as lexicon_word
from classifier.models.stack import stack_inputs
from classifier.models.tfidf import TfidfModel

DEFAULT_TOP = 5
ROWS_PER_CHUNK = 2048  # removal rows a thread runs together: each step's gate block stays near the cache
# the deletion order: a few greedy rounds over the strongest candidates (benchmarks/explanations.py
# measures what they add to the deletion curve, and what they cost)
REFINE_TAKE, REFINE_ROUNDS, REFINE_CANDIDATES = 2, 4, 8


@dataclass(frozen=True)
class Word:
    """One word of a review: where it is and how much it moved the logit of the predicted class."""

    word: str
    position: int  # index among the review's words
    start: int  # character span in the text (text[start:end] is the word as written)
    end: int
    contribution: float  # to the predicted class's logit
    contributions: tuple[float, ...] | None = None  # multi-class: to each class's score, bundle order

    def to_dict(self) -> dict:
        d = {"word": self.word, "position": self.position, "start": self.start, "end": self.end,
             "contribution": round(self.contribution, 6)}
        if self.contributions is not None:
            d["contributions"] = [round(c, 6) for c in self.contributions]
        return d


@dataclass
class Explanation:
    """A review's call and its words' contributions (see the module docstring for what they mean)."""

    text: str
    label: object  # the predicted class (binary: 0 or 1)
    proba: float  # its probability
    logit: float  # its logit (binary: log odds of `label`; multi-class: its score before the softmax)
    base: float  # the logit of a review with no known words
    residual: float  # logit - base - sum(contributions): the part occlusion leaves unsplit (0 when exact)
    words: list[Word]
    top: int = DEFAULT_TOP
    probas: tuple[float, ...] = ()  # every class's, in the bundle's order (binary: 1 - P(recommends), P(recommends))
    status: str = "ok"  # ok, truncated, no_known_words, empty (as `score` says)
    classes: list | None = None  # multi-class: the bundle's classes, the order of `contributions`
    logits: tuple[float, ...] | None = None  # multi-class: every class's score
    bases: tuple[float, ...] | None = None
    method: str = ""
    # word positions, the words that carried the call first: by contribution, or (lstm) the deletion
    # order, which follows the contributions and then re-ranks the strongest greedily (deletion_order)
    order: list[int] = field(default_factory=list)

    @property
    def top_for(self) -> list[Word]:
        """The `top` words that pushed towards the call (positive contributions), strongest first
        (in `order`)."""
        return [self.words[p] for p in self.order if self.words[p].contribution > 0][: self.top]

    @property
    def top_against(self) -> list[Word]:
        """The `top` words with the most negative contributions, strongest first."""
        return sorted((w for w in self.words if w.contribution < 0), key=lambda w: w.contribution)[: self.top]

    def strongest(self, k: int | None = None) -> list[Word]:
        """The k words (default `top`) of largest |contribution|, strongest first; zeros left out."""
        k = self.top if k is None else k
        return sorted((w for w in self.words if w.contribution != 0), key=lambda w: -abs(w.contribution))[:k]

    def to_dict(self) -> dict:
        label = self.label.item() if isinstance(self.label, np.generic) else self.label
        d = {"text": self.text, "label": label, "proba": round(self.proba, 6),
             "probas": [round(p, 6) for p in self.probas], "logit": round(self.logit, 6),
             "base": round(self.base, 6), "residual": round(self.residual, 6), "status": self.status,
             "method": self.method, "words": [w.to_dict() for w in self.words],
             "top_for": [w.position for w in self.top_for], "top_against": [w.position for w in self.top_against],
             "order": self.order}
        if self.classes is not None:
            d["classes"] = [c.item() if isinstance(c, np.generic) else c for c in self.classes]
            d["logits"] = [round(v, 6) for v in self.logits]
            d["bases"] = [round(v, 6) for v in self.bases]
        return d


# -- words and their spans -------------------------------------------------------------------------
def tokenizer_words(tokenizer, texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
    """(word, start, end) of each word the tokenizer's `split_many` gives, in order."""
    cfg = tokenizer.config
    if cfg.analyzer == "korean":
        return korean_words(texts)
    pattern = re.compile("[^" + re.escape(cfg.filters + " ") + "]+")
    return [[(m.group().lower() if cfg.lower else m.group(), m.start(), m.end()) for m in pattern.finditer(t)]
            for t in texts]


def korean_words(texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
    """The morphemes classifier.io.morphemes gives (forms, separators dropped), with their spans."""
    if not texts:
        return []
    return [[(t.form.lower().replace(" ", "_"), t.start, t.start + t.len) for t in tokens
             if t.tag not in DROPPED_TAGS] for tokens in kiwi().tokenize(list(texts))]


def tfidf_words(model: TfidfModel, texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
    """The tokens a tfidf bundle's n-grams are made of, with their spans."""
    if model.features.analyzer == "korean":
        return korean_words(texts)
    pattern = re.compile(model.features.token_pattern)
    return [[(m.group().lower(), m.start(), m.end()) for m in pattern.finditer(t)] for t in texts]


# -- exact: TF-IDF + a linear model ----------------------------------------------------------------
def tfidf_contributions(model: TfidfModel, terms: list[str],
                        extra: Sequence[tuple[int, int, int]] = ()) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Per-token shares (tokens, k) of the logits (k = 1 for a sigmoid model) and (tokens,) of the aux
    regression (or None), each summing over the tokens to the model's value minus its intercept; and
    the count of known n-gram occurrences. `extra`: more occurrences (feature id, first token, n) of
    features that are no n-gram of the tokens (the lexicon prior's pseudo-terms: `lexicon_occurrences`)."""
    index, feats = model.features.index, model.features
    occurrences = []  # (feature id, first token, n)
    for n in range(1, feats.ngrams + 1):
        for k in range(len(terms) - n + 1):
            f = index.get(terms[k] if n == 1 else " ".join(terms[k : k + n]))
            if f is not None:
                occurrences.append((f, k, n))
    occurrences += list(extra)
    k_out = 1 if model.n_classes is None else model.n_classes
    share = np.zeros((len(terms), k_out))
    aux = None if model.aux_coef is None else np.zeros(len(terms))
    if not occurrences:
        return share, aux, 0
    ids = np.array([o[0] for o in occurrences])
    uniq, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    x = (1.0 + np.log(counts)) * model.idf[uniq]
    x /= np.sqrt(x @ x)  # as scores_pairs: sublinear tf x idf, l2-normalised
    coef = model.coef[uniq].reshape(len(uniq), k_out)
    per_occurrence = (coef * x[:, None] / counts[:, None])[inverse]
    aux_occurrence = None if aux is None else (model.aux_coef[uniq] * x / counts)[inverse]
    for j, (_, k, n) in enumerate(occurrences):
        share[k : k + n] += per_occurrence[j] / n
        if aux is not None:
            aux[k : k + n] += aux_occurrence[j] / n
    return share, aux, len(occurrences)


# -- occlusion on the NumPy engine -----------------------------------------------------------------
def run_rows(direction, seqs: list[np.ndarray], h0: np.ndarray, c0: np.ndarray,
             keep: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Final h of each row, started from (h0, c0), rows aligned at their last id (engine.classifier_net's
    Direction.final_h with given start states). With `keep`, also the (h, c) before each id of each
    row, rows one after the other (row r's ids at offsets[r]...)."""
    n = len(seqs)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")
    lengths_sorted = lengths[order]
    h, c = h0[order].copy(), c0[order].copy()
    longest = int(lengths_sorted[0]) if n else 0
    kept_h = kept_c = None
    if keep:
        offsets = np.cumsum(lengths) - lengths
        kept_h = np.empty((int(lengths.sum()), h.shape[1]), np.float32)
        kept_c = np.empty_like(kept_h)
    if longest:
        ids = np.zeros((longest, n), dtype=np.int64)
        for row, r in enumerate(order.tolist()):
            if lengths[r]:
                ids[longest - lengths[r]:, row] = seqs[r]
        started = np.searchsorted(-lengths_sorted, -(longest - np.arange(longest)), side="right")

        def record(j: int, k: int) -> None:  # row r reads its id number j - (longest - length) next
            at = offsets[order[:k]] + j - (longest - lengths_sorted[:k])
            kept_h[at], kept_c[at] = h[:k], c[:k]

        direction.cell.run(ids, started, h, c, before=record if keep else None)
    out = np.empty_like(h)
    out[order] = h
    return out, kept_h, kept_c


def occlusion_h(direction, seqs: list[np.ndarray], maxlen: int, masked: bool,
                positions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(final h of each review (reviews, u), final h of each review without its id i for each i of
    positions[r], rows one review after another) for reviews of at most maxlen ids, front-padded."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    units = direction.recurrent.shape[0]
    if masked:  # padding skipped: every row starts from the zero state
        start_full = np.zeros((len(seqs), units), np.float32)
        start_less = start_full
        c_full = c_less = start_full
    else:  # a review one id shorter starts after one more pad
        start_full, c_full = direction.prefix_h[maxlen - lengths], direction.prefix_c[maxlen - lengths]
        shorter = np.minimum(maxlen - lengths + 1, maxlen)  # (an empty review has no removals)
        start_less, c_less = direction.prefix_h[shorter], direction.prefix_c[shorter]
    # one pass over each review from the shorter start records the states before each id ...
    h_pass, kept_h, kept_c = run_rows(direction, seqs, start_less, c_less, keep=True)
    # ... and the review without id i is that state before i, then ids i+1..n-1
    rest = [s[i + 1:] for s, where in zip(seqs, positions, strict=True) for i in where.tolist()]
    at = np.concatenate([np.cumsum(lengths)[r] - lengths[r] + where for r, where in enumerate(positions)]
                        ) if len(seqs) else np.zeros(0, np.int64)
    h_less, _, _ = run_rows(direction, rest, kept_h[at], kept_c[at])
    if masked:
        return h_pass, h_less
    h_full, _, _ = run_rows(direction, seqs, start_full, c_full)
    return h_full, h_less


def lstm_scores(engine: ClassifierEngine, h: np.ndarray) -> np.ndarray:
    """The head's scores before the sigmoid / softmax, (rows, 1) or (rows, k), float64."""
    z = h @ engine.dense_kernel + engine.dense_bias
    return np.asarray(z, np.float64).reshape(len(h), engine.n_classes or 1)


def lstm_occlusion(engine: ClassifierEngine, id_lists: Sequence[Sequence[int]],
                   positions: Sequence[Sequence[int]] | None = None,
                   threads: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(scores of each review (n, kz), [scores of review r without its id i, for each i of positions[r]
    (default: every i), (len, kz)]), kz = 1 for the sigmoid head. Ids before a truncated review's
    window change nothing: scores there equal the review's."""
    if engine.padding != "pre" or engine.truncating != "pre":
        raise UserError("explanations run on front-padded, front-truncated models (the presets'); "
                        "this bundle pads or truncates at the end")
    seqs = [np.asarray(s, np.int64) for s in id_lists]
    for s in seqs:
        if len(s) and (s.min() < 0 or s.max() >= engine.vocab_size):
            raise ValueError(f"word id outside the model's vocabulary 0..{engine.vocab_size - 1}")
    where = [np.arange(len(s)) for s in seqs] if positions is None else [np.asarray(p, np.int64) for p in positions]
    n = len(seqs)
    full = np.zeros((n, engine.n_classes or 1))
    less: list[np.ndarray | None] = [None] * n
    short = [r for r in range(n) if len(seqs[r]) <= engine.maxlen]
    threads = threads or os.cpu_count() or 1
    # chunks of similar-length reviews, each about ROWS_PER_CHUNK removal rows and at least two a thread
    # while there is work for them, so the threads stay busy to the end; the longest reviews go first,
    # since a review's removals cost its length times theirs
    short.sort(key=lambda r: -len(seqs[r]))
    per_chunk = min(ROWS_PER_CHUNK, max(1, -(-sum(len(where[r]) for r in short) // (2 * threads))))
    chunks, current, rows = [], [], 0
    for r in short:
        current.append(r)
        rows += len(where[r])
        if rows >= per_chunk:
            chunks.append(current)
            current, rows = [], 0
    if current:
        chunks.append(current)

    def run(chunk):
        chunk_seqs, chunk_where = [seqs[r] for r in chunk], [where[r] for r in chunk]
        # the backward direction reads the review reversed: id i is its id n - 1 - i, in the same row order
        parts = [occlusion_h(d, chunk_seqs, engine.maxlen, engine.mask_zero, chunk_where) if k == 0 else
                 occlusion_h(d, [s[::-1] for s in chunk_seqs], engine.maxlen, engine.mask_zero,
                             [len(s) - 1 - w for s, w in zip(chunk_seqs, chunk_where, strict=True)])
                 for k, d in enumerate(engine.directions)]
        z_full = lstm_scores(engine, np.concatenate([p[0] for p in parts], axis=1))
        z_less = lstm_scores(engine, np.concatenate([p[1] for p in parts], axis=1))
        at = 0
        for j, r in enumerate(chunk):
            full[r], less[r] = z_full[j], z_less[at : at + len(where[r])]
            at += len(where[r])

    run_chunks(run, chunks, threads)
    with one_blas_thread():
        for r in range(n):  # longer than the window: removing a word inside it brings in the one before
            if less[r] is None:
                full[r], every = truncated_occlusion(engine, seqs[r])
                less[r] = every[where[r]]
    return full, less


def truncated_occlusion(engine: ClassifierEngine, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lstm_occlusion of one review longer than the window, every removal run whole (rare: the
    presets' windows hold their longest reviews)."""
    m, n = engine.maxlen, len(seq)
    rows = [seq[n - m:]] + [np.delete(seq, i)[-m:] for i in range(n - m, n)]
    z = explicit_scores(engine, rows)
    less = np.repeat(z[:1], n, axis=0)
    less[n - m:] = z[1:]
    return z[0], less


def explicit_scores(engine: ClassifierEngine, seqs: list[np.ndarray]) -> np.ndarray:
    """Head scores (rows, kz) of id sequences of at most maxlen ids each, run whole."""
    h = []
    for k, d in enumerate(engine.directions):
        rows = seqs if k == 0 else [s[::-1] for s in seqs]
        if engine.mask_zero:
            zero = np.zeros((len(rows), d.recurrent.shape[0]), np.float32)
            h.append(run_rows(d, rows, zero, zero)[0])
        else:
            skipped = engine.maxlen - np.array([len(s) for s in rows])
            h.append(run_rows(d, rows, d.prefix_h[skipped], d.prefix_c[skipped])[0])
    return lstm_scores(engine, np.concatenate(h, axis=1))


def empty_scores(engine: ClassifierEngine) -> np.ndarray:
    """The head's scores for a review with no known words (kz,)."""
    return explicit_scores(engine, [np.zeros(0, np.int64)])[0]


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# -- per bundle kind ---------------------------------------------------------------------------------
@dataclass
class Raw:
    """One review's figures before they are turned towards the predicted class: scores (kz,), base
    (kz,), per-word contributions (words, kz), probabilities (k,) in the bundle's class order."""

    scores: np.ndarray
    base: np.ndarray
    contributions: np.ndarray
    proba: np.ndarray
    known: int  # ids the model read (tfidf: n-gram occurrences), for the status
    order: list[int] | None = None  # word positions in deletion order, when not by contribution


def towards(bundle, proba: np.ndarray) -> tuple[int, int, float]:
    """(predicted class's index, the scores' column that is its logit, the sign that turns it towards
    the class): a binary bundle's one logit is P(recommends)'s, so a 0 call reads it negated."""
    if bundle.multiclass:
        c = int(np.argmax(proba))
        return c, c, 1.0
    c = int(proba[1] >= bundle.threshold)
    return c, 0, (1.0 if c == 1 else -1.0)


def deletion_order(engine: ClassifierEngine, seqs: list[list[int]], loo: list[np.ndarray],
                   loo_dirs: list[tuple[int, float]]) -> list[list[int]]:
    """Each review's id positions, the ones whose removal lowers the call's logit most first: the
    REFINE_TAKE largest occlusion contributions (`loo`, towards the call), then REFINE_ROUNDS times the
    REFINE_TAKE of the next REFINE_CANDIDATES by occlusion that lower it most once the words taken so
    far are gone (a removed word can unmask one that repeats it), then the rest by occlusion.
    `loo_dirs`: (scores' column, sign) of each review's call."""
    ranked = [np.argsort(-c, kind="stable").tolist() for c in loo]
    chosen = [r[:REFINE_TAKE] for r in ranked]
    for _ in range(REFINE_ROUNDS):
        todo = [r for r in range(len(seqs)) if len(seqs[r]) - len(chosen[r]) >= 2]
        if not todo:
            break
        reduced, candidates, positions = [], [], []
        for r in todo:
            taken = set(chosen[r])
            keep = [j for j in range(len(seqs[r])) if j not in taken]
            at = {j: i for i, j in enumerate(keep)}
            cands = [j for j in ranked[r] if j not in taken][:REFINE_CANDIDATES]
            reduced.append([seqs[r][j] for j in keep])
            candidates.append(cands)
            positions.append([at[j] for j in cands])
        full, less = lstm_occlusion(engine, reduced, positions)
        for r, cands, z, z_less, (pick, sign) in zip(todo, candidates, full, less, (loo_dirs[r] for r in todo),
                                                     strict=True):
            drop = sign * (z[pick] - z_less[:, pick])
            chosen[r] += [cands[i] for i in np.argsort(-drop, kind="stable")[:REFINE_TAKE]]
    return [c + [j for j in r if j not in set(c)] for c, r in zip(chosen, ranked, strict=True)]


def known_ids(tokenizer, words: list[tuple[str, int, int]]) -> tuple[list[int], list[int]]:
    """(ids of the known words, their word positions)."""
    lookup = tokenizer.word_index.get
    ids, where = [], []
    for position, (word, _, _) in enumerate(words):
        i = lookup(word)
        if i:
            ids.append(i)
            where.append(position)
    return ids, where


def explain_lstm(bundle, words: list[list], order: bool = True) -> list[Raw]:
    engine = bundle.numpy_engine()
    found = [known_ids(bundle.tokenizer, w) for w in words]
    seqs = [ids for ids, _ in found]
    full, less = lstm_occlusion(engine, seqs)
    base = empty_scores(engine)
    out, loo, dirs = [], [], []
    for (ids, where), w, z, z_less in zip(found, words, full, less, strict=True):
        contrib = np.zeros((len(w), len(z)))
        contrib[where] = z - z_less
        proba = softmax(z) if engine.n_classes else np.array([1 - sigmoid(z[0]), sigmoid(z[0])])
        out.append(Raw(z, base, contrib, proba, len(ids)))
        _, pick, sign = towards(bundle, proba)
        loo.append(sign * (z[pick] - z_less[:, pick]))
        dirs.append((pick, sign))
    if order:
        for raw, (_, where), ranked in zip(out, found, deletion_order(engine, seqs, loo, dirs), strict=True):
            raw.order = [where[j] for j in ranked]
    return out


def lexicon_occurrences(model: TfidfModel, text: str, words: list[tuple[str, int, int]]) -> list[tuple[int, int, int]]:
    """The lexicon prior's pseudo-terms of `text` as occurrences over its tokens (`words`, with spans):
    a sentiment word's term on the token that overlaps it, the text's compound bin over every token
    (a text of no token keeps none: its share is then the model's to add to the base)."""
    lexicon, index = model.features.lexicon, model.features.index
    terms = lexicon.terms([text])[0]
    lowered = text.lower()
    found = [m for m in lexicon_word.finditer(lowered) if lexicon.valence.get(m.group(), 0.0)]
    _, values = lexicon.valences([text])
    starts = np.array([a for _, a, _ in words], np.int64)
    ends = np.array([b for _, _, b in words], np.int64)
    out = []
    compound = index.get(terms[0])
    if compound is not None and len(words):
        out.append((compound, 0, len(words)))
    for m, v in zip(found, np.rint(values).astype(np.int64).tolist(), strict=True):
        f = index.get(f"{lexicon_prefix}{v:+d}") if v else None
        at = np.flatnonzero((starts < m.end()) & (ends > m.start()))
        if f is not None and len(at):
            out.append((f, int(at[0]), 1))
    return out


def explain_tfidf(bundle, words: list[list], order: bool = True, texts: Sequence[str] | None = None) -> list[Raw]:
    model = bundle.model
    lexicon = model.features.lexicon is not None and texts is not None
    out = []
    for i, w in enumerate(words):
        extra = lexicon_occurrences(model, texts[i], w) if lexicon else ()
        share, _, known = tfidf_contributions(model, [t for t, _, _ in w], extra)
        base = np.atleast_1d(model.intercept).astype(np.float64)
        if lexicon and not w:  # no token to carry the compound bin's share: it is this text's base
            base = np.atleast_1d(model.logits_ids(model.features.encode_many([texts[i]]))).astype(np.float64)
        z = base + share.sum(axis=0)
        proba = softmax(z) if model.n_classes else np.array([1 - sigmoid(z[0]), sigmoid(z[0])])
        out.append(Raw(z, base, share, proba, known))
    return out


def add_vector_shares(part, texts: Sequence[str], words: list[list], raws: list[Raw]) -> None:
    """A vectors bundle's word-vector part, exact too: the pooled vector is its pieces' (the text cut
    at spaces) token sums over one length, so each piece adds its own share of the part's logit; the
    share goes to the words inside the piece, split evenly (a piece without one, such as "I" or "-",
    to the word before it, or after it), and the part's constant to the base."""
    for text, w, raw in zip(texts, words, raws, strict=True):
        spans, shares, rest = part.piece_shares(text)
        raw.base = raw.base + rest
        raw.scores = raw.scores + rest + shares.sum()
        starts = np.array([a for _, a, _ in w], np.int64)
        for (a, b), share in zip(spans, shares.tolist(), strict=True):
            inside = np.flatnonzero((starts >= a) & (starts < b))
            if not len(inside) and len(starts):
                before = np.flatnonzero(starts < a)
                inside = before[-1:] if len(before) else np.array([0])
            if len(inside):
                raw.contributions[inside, 0] += share / len(inside)
        p = sigmoid(raw.scores[0])
        raw.proba = np.array([1 - p, p])


def explain_stack(bundle, words: list[list], order: bool = True) -> list[Raw]:
    engine, tfidf, blend = bundle.numpy_engine(), bundle.tfidf, bundle.blend
    found = [known_ids(bundle.tokenizer, w) for w in words]
    full, less = lstm_occlusion(engine, [ids for ids, _ in found])
    lstm_base = empty_scores(engine)
    out = []
    for (ids, where), w, z_lstm, z_less in zip(found, words, full, less, strict=True):
        terms = [str(i) for i in ids]  # the stacked TF-IDF's n-grams are of word ids
        share, aux_share, _ = tfidf_contributions(tfidf, terms)
        t = np.atleast_1d(tfidf.intercept) + share.sum(axis=0)
        aux = None if aux_share is None else tfidf.aux_intercept + aux_share.sum()
        contrib = np.zeros((len(w), len(z_lstm) if engine.n_classes else 1))
        if "coef" not in blend:  # binary: z = a logit(lstm) + b logit(tfidf) [+ c aux] + bias
            # logit(sigmoid(z)) is z: the LSTM's logit is its head's score (the engine's p is float32)
            z = blend["lstm"] * z_lstm + blend["tfidf"] * t + blend["bias"]
            base = blend["lstm"] * lstm_base + blend["tfidf"] * tfidf.intercept + blend["bias"]
            part = blend["tfidf"] * share
            if "aux" in blend:
                z, base = z + blend["aux"] * aux, base + blend["aux"] * tfidf.aux_intercept
                part = part + blend["aux"] * aux_share[:, None]
            contrib[where] = blend["lstm"] * (z_lstm - z_less) + part
            p = float(sigmoid(z[0]))
            out.append(Raw(z, np.asarray(base, np.float64).reshape(1), contrib, np.array([1 - p, p]), len(ids)))
            continue
        # multi-class: z = coef @ [log P(lstm), log P(tfidf), aux] + bias, each input by occlusion
        coef, bias = np.asarray(blend["coef"]), np.asarray(blend["bias"])
        use_aux = "aux_column" in blend
        rows = [ids] + [ids[:i] + ids[i + 1:] for i in range(len(ids))]
        t_rows = tfidf.scores_pairs(*tfidf.features.id_pairs(rows), len(rows))
        x_lstm = log_softmax(np.vstack([z_lstm, z_less]))
        x_tfidf = log_softmax(t_rows[0])
        inputs = stack_inputs(np.exp(x_lstm), np.exp(x_tfidf), t_rows[1] if use_aux else None)
        z_rows = inputs @ coef.T + bias
        empty_t = np.asarray(tfidf.intercept, np.float64)
        empty_in = stack_inputs(softmax(lstm_base[None]), softmax(empty_t[None]),
                                np.array([tfidf.aux_intercept]) if use_aux else None)
        base = (empty_in @ coef.T + bias)[0]
        z = z_rows[0]
        contrib[where] = z - z_rows[1:]
        out.append(Raw(z, base, contrib, softmax(z[None])[0], len(ids)))
    return out


EXPLAINERS = {"lstm": explain_lstm, "tfidf": explain_tfidf, "stack": explain_stack}
METHODS = {"lstm": "occlusion", "tfidf": "exact", "stack": "blend"}


def explain(bundle, texts: Sequence[str], top: int = DEFAULT_TOP, order: bool = True) -> list[Explanation]:
    """An Explanation per text, in order (see the module docstring). order=False skips the LSTM's
    deletion order (its words are then ranked by contribution alone), for callers that want only
    the contributions (`score --explain`, the report)."""
    if isinstance(texts, str):
        raise UserError("explain takes a list of texts, not one string; wrap it: [text]")
    texts = ["" if t is None else str(t) for t in texts]
    if top < 0:
        raise UserError(f"{{field}} {top}: give 0 or more words", field="top", value=top, allowed=(0, None))
    kind = bundle.kind
    words = tfidf_words(bundle.model, texts) if kind == "tfidf" else tokenizer_words(bundle.tokenizer, texts)
    raws = explain_tfidf(bundle, words, order, texts) if kind == "tfidf" else EXPLAINERS[kind](bundle, words, order)
    if getattr(bundle, "vectors", None) is not None:
        add_vector_shares(bundle.vectors, texts, words, raws)
    classes = bundle.classes_.tolist()
    maxlen = bundle.maxlen
    out = []
    for text, w, raw in zip(texts, words, raws, strict=True):
        c, pick, sign = towards(bundle, raw.proba)
        contrib = sign * raw.contributions[:, pick]
        logit_c, base_c = sign * float(raw.scores[pick]), sign * float(raw.base[pick])
        multi = bundle.multiclass
        items = [Word(word, i, a, b, float(contrib[i]),
                      tuple(float(v) for v in raw.contributions[i]) if multi else None)
                 for i, (word, a, b) in enumerate(w)]
        status = ("empty" if not text.strip() else "no_known_words" if not raw.known else
                  "truncated" if maxlen is not None and raw.known > maxlen else "ok")
        out.append(Explanation(
            text=text, label=classes[c], proba=float(raw.proba[c]), probas=tuple(map(float, raw.proba)),
            logit=logit_c, base=base_c,
            residual=logit_c - base_c - float(contrib.sum()), words=items, top=top, status=status,
            classes=classes if multi else None,
            logits=tuple(map(float, raw.scores)) if multi else None,
            bases=tuple(map(float, raw.base)) if multi else None, method=METHODS[kind],
            order=raw.order if raw.order is not None else np.argsort(-contrib, kind="stable").tolist()))
    return out


# -- what the commands print -------------------------------------------------------------------------
def word_cell(words: list[Word]) -> str:
    """`score --explain K`'s column: `word:+1.234 word:-0.567`, strongest first (words hold no spaces)."""
    return " ".join(f"{w.word}:{w.contribution:+.3f}" for w in words)


def marked_text(e: Explanation) -> str:
    """The review as written, its top words for the call in [+...] and against it in [-...]."""
    marks = {w.position: "+" for w in e.top_for} | {w.position: "-" for w in e.top_against}
    out, at = [], 0
    for w in e.words:
        if w.position in marks:
            out += [e.text[at:w.start], f"[{marks[w.position]}{e.text[w.start:w.end]}]"]
            at = w.end
    out.append(e.text[at:])
    return " ".join("".join(out).splitlines())


def format_text(e: Explanation) -> str:
    """Two lines: probability, label, status and the marked review (as `predict` prints a review: a binary
    bundle's P(recommends), a multi-class one's most likely class's), then the top words each way and
    the sum they belong to."""
    def listed(words):
        return ", ".join(f"{w.word} {w.contribution:+.3f}" for w in words) or "-"

    proba = e.proba if e.classes is not None else e.probas[1]
    head = f"{proba:.6f}\t{e.label}\t{e.status}\t{marked_text(e)}"
    return (f"{head}\n\tfor: {listed(e.top_for)} | against: {listed(e.top_against)} | logit {e.logit:+.3f} = "
            f"base {e.base:+.3f} + words {e.logit - e.base - e.residual:+.3f}"
            + (f" + interactions {e.residual:+.3f}" if e.method != "exact" else ""))


def html_review(e: Explanation) -> str:
    """The review as HTML, each word that moved the call shaded: green towards it, red against, by its
    share of the review's strongest; its contribution in the title."""
    from html import escape

    strongest = max((abs(w.contribution) for w in e.words), default=0.0) or 1.0
    out, at = [], 0
    for w in e.words:
        if w.contribution == 0:
            continue
        alpha = min(abs(w.contribution) / strongest, 1.0) * 0.75
        colour = f"rgba(17,140,60,{alpha:.2f})" if w.contribution > 0 else f"rgba(200,30,40,{alpha:.2f})"
        out += [escape(e.text[at:w.start]),
                f'<span class="w" style="background:{colour}" title="{escape(w.word)} {w.contribution:+.3f}">'
                f"{escape(e.text[w.start:w.end])}</span>"]
        at = w.end
    out.append(escape(e.text[at:]))
    return "".join(out)


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }}
.review {{ border-bottom: 1px solid #ddd; padding: .6rem 0; }} .call {{ color: #555; font-size: .9rem; }}
.w {{ border-radius: 3px; padding: 0 1px; }}</style></head>
<body><h1>{title}</h1><p>Green words pushed towards the call, red ones against it; hover a word for its
contribution to the call's logit (base value: the logit of a review with no known words).</p>
{body}
</body></html>
"""


def format_html(explanations: list[Explanation], title: str = "Which words made the call") -> str:
    from html import escape

    rows = [f'<div class="review"><div class="call">{escape(str(e.label))} &middot; {e.proba:.4f} &middot; '
            f"{escape(e.status)} &middot; base {e.base:+.3f}, logit {e.logit:+.3f}</div>"
            f"<div>{html_review(e)}</div></div>" for e in explanations]
    return HTML_PAGE.format(title=escape(title), body="\n".join(rows))


# -- score's column and the report's section -----------------------------------------------------------
EXPLAIN_COLUMN = "top_words"  # `score --explain K`'s column


def top_word_cells(bundle, texts: Sequence[str], k: int) -> list[str]:
    """`score --explain K`'s cell per text: the k words of largest |contribution| with their signs
    (towards the call when positive), strongest first; empty for an empty text."""
    return ["" if e.status == "empty" else word_cell(e.strongest(k))
            for e in explain(bundle, texts, top=k, order=False)]


def split_summary(bundle, texts: Sequence[str], wrong: Sequence[str], n_words: int = 12) -> dict:
    """What the report shows: for each class, the words that pushed the split's reviews towards it
    most (summed over the reviews called that class), and the explanations of the `wrong` reviews."""
    explanations = explain(bundle, list(texts), order=False)
    totals: dict[object, dict[str, list[float]]] = {}
    for e in explanations:
        per_word = totals.setdefault(e.label, {})
        for w in e.words:
            if w.contribution:
                per_word.setdefault(w.word, []).append(w.contribution)
    classes = {}
    for label in bundle.classes_.tolist():
        ranked = sorted(totals.get(label, {}).items(), key=lambda kv: -sum(kv[1]))[:n_words]
        classes[str(label)] = [{"word": word, "total": round(sum(c), 4), "reviews": len(c),
                                "mean": round(sum(c) / len(c), 4)} for word, c in ranked]
    return {"reviews": len(explanations), "method": explanations[0].method if explanations else "",
            "towards": classes, "wrong": explain(bundle, list(wrong), top=DEFAULT_TOP)}


def summary_html(summary: dict, class_names: dict | None = None) -> str:
    """The report's section for `split_summary`'s figures."""
    from html import escape

    names = class_names or {}
    parts = [f"<h2>Which words moved the calls</h2><p class='sub'>Contributions to the logit of each review's "
             f"call ({escape(summary['method'])}; classifier explain), summed over the {summary['reviews']:,} "
             f"reviews called each class: the words that pushed the split's predictions most.</p>",
             "<div class='plots'>"]
    for label, rows in summary["towards"].items():
        parts.append(f"<table><tr><th>towards {escape(str(names.get(label, label)))}</th><th>total</th>"
                     "<th>reviews</th><th>mean</th></tr>")
        parts += [f"<tr><td>{escape(r['word'])}</td><td>{r['total']:.2f}</td><td>{r['reviews']:,}</td>"
                  f"<td>{r['mean']:+.3f}</td></tr>" for r in rows]
        parts.append("</table>")
    parts.append("</div><h2>Why the most confidently wrong reviews were called wrong</h2>"
                 "<p class='sub'>Green words pushed towards the (wrong) call, red against it.</p><table>"
                 "<tr><th>call</th><th>probability</th><th>strongest words</th><th class='text'>review</th></tr>")
    for e in summary["wrong"]:
        label = names.get(str(e.label), e.label)
        parts.append(f"<tr><td>{escape(str(label))}</td><td>{e.proba:.3f}</td>"
                     f"<td>{escape(word_cell(e.strongest(3)))}</td><td class='text'>{html_review(e)}</td></tr>")
    parts.append("</table>")
    return "\n".join(parts)


def summary_json(summary: dict) -> dict:
    return {"reviews": summary["reviews"], "method": summary["method"], "towards": summary["towards"],
            "wrong": [{"text": e.text, "label": e.label, "proba": round(e.proba, 6),
                       "top_for": [(w.word, round(w.contribution, 4)) for w in e.top_for],
                       "top_against": [(w.word, round(w.contribution, 4)) for w in e.top_against]}
                      for e in summary["wrong"]]}


def report_section(bundle, texts: Sequence[str], wrong: Sequence[str]) -> tuple[str, dict]:
    """(HTML, JSON) of the evaluation report's explanations: `texts` the split's reviews, `wrong` its
    most confidently wrong ones. A model the NumPy engine cannot run gets a note instead."""
    try:
        summary = split_summary(bundle, texts, wrong)
    except UserError as e:
        from html import escape

        return f"<h2>Which words moved the calls</h2><p class='sub'>Not available: {escape(str(e))}</p>", {
            "error": str(e)}
    names = None if bundle.multiclass else {"0": "not recommended", "1": "recommended"}
    return summary_html(summary, names), summary_json(summary)
