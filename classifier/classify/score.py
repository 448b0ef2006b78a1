"""Streaming CSV scoring: every input row and cell kept as it was, the bundle's columns added.

    classifier score reviews.csv        # writes reviews.scored.csv beside it
    classifier.score_csv("reviews.csv", "scored.csv", model="saved_models/default")

A binary bundle adds recommend_proba, recommend and status; a multi-class one predicted_label,
predicted_proba, a proba_<class> column per class in the bundle's order, and status
(classifier.classify.predict.output_columns).

Each record's raw text is copied from the input (classifier.io.records) and the new cells are
appended to it, so original cells are never re-quoted or re-typed ("NA", "007", "" stay byte
for byte). Files are read, scored and written CHUNK_ROWS records at a time, so memory does not
grow with the file. Output goes to a temporary file beside the destination and is renamed into
place only when the whole file is done (classifier.io.files.atomic_output).
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from classifier.bundle import Bundle, load
from classifier.classify.explain import EXPLAIN_COLUMN, top_word_cells
from classifier.classify.predict import (
    STATUSES,
    check_threshold,
    output_columns,
    predict,
    predict_classes,
    refuse_threshold,
)
from classifier.errors import UserError, slot
from classifier.io.dataset import missing_column_error
from classifier.io.files import atomic_output, cannot_write_in, check_output, names_folder, resolved, same_file
from classifier.io.inputs import LOCAL_COMPRESSIONS, input_format, is_local_input, separator
from classifier.io.records import Record, bounded_lines, check_sep, open_source, read_header_line, read_records
from classifier.io.streams import stdout_binary, stdout_error

log = logging.getLogger(__name__)

CHUNK_ROWS = 8192  # records read, scored and written at a time: the test split in one engine call


# -- summaries -------------------------------------------------------------------
@dataclass
class Summary:
    source: str
    destination: str
    rows_in: int = 0
    rows_scored: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    recommended: int = 0
    blank_lines_skipped: int = 0
    seconds: float = 0.0
    predicted: dict[str, int] | None = None  # a multi-class bundle: scored rows by predicted label

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def share_recommended(self) -> float:
        return self.recommended / self.rows_scored if self.rows_scored else 0.0

    def line(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        if self.predicted is None:
            outcome = f"{self.share_recommended:.1%} recommended"
        else:
            top = max(self.predicted.items(), key=lambda kv: kv[1], default=("-", 0))
            share = top[1] / self.rows_scored if self.rows_scored else 0.0
            outcome = f"most often predicted {top[0]} ({share:.1%})"
        return (
            f"{self.source} -> {self.destination}: {self.rows_in:,} rows in, {self.rows_scored:,} scored "
            f"({counts}), {outcome}, {self.rows_per_second:,.0f} rows/s"
        )

    def to_dict(self) -> dict:
        if self.predicted is not None:
            return {
                "source": self.source, "destination": self.destination, "rows_in": self.rows_in,
                "rows_scored": self.rows_scored, "counts": dict(self.counts), "predicted": dict(self.predicted),
                "blank_lines_skipped": self.blank_lines_skipped,
                "seconds": round(self.seconds, 3), "rows_per_second": round(self.rows_per_second, 1),
            }
        return {
            "source": self.source, "destination": self.destination, "rows_in": self.rows_in,
            "rows_scored": self.rows_scored, "counts": dict(self.counts), "recommended": self.recommended,
            "share_recommended": round(self.share_recommended, 6),
            "blank_lines_skipped": self.blank_lines_skipped,
            "seconds": round(self.seconds, 3), "rows_per_second": round(self.rows_per_second, 1),
        }


def summary_total(summaries: list[Summary]) -> dict:
    rows_in = sum(s.rows_in for s in summaries)
    scored = sum(s.rows_scored for s in summaries)
    seconds = sum(s.seconds for s in summaries)
    recommended = sum(s.recommended for s in summaries)
    if summaries and summaries[0].predicted is not None:
        predicted = {k: sum(s.predicted.get(k, 0) for s in summaries) for k in summaries[0].predicted}
        outcome = {"predicted": predicted}
    else:
        outcome = {"recommended": recommended, "share_recommended": round(recommended / scored, 6) if scored else 0.0}
    return {
        "rows_in": rows_in, "rows_scored": scored,
        "counts": {k: sum(s.counts[k] for s in summaries) for k in STATUSES},
        **outcome,
        "seconds": round(seconds, 3), "rows_per_second": round(rows_in / seconds, 1) if seconds else 0.0,
    }


def write_summary_json(path: str | os.PathLike, summaries: list[Summary], overwrite: bool) -> None:
    data = json.dumps({"files": [s.to_dict() for s in summaries], "total": summary_total(summaries)},
                      indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    if os.fspath(path) == "-":
        write_stdout_bytes(data)
        return
    with atomic_output(path, overwrite, "summary_json") as f:
        f.write(data)


def write_stdout_bytes(data: bytes) -> None:
    out = stdout_binary()
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise stdout_error(e) from None


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
def open_output(destination: str, overwrite: bool) -> Iterator:
    """Where a scored file goes: stdout for "-", else `atomic_output`; a name ending in .gz is gzipped."""
    if destination == "-":
        out = stdout_binary()
        yield out
        try:
            out.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise stdout_error(e) from None
        return
    with atomic_output(destination, overwrite) as f:
        if not destination.lower().endswith(".gz"):
            yield f
            return
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as z:  # mtime 0: the same input gives the same bytes
            yield z


def check_destination(dest: Path, overwrite: bool, sources: list[str], field: str = "out") -> None:
    """check_output, and never an input of the same run as its output (even with --overwrite)."""
    check_not_an_input(dest, sources, field)
    if dest.is_dir():
        raise UserError(f"{dest} is a folder; give {slot(field)} a file name" +
                        (" (a folder is for several inputs)" if field == "out" else ""))
    check_output(dest, overwrite, field)


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
    model: str | os.PathLike | Bundle,
    text_column: str | None = None,
    threshold: float | None = None,
    engine: str | None = None,
    overwrite: bool = False,
    encoding: str | None = None,
    sep: str | None = None,
    progress: bool = False,
    explain: int = 0,
) -> Summary:
    """Score one CSV/TSV (path, .gz, or "-" for stdin) into `destination` ("-" for stdout).

    The default destination is NAME.scored.csv beside the input (stdout for stdin). With `explain`
    K > 0, one more column, top_words: the K words that moved each row's call most, with their signs
    (classifier.classify.explain.top_word_cells).
    Returns a Summary; raises UserError for bad input, leaving nothing at the destination.
    """
    bundle = model if isinstance(model, Bundle) else load(model)
    refuse_threshold(bundle, threshold)
    threshold = check_threshold(bundle.threshold if threshold is None else threshold)
    source = str(source)
    name = "<stdin>" if source == "-" else source
    destination = str(destination) if destination is not None else (
        "-" if source == "-" else default_destination(source))
    if destination != "-":
        check_destination(Path(destination), overwrite, [source])
    column = text_column or bundle.config.text_column
    summary = Summary(name, "<stdout>" if destination == "-" else destination)
    if bundle.multiclass:
        summary.predicted = {str(c): 0 for c in bundle.classes_.tolist()}
    new_columns = output_columns(bundle) + ((EXPLAIN_COLUMN,) if explain else ())
    start = time.perf_counter()
    with open_source(source, encoding) as src:
        # the header decides the separator (when not given) before the csv reader starts
        first, header_line = read_header_line(src.text, name)
        use_sep = check_sep(sep) if sep else separator(input_format(name), None, first)
        records = read_records(_chain(first, bounded_lines(src.text, name)), use_sep, name, header_line)
        header = next(records)
        columns = header.cells
        if column not in columns:
            err = missing_column_error(name, column, "text", columns, "text_column")
            if len(columns) == 1 and any(c in columns[0] for c in ",;\t|"):
                raise UserError(err.template + f"; or the separator is not {use_sep!r}: pass {{=sep}}", field=err.field,
                                value=column, file=name, column=column) from None
            raise err
        if columns.count(column) > 1:
            raise UserError(f"{name}: the header names {column!r} {columns.count(column)} times; rename the copies")
        clash = [c for c in new_columns if c in columns]
        if clash:
            raise UserError(
                f"{name} already has column(s) {', '.join(map(repr, clash))} (an already scored file?); "
                f"score the original file or rename those columns"
            )
        idx, ncols = columns.index(column), len(columns)
        line_end = header.end or "\n"
        bar = Progress(name, progress, src.size)
        new_header = use_sep.join(csv_cell(c, use_sep) for c in new_columns)
        with open_output(destination, overwrite) as out:
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
                            f"quote fields that contain {use_sep!r}, "
                            f"or pass {slot('sep')} if the file uses another separator"
                        )
                    chunk.append(rec)
                    if len(chunk) >= CHUNK_ROWS:
                        score_chunk(out, chunk, bundle, idx, use_sep, line_end, threshold, engine, summary,
                                    columns, name, explain)
                        chunk = []
                        bar.update(summary.rows_in, src.position())
                if chunk:
                    score_chunk(out, chunk, bundle, idx, use_sep, line_end, threshold, engine, summary,
                                columns, name, explain)
            finally:
                bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def csv_cell(value: str, sep: str) -> str:
    """`value` as one CSV field: quoted (quotes doubled) when it holds the separator, a quote or a line break."""
    if sep in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def score_chunk(out, chunk: list[Record], bundle: Bundle, idx: int, sep: str, line_end: str, threshold: float,
                engine: str | None, summary: Summary, columns: list[str], name: str, explain: int = 0) -> None:
    texts = [rec.cells[idx] if rec.cells else "" for rec in chunk]
    # the top_words cell of each row (after status), or nothing
    why = [sep + csv_cell(c, sep) for c in top_word_cells(bundle, texts, explain)] if explain else [""] * len(chunk)
    if bundle.multiclass:
        return score_chunk_classes(out, chunk, bundle, texts, sep, line_end, engine, summary, columns, name, why)
    preds = predict(bundle, texts, threshold, engine)
    lines = []
    for rec, p, extra in zip(chunk, preds, why, strict=True):
        summary.counts[p.status] += 1
        if p.proba is None:
            tail = f"{sep}{sep}{sep}{p.status}"
        else:
            summary.rows_scored += 1
            summary.recommended += p.recommend
            tail = f"{sep}{p.proba:.6f}{sep}{p.recommend}{sep}{p.status}"
        lines.append(f"{rec.body}{tail}{extra}{rec.end or line_end}")
    summary.rows_in += len(chunk)
    write_chunk(out, chunk, lines, columns, name)


def score_chunk_classes(out, chunk: list[Record], bundle: Bundle, texts: list[str], sep: str, line_end: str,
                        engine: str | None, summary: Summary, columns: list[str], name: str, why: list[str]) -> None:
    """A multi-class bundle's rows: predicted_label, predicted_proba, proba_<class>..., status."""
    labels = {c: csv_cell(str(c), sep) for c in bundle.classes_.tolist()}
    empty = sep * (len(labels) + 2)
    lines = []
    for rec, p, extra in zip(chunk, predict_classes(bundle, texts, engine), why, strict=True):
        summary.counts[p.status] += 1
        if p.label is None:
            tail = f"{empty}{sep}{p.status}"
        else:
            summary.rows_scored += 1
            summary.predicted[str(p.label)] += 1
            probas = sep.join(f"{q:.6f}" for q in p.probas)
            tail = f"{sep}{labels[p.label]}{sep}{p.proba:.6f}{sep}{probas}{sep}{p.status}"
        lines.append(f"{rec.body}{tail}{extra}{rec.end or line_end}")
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
            f"pass {slot('encoding')} (e.g. {slot('encoding')} cp1252 or latin-1)"
        ) from None
    try:
        out.write(prefix + data)
    except BrokenPipeError:
        raise
    except OSError as e:
        if getattr(out, "name", None) == "<stdout>":
            raise UserError(f"cannot write the output of {name} to stdout ({e.strerror}); free space or send "
                            f"it elsewhere") from None
        raise UserError(f"cannot write the output of {name} ({e.strerror}); "
                        f"free space or choose another {slot('out')}") from None


# -- several inputs ------------------------------------------------------------------
def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, folders as their CSV and TSV files, plain or gzipped (classifier.io.inputs; not
    our own *.scored.* outputs)."""
    files: list[str] = []
    for item in map(str, inputs):
        path = Path(item)
        if item == "-":
            files.append(item)
        elif path.is_dir():
            tables = [p for p in path.iterdir() if p.is_file() and is_local_input(p.name)]
            found = sorted(p for p in tables if ".scored." not in p.name)
            if not found and tables:
                raise UserError(f"{path}: holds only scored outputs (*.scored.*), which are not scored again; "
                                f"give the original files, or rename one to score it")
            if not found:
                raise UserError(f"{path}: no CSV or TSV files (.csv, .tsv, .tab, plain or .gz) in this folder")
            files.extend(map(str, found))
        elif not path.exists():
            raise UserError(f"{path}: file not found; check the path")
        elif (fmt := input_format(item)) is not None and fmt.compression not in LOCAL_COMPRESSIONS:
            raise UserError(f"{path}: {fmt.compression} files are read with {slot('spark')} only; "
                            f"decompress it to score it here")
        else:
            files.append(item)
    if files.count("-") > 1:
        raise UserError("stdin (-) can be read only once")
    return files


def plan_outputs(files: list[str], out: str | None, several: bool) -> tuple[list[str], Path | None]:
    """The destination of each input (-o as given for one file, -o as a folder for several or when it
    names one: `newdir/`, `.`, an existing folder), and the folder to make before scoring, if any.
    Nothing is made here: a run refused later leaves nothing behind."""
    if out == "-":
        if several:
            raise UserError("-o - (stdout) takes one input; give -o FOLDER for several")
        return ["-"], None
    if out is not None and (names_folder(out) or Path(out).is_dir()):
        several = True
    if not several:
        return [out if out else ("-" if files[0] == "-" else default_destination(files[0]))], None
    if "-" in files and not out:
        raise UserError("with stdin (-) among several inputs, give -o FOLDER")
    make = None
    if out:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder} is a file; with several inputs -o names a folder")
        if not folder.is_dir():
            check_can_make(folder)
            make = folder
        dests = [str(folder / Path(default_destination("stdin.csv" if f == "-" else f)).name) for f in files]
    else:
        dests = [default_destination(f) for f in files]
    seen: dict[Path, str] = {}
    for f, d in zip(files, dests, strict=True):
        if resolved(d) in seen:
            raise UserError(f"{seen[resolved(d)]} and {f} would both be written to {d}; "
                            f"score them into different folders")
        seen[resolved(d)] = f
    return dests, make


def check_can_make(folder: Path) -> None:
    """Say now why `folder` (and its missing parents) cannot be made: a file in the way, no permission."""
    parent = resolved(folder)
    while not parent.exists():
        parent = parent.parent
    reason = "not a folder" if not parent.is_dir() else cannot_write_in(parent)
    if reason:
        raise UserError(f"{folder}: cannot create the output folder ({parent}: {reason}); choose another -o")


def score_files(inputs: Iterable[str | os.PathLike], out: str | None = None, *,
                model: str | os.PathLike | Bundle, overwrite: bool = False,
                quiet: bool = False, summary_json: str | os.PathLike | None = None, **options) -> list[Summary]:
    """Score files, folders and "-" (the `classifier score` command); prints a summary line per file.

    Every destination (the summary JSON's too) is checked before the first file is scored, so a
    clash fails at once; no output may be an input or another output of the same run.
    """
    inputs = list(inputs)
    if not inputs:
        raise UserError("nothing to score: give CSV/TSV files, folders, or - for stdin")
    files = expand_inputs(inputs)
    several = len(files) > 1 or any(Path(str(i)).is_dir() for i in inputs)
    dests, make = plan_outputs(files, None if out is None else os.fspath(out), several)
    for d in dests:
        if d != "-" and not (make and resolved(d).parent == resolved(make)):
            check_destination(Path(d), overwrite, files)
        elif d != "-":
            check_not_an_input(Path(d), files)
    if summary_json is not None:
        summary_json = check_summary_json(os.fspath(summary_json), dests, files, overwrite, make)
    bundle = model if isinstance(model, Bundle) else load(model)
    progress = not quiet and sys.stderr.isatty()
    summaries = []
    if make:
        try:
            make.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{make}: cannot create the output folder ({e.strerror}); "
                            f"choose another {slot('out')}") from None
    try:
        for f, d in zip(files, dests, strict=True):
            summary = score_csv(f, d, model=bundle, overwrite=overwrite, progress=progress, **options)
            summaries.append(summary)
            if not quiet:
                log.info(summary.line())
    except BaseException:
        if make and not summaries:
            try:
                make.rmdir()  # the folder this run made, still empty: a failed run leaves nothing
            except OSError:
                pass
        raise
    if summary_json:
        write_summary_json(summary_json, summaries, overwrite)
    return summaries


def check_not_an_input(dest: Path, sources: list[str], field: str = "out") -> None:
    for source in sources:
        if source != "-" and same_file(source, dest):
            raise UserError(f"{dest} is an input of this run; choose another {slot(field)} (inputs are never replaced)")


def check_summary_json(path: str, dests: list[str], files: list[str], overwrite: bool,
                       make: Path | None) -> str:
    """--summary-json: a file, or - for stdout when the scored rows do not go there; never an input
    or a scored output, however it is spelled (a link, `sub/..`)."""
    if path == "-":
        if "-" in dests:
            raise UserError("{=summary_json} - and the scored rows would both go to stdout; "
                            "give {=summary_json} FILE or -o FILE")
        return path
    if names_folder(path):
        raise UserError(f"{path} is a folder; give {slot('summary_json')} a file name")
    if any(d != "-" and same_file(d, path) for d in dests):
        raise UserError(f"{slot('summary_json')} {path} is also the scored output; give it another name")
    if make and resolved(path).parent == resolved(make):
        check_not_an_input(Path(path), files, "--summary-json")
    else:
        check_destination(Path(path), overwrite, files, "--summary-json")
    return path
