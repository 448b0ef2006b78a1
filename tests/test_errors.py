"""Bad data and bad bundles: one line naming the file, column or value and what to do.

Checked in-process (the errors come before any training); one test per command runs the real
CLI to prove the path from a UserError to one stderr line and exit code 2.
"""

import gzip
import shutil

import pytest

from classifier.classify.evaluate import evaluate
from classifier.classify.train import train
from classifier.config import preset
from classifier.errors import UserError
from classifier.io.tokenizer import Tokenizer
from tests.conftest import assert_user_error, run_cli


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def labelled_rows(n, labels=(0, 1)):
    return "\n".join(f"review number {i},{labels[i % len(labels)]}" for i in range(n))


def refused(tmp_path, path, *needles, **overrides):
    """train() on `path` raises a UserError holding every needle, before any training."""
    with pytest.raises(UserError) as e:
        train(preset("reference", epochs=1, **overrides), path, tmp_path / "out", verbose=0)
    for needle in needles:
        assert needle in str(e.value), str(e.value)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()


def test_missing_data_file(tmp_path):
    refused(tmp_path, tmp_path / "nope.csv", "nope.csv", "not found")


def test_not_a_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(gzip.compress(b"\x00\xff\xfe binary " * 100))
    refused(tmp_path, path, "reviews.csv", "not a UTF-8 text CSV")


def test_bad_byte_is_reported_by_its_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"Review Text,Recommended IND\nfine,1\nbad \xff here,0\n")
    refused(tmp_path, path, "line 3", "byte 39")


def test_truncated_gzip(tmp_path, sample_csv):
    path = tmp_path / "d.csv.gz"
    whole = gzip.compress(sample_csv.read_bytes())
    path.write_bytes(whole[: len(whole) // 2])
    refused(tmp_path, path, "d.csv.gz", "gzip")
    with pytest.raises(UserError, match="gzip"):
        from classifier.io.dataset import load_labelled

        load_labelled(path, "Review Text", "Recommended IND")


def test_utf16_with_a_bom_is_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + labelled_rows(6), encoding="utf-16")
    refused(tmp_path, path, "only 6 usable rows", text_column="text", label_column="label")  # read, then too few


def test_missing_text_column_lists_columns(tmp_path):
    path = write(tmp_path, "d.csv", "review_text,Recommended IND\n" + labelled_rows(20))
    refused(tmp_path, path, "no text column 'Review Text'", "'review_text'", "pass text_column NAME")


def test_missing_label_column(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(20))
    refused(tmp_path, path, "no label column 'Recommended IND'", "'label'", "pass label_column NAME",
            text_column="text")


def test_more_than_1000_classes(tmp_path):
    # labels other than 0/1 train a multi-class model (tests/test_multiclass.py); an id column does not
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(1200, labels=range(1200)))
    refused(tmp_path, path, "d.csv", "'label'", "1,200 distinct values", "more than 1,000",
            text_column="text", label_column="label")


def test_only_one_class(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(30, labels=(1,)))
    refused(tmp_path, path, "d.csv", "both 0 and 1", text_column="text", label_column="label")


def test_too_few_rows(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + labelled_rows(6) + "\n,1\n,0\n")
    refused(tmp_path, path, "only 6 usable rows", "at least 10", text_column="text", label_column="label")


def test_seed_out_of_range(tmp_path, sample_csv):
    for bad in (-1, 2**40):
        refused(tmp_path, sample_csv, "seed must be 0 to 4294967295", seed=bad)  # the field: cli.py says --seed


def test_tfidf_on_texts_without_features(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\n" + "\n".join(f"{'a b c'[i % 5]},{i % 2}" for i in range(40)))
    with pytest.raises(UserError, match="no TF-IDF features"):
        train(preset("tfidf", text_column="text", label_column="label"), path, tmp_path / "out", verbose=0)


def test_train_out_onto_a_folder_that_is_not_a_bundle_is_refused_and_kept(sample_csv, tmp_path):
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a model bundle"):
        train(preset("reference", epochs=1, max_rows=300), sample_csv, precious, verbose=0)
    assert [p.name for p in precious.iterdir()] == ["notes.txt"] and (precious / "notes.txt").read_text() == "keep me"


def test_train_out_in_an_unwritable_folder_is_refused_before_training(sample_csv):
    # /proc takes no new files, even for root (a permission bit would not stop root)
    with pytest.raises(UserError, match="cannot write in /proc"):
        train(preset("reference", epochs=1, max_rows=300), sample_csv, "/proc/classifier-test/bundle", verbose=0)


def test_train_cli_error_is_one_line(tmp_path):
    assert_user_error(run_cli("train", "--data", tmp_path / "nope.csv", "-o", tmp_path / "b", "--quiet"), "nope.csv",
                      "not found")


# -- bad bundles -------------------------------------------------------------------------------
@pytest.fixture
def bundle_copy(small_bundle, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(small_bundle, out)
    return out


def test_model_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a model bundle.*config.json"):
        evaluate(tmp_path / "empty")
    with pytest.raises(UserError, match="no such model folder"):
        evaluate(tmp_path / "absent")


def test_tokenizer_that_does_not_match_its_model(bundle_copy):
    Tokenizer.fit(["some other words entirely"]).save(bundle_copy / "tokenizer.json")
    with pytest.raises(UserError, match="tokenizer.json does not match the model"):
        evaluate(bundle_copy)


def test_model_file_from_elsewhere_is_refused(bundle_copy):
    with open(bundle_copy / "classifier.keras", "ab") as f:
        f.write(b"\0")
    with pytest.raises(UserError, match="classifier.keras is not the file this bundle was saved with"):
        evaluate(bundle_copy)


def test_config_without_split_settings_is_refused(bundle_copy, data_path):
    import json

    config = json.loads((bundle_copy / "config.json").read_text())
    del config["config"]["test_size"]
    (bundle_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="lacks the split settings test_size"):
        evaluate(bundle_copy, data_path)


def test_evaluate_on_a_file_without_the_label_column(small_bundle, tmp_path):
    path = write(tmp_path, "d.csv", "Review Text\n" + "\n".join(f"review {i}" for i in range(20)))
    with pytest.raises(UserError) as e:
        evaluate(small_bundle, path)
    assert "no label column 'Recommended IND'" in str(e.value) and "--label-column" not in str(e.value)


def test_evaluate_cli_error_is_one_line(tmp_path):
    assert_user_error(run_cli("evaluate", "--model", tmp_path / "absent"), "no such model folder")
