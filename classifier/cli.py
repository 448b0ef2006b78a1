"""Command line: thin commands over the library; no logic lives here.

    classifier train --preset seed --out saved_models/default
    classifier evaluate --model saved_models/default
"""

from __future__ import annotations

import argparse
import os
import sys

from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR, GENERATOR_PRESETS, PRESETS
from classifier.errors import UserError, import_tensorflow_quietly


def cmd_train(args) -> None:
    from classifier.config import preset
    from classifier.train import train

    cfg = preset(
        args.preset, epochs=args.epochs, max_rows=args.max_rows, text_column=args.text_column,
        label_column=args.label_column, batch_size=args.batch_size, seed=args.seed, init_seed=args.init_seed,
        fit_engine=args.fit_engine, bucketing=args.bucketing,
    )
    metrics = train(cfg, args.data, args.out, verbose=0 if args.quiet else 1)
    print(f"saved {args.out} ({metrics['epochs_run']} epochs, {metrics['train_seconds']} s)")
    print(f"test [loss, acc]: [{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]")


def cmd_evaluate(args) -> None:
    from classifier.evaluate import evaluate, format_result

    loss, acc = evaluate(args.model, args.data, report=args.report)
    if args.report:
        print(f"report: {args.report}/report.html")
    print(format_result(loss, acc))


def cmd_compare(args) -> None:
    from classifier.compare import compare, format_table

    rows = compare(args.data, args.out, presets=args.presets.split(","), max_rows=args.max_rows,
                   epochs=args.epochs, reuse=args.reuse, init_seeds=args.init_seeds)
    print(format_table(rows))
    print(f"wrote {args.out}/compare.json")


def cmd_score(args) -> None:
    import signal

    from classifier.score import score_files

    # `kill` then cleans up like Ctrl-C: the temp file goes, the destination stays untouched
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    score_files(
        args.inputs, args.out, model=args.model, overwrite=args.overwrite, quiet=args.quiet,
        summary_json=args.summary_json, text_column=args.text_column, threshold=args.threshold,
        batch_size=args.batch_size, encoding=args.encoding, sep=args.sep, engine=args.engine,
    )


def cmd_predict(args) -> None:
    from classifier.artifacts import load
    from classifier.score import predict_lines

    bundle = load(args.model)
    texts = args.texts if args.texts and args.texts != ["-"] else sys.stdin
    # typed at a terminal: answer each line at once rather than every 512
    every = 1 if texts is sys.stdin and sys.stdin.isatty() else 512
    predict_lines(bundle, texts, sys.stdout, threshold=args.threshold, engine=args.engine, flush_every=every)


def cmd_train_generator(args) -> None:
    from classifier.config import generator_preset
    from classifier.generator import train_generator

    cfg = generator_preset(args.preset, epochs=args.epochs, max_rows=args.max_rows, text_column=args.text_column,
                           batch_size=args.batch_size)
    m = train_generator(cfg, args.model, args.data, verbose=0 if args.quiet else 1, agreement=not args.no_agreement)
    print(f"saved the {args.preset} generator in {args.model} ({m['epochs_run']} epochs, {m['train_seconds']} s)")
    alone = f"; the LSTM alone {m['perplexity_lstm_alone']:.2f}" if "perplexity_lstm_alone" in m else ""
    print(f"test perplexity: {m['perplexity']:.2f} ({m['words_scored']:,} words{alone})")
    if "agreement" in m:
        a = m["agreement"]
        print(f"sentiment agreement, the model's own samples: positive {a['positive']:.1%}, "
              f"negative {a['negative']:.1%}")


def cmd_evaluate_generator(args) -> None:
    from classifier.generator import compare, evaluate_generator, format_table

    if args.compare or args.ngram:
        print(format_table(compare([args.model, *args.compare], args.data, ngram=args.ngram)))
        return
    m = evaluate_generator(args.model, args.data, agreement=args.agreement, best_of=args.best_of)
    print(f"test perplexity: {m['perplexity']:.2f} ({m['words_scored']:,} words, from the third word of each text)")
    if "agreement" in m:
        a = m["agreement"]
        best = f", each the best of {a['best_of']} candidates" if a.get("best_of", 1) > 1 else ""
        print(f"sentiment agreement: positive {a['positive']:.1%}, negative {a['negative']:.1%} "
              f"({a['samples_per_side']} samples a side{best})")


def cmd_generate(args) -> None:
    from classifier.generate import format_samples, generate

    samples = generate(args.model, args.prompt, words=args.words, n=args.n, temperature=args.temperature,
                       top_k=args.top_k, top_p=args.top_p, seed=args.seed, sentiment=args.sentiment,
                       score=args.format == "jsonl", best_of=args.best_of)
    print(format_samples(samples, args.format))


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 42,43,44, got {text!r}") from None


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classifier", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a classifier bundle")
    p.add_argument("--preset", default="seed", choices=list(PRESETS), help="settings to start from (default: seed)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="labelled review CSV (default: %(default)s)")
    p.add_argument("--out", default=str(DEFAULT_MODEL_DIR), help="bundle folder to write (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, help="override the preset's epochs")
    p.add_argument("--max-rows", type=positive_int, help="use only the first N clean rows")
    p.add_argument("--text-column", help="text column (default: 'Review Text')")
    p.add_argument("--label-column", help="0/1 label column (default: 'Recommended IND')")
    p.add_argument("--batch-size", type=positive_int, help="override the preset's batch size")
    p.add_argument("--seed", type=int, help="override the preset's seed (42)")
    p.add_argument("--init-seed", type=int, help="seed weights and shuffling only, keeping the seed's split")
    p.add_argument("--fit-engine", choices=["padskip", "keras"],
                   help="padskip: same model and gradients, padding run once per batch (default); keras: model.fit")
    p.add_argument("--no-bucketing", dest="bucketing", action="store_const", const=False,
                   help="padskip: keep fit()'s own shuffled batches instead of grouping rows by length")
    p.add_argument("--quiet", action="store_true", help="no Keras progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print [loss, acc] on the bundle's test split")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--data", help="labelled review CSV (default: the file the bundle was trained on)")
    p.add_argument("--report", metavar="DIR", help="also write metrics.json, PNG plots and report.html into DIR")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="train presets on the same split and print one comparison table")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="labelled review CSV (default: %(default)s)")
    p.add_argument("--out", default="out/compare", help="bundles and compare.json go here (default: %(default)s)")
    p.add_argument("--presets", default="seed,tuned,tfidf", help="comma-separated presets (default: %(default)s)")
    p.add_argument("--max-rows", type=positive_int, help="use only the first N clean rows")
    p.add_argument("--epochs", type=positive_int, help="override every preset's epochs")
    p.add_argument("--reuse", action="store_true", help="keep bundles in --out trained with the same settings")
    p.add_argument("--init-seeds", type=seed_list, metavar="S,S,...",
                   help="train each preset once per seed (weights and shuffling) and add mean and spread rows")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("score", help="add recommend_proba, recommend and status columns to review CSV files")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="CSV/TSV files (.gz too), folders (their *.csv, *.tsv, *.csv.gz) or - for stdin")
    p.add_argument("-o", "--out", help="output file, - for stdout, or a folder with several inputs "
                                       "(default: NAME.scored.csv beside each input; stdout for stdin)")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--text-column", help="column to score (default: the one the model was trained on)")
    p.add_argument("--threshold", type=probability, help="recommend = 1 at or above this (default: the bundle's, 0.5)")
    p.add_argument("--batch-size", type=positive_int, default=512, help="rows per model batch (default: 512)")
    p.add_argument("--encoding", help="input encoding when not UTF-8, e.g. cp1252 (output is always UTF-8)")
    p.add_argument("--sep", help="field separator (default: tab for .tsv, else comma)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    p.add_argument("--summary-json", metavar="FILE", help="also write the counts as JSON")
    p.add_argument("--engine", choices=["numpy", "keras"],
                   help="numpy: no TensorFlow, fast (the default when it runs the bundle's model: "
                        "Embedding -> LSTM -> Dense); keras: the saved Keras model (the default otherwise)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("predict", help="print probability, label and status of reviews (arguments or stdin lines)")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to score (none or -: one review per stdin line)")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--threshold", type=probability, help="recommend = 1 at or above this (default: the bundle's, 0.5)")
    p.add_argument("--engine", choices=["numpy", "keras"],
                   help="numpy: no TensorFlow, fast (the default when it runs the bundle's model: "
                        "Embedding -> LSTM -> Dense); keras: the saved Keras model (the default otherwise)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train-generator", help="train the text generator into an existing bundle")
    p.add_argument("--preset", default="default", choices=list(GENERATOR_PRESETS),
                   help="seed: the reference two-word model; default: whole reviews with a sentiment token")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--data", help="review CSV (default: the file the bundle was trained on)")
    p.add_argument("--text-column", help="text column to learn (default: 'Review Text'; 'Title' for headlines)")
    p.add_argument("--epochs", type=positive_int, help="override the preset's epochs")
    p.add_argument("--max-rows", type=positive_int, help="use only the first N training texts")
    p.add_argument("--batch-size", type=positive_int, help="override the preset's batch size (64)")
    p.add_argument("--no-agreement", action="store_true", help="skip the 2 x 200-sample sentiment agreement check")
    p.add_argument("--quiet", action="store_true", help="no Keras progress output")
    p.set_defaults(func=cmd_train_generator)

    p = sub.add_parser("evaluate-generator", help="print the generator's test-split perplexity")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--data", help="review CSV (default: the file the bundle was trained on)")
    p.add_argument("--agreement", action="store_true", help="also measure sentiment agreement (2 x 200 samples)")
    p.add_argument("--best-of", type=positive_int, default=1,
                   help="with --agreement: each sample the best of K candidates, as `generate --best-of K`")
    p.add_argument("--compare", nargs="+", default=[], metavar="DIR",
                   help="print one table with these bundles' generators (same tokenizer and split)")
    p.add_argument("--ngram", action="store_true", help="add a Kneser-Ney trigram baseline row to the table")
    p.set_defaults(func=cmd_evaluate_generator)

    p = sub.add_parser("generate", help="write review text from a prompt with the bundle's generator")
    p.add_argument("prompt", help="first words, e.g. 'this dress is'")
    p.add_argument("--words", type=positive_int, default=10, help="words to add (default: 10)")
    p.add_argument("--n", type=positive_int, default=1, help="samples, generated together (default: 1)")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy, the same every run (default); >0 samples")
    p.add_argument("--top-k", type=positive_int, help="sample only from the K most likely words")
    p.add_argument("--top-p", type=probability, help="sample only from the most likely words holding mass P")
    p.add_argument("--seed", type=int, help="random seed: the same seed gives the same samples")
    p.add_argument("--sentiment", choices=["positive", "negative"], help="ask for a review of this sentiment")
    p.add_argument("--best-of", type=positive_int,
                   help="with --sentiment and sampling: write K candidates per sample and keep the one the "
                        "bundle's classifier puts furthest on that side (default: 8 there, else 1; "
                        "--best-of 1 for the model's own samples)")
    p.add_argument("--format", choices=["text", "jsonl"], default="text",
                   help="text: one sample a line; jsonl: JSON lines with the classifier's score")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.set_defaults(func=cmd_generate)
    return parser


# commands that always load TensorFlow
# (evaluate loads it through the bundle, quietly too, and a tfidf bundle never needs it)
TENSORFLOW_COMMANDS = {cmd_train, cmd_compare, cmd_train_generator}


def main(argv: list[str] | None = None) -> int:
    # keep TensorFlow's start-up chatter off the user's terminal
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        if args.func in TENSORFLOW_COMMANDS or getattr(args, "engine", None) == "keras":
            import_tensorflow_quietly()
        args.func(args)
    except UserError as e:
        print(f"classifier: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("classifier: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`); not an error of ours
        sys.stderr.close()
        return 0
    return 0
