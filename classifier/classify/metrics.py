"""The figures every evaluation reports: log loss and accuracy as Keras counts them, per-class
scores, ROC / PR AUC, calibration, and the decision-threshold rule used at training time.

    log_loss(y, p), keras_accuracy(y, p)           # model.evaluate's [loss, acc] from probabilities
    choose_threshold(y_val, p_val, "f1_macro")
    categorical_log_loss(y, P), categorical_accuracy(y, P)   # the same for class indices and (n, k) P

NumPy only (scikit-learn inside `compute_metrics`); `sigmoid`, `softmax` and `logit` live here
too, the one copy every model uses.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7  # Keras' clipping in binary_crossentropy, so our loss matches model.evaluate
CLASSES = ("not recommended", "recommended")  # label 0, label 1
GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)  # candidate thresholds


def sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large negative x, same value as 1 / (1 + exp(-x))
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, in z's float type; the row maximum is taken out first, as Keras does."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def keras_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Binary accuracy as Keras counts it: predicted 1 when p > 0.5."""
    return float(np.mean((np.asarray(p) > 0.5) == (np.asarray(y) == 1)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def categorical_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Sparse categorical cross-entropy as Keras computes it from probabilities: rows scaled to sum 1,
    clipped to [EPS, 1 - EPS], minus the log of the true class's."""
    p = np.asarray(p, dtype=np.float64)
    p = np.clip(p / p.sum(axis=1, keepdims=True), EPS, 1 - EPS)
    y = np.asarray(y).astype(np.int64)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def categorical_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Keras' sparse categorical accuracy: the arg-max class (the first on a tie) is the true one."""
    return float(np.mean(np.argmax(p, axis=1) == np.asarray(y).astype(np.int64)))


def majority_class(y_train: np.ndarray, n_classes: int) -> int:
    """The most common class index of the training labels (a tie goes to the first in class order)."""
    return int(np.argmax(np.bincount(np.asarray(y_train).astype(np.int64), minlength=n_classes)))


def majority_share(y_test: np.ndarray, majority: int) -> float:
    """The floor a model must beat, the one definition training, compare and the report use: the share
    of the test labels that are `majority`, the training labels' most common class (the accuracy of
    predicting that class for every review). The test split's own majority is not used: it is not
    known before testing."""
    y_test = np.asarray(y_test).astype(np.int64)
    return float(np.mean(y_test == majority)) if len(y_test) else 0.0


def multiclass_scores(y: np.ndarray, p: np.ndarray, classes: list) -> dict:
    """Accuracy, macro F1, precision / recall / F1 / support per class and the confusion matrix of the
    arg-max predictions; `y` class indices, `p` (n, k) probabilities in `classes` order."""
    y = np.asarray(y).astype(np.int64)
    k = len(classes)
    pred = np.argmax(p, axis=1)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)  # rows: true, columns: predicted
    per_class = {}
    for c, name in enumerate(classes):
        tp, predicted, true = int(cm[c, c]), int(cm[:, c].sum()), int(cm[c].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / true if true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(name)] = {"precision": precision, "recall": recall, "f1": f1, "support": true}
    return {
        "accuracy": float(np.mean(pred == y)) if len(y) else 0.0,
        # over the classes that occur in y or the predictions, as scikit-learn's f1_score(average="macro")
        "f1_macro": float(np.mean([per_class[str(classes[c])]["f1"] for c in np.flatnonzero(
            cm.sum(axis=0) + cm.sum(axis=1))])),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def class_scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Confusion matrix and precision / recall / F1 per class, predicting 1 when p >= threshold."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    cm = [[int(np.sum((y == t) & (pred == q))) for q in (0, 1)] for t in (0, 1)]
    per_class = {}
    for c, name in enumerate(CLASSES):
        tp = cm[c][c]
        pred_c = cm[0][c] + cm[1][c]
        true_c = cm[c][0] + cm[c][1]
        precision = tp / pred_c if pred_c else 0.0
        recall = tp / true_c if true_c else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": true_c}
    return {
        "threshold": float(threshold),
        "accuracy": float(np.mean(pred == y)),
        "f1_macro": (per_class[CLASSES[0]]["f1"] + per_class[CLASSES[1]]["f1"]) / 2,
        "per_class": per_class,
        "confusion_matrix": cm,  # rows: true 0, 1; columns: predicted 0, 1
    }


def choose_threshold(y: np.ndarray, p: np.ndarray, rule: str) -> float:
    """The decision threshold for `rule`: "fixed" is 0.5; "f1_macro" maximises the mean F1 of both
    classes over a 0.01 grid (ties go to the cut nearest 0.5). Call it on validation data only."""
    if rule == "fixed":
        return 0.5
    if rule != "f1_macro":
        raise ValueError(f"unknown threshold rule {rule!r}")
    scores = np.array([class_scores(y, p, t)["f1_macro"] for t in GRID])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(GRID[best[np.argmin(np.abs(GRID[best] - 0.5))]])


def compute_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    """Every figure of the report, as plain JSON-ready numbers."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    at_half = class_scores(y, p, 0.5)
    at_threshold = class_scores(y, p, threshold)
    sweep = []
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        s = class_scores(y, p, t)
        sweep.append({
            "threshold": float(t), "accuracy": s["accuracy"], "f1_macro": s["f1_macro"],
            **{f"{k}_{'not_rec' if c == CLASSES[0] else 'rec'}": s["per_class"][c][k]
               for c in CLASSES for k in ("precision", "recall", "f1")},
        })
    frac_pos, mean_pred, counts = calibration_bins(y, p)
    return {
        "n": int(len(y)),
        "positive_share": float(np.mean(y)),
        "loss": log_loss(y, p),
        "accuracy": at_half["accuracy"],
        "roc_auc": float(roc_auc_score(y, p)),
        # precision-recall AUC (average precision) for each class as the "positive" one
        "pr_auc": float(average_precision_score(y, p)),
        "pr_auc_not_recommended": float(average_precision_score(1 - y, 1 - p)),
        "brier": float(np.mean((p - y) ** 2)),
        "threshold": float(threshold),
        "at_0.5": at_half,
        "at_threshold": at_threshold,
        "threshold_sweep": sweep,
        "calibration": {"mean_predicted": mean_pred, "fraction_positive": frac_pos, "count": counts},
    }


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[list, list, list]:
    idx = np.minimum((p * bins).astype(int), bins - 1)
    frac, mean, count = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            frac.append(float(y[m].mean()))
            mean.append(float(p[m].mean()))
            count.append(int(m.sum()))
    return frac, mean, count


def confidently_wrong(texts, y, p, threshold: float, n: int = 10) -> list[dict]:
    """The n misclassified texts the model was most sure about."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    wrong = np.flatnonzero((p >= threshold).astype(int) != y)
    order = wrong[np.argsort(-np.abs(p[wrong] - y[wrong]))][:n]
    return [{"text": str(texts[i]), "label": int(y[i]), "p_recommend": float(p[i])} for i in order]


def binary_scores(y: np.ndarray, p: np.ndarray) -> dict:
    """accuracy (at 0.5, as Keras counts it), ROC AUC (NaN with one class) and log loss of 0/1 labels."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {"n": len(y), "accuracy": keras_accuracy(y, p), "roc_auc": auc, "log_loss": log_loss(y, p)}


def per_source(y: np.ndarray, p: np.ndarray, sources: np.ndarray) -> dict:
    """binary_scores of each source's rows, by source name in order of appearance."""
    names = list(dict.fromkeys(sources.tolist()))
    return {name: binary_scores(y[sources == name], p[sources == name]) for name in names}
