"""Pretrained word vectors from a PyPI wheel: wordllama's token embeddings, averaged over each text.

    vectors = WordVectors.installed()          # the matrix and tokenizer inside the installed wordllama wheel
    vectors.pool(["not bad at all"])           # (n, 256) float64: each text's mean token vector, unit length
    part, columns = VectorPart.fit(vectors, texts, weight=0.25)   # standardised columns for a linear model
    part.logits(texts)                         # what its weights (set once fitted) add to a text's logit

wordllama 0.4 ships a 32,000 x 256 float16 matrix (`weights/l2_supercat_256.safetensors`, the
Llama 2 tokenizer's vocabulary, trained to average into sentence vectors) and its tokenizer file
inside the wheel. Both are read from the installed package's folder, found from its metadata; the
wordllama package itself is never imported (it would load its Hugging Face download code and set up
the root logger), and nothing is downloaded. A bundle that uses them records their sha256 and
refuses another copy, as the lexicon does. A word the training rows never held still has a vector
(its tokens'), so it still moves the call.

A text is cut at its spaces and each piece tokenized as wordllama does (the piece's token vectors
are summed once and kept, so a scoring process tokenizes each distinct word once); the tokens'
vectors are averaged and the mean scaled to unit length (wordllama's own `embed(norm=True)`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import threading

import numpy as np

from classifier.errors import UserError

PACKAGE = "wordllama"
WEIGHTS = "wordllama/weights/l2_supercat_256.safetensors"
TOKENIZER = "wordllama/tokenizers/l2_supercat_tokenizer_config.json"
TENSOR = "embedding.weight"
FILE = "vectors.npz"  # a bundle's vector part: standardisation and weights
INSTALL = "pip install wordllama (the `vectors` extra: pip install 'classifier[vectors]')"
SPACE = "\u2581"  # "▁", SentencePiece's mark of a word's start
# the Llama 2 tokenizer's normalizer: "▁" before the text, every space a "▁"
PLAIN_NORMALIZER = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SPACE},
                                                        {"type": "Replace", "pattern": {"String": " "},
                                                         "content": SPACE}]}
CACHE_PIECES = 1 << 16  # distinct pieces whose token sums a process keeps (float64: 128 MB), then starts afresh


class WordVectors:
    def __init__(self, matrix: np.ndarray, tokenizer, sha256: dict[str, str], version: str):
        self.matrix = matrix  # (vocabulary, dim) float64 (the float16 values, exactly)
        self.tokenizer = tokenizer
        self.sha256 = sha256  # {"weights": ..., "tokenizer": ...}
        self.version = version
        self.plain_normalizer = False  # True: `token_ids` may run the BPE model directly
        self._pieces: dict[str, int] = {}  # piece -> its row in _sums
        self._sums = np.zeros((0, matrix.shape[1]))  # each piece's token vectors summed
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    @classmethod
    @functools.cache
    def installed(cls) -> WordVectors:
        """The matrix and tokenizer file inside the installed wordllama wheel (never downloaded)."""
        try:
            dist = importlib.metadata.distribution(PACKAGE)
            from safetensors.numpy import load
            from tokenizers import Tokenizer
        except (importlib.metadata.PackageNotFoundError, ImportError):
            raise UserError(f"the word-vector features need wordllama: {INSTALL}") from None
        try:
            weights = dist.locate_file(WEIGHTS).read_bytes()
            tokenizer = dist.locate_file(TOKENIZER).read_bytes()
        except OSError as e:
            raise UserError(f"the installed wordllama {dist.version} has no {e.filename}: {INSTALL} "
                            f"(version 0.4 ships its vectors in the wheel)") from None
        matrix = load(weights)[TENSOR].astype(np.float64)
        config = json.loads(tokenizer)
        tok = Tokenizer.from_str(tokenizer.decode("utf-8"))
        tok.no_padding()
        tok.no_truncation()
        sha = {"weights": hashlib.sha256(weights).hexdigest(), "tokenizer": hashlib.sha256(tokenizer).hexdigest()}
        vectors = cls(matrix, tok, sha, dist.version)
        vectors.plain_normalizer = config.get("normalizer") == PLAIN_NORMALIZER and not config.get("pre_tokenizer")
        return vectors

    def token_ids(self, pieces: list[str]) -> list[list[int]]:
        """The tokenizer's ids of each piece (no space inside). Its normalizer only puts "▁" before the
        text (and turns spaces into "▁"), so the BPE model is run on "▁" + piece directly: the same ids
        at less than half the cost of `encode_batch`, and a review's "<s>" stays text (`encode_batch`
        would read it as the start-of-text token)."""
        if not self.plain_normalizer:
            return [e.ids for e in self.tokenizer.encode_batch(pieces, add_special_tokens=False)]
        bpe = self.tokenizer.model
        return [[t.id for t in bpe.tokenize(SPACE + p)] if p else [] for p in pieces]

    def pieces(self, texts) -> tuple[np.ndarray, np.ndarray, list[list[str]], np.ndarray]:
        """(each piece's row in the sums, pieces per text, the pieces, the token-vector sums of the
        distinct pieces) of `texts` cut at spaces; new pieces are tokenized (one batch) and kept. A server's
        threads share the cache: one updates it at a time, and each reads the arrays it was given."""
        split = [str(t).split(" ") for t in texts]
        with self._lock:
            new = [p for p in dict.fromkeys(p for s in split for p in s) if p not in self._pieces]
            if len(self._pieces) + len(new) > CACHE_PIECES:
                self._pieces, self._sums = {}, np.zeros((0, self.dim))
                new = list(dict.fromkeys(p for s in split for p in s))
            if new:
                ids = self.token_ids(new)
                counts = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
                flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(counts.sum()))
                start = len(self._pieces)
                self._pieces.update((p, start + i) for i, p in enumerate(new))
                self._sums = np.concatenate([self._sums, row_sums(flat, counts, self.matrix.shape[0]) @ self.matrix])
            index, sums = self._pieces, self._sums
            rows = np.fromiter((index[p] for s in split for p in s), dtype=np.int64)
        return rows, np.fromiter(map(len, split), dtype=np.int64, count=len(split)), split, sums

    def pool(self, texts) -> np.ndarray:
        """(n, dim) float64: each text's tokens' mean vector, scaled to unit length (zeros: no tokens)."""
        texts = list(texts)
        rows, per_text, _, pieces = self.pieces(texts)
        sums = row_sums(rows, per_text, len(pieces)) @ pieces  # a text's pieces in its order, in any batch
        norm = np.sqrt(np.einsum("ij,ij->i", sums, sums))  # the mean's length is the sum's over the count
        return sums / np.where(norm > 0, norm, 1.0)[:, None]


def row_sums(flat: np.ndarray, lengths: np.ndarray, width: int):
    """A sparse (rows, width) matrix of ones that sums, row by row, the `lengths[r]` rows of a matrix
    `flat` names (in that order, repeats counted)."""
    from scipy.sparse import csr_matrix

    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return csr_matrix((np.ones(len(flat)), flat, indptr), shape=(len(lengths), width))


class VectorPart:
    """The pooled vectors as a linear model's columns: standardised on the training texts, times
    `weight / sqrt(dim)` so that the block's length is about `weight` (a TF-IDF row's is 1), and the
    weights the joint fit gave them (`coef`). `logits(texts)` is their share of each text's logit."""

    def __init__(self, vectors: WordVectors, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray | None = None):
        self.vectors = vectors
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.coef = None if coef is None else np.asarray(coef, np.float64)

    @classmethod
    def fit(cls, vectors: WordVectors, texts, weight: float) -> tuple[VectorPart, np.ndarray]:
        """(the part, its columns for `texts`): mean and spread from these texts."""
        pooled = vectors.pool(texts)
        mean, spread = pooled.mean(axis=0), pooled.std(axis=0)
        part = cls(vectors, mean, weight / np.sqrt(vectors.dim) / np.where(spread > 0, spread, 1.0))
        return part, part.columns_of(pooled)

    def columns_of(self, pooled: np.ndarray) -> np.ndarray:
        return (pooled - self.mean) * self.scale

    def columns(self, texts) -> np.ndarray:
        return self.columns_of(self.vectors.pool(texts))

    def logits(self, texts) -> np.ndarray:
        """(n,) what the part adds to each text's logit (a text without tokens: the mean's share)."""
        return self.columns(texts) @ self.coef

    def piece_shares(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray, float]:
        """(character span of each piece of `text`, each piece's share of `logits([text])`, the rest):
        the pooled vector is the token sum over its length, so each piece adds its own token sum's
        share; the mean's share is the rest (a constant of the model)."""
        rows, _, [split], pieces = self.vectors.pieces([text])
        sums = pieces[rows]
        total = sums.sum(axis=0)
        norm = float(np.sqrt(total @ total)) or 1.0
        w = self.scale * self.coef
        spans, at = [], 0
        for p in split:
            spans.append((at, at + len(p)))
            at += len(p) + 1
        return spans, sums @ w / norm, float(-self.mean @ w)

    # -- persistence ---------------------------------------------------------
    def save(self, folder) -> list[str]:
        with open(folder / FILE, "wb") as f:
            np.savez(f, mean=self.mean, scale=self.scale, coef=self.coef)
        return [FILE]

    def meta(self) -> dict:
        """What config.json records: the vectors' package version and sha256 (checked on loading)."""
        return {"package": PACKAGE, "version": self.vectors.version, "sha256": self.vectors.sha256}

    @classmethod
    def load(cls, folder, meta: dict) -> VectorPart:
        vectors = WordVectors.installed()
        if vectors.sha256 != meta.get("sha256"):
            raise UserError(f"{folder} was trained with other word vectors ({PACKAGE} {meta.get('version')}, "
                            f"sha256 {json.dumps(meta.get('sha256'))}) than the installed {PACKAGE} "
                            f"{vectors.version}'s; install {PACKAGE}=={meta.get('version')} or retrain the bundle")
        try:
            with np.load(folder / FILE, allow_pickle=False) as w:
                mean, scale, coef = w["mean"], w["scale"], w["coef"]
        except FileNotFoundError:
            raise UserError(f"{folder} is not a complete tfidf bundle: {FILE} is missing; retrain it") from None
        except (ValueError, KeyError) as e:
            raise UserError(f"{folder}: {FILE} is not readable ({e}); retrain the bundle") from None
        if not (len(mean) == len(scale) == len(coef) == vectors.dim):
            raise UserError(f"{folder}: {FILE} holds {len(coef)} weights for vectors of {vectors.dim}; "
                            f"retrain the bundle")
        return cls(vectors, mean, scale, coef)


class EncodedTexts(list):
    """A vectors bundle's encoding: the n-gram id lists of the texts (a list, as every encoder gives)
    and `vector_logits`, the vector part's share of each text's logit."""

    vector_logits: np.ndarray


class VectorEncoder:
    """Texts -> n-gram ids (the TF-IDF features') with the vector part's logits beside them."""

    def __init__(self, features, part: VectorPart):
        self.features = features
        self.part = part

    def encode_many(self, texts) -> list[list[int]]:
        texts = texts if isinstance(texts, list) else list(texts)
        ids = self.features.encode_many(texts)
        if not hasattr(ids, "__dict__"):  # a plain list; fastwords.IdRows takes the attribute as it is
            ids = EncodedTexts(ids)
        ids.vector_logits = self.part.logits(texts)
        return ids

    def encode(self, text: str) -> list[int]:
        return self.features.encode(text)

    def __getattr__(self, name):  # the rest (terms, index, analyzer, ...) are the features'
        return getattr(self.features, name)


class TfidfWithVectors:
    """A binary TF-IDF model whose logit also takes the vector part's (what `train` fits with
    cfg.tfidf_vectors; a tfidf bundle holding vectors.npz scores the same way)."""

    n_classes = None

    def __init__(self, tfidf, part: VectorPart):
        self.tfidf = tfidf
        self.part = part

    @property
    def features(self):
        return self.tfidf.features

    def logits(self, texts) -> np.ndarray:
        texts = list(texts)
        return self.tfidf.logits_texts(texts) + self.part.logits(texts)

    def predict_proba(self, texts) -> np.ndarray:
        from classifier.classify.metrics import sigmoid

        return sigmoid(self.logits(texts)).astype(np.float32)

    def save(self, folder) -> list[str]:
        return self.tfidf.save(folder) + self.part.save(folder)


def fit_with_vectors(texts: list[str], y: np.ndarray, cfg, sample_weight: np.ndarray | None = None) -> TfidfWithVectors:
    """cfg's TF-IDF model fitted jointly with the texts' pooled vectors (standardised on these texts,
    their block about cfg.tfidf_vectors long) in one logistic regression."""
    from classifier.models.tfidf import fit_tfidf

    part, columns = VectorPart.fit(WordVectors.installed(), texts, cfg.tfidf_vectors)
    model = fit_tfidf(texts, y, cfg, sample_weight=sample_weight, dense=columns)
    part.coef = model.dense_coef
    return TfidfWithVectors(model, part)
