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
from tests.conftest import assert_user_error, committed_bundle, record_files, run_cli, run_cli_here


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


# -- config.json validated at load: one line naming the file and the field ---------------------------
def edited(bundle_copy, edit) -> None:
    import json

    path = bundle_copy / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


def set_key(*keys, value):
    def edit(config):
        d = config
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


@pytest.mark.parametrize("edit, field", [
    (set_key("config", "test_size", value=None), "config.test_size"),
    (set_key("config", "test_size", value=1.5), "config.test_size"),
    (set_key("threshold", value="abc"), "threshold"),
    (set_key("threshold", value=2.0), "threshold"),
    (set_key("classes", value=["a", "b", "c"]), "classes"),
    (set_key("classes", value="ab"), "classes"),
    (set_key("config", "epochs", value="ten"), "config.epochs"),
    (set_key("config", "tokenizer", "maxlen", value=-1), "config.tokenizer.maxlen"),
    (set_key("config", "tokenizer", "stemming", value=True), "config.tokenizer.stemming"),
    (set_key("blend", value={}), "blend"),
    (lambda c: c["files"].pop("classifier.keras"), "classifier.keras"),
], ids=["test_size-null", "test_size-1.5", "threshold-text", "threshold-2", "classes-3", "classes-str",
        "epochs-text", "maxlen-negative", "unknown-tokenizer-field", "empty-blend", "unhashed-model"])
def test_hand_edited_config_is_one_line_naming_the_field(bundle_copy, edit, field):
    edited(bundle_copy, edit)
    for command in (["predict", "love it"], ["evaluate"]):
        r = run_cli_here(*command, "--model", bundle_copy)
        assert_user_error(r, "config.json", field)
        assert "--threshold" not in r.stderr  # never blames a flag the user did not pass


def test_an_unhashed_model_file_from_another_run_is_refused(bundle_copy, small_bundle, tmp_path):
    """Deleting a file's entry in `files` does not let another model in: the kind's files are always hashed."""
    edited(bundle_copy, lambda c: c["files"].pop("classifier.keras"))
    with open(bundle_copy / "classifier.keras", "ab") as f:
        f.write(b"\0")
    assert_user_error(run_cli_here("predict", "love it", "--model", bundle_copy), "files", "classifier.keras")


def test_token_ids_beyond_the_embedding_are_refused(bundle_copy):
    tok = Tokenizer.load(bundle_copy / "tokenizer.json")
    tok.config.num_words = 10**6
    tok.words = tok.words + [f"extra{i}" for i in range(5000)]
    tok.save(bundle_copy / "tokenizer.json")
    record_files(bundle_copy, ["tokenizer.json"], tokenizer_sha256=tok.sha256)
    assert_user_error(run_cli_here("predict", "love it", "--model", bundle_copy), "tokenizer.json", "num_words",
                      "embeddings")


# -- a bundle's files: regular files only, read with a bound ------------------------------------------
@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "classifier.keras"])
@pytest.mark.parametrize("what", ["fifo", "device"])
def test_a_fifo_or_a_device_in_a_bundle_is_refused_without_waiting(bundle_copy, name, what):
    import os

    (bundle_copy / name).unlink()
    if what == "fifo":
        os.mkfifo(bundle_copy / name)
    else:
        os.symlink("/dev/zero", bundle_copy / name)
    assert_user_error(run_cli_here("predict", "love it", "--model", bundle_copy), name, "not a regular file")


# -- files that are not CSVs, other separators -----------------------------------------------------------
def binary_files():
    import bz2
    import io
    import zipfile

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")  # an .xlsx is a zip of XML parts
    return {"bzip2": bz2.compress(b"Review Text\nlove it\n"), "zip": zipped.getvalue(),
            "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600}


@pytest.mark.parametrize("kind", ["bzip2", "zip", "xls"])
def test_binary_bytes_named_csv_say_what_they_are(kind, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(binary_files()[kind])
    refused(tmp_path, path, "reviews.csv", kind if kind != "xls" else "Excel", "not a CSV")
    r = run_cli_here("score", path, "--model", committed_bundle("default"))
    assert_user_error(r, "reviews.csv", "not a CSV")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.csv"]


def test_train_and_evaluate_read_tsv_and_semicolon_files(sample_csv, tmp_path):
    import csv

    with open(sample_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for name, sep in (("reviews.tsv", "\t"), ("reviews-semicolon.csv", ";")):
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, delimiter=sep).writerows(rows)
    # a .tsv name is read with tabs, as `score` reads it
    r = run_cli_here("train", "--preset", "tfidf", "--data", tmp_path / "reviews.tsv", "-o", tmp_path / "b1",
                     "--quiet")
    assert r.returncode == 0, r.stderr
    # a semicolon file named .csv: the error says --sep, and --sep reads it; evaluate reads it the same way
    r = run_cli_here("train", "--preset", "tfidf", "--data", tmp_path / "reviews-semicolon.csv", "-o", tmp_path / "b2")
    assert_user_error(r, "--sep")
    r = run_cli_here("train", "--preset", "tfidf", "--data", tmp_path / "reviews-semicolon.csv", "-o",
                     tmp_path / "b2", "--sep", ";", "--quiet")
    assert r.returncode == 0, r.stderr
    assert run_cli_here("evaluate", "--model", tmp_path / "b2").stdout == run_cli_here(
        "evaluate", "--model", tmp_path / "b1").stdout


# -- one line each ---------------------------------------------------------------------------------------
def test_label_column_equal_to_the_text_column(sample_csv, tmp_path):
    refused(tmp_path, sample_csv, "label column and the text column", label_column="Review Text")


def test_compare_out_onto_an_existing_file(sample_csv, tmp_path):
    (tmp_path / "taken").write_text("mine")
    assert_user_error(run_cli_here("compare", "--data", sample_csv, "-o", tmp_path / "taken", "--presets", "tfidf"),
                      "is a file")
    assert (tmp_path / "taken").read_text() == "mine"


def test_score_files_of_nothing():
    from classifier.classify.score import score_files

    with pytest.raises(UserError, match="nothing to score"):
        score_files([], model=committed_bundle("default"))


def test_train_generator_refuses_before_copying_anything(sample_csv, tmp_path):
    assert run_cli_here("train", "--preset", "tfidf", "--data", sample_csv, "-o", tmp_path / "b",
                        "--quiet").returncode == 0
    r = run_cli_here("train-generator", "--model", tmp_path / "b", "-o", tmp_path / "copy")
    assert_user_error(r, str(tmp_path / "b"))
    assert str(tmp_path / "copy") not in r.stderr and not (tmp_path / "copy").exists()
