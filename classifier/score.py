"""Streaming CSV scoring: every input row and cell kept as it was, three columns added.

    classifier score reviews.csv        # writes reviews.scored.csv beside it
    classifier.score_csv("reviews.csv", "scored.csv", model="saved_models/default")

Each record's raw text is copied from the input and the new cells are appended
to it, so original cells are never re-quoted or re-typed ("NA", "007", "" stay
byte for byte). Files are read, scored and written CHUNK_ROWS records at a time,
so memory does not grow with the file. Output goes to a temporary file beside
the destination and is renamed into place only when the whole file is done.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from classifier.artifacts import Bundle, load, write_json
from classifier.config import DEFAULT_MODEL_DIR
from classifier.data import missing_column_error
from classifier.errors import UserError
from classifier.files import umask_mode

NEW_COLUMNS = ("recommend_proba", "recommend", "status")
STATUSES = ("ok", "truncated", "no_known_words", "empty")
# pandas' default missing-value markers: such a cell is kept as it is but not scored (status `empty`)
NA_TEXTS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})
INPUT_PATTERNS = ("*.csv", "*.tsv", "*.csv.gz", "*.tsv.gz")
CHUNK_ROWS = 4096  # records read, scored and written at a time
# a field this long is a quote left open swallowing the file, not a review
FIELD_LIMIT = 1 << 24
BAD_SEPS = set('"\r\n.0123456789') | set("abcdefghijklmnopqrstuvwxyz") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


# -- scoring texts -------------------------------------------------------------
class Prediction(NamedTuple):
    proba: float | None  # None for an empty text
    recommend: int | None
    status: str


def is_empty_text(text: str | None) -> bool:
    return text is None or text.strip() in NA_TEXTS


def predict(bundle: Bundle, texts: list[str | None], threshold: float | None = None,
            batch_size: int = 512, engine: str | None = None) -> list[Prediction]:
    """Score texts: each is tokenized once, for both its status and its probability."""
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    maxlen = bundle.tokenizer.config.maxlen
    encode = bundle.tokenizer.encode
    statuses, seqs, where = [], [], []
    for i, text in enumerate(texts):
        if is_empty_text(text):
            statuses.append("empty")
            continue
        ids = encode(text)
        statuses.append("no_known_words" if not ids else "truncated" if len(ids) > maxlen else "ok")
        seqs.append(ids)
        where.append(i)
    probas: list[float | None] = [None] * len(texts)
    if seqs:
        kw = {} if engine is None else {"engine": engine}
        for i, p in zip(where, bundle.predict_proba_ids(seqs, batch_size=batch_size, **kw).tolist(), strict=True):
            probas[i] = round(p, 6)  # the label follows the printed value, so the file agrees with itself
    return [
        Prediction(p, None if p is None else int(p >= threshold), s) for p, s in zip(probas, statuses, strict=True)
    ]


def check_threshold(t: float) -> float:
    if not 0.0 <= t <= 1.0:
        raise UserError(f"threshold {t} is outside 0..1; pass --threshold between 0 and 1")
    return float(t)


def format_prediction(p: Prediction, text: str) -> str:
    """One `predict` output line: probability, label, status, text (newlines shown as spaces)."""
    proba = "" if p.proba is None else f"{p.proba:.6f}"
    label = "" if p.recommend is None else str(p.recommend)
    return f"{proba}\t{label}\t{p.status}\t{' '.join(text.splitlines())}"


def predict_lines(bundle: Bundle, texts: Iterable[str], out, threshold: float | None = None,
                  batch_size: int = 512, engine: str | None = None, flush_every: int = 512) -> int:
    """Print a `format_prediction` line per text, `flush_every` texts at a time; returns the count."""
    n, batch = 0, []

    def flush():
        for p, text in zip(predict(bundle, batch, threshold, batch_size, engine), batch, strict=True):
            out.write(format_prediction(p, text) + "\n")
        out.flush()
        batch.clear()

    for text in texts:
        batch.append(text.rstrip("\r\n"))
        n += 1
        if len(batch) >= flush_every:
            flush()
    if batch:
        flush()
    return n


# -- summaries -------------------------------------------------------------------
@dataclass
class Summary:
    source: str
    destination: str
    columns: list[str] = field(default_factory=list)
    rows_in: int = 0
    rows_scored: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    recommended: int = 0
    blank_lines_skipped: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def share_recommended(self) -> float:
        return self.recommended / self.rows_scored if self.rows_scored else 0.0

    def line(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        return (
            f"{self.source} -> {self.destination}: {self.rows_in:,} rows in, {self.rows_scored:,} scored "
            f"({counts}), {self.share_recommended:.1%} recommended, {self.rows_per_second:,.0f} rows/s"
        )

    def to_dict(self) -> dict:
        return {
            "source": self.source, "destination": self.destination, "rows_in": self.rows_in,
            "rows_scored": self.rows_scored, "counts": dict(self.counts), "recommended": self.recommended,
            "share_recommended": round(self.share_recommended, 6),
            "blank_lines_skipped": self.blank_lines_skipped,
            "seconds": round(self.seconds, 3), "rows_per_second": round(self.rows_per_second, 1),
        }


def write_summary_json(path: str | os.PathLike, summaries: list[Summary]) -> None:
    rows_in = sum(s.rows_in for s in summaries)
    scored = sum(s.rows_scored for s in summaries)
    seconds = sum(s.seconds for s in summaries)
    total = {
        "rows_in": rows_in, "rows_scored": scored,
        "counts": {k: sum(s.counts[k] for s in summaries) for k in STATUSES},
        "recommended": sum(s.recommended for s in summaries),
        "share_recommended": round(sum(s.recommended for s in summaries) / scored, 6) if scored else 0.0,
        "seconds": round(seconds, 3), "rows_per_second": round(rows_in / seconds, 1) if seconds else 0.0,
    }
    check_summary_path(path)
    write_json(Path(path), {"files": [s.to_dict() for s in summaries], "total": total})


def check_summary_path(path: str | os.PathLike) -> None:
    folder = Path(path).parent
    if Path(path).is_dir():
        raise UserError(f"{path} is a folder; give --summary-json a file name such as {Path(path) / 'summary.json'}")
    if not folder.is_dir():
        raise UserError(f"{path}: folder {folder} does not exist; create it or choose another --summary-json")


class Progress:
    """rows, rows/s and ETA on one stderr line, redrawn at most twice a second."""

    def __init__(self, name: str, enabled: bool, total_bytes: int | None = None):
        self.name, self.enabled, self.total = name, enabled, total_bytes
        self.start = self.last = time.perf_counter()

    def update(self, rows: int, done_bytes: int | None = None) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.5:
            return
        self.last = now
        rate = rows / max(now - self.start, 1e-9)
        eta = ""
        if self.total and done_bytes:
            frac = min(done_bytes / self.total, 1.0)
            left = (now - self.start) * (1 - frac) / max(frac, 1e-9)
            eta = f"  {frac:4.0%}  ETA {int(left) // 60}:{int(left) % 60:02d}"
        sys.stderr.write(f"\r{self.name}: {rows:,} rows  {rate:,.0f} rows/s{eta}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# -- reading ---------------------------------------------------------------------
class Source(NamedTuple):
    text: io.TextIOBase  # decoded with surrogateescape: bad bytes are found per record, with their line
    encoding: str
    bom: bool
    position: object  # () -> bytes of the (compressed) input consumed so far, for the ETA
    size: int | None


@contextmanager
def open_source(source: str | os.PathLike, encoding: str | None = None) -> Iterator[Source]:
    """A text stream over a path or "-" (stdin); gzip is recognised by its magic bytes."""
    name = str(source)
    if name == "-":
        raw, size = sys.stdin.buffer, None
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
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            stream = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"))
        enc = encoding or "utf-8"
        try:
            canonical = codecs.lookup(enc).name
        except LookupError:
            raise UserError(f"unknown encoding {enc!r}; pass a Python codec name, e.g. --encoding cp1252") from None
        bom = False
        if canonical in ("utf-8", "utf-8-sig"):
            bom = stream.peek(3)[:3] == codecs.BOM_UTF8
            enc = "utf-8-sig"  # a BOM is not part of the first column's name
        text = io.TextIOWrapper(stream, encoding=enc, errors="surrogateescape", newline="")
        position = (lambda: raw.tell()) if close else (lambda: None)
        yield Source(text, enc, bom, position, size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise UserError(f"{name}: not a readable gzip file ({e}); check the file or decompress it") from None
    finally:
        if close:
            raw.close()


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
            hint = "a quote is probably not closed" if "field larger" in str(e) or "end of data" in str(e) else (
                "a quote inside an unquoted field should be doubled and the field quoted")
            raise UserError(f"{name}: line {line}: malformed CSV ({e}); {hint}") from None
        raw = consumed[0] if len(consumed) == 1 else "".join(consumed)
        body, end = split_end(raw)
        yield Record(line, cells, body, end)
        line += len(consumed)
        consumed.clear()


def guess_sep(name: str, first_line: str) -> str:
    lower = name.lower().removesuffix(".gz")
    if lower.endswith((".tsv", ".tab")):
        return "\t"
    if lower.endswith(".csv"):
        return ","
    # stdin or an unknown extension: a header with tabs and no commas is TSV
    return "\t" if "\t" in first_line and "," not in first_line else ","


def check_sep(sep: str) -> str:
    sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    if len(sep) != 1 or sep in BAD_SEPS:
        raise UserError(f"--sep {sep!r} cannot separate fields; give one character such as , ; | or \\t")
    return sep


# -- writing ---------------------------------------------------------------------
def default_destination(source: str) -> str:
    """reviews.csv -> reviews.scored.csv beside it (.tsv stays .tsv; .gz inputs give plain files)."""
    path = Path(source)
    name = path.name.removesuffix(".gz")
    for ext in (".csv", ".tsv", ".tab", ".txt"):
        if name.lower().endswith(ext):
            stem, suffix = name[: -len(ext)], (".tsv" if ext in (".tsv", ".tab") else ".csv")
            break
    else:
        stem, suffix = name, ".csv"
    return str(path.with_name(f"{stem}.scored{suffix}"))


@contextmanager
def atomic_output(destination: str, overwrite: bool) -> Iterator[io.BufferedIOBase]:
    """A temp file beside `destination`, renamed onto it only if the block finishes; "-" is stdout."""
    if destination == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    dest = Path(destination)
    check_destination(dest, overwrite)
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"{dest}: cannot write in {dest.parent} ({e.strerror}); choose another -o") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        if not overwrite and dest.exists():
            raise UserError(f"{dest} appeared while scoring; pass --overwrite to replace it")
        try:
            os.chmod(tmp, umask_mode(0o666))
            os.replace(tmp, dest)
        except OSError as e:
            raise UserError(f"{dest}: cannot write it ({e.strerror}); choose another -o") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_destination(dest: Path, overwrite: bool) -> None:
    if dest.is_dir():
        raise UserError(f"{dest} is a folder; give a file name with -o (a folder is for several inputs)")
    if dest.exists() and not overwrite:
        raise UserError(f"{dest} already exists; pass --overwrite to replace it or choose another -o")
    if not dest.parent.is_dir():
        raise UserError(f"{dest}: folder {dest.parent} does not exist; create it or choose another -o")
    if not os.access(dest.parent, os.W_OK):
        raise UserError(f"{dest}: folder {dest.parent} is not writable; choose another -o")


def first_bad_cell(chunk: list[Record], header: list[str]) -> tuple[int, str]:
    """The line and column name of the first cell holding undecodable bytes (surrogate escapes)."""
    for rec in chunk:
        for i, cell in enumerate(rec.cells):
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return rec.line, header[i] if i < len(header) else f"#{i + 1}"
    return chunk[0].line, "?"


# -- the scoring loop -------------------------------------------------------------------
def score_csv(
    source: str | os.PathLike,
    destination: str | os.PathLike | None = None,
    *,
    model: str | os.PathLike | Bundle = DEFAULT_MODEL_DIR,
    text_column: str | None = None,
    threshold: float | None = None,
    batch_size: int = 512,
    engine: str | None = None,
    overwrite: bool = False,
    encoding: str | None = None,
    sep: str | None = None,
    progress: bool = False,
) -> Summary:
    """Score one CSV/TSV (path, .gz, or "-" for stdin) into `destination` ("-" for stdout).

    The default destination is NAME.scored.csv beside the input (stdout for stdin).
    Returns a Summary; raises UserError for bad input, leaving nothing at the destination.
    """
    bundle = model if isinstance(model, Bundle) else load(model)
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    source = str(source)
    name = "<stdin>" if source == "-" else source
    destination = str(destination) if destination is not None else (
        "-" if source == "-" else default_destination(source))
    if destination != "-":
        check_destination(Path(destination), overwrite)
    column = text_column or bundle.config.text_column
    summary = Summary(name, "<stdout>" if destination == "-" else destination)
    start = time.perf_counter()
    with open_source(source, encoding) as src:
        # the header decides the separator (when not given) before the csv reader starts
        first, header_line = src.text.readline(), 1
        while first and not first.strip():  # blank lines before the header
            first, header_line = src.text.readline(), header_line + 1
        if not first:
            raise UserError(f"{name} is empty; give a CSV with a header row")
        use_sep = check_sep(sep) if sep else guess_sep(name, first)
        records = read_records(_chain(first, src.text), use_sep, name, header_line)
        header = next(records)
        columns = header.cells
        summary.columns = list(columns)
        if column not in columns:
            err = missing_column_error(name, column, "text", columns, "--text-column")
            if len(columns) == 1 and any(c in columns[0] for c in ",;\t|"):
                raise UserError(f"{err}; or the separator is not {use_sep!r}: pass --sep") from None
            raise err
        if columns.count(column) > 1:
            raise UserError(f"{name}: the header names {column!r} {columns.count(column)} times; rename the copies")
        clash = [c for c in NEW_COLUMNS if c in columns]
        if clash:
            raise UserError(
                f"{name} already has column(s) {', '.join(map(repr, clash))} (an already scored file?); "
                f"score the original file or rename those columns"
            )
        idx, ncols = columns.index(column), len(columns)
        line_end = header.end or "\n"
        bar = Progress(name, progress, src.size)
        new_header = use_sep.join(NEW_COLUMNS)
        with atomic_output(destination, overwrite) as out:
            prefix = codecs.BOM_UTF8 if src.bom else b""
            write_chunk(out, [header], [f"{header.body}{use_sep}{new_header}{line_end}"], columns, name, prefix)
            chunk: list[Record] = []
            try:
                for rec in records:
                    if not rec.cells and ncols > 1:
                        summary.blank_lines_skipped += 1  # not a row: pandas skips blank lines too
                        continue
                    if len(rec.cells) != ncols and not (ncols == 1 and not rec.cells):
                        raise UserError(
                            f"{name}: line {rec.line}: {len(rec.cells)} fields where the header has {ncols}; "
                            f"quote fields that contain {use_sep!r}, or pass --sep if the file uses another separator"
                        )
                    chunk.append(rec)
                    if len(chunk) >= CHUNK_ROWS:
                        score_chunk(out, chunk, bundle, idx, use_sep, line_end, threshold, batch_size, engine,
                                    summary, columns, name)
                        chunk = []
                        bar.update(summary.rows_in, src.position())
                if chunk:
                    score_chunk(out, chunk, bundle, idx, use_sep, line_end, threshold, batch_size, engine,
                                summary, columns, name)
            finally:
                bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def score_chunk(out, chunk: list[Record], bundle: Bundle, idx: int, sep: str, line_end: str, threshold: float,
                batch_size: int, engine: str | None, summary: Summary, columns: list[str], name: str) -> None:
    texts = [rec.cells[idx] if rec.cells else "" for rec in chunk]
    preds = predict(bundle, texts, threshold, batch_size, engine)
    lines = []
    for rec, p in zip(chunk, preds, strict=True):
        summary.counts[p.status] += 1
        if p.proba is None:
            tail = f"{sep}{sep}{sep}{p.status}"
        else:
            summary.rows_scored += 1
            summary.recommended += p.recommend
            tail = f"{sep}{p.proba:.6f}{sep}{p.recommend}{sep}{p.status}"
        lines.append(f"{rec.body}{tail}{rec.end or line_end}")
    summary.rows_in += len(chunk)
    write_chunk(out, chunk, lines, columns, name)


def write_chunk(out, chunk: list[Record], lines: list[str], columns: list[str], name: str,
                prefix: bytes = b"") -> None:
    try:
        data = "".join(lines).encode("utf-8")
    except UnicodeEncodeError:
        line, column = first_bad_cell(chunk, columns)
        raise UserError(
            f"{name}: line {line}, column {column!r}: bytes that are not valid text in this encoding; "
            f"pass --encoding (e.g. --encoding cp1252 or latin-1)"
        ) from None
    try:
        out.write(prefix + data)
    except BrokenPipeError:
        raise
    except OSError as e:
        raise UserError(f"cannot write the output of {name} ({e.strerror}); free space or choose another -o") from None


# -- several inputs ------------------------------------------------------------------
def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, folders as their *.csv, *.tsv, *.csv.gz files (not our own *.scored.* outputs)."""
    files: list[str] = []
    for item in map(str, inputs):
        path = Path(item)
        if item == "-":
            files.append(item)
        elif path.is_dir():
            found = sorted({
                p for pattern in INPUT_PATTERNS for p in path.glob(pattern)
                if p.is_file() and ".scored." not in p.name
            })
            if not found:
                raise UserError(f"{path}: no {', '.join(INPUT_PATTERNS)} files in this folder")
            files.extend(map(str, found))
        elif not path.exists():
            raise UserError(f"{path}: file not found; check the path")
        else:
            files.append(item)
    if files.count("-") > 1:
        raise UserError("stdin (-) can be read only once")
    return files


def plan_outputs(files: list[str], out: str | None, several: bool) -> list[str]:
    """The destination of each input: -o as given for one file, -o as a folder for several."""
    if out == "-":
        if several:
            raise UserError("-o - (stdout) takes one input; give -o FOLDER for several")
        return ["-"]
    if not several:
        return [out if out else ("-" if files[0] == "-" else default_destination(files[0]))]
    if "-" in files and not out:
        raise UserError("with stdin (-) among several inputs, give -o FOLDER")
    if out:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder} is a file; with several inputs -o names a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{folder}: cannot create the output folder ({e.strerror}); choose another -o") from None
        dests = [str(folder / Path(default_destination("stdin.csv" if f == "-" else f)).name) for f in files]
    else:
        dests = [default_destination(f) for f in files]
    seen: dict[str, str] = {}
    for f, d in zip(files, dests, strict=True):
        if d in seen:
            raise UserError(f"{seen[d]} and {f} would both be written to {d}; score them into different folders")
        seen[d] = f
    return dests


def score_files(inputs: Iterable[str | os.PathLike], out: str | None = None, *,
                model: str | os.PathLike | Bundle = DEFAULT_MODEL_DIR, overwrite: bool = False,
                quiet: bool = False, summary_json: str | os.PathLike | None = None, **options) -> list[Summary]:
    """Score files, folders and "-" (the `classifier score` command); prints a summary line per file.

    Every destination is checked before the first file is scored, so a clash fails at once.
    """
    if summary_json:
        check_summary_path(summary_json)
    inputs = list(inputs)
    files = expand_inputs(inputs)
    several = len(files) > 1 or any(Path(str(i)).is_dir() for i in inputs)
    dests = plan_outputs(files, None if out is None else str(out), several)
    for d in dests:
        if d != "-":
            check_destination(Path(d), overwrite)
    bundle = model if isinstance(model, Bundle) else load(model)
    progress = not quiet and sys.stderr.isatty()
    summaries = []
    for f, d in zip(files, dests, strict=True):
        summary = score_csv(f, d, model=bundle, overwrite=overwrite, progress=progress, **options)
        summaries.append(summary)
        if not quiet:
            print(summary.line(), file=sys.stderr)
    if summary_json:
        write_summary_json(summary_json, summaries)
    return summaries
