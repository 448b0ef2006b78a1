"""Scoring on Apache Spark: the rows, columns, probabilities and statuses of local `classifier score`.

One real local[2] session serves the in-process tests; one `classifier score --spark` process runs
the command end to end. Every comparison is against local scoring of the same rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from classifier import load, score_csv
from classifier.errors import UserError
from classifier.spark import (
    expand_inputs,
    line_separator,
    read_inputs,
    score_dataframe,
    spark_errors,
    start_session,
    write,
)
from tests.conftest import AGREEMENT, ROOT, assert_user_error, awkward_csv, committed_bundle, run_cli, run_python

MODEL = committed_bundle("default")
DATA_ROWS = 2000  # of the real data: every kind of review, a second of scoring


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One quiet local[2] session for the whole test run (its JVM output goes to a log file)."""
    log = tmp_path_factory.mktemp("spark") / "spark.log"
    session = start_session("local[2]", log, {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def bundle():
    return load(MODEL)


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def part_rows(folder: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of every CSV part file in a Spark output folder."""
    header, rows = None, []
    for part in sorted(folder.glob("part-*.csv")):
        got = read_rows(part)
        if got:
            header = header or got[0]
            assert got[0] == header
            rows += got[1:]
    return header, rows


def local_scored(src: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Local `classifier score` of `src`: each row by its first cell."""
    dest = tmp_path / f"{src.stem}.local.csv"
    score_csv(src, dest, model=MODEL)
    return {r[0]: r for r in read_rows(dest)[1:]}


def assert_same_as_local(header: list[str], rows: list[list[str]], local: dict[str, list[str]],
                         input_header: list[str]) -> None:
    """Spark's rows (any order) = local scoring's: every input cell, the probability to the project's
    agreement standard (1e-5: the worker sums in another order, so one float32 ulp can move the sixth
    printed decimal), printed the same way, the label, the status; every row once."""
    assert header == input_header + ["recommend_proba", "recommend", "status"]
    assert sorted(r[0] for r in rows) == sorted(local)  # every row once
    n = len(input_header)
    for row in rows:
        want = local[row[0]]
        assert row[:n] == want[:n]
        assert (row[n] == "") == (want[n] == "")
        if want[n]:
            assert abs(float(row[n]) - float(want[n])) <= AGREEMENT
            assert re.fullmatch(r"[01]\.\d{6}", row[n]), row[n]  # printed as local score prints: never 1.0E-6
        assert row[n + 1:] == want[n + 1:]


@pytest.mark.slow
def test_real_rows_csv_and_parquet_match_local_score(spark, data_path, tmp_path):
    with open(data_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[: DATA_ROWS + 1]
    rows[0][0] = "row"  # the data's first header cell is blank, which Spark would name _c0
    src = tmp_path / "reviews.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    local = local_scored(src, tmp_path)
    assert sum(r[-1] == "empty" for r in local.values()) > 0  # the data's missing reviews are in these rows

    files, size = expand_inputs(spark, [str(src)], None)
    assert [Path(f).name for f in files["csv"]] == ["reviews.csv"] and size == src.stat().st_size
    write(score_dataframe(read_inputs(spark, files, None, None), MODEL), str(tmp_path / "out"), "csv", False)
    assert (tmp_path / "out/_SUCCESS").is_file()
    assert_same_as_local(*part_rows(tmp_path / "out"), local, rows[0])

    # the same rows as Parquet (every column a string, blank cells null), out as Parquet
    frame = pd.DataFrame(rows[1:], columns=rows[0]).replace("", None)
    frame.to_parquet(tmp_path / "reviews.parquet")
    files, _ = expand_inputs(spark, [str(tmp_path / "*.parquet")], None)
    scored = score_dataframe(read_inputs(spark, files, None, None), MODEL)
    assert [f.dataType.simpleString() for f in scored.schema.fields[-3:]] == ["double", "int", "string"]
    write(scored, str(tmp_path / "parquet-out"), "parquet", False)
    back = pd.read_parquet(tmp_path / "parquet-out")
    assert list(back.columns) == rows[0] + ["recommend_proba", "recommend", "status"]
    by_row = back.set_index("row")
    for key, want in local.items():
        got = by_row.loc[key]
        assert got["status"] == want[-1]
        if want[-1] == "empty":
            assert pd.isna(got["recommend_proba"]) and pd.isna(got["recommend"])
        else:
            assert abs(got["recommend_proba"] - float(want[-3])) <= AGREEMENT and got["recommend"] == int(want[-2])


def test_awkward_rows_round_trip_with_local_numbers(spark, bundle, tmp_path):
    data, statuses = awkward_csv(bundle)
    src = tmp_path / "awkward.csv"
    src.write_bytes(data)
    local = local_scored(src, tmp_path)
    files, _ = expand_inputs(spark, [str(tmp_path)], None)  # a folder: its CSV files
    assert len(files["csv"]) == 2  # awkward.csv and the local output beside it
    files["csv"] = [f for f in files["csv"] if f.endswith("awkward.csv")]
    write(score_dataframe(read_inputs(spark, files, None, None), bundle), str(tmp_path / "out"), "csv", False)
    header, rows = part_rows(tmp_path / "out")
    input_rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert_same_as_local(header, rows, local, input_rows[0])
    assert [r[-1] for r in sorted(rows, key=lambda r: int(r[0]))] == statuses
    by_id = {r[0]: r for r in rows}
    assert by_id["6"][2] == 'It said "too small"\nso I sized up, and\r\nit is great'  # newlines kept as they were
    assert by_id["11"][2] == " leading and trailing spaces kept "
    assert by_id["12"][1:4] == ["a, b", ",,,", '"quoted"']
    assert by_id["10"][1] == "quoted id" and by_id["10"][3] == "  padded  "  # a quoted cell's spaces kept


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_each_files_line_ending_keeps_line_breaks_inside_fields(spark, tmp_path, ending):
    rows = [["id", "Review Text"], ["1", "two\r\nlines"], ["2", "lf\nonly"], ["3", 'a "quote"\rcr'], ["4", ""]]
    src = tmp_path / "in.csv.gz"
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=ending).writerows(rows)
    src.write_bytes(gzip.compress(buf.getvalue().encode()))
    assert line_separator(spark, str(src)) == ending
    files, _ = expand_inputs(spark, [str(src)], None)
    got = [[c or "" for c in r] for r in read_inputs(spark, files, None, None).collect()]
    assert got == rows[1:]


def test_dataframe_api_keeps_columns_and_types(spark, bundle):
    df = spark.createDataFrame(
        [(1, "Love this dress", 3.5), (2, None, None), (3, "  ", 1.0), (4, "runs small, returned it", 2.0)],
        "id long, `Review Text` string, `price.eur` double",
    )
    scored = score_dataframe(df, bundle, threshold=0.9)
    assert scored.columns == ["id", "Review Text", "price.eur", "recommend_proba", "recommend", "status"]
    assert [f.dataType.simpleString() for f in scored.schema.fields] == ["bigint", "string", "double", "double",
                                                                       "int", "string"]
    got = {r["id"]: r for r in scored.collect()}
    from classifier.classify.predict import predict

    want = predict(bundle, ["Love this dress", None, "  ", "runs small, returned it"], threshold=0.9)
    for i, p in enumerate(want, start=1):
        assert (got[i]["recommend_proba"], got[i]["recommend"], got[i]["status"]) == tuple(p)
    assert got[2]["price.eur"] is None and got[1]["price.eur"] == 3.5


def test_executors_never_import_tensorflow(spark, bundle):
    from pyspark.sql import functions as F

    scored = score_dataframe(spark.range(64).select(F.lit("love it").alias("Review Text")), bundle)
    assert scored.filter("status = 'ok'").count() == 64

    @F.pandas_udf("string")
    def heavy_modules(x: pd.Series) -> pd.Series:
        found = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"})
        return pd.Series([",".join(found)] * len(x))

    seen = {r[0] for r in spark.range(0, 64, numPartitions=2).select(heavy_modules("id")).collect()}
    assert seen == {""}


def test_user_mistakes_in_the_api_are_one_line(spark, bundle, tmp_path):
    df = spark.createDataFrame([("a", "b")], "review string, status string")
    with pytest.raises(UserError, match="no text column 'Review Text'.*the columns are 'review', 'status'"):
        score_dataframe(df, bundle)
    with pytest.raises(UserError, match="already has column.*'status'"):
        score_dataframe(df, bundle, text_column="review")
    with pytest.raises(UserError, match="'id' holds bigint"):
        score_dataframe(spark.range(3), bundle, text_column="id")
    with pytest.raises(UserError, match="no such file or folder"):
        expand_inputs(spark, [str(tmp_path / "absent*.csv")], None)
    bad = tmp_path / "bad.csv"
    bad.write_text('Review Text,n\nfine,1\n"never closed,2\n')
    files, _ = expand_inputs(spark, [str(bad)], None)
    with pytest.raises(UserError, match="(?i)malformed"), spark_errors(tmp_path / "spark.log"):
        score_dataframe(read_inputs(spark, files, None, None), bundle).collect()


@pytest.mark.slow
def test_cli_end_to_end_then_existing_outdir_refused(tmp_path, bundle):
    data, statuses = awkward_csv(bundle)
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_bytes(data)
    pd.DataFrame({"id": ["p1", "p2"], "code": ["x", "y"], "Review Text": ["Love it", None], "note": [None, "z"]}
                 ).to_parquet(tmp_path / "in/b.parquet")
    out = tmp_path / "out"
    result = run_cli("score", tmp_path / "in/a.csv", tmp_path / "in/b.parquet", "--spark", "local[2]", "-o", out,
                     "--model", MODEL, "--spark-format", "parquet", "--summary-json", tmp_path / "summary.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1 and f"{len(statuses) + 2} rows" in result.stderr  # our summary alone
    assert (out / "_SUCCESS").is_file()
    back = pd.read_parquet(out)
    assert sorted(back["id"]) == sorted([str(i) for i in range(1, len(statuses) + 1)] + ["p1", "p2"])
    assert back.set_index("id").loc["p2", "status"] == "empty"
    assert '"empty": 4' in (tmp_path / "summary.json").read_text()
    # an existing OUTDIR: refused before a JVM starts, left as it was
    before = sorted(p.name for p in out.iterdir())
    assert_user_error(run_cli("score", tmp_path / "in/a.csv", "--spark", "local[2]", "-o", out, "--model", MODEL),
                      str(out), "already exists", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize(
    "args,env,needles",
    [
        (["--spark", "local[two]"], {}, ["bad Spark master URL 'local[two]'", "spark://HOST:PORT"]),
        (["--spark", "local[2]"], {"JAVA_HOME": "/nonexistent-java"},
         ["Java 17 is needed for --spark", "apt-get install openjdk-17-jre-headless", "JAVA_HOME"]),
        (["--spark-format", "parquet"], {}, ["--spark-format and --partitions go with --spark"]),
        (["--spark", "local[2]", "--engine", "keras"], {}, ["NumPy engine only"]),
    ],
    ids=["master", "java", "format-alone", "keras"],
)
def test_cli_mistakes_before_spark_starts(tmp_path, args, env, needles):
    src = tmp_path / "a.csv"
    src.write_text("Review Text\nlove it\n")
    result = run_cli("score", src, "-o", tmp_path / "out", "--model", MODEL, *args, env=env)
    assert_user_error(result, *needles)
    assert not (tmp_path / "out").exists()


def test_without_pyspark_the_error_says_how_to_install(tmp_path):
    src = tmp_path / "a.csv"
    src.write_text("Review Text\nlove it\n")
    # pyspark made unimportable in a fresh process, as on a machine without the extra
    code = ("import sys; sys.modules['pyspark'] = None; from classifier.cli import main; "
            f"sys.exit(main(['score', {str(src)!r}, '--spark', 'local[2]', '-o', {str(tmp_path / 'out')!r}]))")
    assert_user_error(run_python(code), "pyspark is not installed: pip install 'classifier[spark]'")


def test_a_korean_bundle_scores_on_spark_as_locally(spark, tmp_path):
    """Executors analyse with the bundle's own tokenizer (kiwipiepy), so the rows match local scoring."""
    import classifier
    from classifier.classify.predict import predict

    train = pd.read_csv(ROOT.parent / "shared/data/korean_movie_reviews_train.csv", nrows=400).dropna()
    korean = classifier.fit(train["document"], train["label"], preset="tfidf", analyzer="korean",
                            text_column="document")
    texts = ["정말 재밌어요 😀", None, "This movie was 진짜 최고!!", "qzxv", "배우 연기가 별로였다 ㅠㅠ"]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, document string")
    got = {r["id"]: (r["recommend_proba"], r["recommend"], r["status"]) for r in score_dataframe(df, korean).collect()}
    want = predict(korean, texts)
    assert [got[i] for i in range(len(texts))] == [tuple(p) for p in want]
    assert [p.status for p in want] == ["ok", "empty", "ok", "no_known_words", "ok"]
