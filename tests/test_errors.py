"""Bad input: one line naming the file/column/value and what to do, exit 2, no traceback."""

import gzip
import shutil

import pytest

from classifier.io.tokenizer import Tokenizer
from tests.conftest import assert_user_error, run_cli


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def labelled_rows(n, labels=(0, 1)):
    return "\n".join(f"review number {i},{labels[i % len(labels)]}" for i in range(n))


def train(*args):
    return run_cli("train", "--epochs", 1, "--quiet", *args)


def test_missing_data_file(tmp_path):
    assert_user_error(train("--data", tmp_path / "nope.csv"), "nope.csv", "not found")


def test_not_a_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(gzip.compress(b"\x00\xff\xfe binary " * 100))
    assert_user_error(train("--data", path), "reviews.csv", "not a UTF-8 text CSV")


def test_missing_text_column_lists_columns(tmp_path):
    path = write(tmp_path, "d.csv", "review_text,Recommended IND\n" + labelled_rows(20))
    assert_user_error(train("--data", path), "no text column 'Review Text'", "'review_text'", "--text-column")


def test_missing_label_column(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(20))
    assert_user_error(train("--data", path, "--text-column", "text"), "no label column 'Recommended IND'",
                      "'label'", "--label-column")


def test_labels_other_than_0_1(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(20, labels=(1, 0, 2, "maybe")))
    assert_user_error(train("--data", path, "--text-column", "text", "--label-column", "label"),
                      "'2'", "'maybe'", "0 or 1")


def test_only_one_class(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(30, labels=(1,)))
    assert_user_error(train("--data", path, "--text-column", "text", "--label-column", "label"),
                      "d.csv", "both 0 and 1")


def test_too_few_rows(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(6) + "\n,1\n,0\n")
    assert_user_error(train("--data", path, "--text-column", "text", "--label-column", "label"),
                      "only 6 usable rows", "at least 10")


def test_model_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_user_error(run_cli("evaluate", "--model", tmp_path / "empty"), "not a model bundle", "config.json")
    assert_user_error(run_cli("evaluate", "--model", tmp_path / "absent"), "no such model folder")


@pytest.fixture
def bundle_copy(small_bundle, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(small_bundle, out)
    return out


def test_tokenizer_that_does_not_match_its_model(bundle_copy):
    Tokenizer.fit(["some other words entirely"]).save(bundle_copy / "tokenizer.json")
    assert_user_error(run_cli("evaluate", "--model", bundle_copy), "tokenizer.json", "does not match the model")


def test_model_file_from_elsewhere_is_refused(bundle_copy):
    with open(bundle_copy / "classifier.keras", "ab") as f:
        f.write(b"\0")
    assert_user_error(run_cli("evaluate", "--model", bundle_copy), "classifier.keras", "sha256 differs")


def test_train_out_onto_a_folder_that_is_not_a_bundle_is_refused_and_kept(data_path, tmp_path):
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = run_cli("train", "--data", data_path, "--max-rows", "300", "--epochs", "1", "--quiet",
                     "--out", precious)
    assert_user_error(result, str(precious), "not a model bundle")
    assert (precious / "notes.txt").read_text() == "keep me"
