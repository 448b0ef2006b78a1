"""`classifier export`: check the bundle and the destination, build in a folder beside OUT, rename.

    export_bundle("saved_models/default", "savedmodel", "serving/recommend/1")
    export_bundle("saved_models/default", "onnx", "out/model.onnx")    # + out/tokenizer.json

Both formats run the bundle's Keras classifier, so only lstm bundles export: a tfidf bundle has
no Keras model, and the tuned stack blends its LSTM with TF-IDF models in NumPy. Every check runs
before TensorFlow is imported, so a mistake is reported in a moment. An output that exists is
kept unless `overwrite`; it is replaced whole or not at all, and nothing is written into a bundle.
"""

from __future__ import annotations

import os
from pathlib import Path

from classifier.bundle import Bundle, is_bundle, load
from classifier.errors import UserError, slot
from classifier.io.files import file_sha256, names_folder, resolved, umask_mode
from classifier.io.staging import check_can_write, staging, swap_in
from classifier.models.keras_lstm import quiet_tensorflow

FORMATS = ("savedmodel", "onnx")
TOKENIZER_FILE = "tokenizer.json"  # written beside model.onnx: the ids the model reads come from it
SAVEDMODEL_FILE = "saved_model.pb"  # what marks a folder as an earlier export, which --overwrite may replace
EXPORTABLE = "only lstm bundles export (e.g. saved_models/default)"


def export_bundle(model: str | os.PathLike | Bundle, fmt: str, out: str | os.PathLike,
                  overwrite: bool = False) -> list[Path]:
    """Export the bundle `model` (a folder or a loaded Bundle) as `fmt` at `out`; the paths written."""
    bundle = model if isinstance(model, Bundle) else load(model)
    if fmt == "onnx" and names_folder(out):
        raise UserError(f"{out} names a folder; give -o a file name such as model.onnx "
                        f"({TOKENIZER_FILE} is written beside it)")
    out = resolved(out)  # `.`, `sub/..` and links: the folder or file that is really written, checked first
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    check_exportable(bundle, fmt)
    if fmt == "savedmodel":
        check_folder_output(out, bundle.path, overwrite)
        return [write_savedmodel_at(bundle, out)]
    if out.name == TOKENIZER_FILE:
        raise UserError(f"{out}: {TOKENIZER_FILE} is the name of the file written beside the model; name it model.onnx")
    check_file_outputs([out, out.parent / TOKENIZER_FILE], bundle.path, overwrite)
    return write_onnx_at(bundle, out)


# -- checks ------------------------------------------------------------------------------------
def check_exportable(bundle: Bundle, fmt: str) -> None:
    if bundle.multiclass:  # the exported signatures give P(recommends) and a 0/1 label, one number a text
        raise UserError(
            f"{bundle.path} is a multi-class bundle ({len(bundle.classes_)} classes of "
            f"{bundle.config.label_column!r}): export writes 0/1 models only (recommend_proba, recommend); "
            f"`classifier score` scores this one"
        )
    if bundle.kind == "stack":
        parts = "TF-IDF model and a rating regression" if "aux" in bundle.blend else "TF-IDF model"
        raise UserError(
            f"{bundle.path} is a stack bundle: its probability blends the LSTM with a {parts} over word ids "
            f"in NumPy, which is not one graph, so it cannot be exported as {fmt}; {EXPORTABLE}, "
            f"and `classifier score` scores this one"
        )
    if bundle.tokenizer.config.analyzer != "words":
        raise UserError(
            f"{bundle.path} uses the {bundle.tokenizer.config.analyzer} analyzer (kiwipiepy), which cannot run "
            f"inside a TF graph, so it cannot be exported as {fmt}; `classifier score` and `classifier serve` score it"
        )
    if bundle.kind != "lstm":
        raise UserError(
            f"{bundle.path} is a {bundle.kind} bundle: TF-IDF n-grams and a logistic regression in NumPy, with no "
            f"Keras model to export as {fmt}; {EXPORTABLE}, and `classifier score` scores this one"
        )


def check_not_in_bundle(out: Path, bundle_path: Path) -> None:
    """Refuse an output that is, lies in, or holds the input bundle, or lies in another bundle."""
    o, b = out.resolve(), bundle_path.resolve()
    if o == b:
        where = "is the input bundle"
    elif b in o.parents:
        where = f"lies inside the input bundle {bundle_path}"
    elif o in b.parents:
        where = f"holds the input bundle {bundle_path} (replacing it would delete the bundle)"
    elif is_bundle(out):
        where = "is a model bundle"
    elif is_bundle(out.parent):
        where = f"lies inside the model bundle {out.parent}"
    else:
        return
    raise UserError(f"{out} {where}; choose -o outside it (a bundle folder holds only its own files)")


def check_folder_output(out: Path, bundle_path: Path, overwrite: bool) -> None:
    """A SavedModel folder: new or empty, or (with `overwrite`) an earlier export."""
    check_not_in_bundle(out, bundle_path)
    empty = out.is_dir() and not out.is_symlink() and not any(out.iterdir())
    if (out.exists() or out.is_symlink()) and not empty:
        if not overwrite:
            raise UserError(f"{out} already exists; "
                            f"pass {slot('overwrite')} to replace it or choose another {slot('out')}")
        if not out.is_dir() or out.is_symlink():
            raise UserError(f"{out} is not a folder; a SavedModel is a folder: choose another {slot('out')}")
        if not (out / SAVEDMODEL_FILE).is_file():
            raise UserError(f"{out} holds files and is not a SavedModel; {slot('overwrite')} replaces only an earlier "
                            f"export (a folder with {SAVEDMODEL_FILE}): choose a new or empty folder for {slot('out')}")
    check_can_write(out, "out")


def check_file_outputs(paths: list[Path], bundle_path: Path, overwrite: bool) -> None:
    """Files: new, or (with `overwrite`) files to replace; never folders."""
    for path in paths:
        check_not_in_bundle(path, bundle_path)
        if path.is_dir():
            raise UserError(f"{path} is a folder; give -o a file name such as model.onnx "
                            f"({TOKENIZER_FILE} is written beside it)")
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise UserError(f"{path} already exists; "
                            f"pass {slot('overwrite')} to replace it or choose another {slot('out')}")
    check_can_write(paths[0], "out")


# -- writing -------------------------------------------------------------------------------------
def write_savedmodel_at(bundle: Bundle, out: Path) -> Path:
    quiet_tensorflow()
    from classifier.export.lowercase import describe, vocabulary_mismatches
    from classifier.export.savedmodel import write_savedmodel

    bad = vocabulary_mismatches(bundle.tokenizer)
    if bad:
        raise UserError(
            f"{bundle.path}'s vocabulary holds characters that TensorFlow lower-cases differently from Python "
            f"({describe(bad)}): the SavedModel would give other ids for some texts; export {slot('to')} onnx, "
            f"whose ids are made in Python"
        )
    model = bundle.keras_classifier()
    with staging(out, "the SavedModel", "out") as stage:
        write_savedmodel(model, bundle.tokenizer, bundle.threshold, stage)
        swap_in(stage, out)
    return out


def write_onnx_at(bundle: Bundle, out: Path) -> list[Path]:
    quiet_tensorflow()
    from classifier.export.onnx_file import write_onnx

    model = bundle.keras_classifier()
    tokenizer_out = out.parent / TOKENIZER_FILE
    with staging(out, "the ONNX model", "out") as stage:
        bundle.tokenizer.save(stage / TOKENIZER_FILE)
        cfg = bundle.tokenizer.config
        metadata = {
            "threshold": repr(bundle.threshold),  # recommend = recommend_proba >= threshold
            "tokenizer_json_sha256": file_sha256(stage / TOKENIZER_FILE),  # the file beside it, byte for byte
            "maxlen": cfg.maxlen, "padding": cfg.padding, "truncating": cfg.truncating,
        }
        write_onnx(model, stage / out.name, metadata)
        for f in (stage / TOKENIZER_FILE, stage / out.name):
            os.chmod(f, umask_mode(0o666))  # mkdtemp's files are private; outputs should not be
        # the tokenizer first: a model.onnx that is there always has its tokenizer.json beside it
        os.replace(stage / TOKENIZER_FILE, tokenizer_out)
        os.replace(stage / out.name, out)
    return [out, tokenizer_out]

