"""What the tool promises (docs/guarantees.md): nothing the user owns is replaced, outputs appear
whole or not at all, and every user mistake is one line with exit code 2."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.bundle import load
from classifier.classify.score import score_csv, score_files
from classifier.errors import UserError
from tests.conftest import ROOT, assert_user_error, committed_bundle, run_cli, run_cli_here

REVIEWS = b"Review Text,n\nlove this dress,1\nit ripped after one wash,2\n"


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(REVIEWS)
    return path


# -- never replace what the user owns ------------------------------------------------------------
def test_summary_json_never_replaces_an_input_or_the_output(small_bundle, src, tmp_path):
    out = tmp_path / "out.csv"
    with pytest.raises(UserError, match="is an input of this run"):
        score_files([src], out, model=small_bundle, summary_json=src, overwrite=True, quiet=True)
    with pytest.raises(UserError, match="also the scored output"):
        score_files([src], out, model=small_bundle, summary_json=out, overwrite=True, quiet=True)
    assert src.read_bytes() == REVIEWS and not out.exists()


def test_summary_json_follows_the_overwrite_rule(small_bundle, src, tmp_path):
    summary = tmp_path / "summary.json"
    summary.write_text("mine")
    with pytest.raises(UserError, match="already exists; pass overwrite"):
        score_files([src], tmp_path / "out.csv", model=small_bundle, summary_json=summary, quiet=True)
    assert summary.read_text() == "mine" and not (tmp_path / "out.csv").exists()
    score_files([src], tmp_path / "out.csv", model=small_bundle, summary_json=summary, quiet=True, overwrite=True)
    assert '"rows_in": 2' in summary.read_text()


def test_summary_json_in_an_unwritable_folder_fails_before_scoring(small_bundle, src, tmp_path):
    r = run_cli("score", src, "-o", tmp_path / "out.csv", "--summary-json", "/proc/summary.json",
                "--model", small_bundle)
    assert_user_error(r, "/proc/summary.json", "not writable")
    assert not (tmp_path / "out.csv").exists()


def test_output_that_is_the_input_is_refused(small_bundle, src):
    with pytest.raises(UserError, match="is an input of this run"):
        score_csv(src, src, model=small_bundle, overwrite=True)
    assert src.read_bytes() == REVIEWS


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_a_device_is_written_in_place_never_renamed_over(small_bundle, src, device):
    before = os.stat(device)
    r = run_cli("score", src, "-o", device, "--overwrite", "--model", small_bundle, "--quiet")
    after = os.stat(device)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)  # still the same device
    if device == "/dev/full":
        assert_user_error(r, "/dev/full", "No space left")
    else:
        assert r.returncode == 0, r.stderr


def test_a_symlink_to_a_device_stays_a_symlink(small_bundle, src, tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/null")
    r = run_cli("score", src, "-o", link, "--model", small_bundle, "--quiet")
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"


def test_retraining_a_bundle_keeps_the_users_files_beside_it(small_bundle, data_path, tmp_path):
    from classifier.classify.train import train
    from classifier.config import preset

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    (bundle / "notes.txt").write_text("my notes")
    (bundle / "plots").mkdir()
    (bundle / "plots" / "a.png").write_bytes(b"png")
    train(preset("tfidf", max_rows=600), data_path, bundle, verbose=0, overwrite=True)
    assert (bundle / "notes.txt").read_text() == "my notes" and (bundle / "plots" / "a.png").read_bytes() == b"png"
    assert load(bundle).kind == "tfidf" and not (bundle / "classifier.keras").exists()  # the old model is gone


@pytest.mark.slow
def test_retraining_the_classifier_keeps_the_generator(seed_generator_bundle, data_path, tmp_path):
    from classifier.classify.train import train
    from classifier.config import preset

    bundle = tmp_path / "bundle"
    shutil.copytree(seed_generator_bundle, bundle)
    settings = load(bundle).config
    before = (bundle / "generator.keras").read_bytes()
    train(preset("reference", epochs=1, max_rows=settings.max_rows, init_seed=7), data_path, bundle, verbose=0,
          overwrite=True)
    again = load(bundle)
    assert (bundle / "generator.keras").read_bytes() == before
    assert again.generator().num_words == again.tokenizer.config.num_words  # loads: same tokenizer


# -- one line for every user mistake ---------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["rot13", "base64", "idna", "utf-32", "utf-16", "no-such-codec"])
def test_encodings_that_are_not_text_or_do_not_fit(small_bundle, src, tmp_path, encoding):
    r = run_cli("score", src, "-o", tmp_path / "out.csv", "--encoding", encoding, "--model", small_bundle)
    assert_user_error(r, "encoding" if encoding != "utf-16" else "decode")
    assert not (tmp_path / "out.csv").exists()


def test_utf16_odd_trailing_byte(small_bundle, tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("Review Text\nlove it\n".encode("utf-16") + b"x")
    r = run_cli("score", path, "-o", "-", "--model", small_bundle)
    assert_user_error(r, "u16.csv", "decode")


def test_utf16_with_a_bom_is_recognised(small_bundle, tmp_path):
    path = tmp_path / "u16.csv"
    path.write_text("Review Text,n\nlove this dress,1\n", encoding="utf-16")
    summary = score_csv(path, tmp_path / "out.csv", model=small_bundle)
    assert summary.rows_in == 1 and summary.counts["ok"] == 1
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0] == "Review Text,n," + \
        "recommend_proba,recommend,status"


def test_a_50_mb_field_is_scored(small_bundle, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"Review Text\n" + b"love " * 10_000_000 + b"\n")
    summary = score_csv(path, tmp_path / "out.csv", model=small_bundle)
    assert summary.counts["truncated"] == 1


def test_gz_output_is_gzip(small_bundle, src, tmp_path):
    score_csv(src, tmp_path / "out.csv.gz", model=small_bundle)
    plain = tmp_path / "plain.csv"
    score_csv(src, plain, model=small_bundle)
    assert gzip.decompress((tmp_path / "out.csv.gz").read_bytes()) == plain.read_bytes()


def test_na_words_are_reviews_not_missing(small_bundle, tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("Review Text\nNA\nN/A\nNone\nnull\n\n   \n", encoding="utf-8")
    out = tmp_path / "out.csv"
    score_csv(path, out, model=small_bundle)
    statuses = [line.rsplit(",", 1)[1] for line in out.read_text().splitlines()[1:]]
    assert "empty" not in statuses[:4]
    assert statuses[4:] == ["empty", "empty"]  # a blank cell and a cell of spaces: missing text


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "1099511627776"], ["--temperature", "nan"],
                                  ["--temperature", "1e-308"], ["--temperature", "5e-324"],
                                  ["-n", "100000"], ["--words", "0"], ["--best-of", "1000"]])
def test_generate_numbers_are_range_checked(seed_generator_bundle, args):
    r = run_cli("generate", "this dress", "--model", seed_generator_bundle, *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and args[0] in r.stderr


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "1099511627776"], ["--epochs", "0"],
                                  ["--max-rows", "x"]])
def test_train_numbers_are_range_checked(args):
    r = run_cli("train", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and args[0] in r.stderr


def test_report_folder_follows_the_overwrite_rule(small_bundle, tmp_path):
    from classifier.classify.evaluate import evaluate

    report = tmp_path / "report"
    report.mkdir()
    (report / "report.html").write_text("mine")
    with pytest.raises(UserError, match="already holds a report"):
        evaluate(small_bundle, report=report)
    assert (report / "report.html").read_text() == "mine"


# -- one resolver for every output: two names of one file are found before any work -------------------
def spellings(folder: Path, name: str) -> dict[str, str]:
    """Ways to name folder/name: plain, through a missing or existing sub-folder and .., ./, //, relative."""
    (folder / "real-sub").mkdir(exist_ok=True)
    return {
        "plain": str(folder / name),
        "missing-sub": str(folder / "sub" / ".." / name),
        "existing-sub": str(folder / "real-sub" / ".." / name),
        "dot": str(folder / "." / name),
        "double-slash": f"{folder}//{name}",
        "relative": os.path.relpath(folder / name),
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out_form=st.sampled_from(["plain", "missing-sub", "existing-sub", "dot", "double-slash", "relative",
                                 "link", "dangling-link"]),
       summary_form=st.sampled_from(["plain", "missing-sub", "existing-sub", "dot", "double-slash", "relative",
                                     "link", "dangling-link"]),
       exists=st.booleans(), overwrite=st.booleans())
def test_two_names_of_one_output_are_refused_before_any_work(small_bundle, out_form, summary_form, exists,
                                                             overwrite):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in.csv"
        src.write_bytes(REVIEWS)
        folder = tmp / "o"
        folder.mkdir()
        names = spellings(folder, "alias.csv")
        for form, target in (("link", folder / "alias.csv"), ("dangling-link", folder / "alias.csv")):
            names[form] = str(tmp / f"{form}.csv")
            os.symlink(target, names[form])
        if exists:
            (folder / "alias.csv").write_bytes(b"mine\n")
        before = sorted(os.listdir(folder))
        r = run_cli_here("score", src, "-o", names[out_form], "--summary-json", names[summary_form],
                         "--model", small_bundle, *(["--overwrite"] if overwrite else []))
        assert_user_error(r)
        assert sorted(os.listdir(folder)) == before  # no file, no temp file
        if exists:
            assert (folder / "alias.csv").read_bytes() == b"mine\n"


def test_two_different_names_both_get_written(small_bundle, src, tmp_path):
    (tmp_path / "o").mkdir()
    r = run_cli_here("score", src, "-o", tmp_path / "o" / ".." / "a.csv", "--summary-json", tmp_path / "a.json",
                     "--model", small_bundle, "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.csv").read_text().startswith("Review Text,n,recommend_proba")
    assert '"rows_in": 2' in (tmp_path / "a.json").read_text()


def test_a_trailing_slash_names_a_folder_and_refused_runs_leave_none(small_bundle, src, tmp_path):
    r = run_cli_here("score", src, "-o", f"{tmp_path}/newdir/", "--model", small_bundle, "--quiet")
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path / "newdir") == ["in.scored.csv"]
    # the same input twice into one folder: refused, and the folder is not made
    assert_user_error(run_cli_here("score", src, src, "-o", tmp_path / "twice", "--model", small_bundle),
                      "would both be written")
    assert not (tmp_path / "twice").exists()
    # a run refused after its checks (a bad bundle) leaves no folder either
    assert_user_error(run_cli_here("score", src, "-o", f"{tmp_path}/later/", "--model", tmp_path / "absent"))
    assert not (tmp_path / "later").exists()


def test_dash_is_stdout_for_summary_json_too(small_bundle, src, tmp_path):
    r = run_cli("score", src, "-o", tmp_path / "out.csv", "--summary-json", "-", "--model", small_bundle, "--quiet")
    assert r.returncode == 0, r.stderr
    assert '"rows_in": 2' in r.stdout and not (ROOT / "-").exists() and not (tmp_path / "-").exists()
    r = run_cli_here("score", src, "-o", "-", "--summary-json", "-", "--model", small_bundle)
    assert_user_error(r, "both go to stdout")


def test_spark_refusals_come_before_a_jvm(small_bundle, src, tmp_path):
    pytest.importorskip("pyspark")
    for args, needle in ((["-o", "-"], "not stdout"),
                         (["-o", tmp_path / "parts", "--summary-json", tmp_path / "parts" / "s.json"], "inside"),
                         (["-o", tmp_path / "parts", "--sep", "ab"], "--sep")):
        r = run_cli_here("score", "--spark", "local[1]", src, *args, "--model", small_bundle)
        assert_user_error(r, needle)
    assert not (tmp_path / "parts").exists() and not Path("-").exists()


def test_train_out_through_a_link_writes_the_bundle_it_points_at(sample_csv, tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    os.symlink(real, link)
    for _ in range(2):  # a new bundle through the link, then a retrain that replaces it
        r = run_cli_here("train", "--preset", "tfidf", "--data", sample_csv, "-o", link, "--quiet", "--overwrite")
        assert r.returncode == 0, r.stderr
        assert link.is_symlink() and (real / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


@pytest.mark.parametrize("command", [["train", "--preset", "tfidf", "--quiet"], ["export", "--format", "savedmodel"],
                                     ["export", "--format", "onnx"]])
def test_dot_as_the_output_is_checked_before_the_work(command, sample_csv, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    extra = ["--data", sample_csv] if command[0] == "train" else ["--model", committed_bundle("default")]
    r = run_cli(*command, *extra, "-o", ".", cwd=tmp_path)
    assert_user_error(r)
    assert os.listdir(tmp_path) == ["notes.txt"]  # no hidden folder left


# -- one stdin/stdout for every command ------------------------------------------------------------
def test_predict_reads_stdin_as_score_reads_files():
    model = committed_bundle("default")
    plain = run_cli("predict", "--model", model, input=b"love this dress\nit ripped\nruns small\n")
    odd = run_cli("predict", "--model", model, input=b"\xef\xbb\xbflove this dress\rit ripped\r\nruns small")
    assert plain.returncode == odd.returncode == 0, odd.stderr
    assert len(plain.stdout.splitlines()) == 3
    assert odd.stdout == plain.stdout  # a BOM and CR line ends change nothing


@pytest.mark.parametrize("command, redirect", [
    (command, redirect) for command in ("predict", "score -", "generate 'this dress is'")
    for redirect in ("<&-", ">&-", ">/dev/full") if not (redirect == "<&-" and command.startswith("generate"))])
def test_closed_or_full_stdin_and_stdout_are_one_line(command, redirect):
    line = f"{sys.executable} -m classifier {command} --model {committed_bundle('default')} {redirect}"
    feed = "" if redirect == "<&-" else "<<< 'Review Text\nlove it'"
    if command == "predict" and redirect != "<&-":
        line = line.replace(" predict ", " predict 'love it' ")
    r = subprocess.run(["bash", "-c", f"{line} {feed}"], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert_user_error(r, "stdout" if ">" in redirect else "stdin")
