"""TF-IDF + logistic regression (`--preset tfidf`, SPEC's linear bar), and the tuned stack's partner.

    model = fit_tfidf(texts, y, cfg)          # scikit-learn fits it
    model.predict_proba(["love it"])          # plain Python and NumPy predict it

The files keep the n-gram vocabulary as JSON and idf, weights and bias as .npz (no pickle).
`TfidfFeatures` maps a text to the ids of its known n-grams, so scoring drives a tfidf bundle
like the LSTM bundles (`predict_proba_ids`).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.config import TrainConfig
from classifier.errors import UserError
from classifier.metrics import sigmoid

FORMAT = "classifier-tfidf/1"
VOCAB_FILE = "tfidf.json"
WEIGHTS_FILE = "tfidf.npz"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of 2+ word characters
ID_PATTERN = r"\S+"  # the tuned blend: n-grams of the word tokenizer's ids, written "12 507"


@dataclass
class FeatureConfig:
    maxlen: int = sys.maxsize  # n-gram features are never truncated (`score` reads tokenizer.config.maxlen)


class TfidfFeatures:
    """TfidfVectorizer(lowercase, ngram_range=(1, n), sublinear_tf, norm="l2") rebuilt from its vocabulary."""

    def __init__(self, terms: list[str], ngrams: int, token_pattern: str = TOKEN_PATTERN):
        self.terms = terms
        self.ngrams = ngrams
        self.token_pattern = token_pattern
        self.index = {t: i for i, t in enumerate(terms)}
        self._token = re.compile(token_pattern)
        self.config = FeatureConfig()

    def encode(self, text: str) -> list[int]:
        """Ids of the known n-grams of `text`, one per occurrence (the order does not matter)."""
        words = self._token.findall(text.lower())
        index = self.index
        ids = [index[w] for w in words if w in index]
        for n in range(2, self.ngrams + 1):
            ids += [i for i in (index.get(" ".join(words[k : k + n])) for k in range(len(words) - n + 1))
                    if i is not None]
        return ids

    def encode_many(self, texts) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def encode_ids(self, ids) -> list[int]:
        """Feature ids of a word-id sequence (for ID_PATTERN features)."""
        return self.encode(" ".join(map(str, ids)))

    def __len__(self) -> int:
        return len(self.terms)


class TfidfModel:
    """Logistic regression weights over TF-IDF features; optionally a second linear model (`aux`,
    the tuned preset's ridge regression on the star rating) over the same features."""

    def __init__(self, features: TfidfFeatures, idf: np.ndarray, coef: np.ndarray, intercept: float,
                 aux_coef: np.ndarray | None = None, aux_intercept: float = 0.0):
        self.features = features
        self.idf = idf.astype(np.float64)
        self.coef = coef.astype(np.float64)
        self.intercept = float(intercept)
        self.aux_coef = None if aux_coef is None else aux_coef.astype(np.float64)
        self.aux_intercept = float(aux_intercept)

    def scores_ids(self, id_lists) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, aux predictions or None) for lists of feature ids."""
        out = np.full(len(id_lists), self.intercept)
        weights = self.coef[:, None] if self.aux_coef is None else np.c_[self.coef, self.aux_coef]
        both = np.zeros((len(id_lists), weights.shape[1]))
        for row, ids in enumerate(id_lists):
            if not len(ids):
                continue
            terms, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
            x = (1.0 + np.log(counts)) * self.idf[terms]  # sublinear tf times idf
            both[row] = x @ weights[terms] / np.sqrt(x @ x)  # l2-normalised row
        out += both[:, 0]
        aux = None if self.aux_coef is None else both[:, 1] + self.aux_intercept
        return out, aux

    def logits_ids(self, id_lists) -> np.ndarray:
        return self.scores_ids(id_lists)[0]

    def predict_proba_ids(self, id_lists) -> np.ndarray:
        return sigmoid(self.logits_ids(id_lists)).astype(np.float32)

    def predict_proba(self, texts) -> np.ndarray:
        return self.predict_proba_ids(self.features.encode_many(texts))

    # -- persistence ---------------------------------------------------------
    def save(self, folder: Path) -> list[str]:
        vocab = {"format": FORMAT, "ngrams": self.features.ngrams, "token_pattern": self.features.token_pattern,
                 "terms": self.features.terms}
        (folder / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        with open(folder / WEIGHTS_FILE, "wb") as f:
            aux = {} if self.aux_coef is None else {"aux_coef": self.aux_coef,
                                                    "aux_intercept": np.array([self.aux_intercept])}
            np.savez(f, idf=self.idf, coef=self.coef, intercept=np.array([self.intercept]), **aux)
        return [VOCAB_FILE, WEIGHTS_FILE]

    @classmethod
    def load(cls, folder: Path) -> TfidfModel:
        try:
            vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
            if vocab.get("format") != FORMAT or vocab.get("token_pattern") not in (TOKEN_PATTERN, ID_PATTERN):
                raise ValueError(f"format is {vocab.get('format')!r}, expected {FORMAT!r}")
            with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as w:
                idf, coef, intercept = w["idf"], w["coef"], float(w["intercept"][0])
                aux_coef = w["aux_coef"] if "aux_coef" in w else None
                aux_intercept = float(w["aux_intercept"][0]) if "aux_intercept" in w else 0.0
        except FileNotFoundError as e:
            name = Path(e.filename).name
            raise UserError(f"{folder} is not a complete tfidf bundle: {name} is missing; retrain it") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{folder}: the tfidf files are not readable ({e}); retrain the bundle") from None
        if not (len(vocab["terms"]) == len(idf) == len(coef)) or (aux_coef is not None and len(aux_coef) != len(coef)):
            raise UserError(f"{folder}: {VOCAB_FILE} and {WEIGHTS_FILE} disagree in size; retrain the bundle")
        features = TfidfFeatures(vocab["terms"], int(vocab["ngrams"]), vocab["token_pattern"])
        return cls(features, idf, coef, intercept, aux_coef, aux_intercept)


def fit_tfidf(texts: list[str], y: np.ndarray, cfg: TrainConfig, token_pattern: str = TOKEN_PATTERN,
              aux: np.ndarray | None = None) -> TfidfModel:
    """With `aux` (a number per text, NaN where unknown), also a ridge regression on it over the
    same plain TF-IDF rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    vec = TfidfVectorizer(ngram_range=(1, cfg.tfidf_ngrams), min_df=cfg.tfidf_min_df, sublinear_tf=True,
                          token_pattern=token_pattern)
    try:
        x = vec.fit_transform(texts)
    except ValueError as e:  # every n-gram below min_df, or no word of 2+ letters
        raise UserError(f"the training texts leave no TF-IDF features ({e}); give more or longer texts, "
                        f"or train an LSTM preset") from None
    aux_fit = {}
    if aux is not None:
        known = np.isfinite(aux)
        ridge = Ridge(alpha=1.0).fit(x[known], aux[known])  # alpha 1 was best on validation of 0.3, 1, 3, 10
        aux_fit = {"aux_coef": ridge.coef_, "aux_intercept": float(ridge.intercept_)}
    scale = np.ones(x.shape[1])
    if cfg.tfidf_nb:
        y = np.asarray(y)
        present = (x > 0).astype(np.float64)
        pos, neg = 1.0 + present[y == 1].sum(axis=0).A1, 1.0 + present[y == 0].sum(axis=0).A1
        r = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
        scale = np.sign(r) * np.abs(r) ** cfg.tfidf_nb
        x = x.multiply(scale).tocsr()  # after the l2 norm, so the scale folds into coef below
    lr = LogisticRegression(C=cfg.tfidf_c, max_iter=1000).fit(x, y)
    terms = [""] * len(vec.vocabulary_)
    for term, i in vec.vocabulary_.items():
        terms[i] = term
    return TfidfModel(TfidfFeatures(terms, cfg.tfidf_ngrams, token_pattern), vec.idf_, lr.coef_[0] * scale,
                      lr.intercept_[0], **aux_fit)


