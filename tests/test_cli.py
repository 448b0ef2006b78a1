"""The command line's vocabulary: one rule for replacing outputs, --version, info and evaluate --json,
old spellings that still work with one note, the default bundle, and the library's errors worded
with flags here and with JSON field names by the server."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest

from classifier import cli
from classifier.cli import build_parser, flag
from classifier.errors import UserError
from classifier.limits import check
from tests.conftest import assert_user_error, committed_bundle, run_cli, run_cli_here


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def default_copy(tmp_path) -> Path:
    """A project folder holding a copy of the committed bundle at saved_models/default."""
    bundle = tmp_path / "saved_models" / "default"
    shutil.copytree(committed_bundle("default"), bundle)
    return bundle


# -- nothing the user owns is replaced without --overwrite ------------------------------------------
def test_train_refuses_the_default_bundle_without_overwrite(default_copy, data_path):
    before = snapshot(default_copy)
    # `classifier train --epochs 1` in a project folder: -o is saved_models/default, which exists
    r = run_cli("train", "--epochs", "1", "--max-rows", "300", "--data", data_path, "--quiet",
                cwd=default_copy.parents[1])
    assert_user_error(r, "saved_models/default already exists", "--overwrite")
    assert len(r.stderr.splitlines()) == 1
    assert snapshot(default_copy) == before  # byte for byte


def test_train_generator_refuses_to_update_a_bundle_in_place_without_overwrite(default_copy):
    before = snapshot(default_copy)
    r = run_cli_here("train-generator", "-m", default_copy, "--max-rows", "50", "--epochs", "1", "--quiet")
    assert_user_error(r, str(default_copy), "already exists", "--overwrite")
    assert snapshot(default_copy) == before


def test_compare_refuses_an_existing_table_without_overwrite(tmp_path, data_path):
    (tmp_path / "compare.json").write_text("{}")
    r = run_cli_here("compare", "--data", data_path, "-o", tmp_path, "--presets", "tfidf", "-n", "300")
    assert_user_error(r, "compare.json already exists", "--overwrite")
    assert (tmp_path / "compare.json").read_text() == "{}" and not (tmp_path / "tfidf").exists()


# -- --version, info, evaluate --json --------------------------------------------------------------
def test_version_is_the_package_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"classifier {importlib.metadata.version('classifier')}"


def test_help_speaks_to_users():
    r = run_cli("--help")
    assert "no logic lives here" not in r.stdout and "predict, score CSV files" in r.stdout


def test_info_json_has_the_bundles_facts():
    bundle = committed_bundle("default")
    r = run_cli_here("info", "-m", bundle, "--json")
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    config = json.loads((bundle / "config.json").read_text())
    assert facts["kind"] == "lstm" and facts["classes"] == [0, 1] and facts["preset"] == "reference"
    assert facts["metrics"]["test_accuracy"] == config["metrics"]["test_accuracy"]
    assert facts["versions"] == config["versions"]
    assert facts["files"]["classifier.keras"] == config["files"]["classifier.keras"]
    assert facts["files"]["tokenizer.json"] == config["files"]["tokenizer.json"]
    assert facts["tokenizer_sha256"] == config["tokenizer_sha256"]
    assert facts["generator"]["preset"] == "default"
    text = run_cli_here("info", "-m", bundle).stdout
    assert f"sha256     {config['files']['classifier.keras']}  classifier.keras" in text


def test_evaluate_json_gives_the_figures_of_the_loss_acc_line(sample_csv):
    bundle = committed_bundle("default")  # every row of a small file: a second, not the whole test split
    line = run_cli_here("evaluate", "-m", bundle, "--data", sample_csv, "--all-rows")
    as_json = run_cli_here("evaluate", "-m", bundle, "--data", sample_csv, "--all-rows", "--json")
    assert line.returncode == as_json.returncode == 0, line.stderr + as_json.stderr
    figures = json.loads(as_json.stdout)
    assert figures["all_rows"] is True and figures["report"] is None
    assert line.stdout.strip() == f"[{figures['test_loss']:.4f}, {figures['test_accuracy']:.4f}]"


# -- old spellings: still work, one note each ------------------------------------------------------------
def test_deprecated_spellings_still_work_and_say_so_once():
    r = run_cli("generate", "this dress is", "-m", committed_bundle("default"), "--words", "3", "--n", "2",
                "--format", "jsonl", "--temperature", "0.5", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert len([json.loads(line) for line in r.stdout.splitlines()]) == 2  # --n 2, --format jsonl
    notes = r.stderr.splitlines()
    assert notes == ["classifier: warning: --n is deprecated and goes in the next release; use -n/--samples",
                     "classifier: warning: --format is deprecated and goes in the next release; use --json"]


def test_lists_are_words_and_the_comma_form_is_deprecated(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_noted", set())  # a note is said once a run: this process may have said it
    args = build_parser().parse_args(["compare", "--presets", "reference,tfidf", "--init-seeds", "1", "2",
                                      "--presets", "tuned", "--label-columns", "Class Name", "Rating"])
    assert args.presets == ["reference", "tfidf", "tuned"] and args.init_seeds == [1, 2]
    assert args.label_columns == ["Class Name", "Rating"]
    assert capsys.readouterr().err.count("deprecated") == 1
    assert build_parser().parse_args(["compare"]).presets == ["reference", "tuned", "tfidf"]


def test_renamed_flags_set_what_the_new_ones_set():
    parse = build_parser().parse_args
    assert parse(["export", "--format", "onnx", "-o", "x"]).to == parse(["export", "--to", "onnx", "-o", "x"]).to
    assert parse(["score", "a.csv", "--format", "parquet"]).spark_format == "parquet"
    assert parse(["train-generator", "--max-texts", "5"]).max_rows == 5
    assert parse(["serve", "--max-items", "7"]).max_texts_per_request == 7
    assert parse(["train", "-n", "9", "-q"]).max_rows == 9


def test_the_same_flag_has_the_same_default():
    parse = build_parser().parse_args
    assert parse(["train"]).min_count == parse(["compare"]).min_count == 1
    assert parse(["train-generator"]).agreement == parse(["evaluate-generator"]).agreement is False


# -- the default bundle ----------------------------------------------------------------------------------
def test_the_model_comes_from_the_environment_anywhere(tmp_path):
    r = run_cli("predict", "love this dress", cwd=tmp_path, env={"CLASSIFIER_MODEL": str(committed_bundle("default"))})
    assert r.returncode == 0 and r.stdout.startswith("0.896"), r.stderr
    r = run_cli("predict", "love it", cwd=tmp_path, env={"CLASSIFIER_MODEL": str(tmp_path / "gone")})
    assert_user_error(r, str(tmp_path / "gone"), "no such model folder", "--model")


# -- one error, two vocabularies ------------------------------------------------------------------
def test_a_range_error_names_the_flag_here_and_the_field_in_the_library():
    with pytest.raises(UserError) as caught:
        check("best_of", 65)
    e = caught.value
    assert isinstance(e, ValueError) and (e.field, e.value, e.allowed) == ("best_of", 65, (1, 64))
    assert str(e) == "best_of must be 1 to 64, got 65"
    assert e.worded(flag) == "--best-of must be 1 to 64, got 65"


def test_the_command_line_and_the_library_check_one_range(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "this dress", "--words", "1001"])
    assert "argument --words: must be 1 to 1000, got 1001" in capsys.readouterr().err
