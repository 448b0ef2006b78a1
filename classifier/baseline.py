"""The TF-IDF + logistic regression baseline (`--preset tfidf`): SPEC's linear bar, as a bundle.

    python -m classifier train --preset tfidf --out saved_models/tfidf     # seconds, not minutes

scikit-learn fits it; the bundle keeps the n-gram vocabulary as JSON and idf, weights and bias
as .npz, and prediction is plain Python and NumPy (no scikit-learn, no TensorFlow, no pickle).
The bundle's `tokenizer` maps a text to the ids of its known n-grams, so `score` and `predict`
drive it like the LSTM bundles (`predict_proba_ids`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.artifacts import Bundle, file_sha256, save_bundle
from classifier.config import TrainConfig
from classifier.errors import UserError

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
        return (1.0 / (1.0 + np.exp(-self.logits_ids(id_lists)))).astype(np.float32)

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


class TfidfBundle(Bundle):
    """A tfidf bundle: same `predict_proba` / `predict_proba_ids` / `threshold` as an LSTM bundle.

    `tokenizer` is the n-gram featuriser; the word tokenizer fitted on the same texts stays in
    `word_tokenizer` (tokenizer.json, kept so every bundle has one)."""

    def __init__(self, path: Path, meta: dict, tokenizer):
        super().__init__(path, meta, tokenizer)
        self.word_tokenizer = tokenizer
        self.model = TfidfModel.load(path)
        self.tokenizer = self.model.features

    def keras_classifier(self):
        raise UserError(f"{self.path} is a tfidf bundle: it has no Keras model; use --engine numpy")

    def predict_proba(self, texts, batch_size: int = 512, engine: str = "numpy") -> np.ndarray:
        return self.predict_proba_ids(self.tokenizer.encode_many(texts), batch_size=batch_size, engine=engine)

    def predict_proba_ids(self, id_lists, batch_size: int = 512, engine: str = "numpy") -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        return self.model.predict_proba_ids(id_lists)


def fit_tfidf(texts: list[str], y: np.ndarray, cfg: TrainConfig, token_pattern: str = TOKEN_PATTERN,
              aux: np.ndarray | None = None) -> TfidfModel:
    """With `aux` (a number per text, NaN where unknown), also a ridge regression on it over the
    same plain TF-IDF rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    vec = TfidfVectorizer(ngram_range=(1, cfg.tfidf_ngrams), min_df=cfg.tfidf_min_df, sublinear_tf=True,
                          token_pattern=token_pattern)
    x = vec.fit_transform(texts)
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


def train_tfidf(cfg: TrainConfig, df, split, tokenizer, data: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Fit on the whole training split (as SPEC measured it); the threshold comes from a second fit
    that holds out the last `validation_split` of it, as Keras' validation_split does."""
    from classifier.report import choose_threshold, log_loss

    start = time.perf_counter()
    model = fit_tfidf(split.x_train, split.y_train, cfg)
    train_seconds = time.perf_counter() - start
    threshold = {}
    if cfg.threshold_rule != "fixed":
        cut = int(len(split.x_train) * (1 - cfg.validation_split))
        held = fit_tfidf(split.x_train[:cut], split.y_train[:cut], cfg)
        p_val = held.predict_proba(split.x_train[cut:])
        threshold = {"threshold": choose_threshold(split.y_train[cut:], p_val, cfg.threshold_rule)}
    p = model.predict_proba(split.x_test)
    metrics = {
        "test_loss": log_loss(split.y_test, p),
        "test_accuracy": float(np.mean((p > 0.5) == (split.y_test == 1))),  # as Keras counts
        "epochs_run": 0,
        "train_seconds": round(train_seconds, 1),
        "n_train": len(split.x_train),
        "n_test": len(split.x_test),
        "n_features": len(model.features),
        "test_positive_share": float(np.mean(split.y_test)),
        **threshold,
    }
    data = Path(data)
    save_bundle(
        out, model=None, tokenizer=tokenizer, config=cfg, history=[], metrics=metrics, write_files=model.save,
        extra={"data": {"path": str(data), "sha256": file_sha256(data), "rows_used": len(df)}, **threshold},
    )
    return metrics


# -- the tuned preset: LSTM stacked with TF-IDF over the same word ids ---------------------
def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def blend_proba(blend: dict, p_lstm: np.ndarray, p_tfidf: np.ndarray, aux: np.ndarray | None = None) -> np.ndarray:
    z = blend["lstm"] * logit(p_lstm) + blend["tfidf"] * logit(p_tfidf) + blend["bias"]
    if "aux" in blend:
        z = z + blend["aux"] * aux
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def tfidf_parts(model: TfidfModel, word_id_lists) -> tuple[np.ndarray, np.ndarray | None]:
    """(probability, aux prediction) of the stacked TF-IDF model for word-id sequences."""
    z, aux = model.scores_ids([model.features.encode_ids(s) for s in word_id_lists])
    return 1.0 / (1.0 + np.exp(-z)), aux


class BlendBundle(Bundle):
    """An LSTM bundle with `blend` in its config: its probability is stacked with the TF-IDF model
    over the same word ids (tfidf.json / tfidf.npz; with `aux` in the blend, also its rating
    regression), so `predict_proba_ids` still takes word ids."""

    def __init__(self, path: Path, meta: dict, tokenizer):
        super().__init__(path, meta, tokenizer)
        self.tfidf = TfidfModel.load(path)
        self.blend = meta["blend"]

    def predict_proba_lstm_ids(self, id_lists, batch_size: int = 512, engine: str | None = None) -> np.ndarray:
        return super().predict_proba_ids(id_lists, batch_size=batch_size, engine=engine)

    def predict_proba_ids(self, id_lists, batch_size: int = 512, engine: str | None = None) -> np.ndarray:
        p_lstm = self.predict_proba_lstm_ids(id_lists, batch_size=batch_size, engine=engine)
        return blend_proba(self.blend, p_lstm, *tfidf_parts(self.tfidf, id_lists))


@dataclass
class Head:
    """What train() adds after fitting an LSTM: threshold, blend weights and their files."""

    meta: dict
    write_files: object = None
    predict_test: object = None  # x_test -> blended probabilities, when blending


def fit_head(cfg: TrainConfig, model, tokenizer, split, x_train: np.ndarray) -> Head:
    """Choose the threshold (and with `blend_tfidf` fit the stacked TF-IDF model) on the validation
    split: the last `validation_split` of the training rows, which Keras held out (it rounds down).
    With `split.aux_train` (cfg.aux_column's values), the stack also takes the rating regression."""
    from classifier.report import choose_threshold

    if cfg.threshold_rule == "fixed" and not cfg.blend_tfidf:
        return Head({})
    cut = int(len(x_train) * (1 - cfg.validation_split))
    y_val = split.y_train[cut:]
    p_val = model.predict(x_train[cut:], batch_size=512, verbose=0).reshape(-1)
    meta, write_files, predict_test = {}, None, None
    if cfg.blend_tfidf:
        from sklearn.linear_model import LogisticRegression

        ids = [" ".join(map(str, s)) for s in tokenizer.encode_many(split.x_train)]
        aux = split.aux_train
        held = fit_tfidf(ids[:cut], split.y_train[:cut], cfg, ID_PATTERN,  # has not seen the validation rows
                         None if aux is None else aux[:cut])
        full = fit_tfidf(ids, split.y_train, cfg, ID_PATTERN, aux)
        z_val, a_val = held.scores_ids([held.features.encode(s) for s in ids[cut:]])
        t_val = 1.0 / (1.0 + np.exp(-z_val))
        inputs = [logit(p_val), logit(t_val)] + ([] if a_val is None else [a_val])
        stack = LogisticRegression(C=100.0).fit(np.column_stack(inputs), y_val)
        weights, bias = stack.coef_[0], stack.intercept_[0]
        blend = {"lstm": float(weights[0]), "tfidf": float(weights[1]), "bias": float(bias)}
        if a_val is not None:
            blend.update(aux=float(weights[2]), aux_column=cfg.aux_column)
        meta["blend"] = blend
        p_val = blend_proba(blend, p_val, t_val, a_val)
        write_files = full.save

        def predict_test(x_test, texts):
            p = model.predict(x_test, batch_size=512, verbose=0).reshape(-1)
            return blend_proba(blend, p, *tfidf_parts(full, tokenizer.encode_many(texts)))
    meta["threshold"] = choose_threshold(y_val, p_val, cfg.threshold_rule)
    return Head(meta, write_files, predict_test)
