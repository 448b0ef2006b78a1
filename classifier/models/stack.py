"""The tuned preset's stack: the LSTM's probability, a TF-IDF model over the same word ids and
(with a `Rating` column) a ridge regression of the stars, blended by a logistic regression
fitted on the validation split.

    head = fit_head(cfg, model, tokenizer, split, x_train)    # threshold, blend weights, files
    blend_proba(head.meta["blend"], p_lstm, *tfidf_parts(tfidf_model, id_lists))

With more than the two 0/1 labels (`n_classes`), both models give (n, k) probabilities and the
stack is a multinomial logistic regression over their log probabilities (and the rating
regression, unless the rating is the label), fitted on the validation split; no threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.classify.metrics import EPS, choose_threshold, logit, sigmoid, softmax
from classifier.config import TrainConfig
from classifier.models.tfidf import ID_PATTERN, TfidfModel, fit_tfidf, softmax_weights

STACK_C = 1.0  # multi-class stack: 2k + 1 inputs per class on a few thousand rows want some shrinkage


def blend_proba(blend: dict, p_lstm: np.ndarray, p_tfidf: np.ndarray, aux: np.ndarray | None = None) -> np.ndarray:
    if "coef" in blend:  # multi-class: softmax over (n, k) outputs
        z = stack_inputs(p_lstm, p_tfidf, aux if "aux_column" in blend else None) @ np.asarray(blend["coef"]).T
        return softmax(z + np.asarray(blend["bias"])).astype(np.float32)
    z = blend["lstm"] * logit(p_lstm) + blend["tfidf"] * logit(p_tfidf) + blend["bias"]
    if "aux" in blend:
        z = z + blend["aux"] * aux
    return sigmoid(z).astype(np.float32)


def stack_inputs(p_lstm: np.ndarray, p_tfidf: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
    """The multi-class stack's inputs: both models' log probabilities (n, 2k), and the aux column."""
    logs = [np.log(np.clip(np.asarray(p, np.float64), EPS, 1.0)) for p in (p_lstm, p_tfidf)]
    return np.column_stack(logs + ([] if aux is None else [aux]))


def tfidf_parts(model: TfidfModel, word_id_lists) -> tuple[np.ndarray, np.ndarray | None]:
    """(probability, aux prediction) of the stacked TF-IDF model for word-id sequences; the
    probability is (n, k) for a softmax model."""
    z, aux = model.scores_word_ids(word_id_lists)
    return (sigmoid(z) if model.n_classes is None else softmax(z)), aux


@dataclass
class Head:
    """What train() adds after fitting an LSTM: threshold, blend weights and their files."""

    meta: dict
    write_files: object = None
    predict_test: object = None  # x_test -> blended probabilities, when blending


def fit_head(cfg: TrainConfig, model, tokenizer, split, x_train: np.ndarray, n_classes: int | None = None) -> Head:
    """Choose the threshold (and with `blend_tfidf` fit the stacked TF-IDF model) on the validation
    split: the last `validation_split` of the training rows, which Keras held out (it rounds down).
    With `split.aux_train` (cfg.aux_column's values), the stack also takes the rating regression.
    With `n_classes` (labels other than 0/1) there is no threshold: the most likely class wins."""
    if n_classes is not None:
        return fit_multiclass_head(cfg, model, tokenizer, split, x_train, n_classes)
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


def fit_multiclass_head(cfg: TrainConfig, model, tokenizer, split, x_train: np.ndarray, n_classes: int) -> Head:
    """The multi-class stack: TF-IDF fitted on the training rows Keras trained on, then a multinomial
    logistic regression over both models' validation log probabilities (and the rating regression);
    a class no validation row holds keeps the average of the two models' log probabilities."""
    if not cfg.blend_tfidf:
        return Head({})
    from sklearn.linear_model import LogisticRegression

    cut = int(len(x_train) * (1 - cfg.validation_split))
    y_val = split.y_train[cut:]
    p_val = model.predict(x_train[cut:], batch_size=512, verbose=0)
    ids = [" ".join(map(str, s)) for s in tokenizer.encode_many(split.x_train)]
    aux = split.aux_train
    held = fit_tfidf(ids[:cut], split.y_train[:cut], cfg, ID_PATTERN, None if aux is None else aux[:cut], n_classes)
    full = fit_tfidf(ids, split.y_train, cfg, ID_PATTERN, aux, n_classes)
    z_val, a_val = held.scores_ids([held.features.encode(s) for s in ids[cut:]])
    x_val = stack_inputs(p_val, softmax(z_val), a_val)
    stack = LogisticRegression(C=STACK_C, max_iter=2000).fit(x_val, y_val)
    coef, bias = softmax_weights(stack, n_classes)
    coef = coef.T  # (k, inputs)
    for c in sorted(set(range(n_classes)) - set(stack.classes_.astype(int).tolist())):
        coef[c] = 0.0
        coef[c, [c, n_classes + c]] = 0.5
        bias[c] = float(np.mean(bias[stack.classes_.astype(int)]))
    blend = {"coef": coef.tolist(), "bias": bias.tolist(), "inputs": "log P(lstm), log P(tfidf), aux"}
    if a_val is not None:
        blend["aux_column"] = cfg.aux_column

    def predict_test(x_test, texts):
        p = model.predict(x_test, batch_size=512, verbose=0)
        return blend_proba(blend, p, *tfidf_parts(full, tokenizer.encode_many(texts)))

    return Head({"blend": blend}, full.save, predict_test)
