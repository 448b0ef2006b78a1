"""The tuned preset's stack: the LSTM's probability, a TF-IDF model over the same word ids and
(with a `Rating` column) a ridge regression of the stars, blended by a logistic regression
fitted on the validation split.

    head = fit_head(cfg, model, tokenizer, split, x_train)    # threshold, blend weights, files
    blend_proba(head.meta["blend"], p_lstm, *tfidf_parts(tfidf_model, id_lists))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.config import TrainConfig
from classifier.metrics import choose_threshold, logit, sigmoid
from classifier.models.tfidf import ID_PATTERN, TfidfModel, fit_tfidf


def blend_proba(blend: dict, p_lstm: np.ndarray, p_tfidf: np.ndarray, aux: np.ndarray | None = None) -> np.ndarray:
    z = blend["lstm"] * logit(p_lstm) + blend["tfidf"] * logit(p_tfidf) + blend["bias"]
    if "aux" in blend:
        z = z + blend["aux"] * aux
    return sigmoid(z).astype(np.float32)


def tfidf_parts(model: TfidfModel, word_id_lists) -> tuple[np.ndarray, np.ndarray | None]:
    """(probability, aux prediction) of the stacked TF-IDF model for word-id sequences."""
    z, aux = model.scores_pairs(*model.features.id_pairs(word_id_lists), len(word_id_lists))
    return sigmoid(z), aux


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
        t_val = sigmoid(z_val)
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
