"""Self-training on the target domain's unlabelled texts (`train --adapt-to FILE`).

Fit on the labelled sources, rank the target's texts by the predicted probability, label the top
`fraction / 2` of them 1 and the bottom `fraction / 2` 0 (class-balanced, most confident first),
refit on the sources and those rows, and again from the new model's ranking. Chosen on validation
folds inside the training domains (benchmarks/domains_adapt.py, docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

from classifier.io.sources import source_weights

FRACTION = 0.5  # of the target's texts pseudo-labelled each round
ROUNDS = 2
TARGET = "(target)"  # the pseudo-labelled rows' source name under domain-balanced weights


def pseudo_labels(p: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The most confident `fraction` of the rows, half each way: (their positions, their 0/1 labels)."""
    k = int(round(fraction * len(p) / 2))
    order = np.argsort(p, kind="stable")
    return np.concatenate([order[:k], order[len(p) - k:]]), np.repeat([0, 1], k)


def self_train(fit, texts: list[str], y: np.ndarray, sources: np.ndarray | None, target: list[str],
               fraction: float = FRACTION, rounds: int = ROUNDS):
    """`fit(texts, y, sample_weight)` -> a model with predict_proba, refit `rounds` times with the
    target's most confident texts. `sources` (balanced training): each row's source; the pseudo-labelled
    rows are one more source counting `fraction` of one. Without, they weigh 1 each, as the rest."""
    y = np.asarray(y)
    model = fit(texts, y, source_weights(sources))
    for _ in range(rounds):
        picked, y_pseudo = pseudo_labels(model.predict_proba(target), fraction)
        weights = None
        if sources is not None:
            weights = source_weights(np.concatenate([np.asarray(sources, dtype=object), [TARGET] * len(picked)]))
            weights[len(texts):] *= len(picked) / len(target)
        model = fit(list(texts) + [target[i] for i in picked], np.concatenate([y, y_pseudo]), weights)
    return model
