"""Command line: parsing, wording the library's errors with flag names, and printing.

    classifier train --preset reference -o saved_models/mine
    classifier evaluate -m saved_models/mine --json

The same words mean the same thing in every command: `-m/--model DIR` names a bundle to read,
`-o/--out` what a command writes, `--data CSV` the labelled data, `-n/--max-rows N` the first N
rows of it, `--seed N` a random seed, `--overwrite` permission to replace an output (a bundle
too), `--json` machine-readable output, `-q/--quiet` no progress. Lists are words after the flag.
Only this module prints; the library logs its notices, which main() shows on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from classifier.config import (
    AGREEMENT_SAMPLES,
    DEFAULT_DATA,
    DEFAULT_MODEL_DIR,
    GENERATOR_PRESETS,
    MODEL_ENV,
    PRESETS,
    default_model_dir,
)
from classifier.errors import UserError
from classifier.io.morphemes import ANALYZERS
from classifier.io.streams import Stdout, drop_stdout, finish_stdout
from classifier.limits import LIMITS

DESCRIPTION = ("Tell whether reviews recommend a product (or which of your classes they belong to) with a "
               "trained model bundle: predict, score CSV files, train, evaluate, generate review text, export "
               "and serve over HTTP. Without -m/--model a command reads $CLASSIFIER_MODEL, else "
               "saved_models/default. Manual: docs/cli.md.")
# library fields whose flag is not --FIELD (the rest: underscores become dashes)
FLAGS = {"n": "-n", "out": "-o", "max_texts": "--max-rows"}


def flag(field: str) -> str:
    """The flag that sets the library's `field`: how a UserError names it on the command line."""
    return FLAGS.get(field, "--" + field.replace("_", "-"))


# -- old spellings, kept for one release ------------------------------------------------------------
_noted: set[str] = set()


def deprecated(old: str, new: str) -> None:
    """One line on stderr, once per spelling and run."""
    if old not in _noted:
        _noted.add(old)
        print(f"classifier: warning: {old} is deprecated and goes in the next release; use {new}", file=sys.stderr)


class Renamed(argparse.Action):
    """An old flag: sets what `new` sets (through `convert`), with a deprecation note."""

    def __init__(self, option_strings, dest, new: str, convert=None, **kwargs):
        self.new, self.convert = new, convert
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        deprecated(option_string, self.new)
        setattr(namespace, self.dest, self.convert(values) if self.convert else values)


class Words(argparse.Action):
    """A list flag: its values are the words after it (repeating the flag adds more); the old
    comma-separated form still splits, with a deprecation note."""

    def __init__(self, option_strings, dest, item=str, **kwargs):
        self.item = item
        super().__init__(option_strings, dest, nargs="+", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        items = []
        for value in values:
            if "," in value:
                deprecated(f"{option_string} A,B", f"{option_string} A B (words, not commas)")
            for part in value.split(",") if "," in value else [value]:
                try:
                    items.append(self.item(part))
                except argparse.ArgumentTypeError as e:
                    parser.error(f"argument {option_string}: {e}")
        given = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, [*(given if given is not self.default and given else []), *items])


# -- argument types: numbers are range-checked here, before any work -------------------------
def limited(field: str, kind=int):
    """An argument type checking LIMITS[field], the range the library checks too."""
    limit = LIMITS[field]

    def parse(text: str):
        value = _number(text, kind)
        if not limit.holds(value):
            raise argparse.ArgumentTypeError(f"must be {limit.words()}, got {text}")
        return value
    return parse


def probability(text: str) -> float:
    return limited("threshold", float)(text)


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def setting(text: str) -> tuple[str, object]:
    """KEY=VALUE of `train --set`: the value as JSON when it parses, else the string as written."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def count(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def bounded_int(high: int):
    def parse(text: str) -> int:
        value = _number(text, int)
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be 1 to {high:,}, got {value}")
        return value
    return parse


seed = limited("seed")
temperature = limited("temperature", float)


def _number(text: str, kind):
    try:
        return kind(text)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None


# -- commands ------------------------------------------------------------------------------------
def cmd_train(args) -> None:
    from classifier.classify.train import train
    from classifier.config import preset, set_field
    from classifier.io.sources import LabelMap

    cfg = preset(
        args.preset, epochs=args.epochs, max_rows=args.max_rows, text_column=args.text_column,
        label_column=args.label_column, batch_size=args.batch_size, seed=args.seed, init_seed=args.init_seed,
        fit_engine=args.fit_engine, bucketing=args.bucketing, min_count=args.min_count, analyzer=args.analyzer,
        title_column=args.title_column,
    )
    for key, value in args.settings:  # after the flags: --set has the last word
        set_field(cfg, key, value)
    data = args.data or [str(DEFAULT_DATA)]
    metrics = train(cfg, data[0] if len(data) == 1 else data, args.out, verbose=0 if args.quiet else 1,
                    labels=LabelMap.parse(args.positive, args.negative), group_column=args.group_column,
                    init_from=args.init_from, sep=args.sep, overwrite=args.overwrite, adapt_to=args.adapt_to)
    print(f"saved {args.out} ({metrics['epochs_run']} epochs, {metrics['train_seconds']} s)")
    print(f"test [loss, acc]: [{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]")
    for name, m in metrics.get("per_source", {}).items():
        print(f"  {name}: n {m['n']}, accuracy {m['accuracy']:.4f}, ROC AUC {m['roc_auc']:.4f}, "
              f"log loss {m['log_loss']:.4f}")


def cmd_evaluate(args) -> None:
    from classifier.classify.evaluate import evaluate, format_result

    loss, acc = evaluate(args.model, args.data, report=args.report, overwrite=args.overwrite, all_rows=args.all_rows,
                         sep=args.sep)
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "all_rows": args.all_rows, "test_loss": loss,
                          "test_accuracy": acc, "report": args.report and f"{args.report}/report.html"}))
        return
    if args.report:
        print(f"report: {args.report}/report.html")
    print(format_result(loss, acc))


def cmd_info(args) -> None:
    from classifier.bundle import load
    from classifier.bundle.info import describe, format_info

    facts = describe(load(args.model))
    print(json.dumps(facts, indent=2) if args.json else format_info(facts))


def cmd_compare(args) -> None:
    from classifier.classify.compare import compare, compare_classes, format_table

    data = args.data[-1] if args.data else str(DEFAULT_DATA)
    if args.leave_out:
        from classifier.classify.domains import compare_domains, domain_table

        if not args.domains:
            raise UserError("--leave-out needs --domains CSV, the file whose --leave-out column names the domains")
        rows = compare_domains(data, args.domains, args.out, presets=args.presets,
                               leave_out=args.leave_out, adapt=args.adapt)
        print(domain_table(rows))
        print(f"wrote {args.out}/compare-domains.json")
        return
    if args.label_columns:
        rows = compare_classes(data, args.out, args.label_columns, presets=args.presets,
                               max_rows=args.max_rows, epochs=args.epochs, reuse=args.reuse,
                               min_count=args.min_count, overwrite=args.overwrite)
        print(format_table(rows))
        print(f"wrote {args.out}/compare.json")
        return
    rows = compare(data, args.out, presets=args.presets, max_rows=args.max_rows,
                   epochs=args.epochs, reuse=args.reuse, init_seeds=args.init_seeds, overwrite=args.overwrite)
    print(format_table(rows))
    print(f"wrote {args.out}/compare.json")


def cmd_score(args) -> None:
    if args.explain and args.spark:
        raise UserError("--explain scores locally; leave out --spark MASTER to add the top_words column")
    if args.spark:
        from classifier.spark import score_on_spark

        summary = score_on_spark(
            args.inputs, args.out, master=args.spark, model=args.model, output_format=args.spark_format or "csv",
            partitions=args.partitions, overwrite=args.overwrite, text_column=args.text_column,
            threshold=args.threshold, sep=args.sep, encoding=args.encoding, engine=args.engine,
            summary_json=args.summary_json,
        )
        if not args.quiet:
            print(summary.line(), file=sys.stderr)
        return
    if args.spark_format or args.partitions:
        raise UserError("--spark-format and --partitions go with --spark MASTER (docs/spark.md)")
    from classifier.classify.score import score_files

    score_files(
        args.inputs, args.out, model=args.model, overwrite=args.overwrite, quiet=args.quiet,
        summary_json=args.summary_json, text_column=args.text_column, threshold=args.threshold,
        encoding=args.encoding, sep=args.sep, engine=args.engine, explain=args.explain,
    )


def cmd_predict(args) -> None:
    from classifier.bundle import load
    from classifier.classify.predict import predict_lines
    from classifier.io.records import open_source, review_lines

    bundle = load(args.model)
    if args.texts and args.texts != ["-"]:
        predict_lines(bundle, args.texts, Stdout(), threshold=args.threshold, engine=args.engine)
        return
    with open_source("-") as src:  # stdin read as `score` reads it: a BOM dropped, any line end
        # typed at a terminal: answer each line at once rather than every 512
        every = 1 if sys.stdin.isatty() else 512
        predict_lines(bundle, review_lines(src.text), Stdout(), threshold=args.threshold, engine=args.engine,
                      flush_every=every)


def cmd_explain(args) -> None:
    import json

    from classifier.bundle import load
    from classifier.classify.explain import explain, format_html, format_text

    bundle = load(args.model)
    texts = args.texts if args.texts and args.texts != ["-"] else (line.rstrip("\r\n") for line in sys.stdin)
    if args.format == "html":  # one page: every review first
        sys.stdout.write(format_html(explain(bundle, list(texts), top=args.top)))
        return
    batch = []

    def flush():
        for e in explain(bundle, batch, top=args.top):
            print(json.dumps(e.to_dict(), ensure_ascii=False) if args.format == "jsonl" else format_text(e))
        sys.stdout.flush()
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= 256:
            flush()
    if batch:
        flush()


def cmd_train_generator(args) -> None:
    from classifier.config import generator_preset
    from classifier.textgen.train import train_generator

    out = args.out or args.model
    if args.experts_only:
        return train_steering(args, args.model, out)
    cfg = generator_preset(args.preset, epochs=args.epochs, max_texts=args.max_rows, text_column=args.text_column,
                           batch_size=args.batch_size, seed=args.seed)
    m = train_generator(cfg, args.model, args.data, verbose=0 if args.quiet else 1, agreement=args.agreement,
                        out=out, agreement_samples=args.agreement_samples, overwrite=args.overwrite)
    print(f"saved the {args.preset} generator in {out} ({m['epochs_run']} epochs, {m['train_seconds']} s)")
    alone = f"; the LSTM alone {m['perplexity_lstm_alone']:.2f}" if "perplexity_lstm_alone" in m else ""
    print(f"test perplexity: {m['perplexity']:.2f} ({m['words_scored']:,} words{alone})")
    if "agreement" in m:
        a = m["agreement"]
        print(f"sentiment agreement, the model's own samples: positive {a['positive']:.1%}, "
              f"negative {a['negative']:.1%}")
    if args.experts:
        train_steering(args, out, out)


def train_steering(args, model, out) -> None:
    from classifier.config import expert_preset
    from classifier.textgen.evaluate import load_judge
    from classifier.textgen.experts import train_experts

    only = args.experts_only  # else --epochs and --max-texts were the base generator's
    cfg = expert_preset(epochs=args.epochs if only else None, max_texts=args.max_rows if only else None,
                        batch_size=args.batch_size, seed=args.seed)
    r = train_experts(model, args.data, cfg, load_judge(judge_dir(args)), verbose=0 if args.quiet else 1,
                      selection_samples=args.agreement_samples, out=out)
    sel = r["selection"]
    chosen = next(t for t in sel["tried"] if t["strength"] == r["strength"])
    print(f"saved the steering experts in {out} ({r['metrics']['train_seconds']} s); strength {r['strength']:g}, "
          f"chosen on the validation reviews: judged on the asked-for side negative {chosen['negative']:.1%} "
          f"(real {sel['real']['negative']:.1%}), positive {chosen['positive']:.1%} "
          f"(real {sel['real']['positive']:.1%})")


def judge_dir(args):
    """--judge, else saved_models/tuned when it is there, else None (the bundle's own classifier)."""
    from classifier.config import DEFAULT_JUDGE

    if args.judge:
        return args.judge
    return DEFAULT_JUDGE if (DEFAULT_JUDGE / "config.json").is_file() else None


def cmd_evaluate_generator(args) -> None:
    from classifier.textgen.evaluate import compare, evaluate_generator, format_steering, format_table

    if args.compare or args.ngram:
        print(format_table(compare([args.model, *args.compare], args.data, ngram=args.ngram)))
        return
    m = evaluate_generator(args.model, args.data, agreement=args.agreement, best_of=args.best_of,
                           agreement_samples=args.agreement_samples, judge=judge_dir(args) if args.agreement else None)
    print(f"test perplexity: {m['perplexity']:.2f} ({m['words_scored']:,} words, from the third word of each text)")
    if "agreement" in m:
        a = m["agreement"]
        best = f", each the best of {a['best_of']} candidates" if a.get("best_of", 1) > 1 else ""
        print(f"sentiment agreement: positive {a['positive']:.1%}, negative {a['negative']:.1%} "
              f"({a['samples_per_side']} samples a side{best})")
    if "steering" in m:
        print(format_steering(m["steering"]))


def cmd_generate(args) -> None:
    from classifier.textgen.generate import format_samples, generate

    samples = generate(args.model, args.prompt, words=args.words, n=args.n, temperature=args.temperature,
                       top_k=args.top_k, top_p=args.top_p, seed=args.seed, sentiment=args.sentiment,
                       score=args.json, best_of=args.best_of, strength=args.strength)
    Stdout().write(format_samples(samples, "jsonl" if args.json else "text") + "\n")


def cmd_export(args) -> None:
    from classifier.export.pipeline import export_bundle

    for path in export_bundle(args.model, args.to, args.out, overwrite=args.overwrite):
        print(f"wrote {path}")


def cmd_serve(args) -> None:
    from classifier.serve.settings import API_KEY_ENV, ServeSettings, parse_models, require_serve_extra

    require_serve_extra()
    from classifier.serve.server import serve

    logging.getLogger("classifier").removeHandler(NOTICES)  # the server logs in its own format
    key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    if key is not None and not key.strip():  # `--api-key "$KEY"` with KEY unset would serve everyone
        named = "--api-key" if args.api_key is not None else f"the {API_KEY_ENV} environment variable"
        raise UserError(f"{named} is empty; give a key, or unset {API_KEY_ENV} and drop --api-key to serve "
                        f"without one")
    settings = ServeSettings(parse_models(args.model), max_items=args.max_texts_per_request,
                             max_bytes=args.max_bytes, api_key=key)
    serve(settings, host=args.host, port=args.port, workers=args.workers, access_log=args.access_log)


# -- the parser ------------------------------------------------------------------------------------
def parent(*adders) -> argparse.ArgumentParser:
    """A parent parser holding the arguments `adders` add: shared flags are written once."""
    p = argparse.ArgumentParser(add_help=False)
    for add in adders:
        add(p)
    return p


def model_flag(p) -> None:
    p.add_argument("-m", "--model", metavar="DIR",
                   help=f"the bundle to read (default: ${MODEL_ENV}, else {DEFAULT_MODEL_DIR} here, else the "
                        f"repository's copy beside the package)")


def data_flag(p) -> None:
    p.add_argument("--data", metavar="CSV", help="labelled review CSV (default: the file the bundle was trained on)")


def quiet_flag(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def overwrite_flag(p) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (a bundle too)")


def max_rows_flag(p, what: str = "clean rows") -> None:
    p.add_argument("-n", "--max-rows", type=positive_int, metavar="N", help=f"use only the first N {what}")


def engine_flag(p) -> None:
    p.add_argument("--engine", choices=["numpy", "keras"],
                   help="numpy: no TensorFlow, fast (the default when it runs the bundle's model); "
                        "keras: the saved Keras model (the default otherwise)")


def agreement_flags(p) -> None:
    p.add_argument("--agreement", action=argparse.BooleanOptionalAction, default=False,
                   help="also measure sentiment agreement: the classifier's verdict on generated samples "
                        "(default: off; `make train` turns it on)")
    p.add_argument("--agreement-samples", type=limited("agreement_samples"), default=AGREEMENT_SAMPLES,
                   metavar="N", help="sentiment agreement: samples a side (default: %(default)s, as on record)")


def judge_flag(p) -> None:
    p.add_argument("--judge", metavar="DIR", help="classifier bundle that judges the samples' sentiment at its own "
                                                   "threshold (default: saved_models/tuned when it is there)")


def threshold_flag(p) -> None:
    p.add_argument("--threshold", type=probability,
                   help="recommend = 1 at or above this (default: the bundle's, else 0.5)")


def min_count_flag(p) -> None:
    p.add_argument("--min-count", type=limited("min_count"), metavar="N", default=1,
                   help="refuse classes with fewer than N training rows (default: 1; 0 keeps a class that only "
                        "the test split holds, counted wrong)")


def sep_flag(p) -> None:
    p.add_argument("--sep", help="field separator of --data, e.g. ';' or tab (default: tab for .tsv, else comma)")


def fit_flags(p) -> None:
    p.add_argument("--data", action="append", metavar="CSV[:TEXT[:LABEL]]",
                   help=f"labelled review CSV (default: {DEFAULT_DATA}); train: repeat it for several sources, "
                        f"each with its own text and label columns")
    max_rows_flag(p)
    p.add_argument("--epochs", type=positive_int, help="override the preset's epochs")


def json_flag(p, what: str = "print JSON instead of text") -> None:
    p.add_argument("--json", action="store_true", help=what)


def package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("classifier")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """--version, the installed version looked up only when asked: importlib.metadata would cost every
    other command's start-up."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from classifier.serve.settings import MAX_BYTES, MAX_ITEMS

    parser = argparse.ArgumentParser(prog="classifier", description=DESCRIPTION)
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bundle_in = parent(model_flag)
    scoring = parent(model_flag, threshold_flag, engine_flag)

    p = sub.add_parser("train", help="train a classifier bundle",
                       parents=[parent(fit_flags, quiet_flag, overwrite_flag, min_count_flag)])
    p.add_argument("--preset", default="reference", choices=list(PRESETS),
                   help="settings to start from (default: reference, the reference recipe)")
    p.add_argument("-o", "--out", default=str(DEFAULT_MODEL_DIR), metavar="DIR",
                   help="bundle folder to write (default: %(default)s; an existing bundle only with --overwrite)")
    p.add_argument("--text-column", help="text column (default: 'Review Text')")
    p.add_argument("--label-column", help="label column (default: 'Recommended IND'); 0/1 labels train the binary "
                                          "model, any others a softmax over their classes")
    p.add_argument("--batch-size", type=positive_int, help="override the preset's batch size")
    p.add_argument("--analyzer", choices=list(ANALYZERS),
                   help="words: split on spaces and punctuation (default); korean: Korean morphemes from kiwipiepy, "
                        "particles and endings split off (pip install 'classifier[korean]')")
    p.add_argument("--seed", type=seed, help="random seed of the split, weights and shuffling (default: 42)")
    p.add_argument("--init-seed", type=seed, help="seed weights and shuffling only, keeping the --seed split")
    p.add_argument("--fit-engine", choices=["padskip", "keras"],
                   help="padskip: same model and gradients, padding run once per batch (default); keras: model.fit")
    p.add_argument("--no-bucketing", dest="bucketing", action="store_const", const=False,
                   help="padskip: keep fit()'s own shuffled batches instead of grouping rows by length")
    p.add_argument("--group-column", metavar="COL",
                   help="a file with this column is one source per value of it (e.g. domain): each split on its "
                        "own, test figures per source")
    p.add_argument("--positive", metavar="V,V,...", help="labels other than 0/1 that count as 1 (e.g. 4,5); "
                                                         "needs --negative; other values are left out, and counted")
    p.add_argument("--negative", metavar="V,V,...", help="labels other than 0/1 that count as 0 (e.g. 1,2)")
    p.add_argument("--title-column", metavar="COL", help="join this column before the text where a source has it")
    p.add_argument("--init-from", metavar="BUNDLE",
                   help="fine-tune this tfidf bundle (e.g. saved_models/general) on the data instead of starting "
                        "afresh")
    p.add_argument("--adapt-to", metavar="FILE[:TEXT_COLUMN]",
                   help="unlabelled reviews of the domain the bundle will score: their n-grams join the vocabulary "
                        "and their most confident half, pseudo-labelled, self-trains a binary tfidf preset")
    sep_flag(p)
    p.add_argument("--set", dest="settings", action="append", type=setting, default=[], metavar="KEY=VALUE",
                   help="set any config field, repeatable (--set tokenizer.num_words=8000 --set dropout=0.2); VALUE "
                        "is read as JSON when it parses (null, true, 0.5), else as a string")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print [loss, acc] on the bundle's test split",
                       parents=[parent(model_flag, data_flag, overwrite_flag)])
    p.add_argument("--report", metavar="DIR", help="also write metrics.json, PNG plots and report.html into DIR")
    p.add_argument("--all-rows", action="store_true",
                   help="evaluate every row of --data (a separate test file) instead of rebuilding the test split")
    json_flag(p, "print the figures as one JSON object instead of the [loss, acc] line")
    sep_flag(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="print a bundle's kind, classes, preset, metrics, versions and file hashes",
                       parents=[bundle_in])
    json_flag(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("compare", help="train presets on the same split and print one comparison table",
                       parents=[parent(fit_flags, overwrite_flag, min_count_flag)])
    p.add_argument("-o", "--out", default="out/compare", metavar="DIR",
                   help="bundles and compare.json go here (default: %(default)s; replacing them needs --overwrite)")
    p.add_argument("--presets", action=Words, default=["reference", "tuned", "tfidf"], metavar="NAME",
                   help="presets to train (default: reference tuned tfidf)")
    p.add_argument("--reuse", action="store_true", help="keep bundles in --out trained with the same settings")
    p.add_argument("--init-seeds", action=Words, item=seed, metavar="S",
                   help="train each preset once per seed (weights and shuffling) and add mean and spread rows")
    p.add_argument("--label-columns", action=Words, metavar="COL",
                   help="train each preset on each of these label columns instead: accuracy, macro F1 and the "
                        "majority-class share")
    p.add_argument("--leave-out", metavar="COLUMN",
                   help="for each value of COLUMN in --domains, train on --data's training split plus the other "
                        "values and test on the held-out one (with the VADER baseline)")
    p.add_argument("--domains", metavar="CSV", help="with --leave-out: the labelled reviews of several domains "
                                                    "(columns text, label and COLUMN)")
    p.add_argument("--adapt", action="store_true",
                   help="with --leave-out: self-train each fit on the held-out domain's texts, never its labels "
                        "(train --adapt-to)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("score", help="add recommend_proba, recommend and status columns to review CSV files",
                       parents=[scoring, parent(overwrite_flag, quiet_flag)])
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="CSV/TSV files (.gz too), folders (their *.csv, *.tsv, *.csv.gz) or - for stdin")
    p.add_argument("-o", "--out", help="output file (.gz: gzipped), - for stdout, or a folder with several inputs "
                                       "(default: NAME.scored.csv beside each input; stdout for stdin)")
    p.add_argument("--text-column", help="column to score (default: the one the model was trained on)")
    p.add_argument("--encoding", help="input encoding when not UTF-8, e.g. cp1252 (output is always UTF-8)")
    p.add_argument("--sep", help="field separator (default: tab for .tsv, else comma)")
    p.add_argument("--summary-json", metavar="FILE", help="also write the counts as JSON")
    p.add_argument("--explain", type=positive_int, metavar="K",
                   help="add a top_words column: the K words that moved each call most, with their signs "
                        "(word:+1.234, positive towards the call; `classifier explain` has every word)")
    p.add_argument("--spark", metavar="MASTER",
                   help="score on Apache Spark (local[N], spark://HOST:PORT, yarn, ...): INPUTs are CSV, TSV or "
                        "Parquet files, folders, globs or URIs, -o a folder of part files (docs/spark.md)")
    p.add_argument("--spark-format", choices=["csv", "parquet"],
                   help="with --spark: the part files' format (default: csv)")
    p.add_argument("--format", dest="spark_format", action=Renamed, new="--spark-format", choices=["csv", "parquet"])
    p.add_argument("--partitions", type=positive_int, metavar="N",
                   help="with --spark: score in N partitions, a shuffle that reorders rows (default: the input's "
                        "splits, spread over every core when fewer and the input is 16 MiB or more)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("predict", help="print probability, label and status of reviews (arguments or stdin lines)",
                       parents=[scoring])
    p.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to score (none or -: one review per stdin line)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="show which words made each call: every word's contribution, the "
                                       "strongest marked (arguments or stdin lines)", parents=[parent(model_flag)])
    p.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to explain (none or -: one review per stdin line)")
    p.add_argument("--top", type=count, default=5, metavar="K", help="words to show each way (default: %(default)s)")
    p.add_argument("--format", choices=["text", "jsonl", "html"], default="text",
                   help="text: the review with its top words marked, then the figures; jsonl: every word's "
                        "contribution, one JSON object a review; html: a page with the words coloured")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("train-generator", help="train the text generator of a bundle",
                       parents=[bundle_in, parent(data_flag, quiet_flag, overwrite_flag, agreement_flags)])
    p.add_argument("-o", "--out", metavar="DIR",
                   help="bundle folder to write, the classifier copied along (default: --model itself, updated in "
                        "place; an existing bundle, that one included, only with --overwrite)")
    p.add_argument("--preset", default="default", choices=list(GENERATOR_PRESETS),
                   help="reference: the reference two-word model; default: whole reviews with a sentiment token")
    p.add_argument("--text-column", help="text column to learn (default: 'Review Text'; 'Title' for headlines)")
    p.add_argument("--epochs", type=positive_int, help="override the preset's epochs")
    max_rows_flag(p, "training texts")
    p.add_argument("--max-texts", dest="max_rows", action=Renamed, new="-n/--max-rows", type=positive_int)
    p.add_argument("--batch-size", type=positive_int, help="override the preset's batch size (64)")
    p.add_argument("--seed", type=seed, help="random seed of the weights and batches (default: 42)")
    p.add_argument("--experts", action="store_true",
                   help="also train the steering experts (a few minutes; see docs/generator.md)")
    p.add_argument("--experts-only", action="store_true",
                   help="train only the steering experts, beside the bundle's generator (kept as it is)")
    judge_flag(p)
    p.set_defaults(func=cmd_train_generator)

    p = sub.add_parser("evaluate-generator", help="print the generator's test-split perplexity",
                       parents=[bundle_in, parent(data_flag, agreement_flags)])
    p.add_argument("--best-of", type=limited("best_of"), default=1,
                   help="with --agreement: each sample the best of K candidates, as `generate --best-of K`")
    judge_flag(p)
    p.add_argument("--compare", action=Words, default=[], metavar="DIR",
                   help="print one table with these bundles' generators (same tokenizer and split)")
    p.add_argument("--ngram", action="store_true", help="add a Kneser-Ney trigram baseline row to the table")
    p.set_defaults(func=cmd_evaluate_generator)

    p = sub.add_parser("generate", help="write review text from a prompt with the bundle's generator",
                       parents=[bundle_in])
    p.add_argument("prompt", help="first words, e.g. 'this dress is'")
    p.add_argument("--words", type=limited("words"), default=10, help="words to add (default: 10)")
    p.add_argument("-n", "--samples", dest="n", type=limited("n"), default=1,
                   help="samples, generated together (default: 1)")
    p.add_argument("--n", dest="n", action=Renamed, new="-n/--samples", type=limited("n"))
    p.add_argument("--temperature", type=temperature, default=0.0,
                   help="0: greedy, the same every run (default); above 0 samples")
    p.add_argument("--top-k", type=limited("top_k"), help="sample only from the K most likely words")
    p.add_argument("--top-p", type=limited("top_p", float),
                   help="sample only from the most likely words holding mass P")
    p.add_argument("--seed", type=seed, help="random seed: the same seed gives the same samples")
    p.add_argument("--sentiment", choices=["positive", "negative"], help="ask for a review of this sentiment")
    p.add_argument("--best-of", type=limited("best_of"),
                   help="with --sentiment and sampling: write K candidates per sample and keep the one the "
                        "bundle's classifier puts furthest on that side (default: 8 there, else 1; "
                        "--best-of 1 for the model's own samples)")
    p.add_argument("--strength", type=limited("strength", float), metavar="ALPHA",
                   help="with --sentiment: how hard the bundle's steering experts pull (default: the strength "
                        "recorded in the bundle; 0: the sentiment start token alone)")
    json_flag(p, "JSON lines with the classifier's score instead of one sample a line")
    p.add_argument("--format", dest="json", action=Renamed, new="--json", choices=["text", "jsonl"],
                   convert=lambda value: value == "jsonl")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("export", help="export an lstm bundle: a TF SavedModel over raw text, or ONNX over ids",
                       parents=[bundle_in, parent(overwrite_flag)])
    p.add_argument("--to", choices=["savedmodel", "onnx"],
                   help="savedmodel: a folder, the tokenizer in the graph; onnx: a file over padded ids, "
                        "tokenizer.json written beside it (required)")
    p.add_argument("--format", dest="to", action=Renamed, new="--to", choices=["savedmodel", "onnx"])
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="the SavedModel folder or the .onnx file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="answer HTTP requests: TF Serving's REST predict, /predict, /generate, "
                                     "health, metrics and a page (docs/serving.md)")
    p.add_argument("-m", "--model", action=Words, metavar="[NAME=]DIR",
                   help="bundles to serve, each named after its folder unless NAME= is given (default: "
                        f"${MODEL_ENV}, else {DEFAULT_MODEL_DIR})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine "
                                                      "only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=bounded_int(65535), default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("--workers", type=bounded_int(64), default=1,
                   help="processes, each with its own copy of the models (default: %(default)s)")
    p.add_argument("--max-texts-per-request", type=positive_int, default=MAX_ITEMS, metavar="N",
                   help="most texts one request may hold, else 413 (default: %(default)s)")
    p.add_argument("--max-items", dest="max_texts_per_request", action=Renamed, new="--max-texts-per-request",
                   type=positive_int)
    p.add_argument("--max-bytes", type=positive_int, default=MAX_BYTES, metavar="N",
                   help="largest request body in bytes, else 413 (default: %(default)s, 16 MiB)")
    p.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' (default: the "
                                                    "CLASSIFIER_API_KEY environment variable, which ps does not show)")
    p.add_argument("--access-log", action="store_true",
                   help="log a line per request to stderr (default: off; /metrics counts requests)")
    p.set_defaults(func=cmd_serve)
    return parser


class Notices(logging.Handler):
    """The library's notices (logging, INFO and up) as lines on stderr, as the user saw them printed:
    written to sys.stderr as it is when they come (tests redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


NOTICES = Notices(logging.INFO)


def show_notices() -> None:
    logger = logging.getLogger("classifier")
    logger.setLevel(logging.INFO)
    if NOTICES not in logger.handlers:
        logger.addHandler(NOTICES)


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit 0 done, 1 a fault of ours (a traceback), 2 a user mistake (one line),
    130 interrupted (Ctrl-C or `kill`: nothing is left at the destination)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter off the terminal
    args = build_parser().parse_args(argv)
    show_notices()
    # `kill`, a closed terminal (SIGHUP) and Ctrl-\ (SIGQUIT) then clean up like Ctrl-C: temp files go,
    # destinations stay untouched
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.default_int_handler)
    try:
        if args.command == "export" and args.to is None:
            raise UserError("export needs --to savedmodel or --to onnx")
        if "model" in args and not args.model:  # not named: the environment's, else the committed one
            args.model = [str(default_model_dir())] if args.command == "serve" else str(default_model_dir())
        args.func(args)  # TensorFlow, when a command needs it, is imported then, quietly (models.lstm)
        finish_stdout()
    except UserError as e:
        drop_stdout()
        print(f"classifier: error: {e.worded(flag)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("classifier: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`); not an error of ours
        sys.stderr.close()
        return 0
    return 0
