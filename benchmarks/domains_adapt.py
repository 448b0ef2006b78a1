"""The target domain's unlabelled reviews as one more lever: chosen on validation folds, never on the held-out domain.

    python benchmarks/domains_adapt.py --out out/domains-adapt               # every held-out domain
    python benchmarks/domains_adapt.py --only airline --budget 500           # stop after 500 s, run again to go on

A user scoring their own reviews has them, without labels. On the general preset (lexicon + title
+ balance, in domains_levers.py's fast fits), two uses of the target's texts:

- vocabulary: the n-grams' min_df and idf taken over the training rows and the target's texts, so
  n-grams only the target holds are features (they get a weight only through self-training);
- self-training: fit on the labelled sources, rank the target's texts by the predicted probability,
  label the top `fraction / 2` of them 1 and the bottom `fraction / 2` 0 (class-balanced, most
  confident first), refit on the sources and those rows, and again for a second round from the new
  model's ranking. The pseudo-labelled rows are one more source under the domain-balanced weights,
  counting `fraction` of a source.

Each setting (`general`, `vocab` alone, `st<fraction>r<rounds>`) is scored as domains_levers.py
scores a lever set: for held-out domain D, on the five folds inside D's training domains (trained on
clothing plus the domains other than D and E, adapted to E's texts, tested on E's labels), the best
mean ROC AUC (log loss breaks a tie) is D's choice; D's labels only report. Figures are accuracy at
0.5 / ROC AUC / log loss.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

# a script beside it (benchmarks/ is no package)
from domains_levers import Texts, arguments, design, featurised, finish, lever_sets, results_table

from classifier.classify.domains import HOME
from classifier.classify.metrics import binary_scores
from classifier.io.sources import source_weights
from classifier.models.adapt import TARGET, pseudo_labels

FRACTIONS = (0.2, 0.5, 1.0)
ROUNDS = 2


def adapt_scores(t: Texts, train: np.ndarray, target: np.ndarray) -> dict[str, dict]:
    """Every setting's binary_scores on the target's labels, trained without them."""
    from sklearn.linear_model import LogisticRegression

    levers = lever_sets()["lexicon+title+balance"]
    y_target = t.y[target]

    def fit(matrix, rows, y, weights):
        lr = LogisticRegression(C=t.c, max_iter=1000).fit(matrix(rows), y, sample_weight=weights)
        return lr.predict_proba(matrix(target))[:, 1]

    scores = {}
    weights = source_weights(t.source[train])
    scores["general"] = binary_scores(y_target, fit(design(t, levers, train), train, t.y[train], weights))
    matrix = design(t, levers, train, vocab=np.union1d(train, target))
    p0 = fit(matrix, train, t.y[train], weights)
    scores["vocab"] = binary_scores(y_target, p0)
    for fraction in FRACTIONS:
        p = p0
        for r in range(1, ROUNDS + 1):
            picked, y_pseudo = pseudo_labels(p, fraction)
            rows = np.concatenate([train, target[picked]])
            w = source_weights(np.concatenate([t.source[train], [TARGET] * len(picked)]).astype(object))
            w[len(train):] *= len(picked) / len(target)  # the target counts `fraction` of a source
            p = fit(matrix, rows, np.concatenate([t.y[train], y_pseudo]), w)
            scores[f"st{fraction:g}r{r}"] = binary_scores(y_target, p)
    return scores


def run(t: Texts, held_out: list[str], out: Path, budget: float | None) -> bool:
    """Held-out fits first (target D, trained without D), then the inner folds (target E, trained
    without D and E); kept in domains-adapt.json as they come, a stopped run goes on from there."""
    clock = time.perf_counter()
    path = out / "domains-adapt.json"
    results = json.loads(path.read_text()) if path.exists() else {"outer": {}, "inner": {}, "seconds": {}}
    base = t.rows(HOME)
    jobs = [("outer", d, d) for d in held_out] + [("inner", d, e) for d in held_out for e in t.domains if e != d]
    for kind, d, e in jobs:
        key = f"{d}|{e}"
        if key in results[kind]:
            continue
        start = time.process_time()
        train = np.union1d(base, t.rows(*[f for f in t.domains if f not in (d, e)]))
        results[kind][key] = adapt_scores(t, train, t.rows(e))
        results["seconds"][f"{kind}|{key}"] = time.process_time() - start
        print(kind, key, {k: round(v["roc_auc"], 4) for k, v in results[kind][key].items()}, flush=True)
        path.write_text(json.dumps(results, indent=1))
        if budget is not None and time.perf_counter() - clock > budget:
            return False
    return True


def choose(results: dict, held_out: list[str], domains: list[str]) -> dict[str, dict]:
    """For each held-out domain: every setting's mean inner ROC AUC and log loss, and the chosen one."""
    chosen = {}
    for d in held_out:
        folds = [results["inner"][f"{d}|{e}"] for e in domains if e != d]
        scores = {s: (float(np.mean([f[s]["roc_auc"] for f in folds])),
                      float(np.mean([f[s]["log_loss"] for f in folds]))) for s in folds[0]}
        best = max(scores, key=lambda s: (scores[s][0], -scores[s][1]))
        chosen[d] = {"setting": best, "inner": scores, "held_out": results["outer"][f"{d}|{d}"][best]}
    return chosen


def table(results: dict, held_out: list[str], chosen: dict) -> str:
    settings = results["outer"][f"{held_out[0]}|{held_out[0]}"]
    return results_table("setting", {s: [results["outer"][f"{d}|{d}"][s] for d in held_out] for s in settings},
                         held_out, [chosen[d]["held_out"] for d in held_out], [chosen[d]["setting"] for d in held_out])


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "out/domains-adapt").parse_args()
    t, held_out, out = featurised(args)
    if not run(t, held_out, out, args.budget):
        print("stopped at the budget: run again to go on")
        return
    results = json.loads((out / "domains-adapt.json").read_text())
    chosen = choose(results, held_out, t.domains)
    finish(out, chosen, table(results, held_out, chosen))


if __name__ == "__main__":
    main()
