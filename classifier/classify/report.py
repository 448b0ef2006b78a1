"""Evaluation report: metrics.json, PNG plots and one self-contained report.html.

    python -m classifier evaluate --model saved_models/tuned --report out/tuned-report

The figures come from classifier.classify.metrics; matplotlib is imported only when plots are drawn.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from classifier.classify.metrics import (
    CLASSES,
    categorical_log_loss,
    compute_metrics,
    confidently_wrong,
    majority_share,
    multiclass_scores,
)
from classifier.errors import UserError, slot
from classifier.io.files import atomic_write, cannot_write_in


# -- plots ---------------------------------------------------------------------
def _figure(path: Path, draw, size=(5.2, 4.0)) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    draw(fig, ax)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def plot_history(out: Path, history: list[dict], loss_name: str) -> tuple[str, str]:
    """training_curves.png: loss and accuracy per epoch; returns (file name, caption)."""
    def curves(fig, ax):
        epochs = np.arange(1, len(history) + 1)
        for key, style in (("loss", "-"), ("val_loss", "--")):
            if key in history[0]:
                ax.plot(epochs, [r[key] for r in history], style, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.set_ylabel(loss_name)
        ax2 = ax.twinx()
        for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
            if key in history[0]:
                ax2.plot(epochs, [r[key] for r in history], style, color="tab:green", alpha=0.6, label=key)
        ax2.set_ylabel("accuracy")
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        # below the axes: "best" cannot see the twin axis' lines and lands on them
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False)
        ax.set_title("Training history")
    _figure(out / "training_curves.png", curves)
    return "training_curves.png", "Loss and accuracy per epoch (dashed: validation split)."


def plot_all(out: Path, y: np.ndarray, p: np.ndarray, metrics: dict, history: list[dict]) -> list[tuple[str, str]]:
    """Write the PNGs into `out`; return (file name, caption) pairs in report order."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y).astype(int)
    made = []

    if history:
        made.append(plot_history(out, history, "binary cross-entropy"))

    def roc(fig, ax):
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"ROC AUC {metrics['roc_auc']:.3f}")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("ROC curve")
        ax.legend(loc="lower right")
    _figure(out / "roc.png", roc)
    made.append(("roc.png", "ROC curve: recommended is the positive class."))

    def pr(fig, ax):
        for target, score, name, auc in ((y, p, "recommended", metrics["pr_auc"]),
                                         (1 - y, 1 - p, "not recommended", metrics["pr_auc_not_recommended"])):
            prec, rec, _ = precision_recall_curve(target, score)
            ax.plot(rec, prec, label=f"{name} (AP {auc:.3f})")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_ylim(0, 1.02)
        ax.set_title("Precision-recall, each class as positive")
        ax.legend(loc="lower left")
    _figure(out / "precision_recall.png", pr)
    made.append(("precision_recall.png", "Precision against recall for each class."))

    def confusion(fig, ax):
        cm = np.array(metrics["at_threshold"]["confusion_matrix"])
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{cm[i, j]:,}", ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=14)
        ax.set_xticks([0, 1], ["not rec.", "rec."])
        ax.set_yticks([0, 1], ["not rec.", "rec."])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"Confusion matrix at threshold {metrics['threshold']:.2f}")
    _figure(out / "confusion_matrix.png", confusion, size=(4.6, 4.0))
    made.append(("confusion_matrix.png", "Counts of test reviews by true and predicted class."))

    def calibration(fig, ax):
        c = metrics["calibration"]
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
        ax.plot(c["mean_predicted"], c["fraction_positive"], marker="o", label="model")
        ax.set_xlabel("mean predicted probability of recommending")
        ax.set_ylabel("fraction that recommend")
        ax.set_title(f"Calibration (Brier {metrics['brier']:.3f})")
        ax.legend(loc="upper left")
    _figure(out / "calibration.png", calibration)
    made.append(("calibration.png", "Predicted probability against observed share, in ten bins."))

    def histogram(fig, ax):
        bins = np.linspace(0, 1, 41)
        for c, name in enumerate(CLASSES):
            ax.hist(p[y == c], bins=bins, alpha=0.6, label=f"true: {name}")
        ax.axvline(metrics["threshold"], color="black", linestyle="--", label=f"threshold {metrics['threshold']:.2f}")
        ax.set_yscale("log")
        ax.set_xlabel("predicted probability of recommending")
        ax.set_ylabel("reviews (log scale)")
        ax.set_title("Scores by true class")
        ax.legend(loc="upper center", fontsize=8)
    _figure(out / "score_histogram.png", histogram)
    made.append(("score_histogram.png", "How the scores of each true class spread."))
    return made


# -- HTML ----------------------------------------------------------------------
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f2f2f2; } .text { text-align: left; max-width: 700px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; min-width: 120px; }
.card b { display: block; font-size: 1.6em; } .card span { color: #666; font-size: 0.9em; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.9em; max-width: 520px; }
"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _wrong_table(heading: str, columns: list[str], rows: list[list]) -> str:
    """A heading and a table of wrong reviews: `columns` of figures, then the review (each row's last cell)."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    lines = [f"<h2>{e(heading)}</h2><table><tr>{head}<th class='text'>review</th></tr>"]
    lines += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + f"<td class='text'>{e(text)}</td></tr>"
              for *cells, text in rows]
    lines.append("</table>")
    return "\n".join(lines)


def render_html(title: str, subtitle: str, metrics: dict, plots: list[tuple[Path, str]], wrong: list[dict],
                extra: str = "") -> str:
    e = html.escape
    cards = [
        ("log loss", f"{metrics['loss']:.4f}"), ("accuracy", f"{metrics['accuracy']:.4f}"),
        ("ROC AUC", f"{metrics['roc_auc']:.4f}"), ("PR AUC (not rec.)", f"{metrics['pr_auc_not_recommended']:.4f}"),
        ("Brier", f"{metrics['brier']:.4f}"), ("threshold", f"{metrics['threshold']:.2f}"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p class='sub'>{e(subtitle)}</p>",
        "<div class='cards'>",
        *(f"<div class='card'><b>{v}</b><span>{e(k)}</span></div>" for k, v in cards),
        "</div>",
    ]
    # per-class table at 0.5 and at the bundle's threshold
    parts.append("<h2>Per class</h2><table><tr><th>threshold</th><th>class</th><th>precision</th>"
                 "<th>recall</th><th>F1</th><th>support</th><th>accuracy</th></tr>")
    cuts = [("at_0.5", metrics["at_0.5"])]
    if metrics["threshold"] != 0.5:
        cuts.append(("at_threshold", metrics["at_threshold"]))
    for _, s in cuts:
        for name in CLASSES:
            c = s["per_class"][name]
            parts.append(
                f"<tr><td>{s['threshold']:.2f}</td><td>{e(name)}</td><td>{c['precision']:.3f}</td>"
                f"<td>{c['recall']:.3f}</td><td>{c['f1']:.3f}</td><td>{c['support']:,}</td>"
                f"<td>{s['accuracy']:.4f}</td></tr>"
            )
    parts.append("</table>")
    parts.append("<h2>Plots</h2><div class='plots'>")
    for path, caption in plots:
        parts.append(f"<figure>{_img(path)}<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</div>")
    parts.append("<h2>Threshold sweep</h2><table><tr><th>threshold</th><th>accuracy</th><th>F1 macro</th>"
                 "<th>precision not rec.</th><th>recall not rec.</th><th>F1 not rec.</th><th>F1 rec.</th></tr>")
    for r in metrics["threshold_sweep"]:
        parts.append(
            f"<tr><td>{r['threshold']:.2f}</td><td>{r['accuracy']:.4f}</td><td>{r['f1_macro']:.3f}</td>"
            f"<td>{r['precision_not_rec']:.3f}</td><td>{r['recall_not_rec']:.3f}</td>"
            f"<td>{r['f1_not_rec']:.3f}</td><td>{r['f1_rec']:.3f}</td></tr>"
        )
    parts.append("</table>")
    parts.append(_wrong_table(f"Most confidently wrong test reviews (threshold {metrics['threshold']:.2f})",
                              ["true label", "P(recommend)"],
                              [[CLASSES[w["label"]], f"{w['p_recommend']:.3f}", w["text"]] for w in wrong]))
    parts.append(extra)
    parts.append("</body></html>")
    return "\n".join(parts)


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


REPORT_FILES = ("metrics.json", "report.html", "training_curves.png", "roc.png", "precision_recall.png",
                "confusion_matrix.png", "calibration.png", "score_histogram.png")


def prepare_folder(out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create the report folder, or a UserError naming it (checked before the slow evaluation).
    A folder that already holds a report is refused unless `overwrite`; other files in it are left alone."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give {slot('report')} a folder")
    present = [n for n in REPORT_FILES if (out / n).exists()]
    if present and not overwrite:
        raise UserError(f"{out} already holds a report ({', '.join(present[:3])}); "
                        f"pass {slot('overwrite')} to replace it "
                        f"or choose another {slot('report')} DIR")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create the report folder ({e.strerror}); "
                        f"choose another {slot('report')} DIR") from None
    reason = cannot_write_in(out)
    if reason:
        raise UserError(f"{out}: the report folder is not writable ({reason}); choose another {slot('report')} DIR")
    return out


def write_report(out: str | os.PathLike, *, title: str, subtitle: str, texts, y, p,
                 threshold: float = 0.5, history: list[dict] | None = None, explain=None) -> dict:
    """metrics.json, the PNGs and report.html in `out` (checked by `prepare_folder`); returns the metrics.
    `explain(texts, wrong_texts) -> (html, json)` adds which words moved the calls (the bundle's explanations)."""
    out = Path(out)
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    metrics = compute_metrics(y, p, threshold)
    wrong = confidently_wrong(texts, y, p, threshold)
    why, why_json = explain(texts, [w["text"] for w in wrong]) if explain is not None else ("", None)
    explained = {} if why_json is None else {"explanations": why_json}
    _write_text(out / "metrics.json", json.dumps({**metrics, "confidently_wrong": wrong, **explained}, indent=2) + "\n")
    plots = plot_all(out, y, p, metrics, history or [])
    _write_text(out / "report.html", render_html(title, subtitle, metrics, [(out / f, c) for f, c in plots], wrong,
                                                 why))
    return metrics


# -- multi-class -----------------------------------------------------------------
def plot_confusion(out: Path, cm: np.ndarray, classes: list) -> tuple[str, str]:
    """confusion_matrix.png for k classes: counts, rows true, columns predicted."""
    k = len(classes)
    size = min(4.0 + 0.45 * k, 14.0)

    def draw(fig, ax):
        ax.imshow(cm, cmap="Blues")
        if k <= 30:  # beyond that the numbers do not fit; the colours still show the pattern
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{cm[i, j]:,}", ha="center", va="center", fontsize=8 if k > 8 else 11,
                            color="white" if cm[i, j] > cm.max() / 2 else "black")
        names = [str(c) for c in classes]
        ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("Confusion matrix (most likely class)")
    _figure(out / "confusion_matrix.png", draw, size=(size, size * 0.9))
    return "confusion_matrix.png", "Counts of test reviews by true and predicted class."


def render_multiclass_html(title: str, subtitle: str, metrics: dict, plots: list[tuple[Path, str]],
                           wrong: list[dict], extra: str = "") -> str:
    e = html.escape
    cards = [("log loss", f"{metrics['loss']:.4f}"), ("accuracy", f"{metrics['accuracy']:.4f}"),
             ("macro F1", f"{metrics['f1_macro']:.4f}"), ("majority share", f"{metrics['majority_share']:.4f}"),
             ("classes", str(len(metrics["classes"])))]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p class='sub'>{e(subtitle)}</p>", "<div class='cards'>",
        *(f"<div class='card'><b>{v}</b><span>{e(k)}</span></div>" for k, v in cards), "</div>",
        "<h2>Per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>",
    ]
    for name, c in metrics["per_class"].items():
        parts.append(f"<tr><td>{e(name)}</td><td>{c['precision']:.3f}</td><td>{c['recall']:.3f}</td>"
                     f"<td>{c['f1']:.3f}</td><td>{c['support']:,}</td></tr>")
    parts.append("</table><h2>Plots</h2><div class='plots'>")
    for path, caption in plots:
        parts.append(f"<figure>{_img(path)}<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</div>")
    parts.append(_wrong_table("Most confidently wrong test reviews", ["true", "predicted", "probability"],
                              [[w["label"], w["predicted"], f"{w['proba']:.3f}", w["text"]] for w in wrong]))
    parts.append(extra)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_multiclass_report(out: str | os.PathLike, *, title: str, subtitle: str, texts, y, p, classes: list,
                            majority: int, history: list[dict] | None = None, n_wrong: int = 10,
                            explain=None) -> dict:
    """metrics.json (loss, accuracy, macro F1, per class, confusion matrix, majority share), the PNGs and
    report.html for a multi-class bundle; `y` class indices, `p` (n, k) probabilities in `classes` order,
    `majority` the training labels' most common class (classifier.classify.metrics.majority_share)."""
    out = Path(out)
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    scores = multiclass_scores(y, p, classes)
    metrics = {"n": int(len(y)), "classes": classes, "loss": categorical_log_loss(y, p), **scores,
               "majority_share": majority_share(y, majority)}
    pred = np.argmax(p, axis=1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-p[wrong, pred[wrong]], kind="stable")][:n_wrong]
    wrong_rows = [{"text": str(texts[i]), "label": classes[y[i]], "predicted": classes[pred[i]],
                   "proba": float(p[i, pred[i]])} for i in wrong]
    why, why_json = explain(texts, [w["text"] for w in wrong_rows]) if explain is not None else ("", None)
    explained = {} if why_json is None else {"explanations": why_json}
    _write_text(out / "metrics.json",
                json.dumps({**metrics, "confidently_wrong": wrong_rows, **explained}, indent=2) + "\n")
    plots = [plot_history(out, history, "categorical cross-entropy")] if history else []
    plots.append(plot_confusion(out, np.array(scores["confusion_matrix"]), classes))
    _write_text(out / "report.html", render_multiclass_html(title, subtitle, metrics,
                                                            [(out / f, c) for f, c in plots], wrong_rows, why))
    return metrics
