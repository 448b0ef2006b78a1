"""Batch scoring: every row and cell kept byte for byte, awkward files, several inputs, errors, interruptions."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from classifier import load, score_csv
from classifier.classify.predict import BINARY_COLUMNS
from classifier.io.dataset import load_labelled, make_split
from tests.conftest import ROOT, assert_user_error, awkward_csv, run_cli, run_cli_here

# the three appended cells of a data row or of the header, up to (not including) the line end
TAIL = (r"{sep}(?:recommend_proba{sep}recommend{sep}status|(?:[01]\.\d{{6}})?{sep}[01]?{sep}"
        r"(?:ok|empty|no_known_words|truncated))(?=\r\n|\n|\r|$)")


def strip_new_cells(out: bytes, sep: str = ",") -> bytes:
    """The output with the appended cells removed: must be the input, byte for byte."""
    return re.sub(TAIL.format(sep=re.escape(sep)).encode(), b"", out)


def read_rows(data: bytes, sep: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=sep))


@pytest.fixture(scope="module")
def bundle(small_bundle):
    return load(small_bundle)


def test_awkward_round_trip_keeps_every_cell_byte_for_byte(bundle, small_bundle, tmp_path):
    data, statuses = awkward_csv(bundle)
    src = tmp_path / "awkward.csv"
    src.write_bytes(data)
    summary = score_csv(src, model=small_bundle)
    out = (tmp_path / "awkward.scored.csv").read_bytes()
    assert strip_new_cells(out) == data
    rows_in, rows_out = read_rows(data), read_rows(out)
    assert len(rows_out) == len(rows_in)
    assert rows_out[0] == rows_in[0] + list(BINARY_COLUMNS)
    assert [r[:4] for r in rows_out[1:]] == rows_in[1:]
    assert [r[6] for r in rows_out[1:]] == statuses
    assert summary.rows_in == len(statuses) and summary.counts["empty"] == statuses.count("empty")
    # scored rows: the bundle's Keras model on the same texts, to 1e-5; empty rows have no score
    scored = [r for r in rows_out[1:] if r[6] != "empty"]
    keras = bundle.recommend_proba([r[2] for r in scored], engine="keras")
    np.testing.assert_allclose([float(r[4]) for r in scored], keras, atol=1e-5)
    assert all(r[5] == str(int(float(r[4]) >= bundle.threshold)) for r in scored)
    assert all(r[4] == r[5] == "" for r in rows_out[1:] if r[6] == "empty")


def test_test_split_matches_keras(bundle, small_bundle, data_path, tmp_path):
    """The bundle's own test split, scored from a CSV, equals model.predict on the padded rows."""
    cfg = bundle.config
    split = make_split(load_labelled(data_path, cfg.text_column, cfg.label_column, cfg.max_rows),
                       cfg.text_column, cfg.label_column, cfg.test_size, cfg.seed)
    src = tmp_path / "test_split.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([[cfg.text_column, "label"], *zip(split.x_test, split.y_test.astype(int), strict=True)])
    score_csv(src, tmp_path / "out.csv", model=small_bundle, threshold=0.7)
    rows = read_rows((tmp_path / "out.csv").read_bytes())[1:]
    assert [r[0] for r in rows] == split.x_test
    expected = bundle.keras_classifier().predict(bundle.tokenizer.texts_to_padded(split.x_test), verbose=0)
    np.testing.assert_allclose([float(r[2]) for r in rows], expected.reshape(-1), atol=1e-5)
    assert [r[3] for r in rows] == [str(int(float(r[2]) >= 0.7)) for r in rows]


@pytest.mark.parametrize(
    "newline,bom,compress,ext",
    [("\n", False, False, "csv"), ("\r\n", True, False, "csv"), ("\r", False, False, "csv"),
     ("\r\n", False, True, "csv.gz"), ("\n", True, False, "tsv"), ("\r", False, True, "tsv.gz")],
)
def test_line_endings_bom_gzip_and_tsv(small_bundle, tmp_path, newline, bom, compress, ext):
    sep = "\t" if ext.startswith("tsv") else ","
    rows = [["Review Text", "n"], ["Love it, so soft", "1"], ['A "quoted"\nline break', "2"], ["", "3"],
            ["comfortable dress", "4"]]
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=sep, lineterminator=newline).writerows(rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")
    src = tmp_path / f"in.{ext}"
    src.write_bytes(gzip.compress(data) if compress else data)
    score_csv(src, model=small_bundle)
    out = (tmp_path / f"in.scored.{ext.removesuffix('.gz')}").read_bytes()
    assert strip_new_cells(out, sep) == data  # line endings and BOM kept too
    got = read_rows(out, sep)
    assert [r[:2] for r in got] == rows
    assert [r[4] for r in got[1:]] == ["ok", "ok", "empty", "ok"]


def test_header_only_gives_header_only_output(small_bundle, tmp_path):
    src = tmp_path / "h.csv"
    src.write_bytes(b"id,Review Text\r\n")
    summary = score_csv(src, tmp_path / "o.csv", model=small_bundle)
    assert (tmp_path / "o.csv").read_bytes() == b"id,Review Text,recommend_proba,recommend,status\r\n"
    assert summary.rows_in == 0


def test_stdin_to_stdout(small_bundle, data_path):
    data = b"".join(data_path.read_bytes().splitlines(keepends=True)[:40])
    data = data[: data.rfind(b"\n", 0, len(data)) + 1]
    n = len(read_rows(data)) - 1
    result = run_cli("score", "-", "--model", small_bundle, input=data)
    assert result.returncode == 0, result.stderr
    assert strip_new_cells(result.stdout) == data
    assert len(read_rows(result.stdout)) == n + 1
    assert f"{n:,} rows in".encode() in result.stderr  # the one-line summary


def test_local_score_and_spark_read_one_rule_table():
    from classifier.io.inputs import InputFormat, input_format, is_local_input, separator, table_format

    assert input_format("a.TSV.gz") == InputFormat("tsv", "gzip")
    assert input_format("a.tab") == InputFormat("tsv") and input_format("a.csv.bz2") == InputFormat("csv", "bzip2")
    assert input_format("a.parquet") == InputFormat("parquet") and input_format("a.parquet.gz") is None
    assert input_format("notes.txt") is None and input_format("-") is None
    assert table_format("a.csv", "\\t") == "tsv" and table_format("a.csv", None) == "csv"
    assert separator(input_format("a.tab"), None) == "\t" and separator(input_format("a.tsv"), ";") == ";"
    assert separator(None, None, "a\tb") == "\t" and separator(None, None, "a,b\tc") == ","
    assert is_local_input("a.tab.gz") and not is_local_input("a.csv.bz2") and not is_local_input("a.parquet")


def test_a_bzip2_input_is_refused_naming_spark(tmp_path):
    import bz2

    path = tmp_path / "a.csv.bz2"
    path.write_bytes(bz2.compress(b"Review Text\nlove it\n"))
    assert_user_error(run_cli("score", path, "--model", ROOT / "saved_models/default"), "a.csv.bz2", "--spark")


def test_several_files_and_a_folder(small_bundle, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    files = {
        "a.csv": b"Review Text,x\nlove it,1\n",
        "b.tsv": b"Review Text\tx\nruns small\t2\n\t3\n",
        "c.csv.gz": gzip.compress(b"x,Review Text\r\n9,great fit\r\n"),
        "d.tab": b"Review Text\tx\nlovely colour\t4\n",  # .tab is TSV, as on Spark (classifier.io.inputs)
        "a.scored.csv": b"old output: not an input\n",
        "notes.txt": b"not an input\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    summary_json = tmp_path / "summary.json"
    result = run_cli("score", folder, "-o", tmp_path / "out", "--model", small_bundle, "--summary-json", summary_json)
    assert result.returncode == 0, result.stderr
    outs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outs == ["a.scored.csv", "b.scored.tsv", "c.scored.csv", "d.scored.tsv"]
    assert strip_new_cells((tmp_path / "out/b.scored.tsv").read_bytes(), "\t") == files["b.tsv"]
    assert strip_new_cells((tmp_path / "out/c.scored.csv").read_bytes()) == gzip.decompress(files["c.csv.gz"])
    summary = json.loads(summary_json.read_text())
    assert [f["rows_in"] for f in summary["files"]] == [1, 2, 1, 1]
    assert summary["total"]["counts"]["empty"] == 1 and summary["total"]["rows_scored"] == 4
    # two files without -o: each output beside its input; again without --overwrite: refused, nothing changed
    result = run_cli("score", folder / "a.csv", folder / "b.tsv", "--model", small_bundle, "--overwrite")
    assert result.returncode == 0, result.stderr
    before = (folder / "b.scored.tsv").read_bytes()
    assert_user_error(run_cli("score", folder / "a.csv", folder / "b.tsv", "--model", small_bundle),
                      "a.scored.csv", "already exists", "--overwrite")
    assert (folder / "b.scored.tsv").read_bytes() == before


def test_undecodable_bytes_name_the_line_then_encoding_fixes_it(small_bundle, tmp_path):
    src = tmp_path / "latin.csv"
    src.write_bytes("Review Text,n\nfine,1\n\"two\nlines\",2\nthe caf\u00e9 dress,3\n".encode("cp1252"))
    assert_user_error(run_cli("score", src, "--model", small_bundle), "line 5", "'Review Text'", "--encoding")
    assert not (tmp_path / "latin.scored.csv").exists()
    result = run_cli("score", src, "--model", small_bundle, "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    assert read_rows((tmp_path / "latin.scored.csv").read_bytes())[3][0] == "the caf\u00e9 dress"  # now UTF-8


@pytest.mark.parametrize(
    "content,args,needles",
    [
        (None, [], ["absent.csv", "not found"]),
        (b"", [], ["is empty", "header row"]),
        (b"review,n\nnice,1\n", [], ["no text column 'Review Text'", "did you mean 'review'", "--text-column"]),
        (b"Review Text,n\nnice,1\n\"closed\" then more,2\n", [], ["line 3", "malformed CSV"]),
        (b"Review Text,n\nnice,1\n\"never closed,2\nmore,3\n", [], ["line 3", "quote is probably not closed"]),
        (b"Review Text,n\nnice,1\nthree,fields,here\n", [], ["line 3", "3 fields where the header has 2"]),
        (b"Review Text,n\nnice,1\n", ["-o", "/nonexistent-folder/x.csv"], ["/nonexistent-folder", "does not exist"]),
        (b"Review Text,recommend\nnice,1\n", [], ["already has column", "'recommend'"]),
        (gzip.compress(b"Review Text,n\n" + b"nice,1\n" * 1000)[:-30], [], ["gzip"]),
    ],
    ids=["missing", "empty", "column", "stray-quote", "open-quote", "fields", "unwritable", "clash", "bad-gzip"],
)
def test_bad_input_is_one_line(small_bundle, tmp_path, content, args, needles):
    src = tmp_path / "absent.csv"
    if content is not None:
        src.write_bytes(content)
    assert_user_error(run_cli("score", src, "--model", small_bundle, *args), *needles)
    assert sorted(os.listdir(tmp_path)) == ([] if content is None else ["absent.csv"])  # no output, no temp file


@pytest.fixture(scope="module")
def big_csv(data_path, tmp_path_factory) -> Path:
    """The data set repeated to 120,000 rows: several seconds of scoring, long enough to interrupt."""
    with open(data_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for i in range(120_000):
            w.writerow(rows[1 + i % (len(rows) - 1)])
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT],
                         ids=["kill", "ctrl-c", "term", "hangup", "quit"])
def test_interrupted_run_leaves_nothing_at_destination(small_bundle, big_csv, tmp_path, sig):
    dest = tmp_path / "scored.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "classifier", "score", big_csv, "-o", dest, "--model", small_bundle, "--quiet"],
        cwd=ROOT, stderr=subprocess.PIPE, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        # Ctrl-C as at a terminal: a job started in the background by a shell (CI, `make test &`) inherits
        # SIGINT ignored, and Python then keeps ignoring it, as it should for such a job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        # wait until several chunks are written to the temp file: the run is half way
        while not any(p.stat().st_size > 3_000_000 for p in tmp_path.glob(".scored.csv.*.tmp")):
            assert proc.poll() is None, f"finished before it could be interrupted: {proc.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert not dest.exists()
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL  # no chance to clean up: only a hidden temp file may remain
    else:
        assert code == 130
        assert b"Traceback" not in proc.stderr.read()
        assert os.listdir(tmp_path) == []


def test_error_half_way_leaves_nothing_and_existing_output_untouched(small_bundle, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"Review Text,n\n" + b"love it,1\n" * 20_000 + b"one,too,many\n")
    dest = tmp_path / "out.csv"
    dest.write_bytes(b"precious\n")
    assert_user_error(run_cli("score", src, "-o", dest, "--model", small_bundle, "--overwrite"), "line 20002")
    assert dest.read_bytes() == b"precious\n"
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "out.csv"]


def test_output_folder_and_summary_path_mistakes_are_one_line_errors(small_bundle, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("Review Text\nlove it\n")
    b = tmp_path / "b.csv"
    b.write_text("Review Text\nhate it\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run_cli("score", a, b, "-o", blocker / "sub", "--model", small_bundle)
    assert_user_error(r, "cannot create the output folder")
    folder = tmp_path / "summary-folder"
    folder.mkdir()
    r = run_cli("score", a, "-o", tmp_path / "out.csv", "--summary-json", folder, "--model", small_bundle)
    assert_user_error(r, "is a folder")
    assert not (tmp_path / "out.csv").exists() and list(folder.iterdir()) == []


def test_a_header_without_a_line_break_is_refused_with_a_bound(small_bundle, tmp_path):
    from classifier.io.records import HEADER_LIMIT

    src = tmp_path / "endless.csv"
    src.write_bytes(b"Review Text," + b"x" * HEADER_LIMIT)  # no line break where a header should end
    assert_user_error(run_cli_here("score", src, "--model", small_bundle), "endless.csv", "line break")
    assert os.listdir(tmp_path) == ["endless.csv"]


def test_a_folder_of_scored_outputs_says_so(small_bundle, tmp_path):
    (tmp_path / "a.scored.csv").write_text("Review Text,recommend_proba,recommend,status\nlove it,0.9,1,ok\n")
    assert_user_error(run_cli_here("score", tmp_path, "--model", small_bundle), "only scored outputs")
