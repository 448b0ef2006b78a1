"""Reading, cleaning and splitting the real data set as the reference does."""


from classifier.io.dataset import load_labelled, make_split


def test_reference_cleaning_and_split_sizes(data_path):
    df = load_labelled(data_path, "Review Text", "Recommended IND")
    assert len(df) == 22_641
    split = make_split(df, "Review Text", "Recommended IND", 0.2, 42)
    assert (len(split.x_train), len(split.x_test)) == (18_112, 4_529)
    assert set(split.y_test.tolist()) == {0.0, 1.0}
    # the split is a function of the seed alone
    again = make_split(df, "Review Text", "Recommended IND", 0.2, 42)
    assert again.x_test == split.x_test
    assert make_split(df, "Review Text", "Recommended IND", 0.2, 7).x_test != split.x_test


def test_max_rows_takes_first_clean_rows(data_path):
    df = load_labelled(data_path, "Review Text", "Recommended IND", max_rows=2000)
    assert len(df) == 2000 and df["Review Text"].notna().all()


def test_other_columns_can_be_used(data_path):
    df = load_labelled(data_path, "Title", "Recommended IND")
    assert len(df) < 22_641 and list(df.columns) == ["Title", "Recommended IND"]


def test_label_strings_0_1_are_accepted(tmp_path):
    rows = "\n".join(f"review {i},{'1' if i % 2 else '0'}" for i in range(20))
    (tmp_path / "d.csv").write_text("text,label\n" + rows + "\n")
    df = load_labelled(tmp_path / "d.csv", "text", "label")
    assert df["label"].tolist() == [i % 2 for i in range(20)]


def test_labels_other_than_0_1_are_kept_as_written(tmp_path):
    # a multi-class column (tests/test_multiclass.py): "yes" is no number, so every label stays text
    values = ("1", "0", "yes", "01")
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"r{i},{values[i % 4]}\n" for i in range(12)))
    df = load_labelled(tmp_path / "d.csv", "text", "label")
    assert df["label"].tolist() == [values[i % 4] for i in range(12)]
