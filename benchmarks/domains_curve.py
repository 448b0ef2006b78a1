"""Fine-tuning from a bundle: the learning curve on a domain the bundle never saw.

    python benchmarks/domains_curve.py --bundles out/compare-domains/general --out out/domains-curve
    python benchmarks/domains_curve.py --preset general-vectors --bundles out/compare-domains/general-vectors

For each held-out domain, BUNDLES/DOMAIN is the general preset trained without it (`make
compare-domains` leaves it there). N labelled rows of the domain (100, 300, 1,000; each a
prefix of one seeded shuffle) then train: the bundle fine-tuned on them (`train --init-from`),
the general preset from scratch on them, and the tfidf preset (TF-IDF+LR) on them (`--preset`:
another preset in general's place, such as general-vectors). Every model is
tested on the same rows: the domain's rows outside the largest N. The bundle with no fine-tuning
is the first row.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from classifier.bundle import load
from classifier.classify.metrics import binary_scores
from classifier.classify.train import fit_split
from classifier.config import preset
from classifier.io.dataset import Split
from classifier.io.files import write_json
from classifier.io.sources import SOURCE_COLUMN, Source, load_sources

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "english_review_domains.csv"
SIZES = (100, 300, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default=str(DATA))
    parser.add_argument("--bundles", default="out/compare-domains/general")
    parser.add_argument("--out", default="out/domains-curve")
    parser.add_argument("--only", help="comma-separated domains (default: every one with a bundle)")
    parser.add_argument("--preset", default="general", help="the bundles' preset, also trained from scratch")
    args = parser.parse_args()
    frame = load_sources([Source(Path(args.domains), "text", "label")], "text", "label", group_column="domain",
                         title_column="title", report=False)
    plain = load_sources([Source(Path(args.domains), "text", "label")], "text", "label", group_column="domain",
                         report=False)
    rows = []
    names = args.only.split(",") if args.only else list(dict.fromkeys(frame[SOURCE_COLUMN]))
    for domain in names:
        if not (Path(args.bundles) / domain).is_dir():
            continue
        at = np.flatnonzero((frame[SOURCE_COLUMN] == domain).to_numpy())
        order = np.random.default_rng(0).permutation(at)
        test_at = order[max(SIZES):]
        bundle = load(Path(args.bundles) / domain)
        y_test = frame["label"].to_numpy(np.float64)[test_at]
        texts = {"title": frame["text"].to_numpy(object), "plain": plain["text"].to_numpy(object)}
        p = bundle.recommend_proba(texts["title"][test_at].tolist())
        name = args.preset
        rows.append({"domain": domain, "labels": 0, "model": f"{name}, no fine-tuning",
                     **binary_scores(y_test, p)})
        for n in SIZES:
            train_at = order[:n]
            for model, cfg, init, kind in ((f"{name}, fine-tuned", preset(name), bundle, "title"),
                                           (f"{name} preset, from scratch", preset(name), None, "title"),
                                           ("tfidf (TF-IDF+LR), from scratch", preset("tfidf"), None, "plain")):
                x = texts[kind]
                split = Split(x[train_at].tolist(), x[test_at].tolist(),
                              frame["label"].to_numpy(np.float32)[train_at], y_test.astype(np.float32))
                with tempfile.TemporaryDirectory() as tmp:
                    metrics = fit_split(cfg, split, Path(tmp) / "b", {"curve": domain}, init=init)
                    p = load(Path(tmp) / "b").recommend_proba(split.x_test)
                rows.append({"domain": domain, "labels": n, "model": model, **binary_scores(y_test, p),
                             "train_seconds": metrics["train_seconds"]})
                print(rows[-1], flush=True)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out) / "domains-curve.json", {"rows": rows})
    print(table(rows))


def table(rows: list[dict]) -> str:
    """Markdown: accuracy / ROC AUC per (labels, model), the mean over the domains."""
    keys = list(dict.fromkeys((r["labels"], r["model"]) for r in rows))
    lines = ["| labelled rows | model | accuracy | ROC AUC | domains |", "|---|---|---|---|---|"]
    for n, model in keys:
        found = [r for r in rows if (r["labels"], r["model"]) == (n, model)]
        lines.append(f"| {n} | {model} | {np.mean([r['accuracy'] for r in found]):.3f} | "
                     f"{np.mean([r['roc_auc'] for r in found]):.3f} | {len(found)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
