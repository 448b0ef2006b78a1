"""Which levers carry to a review domain never seen: chosen on validation folds, never on the held-out domain.

    python benchmarks/domains_levers.py --out out/domains-levers            # make compare-levers
    python benchmarks/domains_levers.py --only airline --sets tfidf,lexicon+title+balance
    python benchmarks/domains_levers.py --sets all                         # every combination (24 sets)

The levers are the general preset's three (the lexicon prior, the title joined to the text,
domain-balanced weights) and the wordllama word vectors (`tfidf_vectors`, at a few weights), each
on the tfidf preset (TF-IDF+LR). The sets by default: none (tfidf), all three (general), general
with each one left out, and general with the vectors at each weight; `--sets all` is every
combination. For each held-out domain D, each set is scored by leave-one-domain-out inside D's
five training domains: for each other domain E, it trains on the clothing training split plus the
domains other than D and E and is tested on all of E; the set with the best mean ROC AUC over those
five folds (log loss breaks a tie) is D's choice. D's own rows choose nothing: they give each set's
held-out figures, the table of each lever on and off, and the chosen set's result.

A fit here is the tfidf preset's, made fast for the hundred and more this takes: every text's
n-grams, lexicon terms and pooled vectors are computed once, and each fit takes its vocabulary
(min_df over its own training rows), idf, sublinear tf, l2 norm and logistic regression exactly as
classifier.models.tfidf.fit_tfidf and classifier.models.vectors.fit_with_vectors do (`classifier
compare --leave-out domain`, which trains the presets themselves, gives the same held-out figures
for general and general-vectors: docs/benchmarks.md). Figures are accuracy at 0.5 / ROC AUC / log
loss, as in `make compare-domains`. A run stopped part way (`--budget`) goes on where it stopped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, diags, hstack

from classifier.classify.domains import HOME, clothing_frame
from classifier.classify.metrics import binary_scores
from classifier.config import preset
from classifier.io.dataset import split_rows
from classifier.io.sources import SOURCE_COLUMN, Source, load_sources, source_weights
from classifier.models.lexicon import TERM_PREFIX, Lexicon
from classifier.models.tfidf import lexicon_docs
from classifier.models.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
LEVERS = ("lexicon", "title", "balance", "vectors")
VECTOR_WEIGHTS = (0.1, 0.25)  # the vectors' block length against a TF-IDF row's 1 (0.5 and 1 lost on a pilot)


DEFAULT_SETS = ("tfidf", "lexicon+title+balance", "title+balance", "lexicon+balance", "lexicon+title",
                *(f"lexicon+title+balance+vectors{w:g}" for w in VECTOR_WEIGHTS))


def lever_sets(weights=VECTOR_WEIGHTS) -> dict[str, dict]:
    """Every combination: name -> {lexicon, title, balance: bool, vectors: weight (0 = off)}."""
    sets = {}
    for lexicon, title, balance in itertools.product((False, True), repeat=3):
        for w in (0.0, *weights):
            on = [n for n, v in zip(LEVERS, (lexicon, title, balance, w), strict=True) if v]
            name = "+".join(on if not w else [*on[:-1], f"vectors{w:g}"]) or "tfidf"
            sets[name] = {"lexicon": lexicon, "title": title, "balance": balance, "vectors": w}
    return sets


class Texts:
    """Every row's (clothing training split, clothing test split, the six domains) counts of n-grams
    and lexicon terms, and pooled vectors, with and without the title."""

    def __init__(self, clothing: Path, domains: Path):
        from sklearn.feature_extraction.text import CountVectorizer

        cfg = preset("general")
        self.ngrams, self.c = cfg.tfidf_ngrams, cfg.tfidf_c
        self.counts, self.terms, self.pooled = {}, {}, {}
        for title in (False, True):
            column = cfg.title_column if title else None
            home = clothing_frame(clothing, cfg.text_column, cfg.label_column, column)
            train, test = split_rows(home, cfg.test_size, cfg.seed)
            other = load_sources([Source(domains, "text", "label")], "text", "label", group_column="domain",
                                 title_column=column, report=False)
            texts = (train[cfg.text_column].tolist() + test[cfg.text_column].tolist() + other["text"].tolist())
            if not title:  # the same rows in the same order either way
                self.y = np.concatenate([train[cfg.label_column], test[cfg.label_column], other["label"]]).astype(int)
                self.source = np.array([HOME] * len(train) + ["clothing test"] * len(test)
                                       + other[SOURCE_COLUMN].tolist(), dtype=object)
            docs = lexicon_docs(texts, self.ngrams, Lexicon.installed())
            vec = CountVectorizer(analyzer=lambda d: d, lowercase=False)
            self.counts[title] = vec.fit_transform(docs).tocsc()
            self.terms[title] = vec.get_feature_names_out()
            self.pooled[title] = WordVectors.installed().pool(texts)
        self.domains = list(dict.fromkeys(s for s in self.source if s not in (HOME, "clothing test")))

    def rows(self, *names) -> np.ndarray:
        return np.flatnonzero(np.isin(self.source, names))


def design(t: Texts, levers: dict, train: np.ndarray, vocab: np.ndarray | None = None):
    """The lever set's row -> feature matrix function, its vocabulary and idf taken over rows `vocab`
    (default: `train`), as fit_tfidf takes them over its training texts."""
    vocab = train if vocab is None else vocab
    counts = t.counts[levers["title"]]
    lexicon_terms = np.char.startswith(t.terms[levers["title"]].astype(str), TERM_PREFIX)
    df = np.asarray((counts[vocab] > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero((df >= 2) & (levers["lexicon"] | ~lexicon_terms))  # TfidfVectorizer's min_df=2
    idf = np.log((1 + len(vocab)) / (1 + df[keep])) + 1  # smooth_idf, as TfidfVectorizer
    pooled = t.pooled[levers["title"]]
    mean, spread = pooled[train].mean(axis=0), pooled[train].std(axis=0)
    scale = levers["vectors"] / np.sqrt(pooled.shape[1]) / np.where(spread > 0, spread, 1.0)

    def matrix(rows):
        x = counts[rows][:, keep].tocsr().astype(np.float64)
        x.data = 1.0 + np.log(x.data)  # sublinear tf
        x = x @ diags(idf)
        norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = diags(1.0 / np.where(norm > 0, norm, 1.0)) @ x
        if levers["vectors"]:
            x = hstack([x, (pooled[rows] - mean) * scale])
        return csr_matrix(x)

    return matrix


def fit_score(t: Texts, levers: dict, train: np.ndarray, tests: dict[str, np.ndarray]) -> dict[str, dict]:
    """Train the lever set on rows `train`; binary_scores on each named set of test rows."""
    from sklearn.linear_model import LogisticRegression

    matrix = design(t, levers, train)
    weights = source_weights(t.source[train]) if levers["balance"] else None
    lr = LogisticRegression(C=t.c, max_iter=1000).fit(matrix(train), t.y[train], sample_weight=weights)
    return {name: binary_scores(t.y[rows], lr.predict_proba(matrix(rows))[:, 1]) for name, rows in tests.items()}


def run(t: Texts, sets: dict[str, dict], held_out: list[str], out: Path, budget: float | None = None) -> bool:
    """Every fit the protocol needs, once: for each pair of domains left out (inner folds: each scores
    the other), for each domain left out alone (the held-out figures). Kept in domains-levers.json
    as they come; with `budget` (seconds), stops after it (False: not done; run again to go on)."""
    clock = time.perf_counter()
    results = {"inner": {}, "outer": {}, "seconds": {}}
    path = out / "domains-levers.json"
    if path.exists():  # a run stopped part way goes on from where it was
        results = json.loads(path.read_text())
    base = t.rows(HOME)
    for name, levers in sets.items():
        for d in held_out:
            key = f"{name}|{d}"
            if key not in results["outer"]:
                start = time.process_time()
                train = np.union1d(base, t.rows(*[e for e in t.domains if e != d]))
                results["outer"][key] = fit_score(t, levers, train, {d: t.rows(d)})[d]
                results["seconds"][key] = time.process_time() - start
                print(name, "held out", d, results["outer"][key], flush=True)
            for e in t.domains:
                pair = "|".join([name, *sorted((d, e))])
                if e == d or pair in results["inner"]:
                    continue
                train = np.union1d(base, t.rows(*[f for f in t.domains if f not in (d, e)]))
                results["inner"][pair] = fit_score(t, levers, train, {d: t.rows(d), e: t.rows(e)})
            path.write_text(json.dumps(results, indent=1))
            if budget is not None and time.perf_counter() - clock > budget:
                return False
    return True


def choose(results: dict, sets: dict, held_out: list[str], domains: list[str]) -> dict[str, dict]:
    """For each held-out domain: every set's mean inner ROC AUC and log loss, and the chosen set."""
    chosen = {}
    for d in held_out:
        scores = {}
        for name in sets:
            folds = [results["inner"]["|".join([name, *sorted((d, e))])][e] for e in domains if e != d]
            scores[name] = (float(np.mean([f["roc_auc"] for f in folds])),
                            float(np.mean([f["log_loss"] for f in folds])))
        best = max(scores, key=lambda n: (scores[n][0], -scores[n][1]))
        chosen[d] = {"set": best, "inner": scores, "held_out": results["outer"][f"{best}|{d}"]}
    return chosen


def table(results: dict, sets: dict, held_out: list[str], chosen: dict) -> str:
    return results_table("lever set", {name: [results["outer"][f"{name}|{d}"] for d in held_out] for name in sets},
                         held_out, [chosen[d]["held_out"] for d in held_out], [chosen[d]["set"] for d in held_out])


def results_table(first: str, rows: dict[str, list[dict]], held_out: list[str], chosen: list[dict],
                  chosen_names: list[str]) -> str:
    """A markdown table: a row per setting (its held-out figures in `held_out` order, and their
    mean), then the row chosen on the validation folds and what was chosen for each domain."""
    def cell(r: dict) -> str:
        return f"{r['accuracy']:.3f} / {r['roc_auc']:.3f} / {r['log_loss']:.3f}"

    def mean(found: list[dict]) -> dict:
        return {k: float(np.mean([f[k] for f in found])) for k in ("accuracy", "roc_auc", "log_loss")}

    lines = [f"| {first} | " + " | ".join(held_out) + " | mean |", "|---|" + "---|" * (len(held_out) + 1)]
    for name, found in [*rows.items(), ("**chosen on the validation folds**", chosen)]:
        lines.append(f"| {name} | " + " | ".join(map(cell, found)) + f" | {cell(mean(found))} |")
    lines.append(f"| (the {first.split()[-1]} chosen) | " + " | ".join(chosen_names) + " | |")
    return "\n".join(lines)


def arguments(description: str, out: str) -> argparse.ArgumentParser:
    """The options this script and its neighbours (domains_adapt.py) share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--clothing", default=str(ROOT / "womens_clothing_ecommerce_reviews.csv"))
    parser.add_argument("--domains", default=str(ROOT / "english_review_domains.csv"))
    parser.add_argument("--out", default=out)
    parser.add_argument("--only", help="comma-separated held-out domains (default: all six)")
    parser.add_argument("--budget", type=float, help="stop after this many seconds (run again to go on)")
    return parser


def featurised(args) -> tuple[Texts, list[str], Path]:
    """(every text's features, the held-out domains, the output folder, made) for parsed `arguments`."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    t = Texts(Path(args.clothing), Path(args.domains))
    print(f"features of {len(t.y)} rows in {time.perf_counter() - start:.0f} s", flush=True)
    return t, args.only.split(",") if args.only else t.domains, out


def finish(out: Path, chosen: dict, text: str) -> None:
    """Write chosen.json and table.md beside the results, and show the table."""
    (out / "chosen.json").write_text(json.dumps(chosen, indent=1))
    (out / "table.md").write_text(text + "\n")
    print(text)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "out/domains-levers")
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS),
                        help="comma-separated lever sets, or all (default: %(default)s)")
    args = parser.parse_args()
    t, held_out, out = featurised(args)
    sets = lever_sets()
    if args.sets != "all":
        sets = {n: sets[n] for n in args.sets.split(",")}
    if not run(t, sets, held_out, out, args.budget):
        print("stopped at the budget: run again to go on")
        return
    results = json.loads((out / "domains-levers.json").read_text())
    chosen = choose(results, sets, held_out, t.domains)
    finish(out, chosen, table(results, sets, held_out, chosen))


if __name__ == "__main__":
    main()
