"""Which files are review tables and how to read them: the one rule table that `classifier score`
and `classifier score --spark` share.

    input_format("reviews.tsv.gz")            # InputFormat("tsv", "gzip")
    input_format("notes.txt")                  # None: the name does not say
    separator(input_format("a.tab"), None)     # "\t"

A name's last suffix may be a compression (.gz, .bz2); the suffix before it names the format.
Local scoring reads plain and gzip files (gzip is also recognised by its bytes); Spark reads what
Hadoop's codecs read, bzip2 too, and Parquet.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bzip2"}
TEXT_FORMATS = ("csv", "tsv")  # the formats a compression suffix may follow
LOCAL_COMPRESSIONS = (None, "gzip")  # what `classifier score` without --spark reads
TAB_NAMES = ("\t", "\\t", "tab")  # how --sep may name a tab


@dataclass(frozen=True)
class InputFormat:
    format: str  # csv, tsv or parquet
    compression: str | None = None  # gzip, bzip2 or None


def input_format(name: str) -> InputFormat | None:
    """The format a file name says, or None when it does not say (stdin, .txt, no suffix)."""
    lower = str(name).lower()
    compression = None
    for suffix, codec in COMPRESSION_SUFFIXES.items():
        if lower.endswith(suffix):
            lower, compression = lower[: -len(suffix)], codec
            break
    for suffix, fmt in FORMAT_SUFFIXES.items():
        if lower.endswith(suffix) and (compression is None or fmt in TEXT_FORMATS):
            return InputFormat(fmt, compression)
    return None


def is_tab(sep: str | None) -> bool:
    return sep in TAB_NAMES


def separator(fmt: InputFormat | None, sep: str | None, first_line: str = "") -> str:
    """The field separator: `sep` as given, else tab for a TSV name, comma for a CSV one; a name that
    does not say (stdin, an unknown suffix) is TSV when its header has tabs and no commas."""
    if sep:
        return "\t" if is_tab(sep) else sep
    if fmt is not None:
        return "\t" if fmt.format == "tsv" else ","
    return "\t" if "\t" in first_line and "," not in first_line else ","


def table_format(name: str, sep: str | None) -> str | None:
    """csv, tsv or parquet for a file (a CSV name read with a tab --sep is TSV); None when the name does not say."""
    fmt = input_format(name)
    if fmt is None:
        return None
    return "tsv" if fmt.format == "csv" and is_tab(sep) else fmt.format


def is_local_input(name: str) -> bool:
    """A file a folder given to `classifier score` contributes: a CSV or TSV, plain or gzipped."""
    fmt = input_format(name)
    return fmt is not None and fmt.format in TEXT_FORMATS and fmt.compression in LOCAL_COMPRESSIONS


# the first bytes of files people name .csv that are not text: what each is, and what to do
BINARY_MAGIC = (
    (b"PK\x03\x04", "a zip file (an Excel .xlsx workbook is one)", "export it as CSV, or unzip it"),
    (b"PK\x05\x06", "an empty zip file", "export the table as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook (or another Office file)", "export it as CSV"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it (unxz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it (unzstd)"),
    (b"PAR1", "a Parquet file", "convert it to CSV (`classifier score --spark` reads Parquet)"),
    (b"%PDF", "a PDF document", "export the table as CSV"),
)


def binary_kind(head: bytes) -> str | None:
    """'NAME is KIND, not a CSV; WHAT TO DO' tail for bytes no CSV starts with, or None (gzip is read)."""
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "a bzip2-compressed file, not a CSV: decompress it (bunzip2; `classifier score --spark` reads it too)"
    for magic, kind, fix in BINARY_MAGIC:
        if head.startswith(magic):
            return f"{kind}, not a CSV: {fix}"
    return None
