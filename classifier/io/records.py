"""Read CSV / TSV records with their raw text, from a path or stdin, plain or gzip.

    with open_source("reviews.csv.gz") as src:
        for rec in read_records(src.text, ",", "reviews.csv.gz"):
            rec.cells, rec.body, rec.end       # parsed cells, the raw line(s), the line ending

Scoring copies each record's raw text and appends its new cells, so original cells are never
re-quoted or re-typed. Bad bytes are kept as surrogate escapes and reported with their line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from classifier.errors import UserError, slot
from classifier.io.inputs import binary_kind
from classifier.io.streams import stdin_binary

# the csv module's field limit, raised from 128 KiB: a field over this is almost always a quote
# left open swallowing the rest of the file, not a review
FIELD_LIMIT = 1 << 28
# a header longer than this without a line break is not a header (an endless stream, a binary file)
HEADER_LIMIT = 1 << 20
BAD_SEPS = set('"\r\n.0123456789') | set("abcdefghijklmnopqrstuvwxyz") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Source(NamedTuple):
    text: io.TextIOBase  # decoded with surrogateescape: bad bytes are found per record, with their line
    bom: bool
    position: object  # () -> bytes of the (compressed) input consumed so far, for the ETA
    size: int | None


@contextmanager
def open_source(source: str | os.PathLike, encoding: str | None = None) -> Iterator[Source]:
    """A text stream over a path or "-" (stdin); gzip is recognised by its magic bytes."""
    name = str(source)
    if name == "-":
        raw, size = stdin_binary(), None
        close = False
    else:
        path = Path(source)
        if path.is_dir():
            raise UserError(f"{path} is a folder; give it as an INPUT of `classifier score` to score its files")
        try:
            raw = open(path, "rb")
        except FileNotFoundError:
            raise UserError(f"{path}: file not found; check the path") from None
        except OSError as e:
            raise UserError(f"{path}: cannot read it ({e.strerror})") from None
        size, close = os.fstat(raw.fileno()).st_size, True
    try:
        buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        stream = buffered
        kind = binary_kind(buffered.peek(10)[:10])
        if kind:
            raise UserError(f"{name} is {kind}")
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            stream = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"))
        enc = encoding or sniff_bom(stream.peek(4)[:4]) or "utf-8"
        canonical = check_encoding(enc)
        bom = False
        if canonical in ("utf-8", "utf-8-sig"):
            bom = stream.peek(3)[:3] == codecs.BOM_UTF8
            enc = "utf-8-sig"  # a BOM is not part of the first column's name
        text = io.TextIOWrapper(stream, encoding=enc, errors="surrogateescape", newline="")
        position = (lambda: raw.tell()) if close else (lambda: None)
        yield Source(text, bom, position, size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise UserError(f"{name}: not a readable gzip file ({e}); check the file or decompress it") from None
    except UnicodeError as e:  # bytes surrogateescape cannot carry: the encoding does not fit the file
        reason = getattr(e, "reason", str(e))
        raise UserError(f"{name}: the bytes do not decode as {enc} ({reason}); "
                        f"pass the file's own {slot('encoding')}") from None
    finally:
        if close:
            raw.close()


BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: FF FE starts both
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def sniff_bom(head: bytes) -> str | None:
    """The encoding a UTF-16 / UTF-32 byte-order mark announces (UTF-8's is handled by utf-8-sig)."""
    return next((enc for bom, enc in BOMS if head.startswith(bom)), None)


def check_encoding(name: str) -> str:
    """The codec's canonical name; UserError for an unknown codec or one that is not a text encoding."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UserError(f"unknown encoding {name!r}; "
                        f"pass a Python codec name, e.g. {slot('encoding')} cp1252") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in ("idna", "punycode"):
        raise UserError(f"{name!r} is not a text encoding of files; pass one such as utf-8, utf-16 or cp1252")
    return info.name


class Record(NamedTuple):
    line: int  # physical line where the record starts
    cells: list[str]
    body: str  # raw text without its line ending
    end: str  # "\n", "\r\n", "\r" or "" at the end of the file


def split_end(raw: str) -> tuple[str, str]:
    if raw.endswith("\r\n"):
        return raw[:-2], "\r\n"
    if raw.endswith(("\n", "\r")):
        return raw[:-1], raw[-1]
    return raw, ""


def read_records(text: Iterable[str], sep: str, name: str, line: int = 1) -> Iterator[Record]:
    """CSV records with their raw text: the csv reader pulls lines, we keep the ones each record used."""
    consumed: list[str] = []

    def feed():
        for line in text:
            consumed.append(line)
            yield line

    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(feed(), delimiter=sep, strict=True)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if "field larger" in str(e):
                hint = f"a field is over {FIELD_LIMIT >> 20} MiB, the most one may hold: a quote is probably not closed"
            elif "end of data" in str(e):
                hint = "a quote is probably not closed"
            else:
                hint = "a quote inside an unquoted field should be doubled and the field quoted"
            raise UserError(f"{name}: line {line}: malformed CSV ({e}); {hint}") from None
        raw = consumed[0] if len(consumed) == 1 else "".join(consumed)
        body, end = split_end(raw)
        yield Record(line, cells, body, end)
        line += len(consumed)
        consumed.clear()


def bounded_lines(text: io.TextIOBase, name: str) -> Iterator[str]:
    """The lines of `text`, none longer than FIELD_LIMIT characters: an input with no line break
    (an endless stream) is refused when it reaches the limit, not read into memory whole."""
    while line := text.readline(FIELD_LIMIT):
        if len(line) == FIELD_LIMIT and not line.endswith(("\n", "\r")):
            raise UserError(f"{name}: a line of over {FIELD_LIMIT >> 20} MiB without a line break; "
                            f"give a CSV with one record a line")
        yield line


def read_header_line(text: io.TextIOBase, name: str) -> tuple[str, int]:
    """The first non-blank line (the header) and its line number, read with a bound."""
    first, line = text.readline(HEADER_LIMIT), 1
    while first and not first.strip():  # blank lines before the header
        first, line = text.readline(HEADER_LIMIT), line + 1
    if not first:
        raise UserError(f"{name} is empty; give a CSV with a header row")
    if len(first) == HEADER_LIMIT and not first.endswith(("\n", "\r")):
        raise UserError(f"{name}: the first line runs over {HEADER_LIMIT >> 20} MiB without a line break; "
                        f"that is no CSV header (is it a CSV file?)")
    return first, line


def review_lines(text: Iterable[str]) -> Iterator[str]:
    """One review a line, without its line end (\\n, \\r\\n or a lone \\r); bytes that did not decode
    shown as U+FFFD, so they can be printed."""
    for line in text:
        line = line.rstrip("\r\n")
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        yield line


def check_sep(sep: str) -> str:
    sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    if len(sep) != 1 or sep in BAD_SEPS:
        raise UserError(f"{slot('sep')} {sep!r} cannot separate fields; give one character such as , ; | or \\t")
    return sep
