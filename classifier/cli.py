"""Command line: thin commands over the library; no logic lives here.

    classifier train --preset seed --out saved_models/default
    classifier evaluate --model saved_models/default
"""

from __future__ import annotations

import argparse
import os
import sys

from classifier.config import DEFAULT_DATA, DEFAULT_MODEL_DIR, PRESETS
from classifier.errors import UserError


def cmd_train(args) -> None:
    from classifier.config import preset
    from classifier.train import train

    cfg = preset(
        args.preset, epochs=args.epochs, max_rows=args.max_rows, text_column=args.text_column,
        label_column=args.label_column, batch_size=args.batch_size, seed=args.seed,
    )
    metrics = train(cfg, args.data, args.out, verbose=0 if args.quiet else 1)
    print(f"saved {args.out} ({metrics['epochs_run']} epochs, {metrics['train_seconds']} s)")
    print(f"test [loss, acc]: [{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]")


def cmd_evaluate(args) -> None:
    from classifier.evaluate import evaluate, format_result

    loss, acc = evaluate(args.model, args.data)
    print(format_result(loss, acc))


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
    p.add_argument("--quiet", action="store_true", help="no Keras progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print [loss, acc] on the bundle's test split")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: %(default)s)")
    p.add_argument("--data", help="labelled review CSV (default: the file the bundle was trained on)")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    # keep TensorFlow's start-up chatter off the user's terminal
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
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
