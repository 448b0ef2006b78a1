"""Leave one review domain out: how a model trained elsewhere does on reviews of a shop it never saw.

    python -m classifier compare --leave-out domain --domains ../shared/data/english_review_domains.csv
    rows = compare_domains(clothing_csv, domains_csv, "out/compare-domains", presets=("tfidf", "general"))

For each domain of the `leave_out` column, each preset is trained on the clothing file's training
split (its reference split) plus every other domain, and tested on all rows of the held-out one;
the clothing-only rows train on the clothing training split alone. Baselines in the same table:
VADER's compound (vaderSentiment, no training; >= 0.05 is positive). The clothing test split is
scored too, so a lever that helps the other domains shows what it costs at home.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from classifier.bundle import load
from classifier.classify.metrics import binary_scores
from classifier.classify.train import fit_split
from classifier.config import preset
from classifier.errors import UserError
from classifier.io.dataset import Split, load_labelled, split_rows
from classifier.io.files import write_json
from classifier.io.sources import SOURCE_COLUMN, Source, load_sources

log = logging.getLogger(__name__)
VADER_CUT = 0.05  # VADER's own rule: compound >= 0.05 is positive
HOME = "clothing"  # the clothing file's rows in the table


def vader_proba(texts) -> np.ndarray:
    """VADER's compound mapped to [0, 1] ((c + 1) / 2: >= 0.525 is its positive), so that accuracy at 0.5
    is VADER's own rule up to the 0.05 margin, which `vader_row` applies exactly."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise UserError("the VADER baseline needs vaderSentiment: pip install vaderSentiment") from None
    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(str(t))["compound"] for t in texts])


def vader_row(domain: str, texts, y) -> dict:
    compound = vader_proba(texts)
    p = np.clip((compound + 1) / 2, 1e-6, 1 - 1e-6)  # log loss of a score that was never a probability
    row = binary_scores(y, p)
    row["accuracy"] = float(np.mean((compound >= VADER_CUT) == (np.asarray(y) == 1)))
    return {"domain": domain, "model": "VADER (no training)", **row}


def clothing_frame(clothing, text_column: str, label_column: str, title_column: str | None):
    """The clothing file's clean rows, as `train` reads them alone (so its reference split)."""
    if title_column is None:
        return load_labelled(clothing, text_column, label_column)
    frame = load_sources([Source(Path(clothing), text_column, label_column)], text_column, label_column,
                         title_column=title_column, report=False)
    return frame.drop(columns=[SOURCE_COLUMN])


def compare_domains(clothing: str | os.PathLike, domains: str | os.PathLike, out: str | os.PathLike,
                    presets=("tfidf",), leave_out: str = "domain", text_column: str = "text",
                    label_column: str = "label", only=None, baselines: bool = True, verbose: int = 0,
                    adapt: bool = False) -> list[dict]:
    """Train and score every (held-out domain, preset); rows of domain, model, n, accuracy, ROC AUC
    and log loss; out/compare-domains.json has them. `only` limits the held-out domains. With
    `adapt`, each leave-one-out fit self-trains on the held-out domain's texts (`train --adapt-to`),
    never its labels."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    other = load_sources([Source(Path(domains), text_column, label_column)], "text", "label",
                         group_column=leave_out, report=False)
    names = [n for n in dict.fromkeys(other[SOURCE_COLUMN]) if only is None or n in only]
    rows = []
    if baselines:
        cfg = preset("tfidf")
        home = load_labelled(clothing, cfg.text_column, cfg.label_column)
        _, test = split_rows(home, cfg.test_size, cfg.seed)
        rows.append(vader_row(HOME, test[cfg.text_column].tolist(), test[cfg.label_column].to_numpy()))
        for name in names:
            part = other[other[SOURCE_COLUMN] == name]
            rows.append(vader_row(name, part["text"].tolist(), part["label"].to_numpy()))
    for preset_name in presets:
        cfg = preset(preset_name)
        home = clothing_frame(clothing, cfg.text_column, cfg.label_column, cfg.title_column)
        train, test = split_rows(home, cfg.test_size, cfg.seed)
        if cfg.title_column:  # the other domains' titles, joined as the clothing file's are
            other = load_sources([Source(Path(domains), text_column, label_column)], "text", "label",
                                 group_column=leave_out, title_column=cfg.title_column, report=False)
        for held in [None, *names]:
            rest = other[(other[SOURCE_COLUMN] != held) if held else np.zeros(len(other), bool)]
            target = other[other[SOURCE_COLUMN] == held] if held else None
            x_test = test[cfg.text_column].tolist() + ([] if target is None else target["text"].tolist())
            y_test = np.concatenate([test[cfg.label_column].to_numpy(np.float32),
                                     [] if target is None else target["label"].to_numpy(np.float32)])
            where = np.array([HOME] * len(test) + ([] if target is None else [held] * len(target)), dtype=object)
            split = Split(train[cfg.text_column].tolist() + rest["text"].tolist(), x_test,
                          np.concatenate([train[cfg.label_column].to_numpy(np.float32),
                                          rest["label"].to_numpy(np.float32)]).astype(np.float32),
                          y_test.astype(np.float32),
                          train_sources=np.array([HOME] * len(train) + rest[SOURCE_COLUMN].tolist(), dtype=object),
                          test_sources=where)
            mixed = np.random.default_rng(cfg.seed).permutation(len(split.x_train))  # every source in validation
            split.x_train = [split.x_train[i] for i in mixed]
            split.y_train, split.train_sources = split.y_train[mixed], split.train_sources[mixed]
            bundle_dir = out / preset_name / (held or "clothing-only")
            log.info(f"compare-domains: {preset_name}, {'leaving out ' + held if held else 'clothing only'}")
            texts = target["text"].tolist() if adapt and held else None
            metrics = fit_split(cfg, split, bundle_dir, {"leave_out": held, "domains": str(domains)}, verbose,
                                adapt=texts)
            bundle = load(bundle_dir)
            model = f"{preset_name}, clothing only" if held is None else f"{preset_name}, clothing + other domains"
            for name in [HOME] if held is None else [HOME, held]:
                at = where == name
                p = np.asarray(bundle.recommend_proba(np.array(x_test, dtype=object)[at].tolist()), np.float64)
                rows.append({"domain": name, "model": model, **binary_scores(y_test[at], p),
                             "train_seconds": metrics["train_seconds"]})
            if held is None:  # the clothing-only model on every other domain
                for name in names:
                    part = other[other[SOURCE_COLUMN] == name]
                    p = np.asarray(bundle.recommend_proba(part["text"].tolist()), np.float64)
                    rows.append({"domain": name, "model": model, **binary_scores(part["label"].to_numpy(), p),
                                 "train_seconds": metrics["train_seconds"]})
            write_json(out / "compare-domains.json", {"clothing": str(clothing), "domains": str(domains),
                                                      "rows": rows})
    return rows


def domain_table(rows: list[dict]) -> str:
    """Markdown: a row per domain, a column per model (accuracy / ROC AUC / log loss), then the means
    over the held-out domains (the clothing rows apart)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    cell = {}  # a leave-one-out model's clothing cell: the mean of its runs (each on the clothing test split)
    for r in rows:
        cell.setdefault((r["domain"], r["model"]), []).append(r)
    lines = ["| domain | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]

    def fmt(found):
        if not found:
            return "-"
        a, u, ll = (float(np.mean([f[k] for f in found])) for k in ("accuracy", "roc_auc", "log_loss"))
        return f"{a:.3f} / {u:.3f} / {ll:.3f}"

    for d in domains:
        lines.append(f"| {d} | " + " | ".join(fmt(cell.get((d, m), [])) for m in models) + " |")
    away = [d for d in domains if d != HOME]
    means = []
    for m in models:
        found = [cell[(d, m)][0] for d in away if (d, m) in cell]
        means.append(fmt(found) if len(found) == len(away) else "-")
    lines.append("| **mean of the other domains** | " + " | ".join(means) + " |")
    return "\n".join(lines)
