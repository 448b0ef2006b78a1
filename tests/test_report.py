"""`classifier evaluate --report DIR`: metrics.json, PNG plots and a self-contained report.html."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.conftest import run_cli_here

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ["training_curves", "roc", "precision_recall", "confusion_matrix", "calibration", "score_histogram"]


@pytest.fixture(scope="module")
def report(small_bundle, data_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    r = run_cli_here("evaluate", "--model", small_bundle, "--data", data_path, "--report", out)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_last_line_stays_loss_and_accuracy(report):
    out, stdout = report
    last = stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\[\d\.\d{4}, \d\.\d{4}\]", last)
    loss, acc = json.loads(last)
    metrics = json.loads((out / "metrics.json").read_text())
    # the report's figures come from the same model and split as Keras' evaluate
    assert metrics["loss"] == pytest.approx(loss, abs=1e-4)
    assert metrics["accuracy"] == pytest.approx(acc, abs=1e-4)


def test_metrics_json(report):
    out, _ = report
    m = json.loads((out / "metrics.json").read_text())
    for key in ("loss", "accuracy", "roc_auc", "pr_auc", "brier", "at_0.5", "threshold_sweep", "confidently_wrong"):
        assert key in m
    cm = m["at_0.5"]["confusion_matrix"]
    assert sum(map(sum, cm)) == m["n"] == 400  # the test split of 2,000 rows
    per_class = m["at_0.5"]["per_class"]
    assert set(per_class) == {"not recommended", "recommended"}
    assert per_class["recommended"]["support"] == cm[1][0] + cm[1][1]
    assert 0.5 <= m["roc_auc"] <= 1.0 and 0.0 <= m["brier"] <= 1.0
    assert [r["threshold"] for r in m["threshold_sweep"]][:3] == [0.05, 0.1, 0.15]
    wrong = m["confidently_wrong"]
    assert wrong and all((w["p_recommend"] >= m["threshold"]) != (w["label"] == 1) for w in wrong)


def test_plots_are_pngs(report):
    out, _ = report
    for name in PLOTS:
        data = (out / f"{name}.png").read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name


def test_html_is_self_contained_and_shows_the_metrics(report):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    m = json.loads((out / "metrics.json").read_text())
    # every image is inline; nothing is fetched from anywhere
    assert page.count('src="data:image/png;base64,') == len(PLOTS)
    assert not re.search(r"""(src|href)\s*=\s*(["'])(?!data:)""", page)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert f"{m['accuracy']:.4f}" in page and f"{m['roc_auc']:.4f}" in page
    assert html.escape(m["confidently_wrong"][0]["text"]) in page


def test_unwritable_report_folder_is_a_one_line_error(small_bundle, data_path, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = run_cli_here("evaluate", "--model", small_bundle, "--data", data_path, "--report", blocker / "report")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("classifier: error:") and "a-file" in r.stderr and "Traceback" not in r.stderr


def test_report_shows_the_words_that_moved_the_calls(report, small_bundle, data_path):
    """Summed over the test split's reviews called each class, the words with the largest contributions
    towards it (as Bundle.explain gives them, one review at a time); and why the most confidently wrong
    reviews were called wrong."""
    import classifier
    from classifier.io.dataset import load_labelled, make_split

    out, _ = report
    m = json.loads((out / "metrics.json").read_text())
    why = m["explanations"]
    bundle = classifier.load(small_bundle)
    cfg = bundle.config
    df = load_labelled(data_path, cfg.text_column, cfg.label_column, cfg.max_rows)
    texts = make_split(df, cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed).x_test
    assert why["reviews"] == len(texts) == 400 and why["method"] == "occlusion"
    totals = {}
    for e in bundle.explain(list(texts)):
        for w in e.words:
            totals.setdefault((str(e.label), w.word), []).append(w.contribution)
    called = {label for label, _ in totals}  # a 1-epoch model may call every review one class
    assert set(why["towards"]) == {"0", "1"} and called
    for label in called:
        top = why["towards"][label][0]
        assert top["total"] == pytest.approx(sum(totals[(label, top["word"])]), abs=1e-3)
        assert top["total"] == pytest.approx(max(sum(c) for (lab, _), c in totals.items() if lab == label), abs=1e-3)
    assert [w["text"] for w in why["wrong"]] == [w["text"] for w in m["confidently_wrong"]]
    first = bundle.explain([why["wrong"][0]["text"]])[0]
    assert [w for w, _ in why["wrong"][0]["top_for"]] == [w.word for w in first.top_for]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Which words moved the calls" in page and "towards recommended" in page
    assert page.count('<span class="w"') >= 10  # the wrong reviews, their words shaded
