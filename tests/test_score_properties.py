"""Property tests of the scoring round trip: any CSV in, one output row per input row, in order,
every input cell byte for byte, and a valid status (hypothesis writes the CSVs)."""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import load, score_csv
from classifier.classify.predict import STATUSES
from tests.test_score import strip_new_cells

# text that stresses a CSV: separators, quotes, every line ending, BOMs inside, emoji, Korean,
# right-to-left and zero-width characters, blank and very long cells
AWKWARD = ",;\t\"'\r\n \u200b\u200f\ufeff😍드레스שלום"
cell = st.one_of(
    st.just(""),
    st.just("   "),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.text(alphabet=st.sampled_from(AWKWARD + "love dress fit small"), max_size=30),
    st.just("love " * 3000),
)


@st.composite
def tables(draw):
    ncols = draw(st.integers(1, 4))
    text_at = draw(st.integers(0, ncols - 1))
    header = [f"c{i}" for i in range(ncols)]
    header[text_at] = "Review Text"
    rows = draw(st.lists(st.lists(cell, min_size=ncols, max_size=ncols), max_size=12))
    if ncols == 1:  # a one-column blank row is a row with an empty text; keep such rows non-ambiguous
        rows = [r if r[0] else ['""'] for r in rows]
    return header, rows


def quote(value: str, sep: str) -> str:
    """RFC 4180 quoting: a field holding the separator, a quote or any line break is quoted."""
    if value == '""' or any(c in value for c in (sep, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"' if value != '""' else value
    return value


def render(header, rows, sep: str, newline: str, bom: bool) -> bytes:
    lines = [sep.join(quote(c, sep) for c in r) + newline for r in [header, *rows]]
    return (b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode("utf-8")


@pytest.fixture(scope="module")
def bundle(small_bundle):
    return load(small_bundle)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), sep=st.sampled_from([",", "\t"]), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       bom=st.booleans(), compress=st.booleans())
def test_scoring_round_trip(bundle, table, sep, newline, bom, compress):
    header, rows = table
    data = render(header, rows, sep, newline, bom)
    ext = ".tsv" if sep == "\t" else ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in{ext}{'.gz' if compress else ''}"
        src.write_bytes(gzip.compress(data) if compress else data)
        out = Path(tmp) / f"out{ext}"
        summary = score_csv(src, out, model=bundle)
        written = out.read_bytes()
    assert summary.rows_in == len(rows)
    assert strip_new_cells(written, sep) == data  # every input byte, in order
    parsed = list(csv.reader(io.StringIO(written.decode("utf-8-sig"), newline=""), delimiter=sep))
    assert len(parsed) == len(rows) + 1
    assert parsed[0][-3:] == ["recommend_proba", "recommend", "status"]
    at = header.index("Review Text")
    for row_in, row_out in zip(rows, parsed[1:], strict=True):
        status = row_out[-1]
        assert status in STATUSES
        text = "" if row_in[at] == '""' else row_in[at]
        assert (status == "empty") == (not text.strip())
        assert (row_out[-3] == "") == (status == "empty")
