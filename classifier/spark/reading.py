"""Reading the inputs: files, folders and globs (any URI Hadoop reads) by the format their names say
(classifier.io.inputs, the rule table local scoring uses too), CSV read as `classifier score` reads it."""

from __future__ import annotations

import re
from pathlib import Path

from classifier.errors import UserError, slot
from classifier.io.inputs import InputFormat, is_tab, separator, table_format
from classifier.spark.session import one_line


def expand_inputs(spark, inputs: list[str], sep: str | None) -> tuple[dict[str, list[str]], int]:
    """Files, folders and globs (any URI Hadoop reads) -> the files of each format, in order, and
    their total bytes. A folder gives its CSV, TSV and Parquet files (part files included, _SUCCESS
    and hidden ones not)."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    found: dict[str, list[str]] = {"csv": [], "tsv": [], "parquet": []}
    size = 0
    for item in inputs:
        path = jvm.org.apache.hadoop.fs.Path(item)
        try:
            fs = path.getFileSystem(hconf)
            matches = fs.globStatus(path)
        except Exception as e:  # py4j: a scheme Hadoop does not know, a store that refuses us
            raise UserError(f"{item}: cannot read it ({one_line(e)})") from None
        if not matches:
            raise UserError(f"{item}: no such file or folder; check the path")
        for status in matches:
            if status.isDirectory():
                files = fs.listFiles(status.getPath(), True)
                listed = []
                while files.hasNext():
                    f = files.next()
                    name = str(f.getPath())
                    rel = name[len(str(status.getPath())):]
                    kind = table_format(name, sep)
                    if kind and not any(part.startswith(("_", ".")) for part in rel.split("/") if part):
                        listed.append((name, kind, f.getLen()))
                if not listed:
                    raise UserError(f"{item}: no CSV, TSV or Parquet files in this folder")
                for name, kind, length in sorted(listed):
                    found[kind].append(name)
                    size += length
            else:
                name = str(status.getPath())
                size += status.getLen()
                found[table_format(name, sep) or ("tsv" if is_tab(sep) else "csv")].append(name)
    return found, size


def line_separator(spark, path: str) -> str | None:
    """The line ending of a CSV file's header record (\\r\\n, \\n or \\r), from its first 64 KiB (gzip
    and bzip2 read through); None when none is found there. Spark must be told it: left to guess, it
    turns a CRLF inside a quoted field of a CRLF file into LF."""
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    stream = hpath.getFileSystem(hconf).open(hpath)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(hconf).getCodec(hpath)
    try:
        head = bytes((codec.createInputStream(stream) if codec is not None else stream).readNBytes(1 << 16))
    finally:
        stream.close()
    quoted, prev = False, None
    for b in head:
        if b == 0x22:
            quoted = not quoted
        elif not quoted and b == 0x0A:
            return "\r\n" if prev == 0x0D else "\n"
        elif not quoted and prev == 0x0D:
            return "\r"
        prev = b
    return "\r" if prev == 0x0D and not quoted and len(head) < 1 << 16 else None


def read_inputs(spark, files: dict[str, list[str]], sep: str | None, encoding: str | None):
    """One DataFrame over every input: CSV read as `classifier score` reads it (header row, every
    column a string, quoted fields over several lines, "" escapes a quote), Parquet as it is."""
    frames = []
    for kind, paths in files.items():
        if not paths:
            continue
        if kind == "parquet":
            frames.append(spark.read.parquet(*paths))
            continue
        delimiter = separator(InputFormat(kind), sep)
        by_ending: dict[str | None, list[str]] = {}
        for path in paths:
            by_ending.setdefault(line_separator(spark, path), []).append(path)
        for ending, group in by_ending.items():
            reader = (spark.read.option("header", True).option("multiLine", True).option("quote", '"')
                      .option("escape", '"').option("encoding", encoding or "UTF-8").option("sep", delimiter)
                      # every file's header must name the first one's columns, not just be skipped
                      .option("mode", "FAILFAST").option("enforceSchema", False).option("inferSchema", False))
            df = (reader.option("lineSep", ending) if ending else reader).csv(group)
            first = df.columns[0] if df.columns else ""
            if first.startswith("\ufeff"):  # a UTF-8 byte-order mark is not part of the first column's name
                df = df.withColumnRenamed(first, first[1:])
            frames.append(df)
    df = frames[0]
    for other in frames[1:]:
        if sorted(other.columns) != sorted(df.columns):
            raise UserError(f"the inputs' columns differ ({', '.join(df.columns)} vs {', '.join(other.columns)}); "
                            f"score them in separate runs")
        df = df.unionByName(other)
    return df


def check_local_paths(inputs: list[str], out: str, overwrite: bool) -> None:
    """The checks that need no JVM, done first: a missing local input, an existing OUTDIR."""
    if is_uri(out):
        return
    outp = Path(out)
    if (outp.exists() or outp.is_symlink()) and not overwrite:
        raise UserError(f"{out} already exists; pass {slot('overwrite')} to replace it or choose another {slot('out')}")
    for item in inputs:
        if not is_uri(item) and not any(c in item for c in "*?[{") and not Path(item).exists():
            raise UserError(f"{item}: file not found; check the path")


def is_uri(path: str) -> bool:
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path))
