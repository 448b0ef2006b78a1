"""The bundle format: a bundle's files, reading and hash-checking them, and writing a bundle whole.

    bundle = load("saved_models/default")
    bundle.predict_proba(["love it", "it ripped"])       # (2, 2): P(not recommend), P(recommend)
    load("saved_models/department").classes_            # a multi-class bundle: its labels, column order

A bundle is a folder:
    classifier.keras   plain Keras model over front-padded ids (no optimizer state); the NumPy
                       engine (classifier.engine.classifier_net) reads the same file without TensorFlow
    tokenizer.json     the shared tokenizer (JSON, never pickle)
    config.json        every setting, data sha256, versions, and the sha256 of each file
    history.csv        per-epoch training history
    metrics.json       test-split figures
    tfidf.json/.npz    the tfidf preset's model, or the tuned stack's partner
    generator.keras, generator_history.csv, generator_ngram.npz   the text-generation head
    generator_expert_positive.keras, generator_expert_negative.keras   its steering experts
Loading re-hashes the files against config.json, so a tokenizer or model from another run
is refused instead of silently giving wrong predictions. This module imports no kind of model:
the kinds (classifier.bundle.predictors: an LSTM, a tfidf model, the tuned stack of both)
register themselves with `register_kind`, naming the files they own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from classifier.bundle.checks import check_meta, check_model_fits
from classifier.config import TrainConfig
from classifier.errors import UserError, slot
from classifier.io.files import file_sha256, read_regular, resolved, write_json
from classifier.io.staging import check_can_write, link_or_copy, staging, swap_in
from classifier.io.tokenizer import Tokenizer

FORMAT = "classifier-bundle/1"
CLASSIFIER_FILE = "classifier.keras"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
GENERATOR_KERAS = "generator.keras"
GENERATOR_HISTORY = "generator_history.csv"
GENERATOR_NGRAM = "generator_ngram.npz"  # the trigram counts the default generator mixes in
COMMON_FILES = (TOKENIZER_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE)
# the steering experts: small whole-review LSTMs of one class's reviews each, keyed by sentiment
EXPERT_FILES = {"negative": "generator_expert_negative.keras", "positive": "generator_expert_positive.keras"}
GENERATOR_FILES = (GENERATOR_KERAS, GENERATOR_HISTORY, GENERATOR_NGRAM, *EXPERT_FILES.values())

KINDS: dict[str, type] = {}  # kind name -> its class, filled by register_kind
KIND_FILES: dict[str, tuple[str, ...]] = {}  # kind name -> the model files it owns


def register_kind(name: str, files: tuple[str, ...] = ()):
    """Class decorator: a bundle kind, built as `cls(path, meta, tokenizer)` by `load`, owning `files`."""
    def register(cls):
        KINDS[name] = cls
        KIND_FILES[name] = tuple(files)
        return cls
    return register


def owned_files() -> tuple[str, ...]:
    """What a bundle may replace in its folder (every kind's files); nothing else is touched."""
    model_files = dict.fromkeys(f for files in KIND_FILES.values() for f in files)
    return (*COMMON_FILES, *model_files, *GENERATOR_FILES)


JSON_LIMIT = 64 << 20  # config.json, metrics.json: kilobytes in practice


def read_json(path: Path, limit: int = JSON_LIMIT) -> dict:
    try:
        return json.loads(read_regular(path, limit).decode("utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path.parent} is not a model bundle: {path.name} is missing; train a bundle into a new folder"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e}); retrain the bundle") from None


def package_versions() -> dict:
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for name in ("classifier", "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "kiwipiepy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def kind_of(meta: dict) -> str:
    if meta["config"].get("model") == "tfidf":
        return "tfidf+vectors" if "vectors" in meta else "tfidf"
    return "stack" if "blend" in meta else "lstm"


def load(path: str | os.PathLike):
    """The bundle in folder `path`, every recorded file hash-checked."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(
            f"{path}: no such model folder; train one into it, or pass {{field}} DIR", field="model", file=path
        )
    meta = read_json(path / CONFIG_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
        raise UserError(f"{path / CONFIG_FILE} is not the config of a model bundle; retrain the bundle")
    kind = kind_of(meta)
    check_meta(path / CONFIG_FILE, meta, KIND_FILES[kind])
    tokenizer = Tokenizer.load(path / TOKENIZER_FILE)
    want = meta.get("tokenizer_sha256")
    if tokenizer.sha256 != want:
        raise UserError(
            f"{path / TOKENIZER_FILE} does not match the model in {path} (tokenizer hash "
            f"{tokenizer.sha256[:12]}, model trained with {str(want)[:12]}); restore the bundle's "
            f"own tokenizer.json or retrain"
        )
    for name, sha in meta["files"].items():
        f = path / name
        if not f.exists() or Path(name).name != name:
            raise UserError(f"{path} is not a complete bundle: {name} is missing; retrain the bundle")
        if file_sha256(f) != sha:
            raise UserError(
                f"{f} is not the file this bundle was saved with (sha256 differs); "
                f"restore it or retrain the bundle"
            )
    if CLASSIFIER_FILE in KIND_FILES[kind]:
        check_model_fits(path / CONFIG_FILE, meta, tokenizer.config.num_words, path / CLASSIFIER_FILE)
    return KINDS[kind](path, meta, tokenizer)  # classifier.bundle imports every kind first


# -- writing -------------------------------------------------------------------------
def is_bundle(folder: Path) -> bool:
    try:
        meta = json.loads(read_regular(folder / CONFIG_FILE, JSON_LIMIT).decode("utf-8"))
        return folder.is_dir() and meta.get("format") == FORMAT
    except (OSError, ValueError, AttributeError, UserError):
        return False


def check_bundle_destination(out: Path) -> None:
    """Refuse to write a bundle at `out` unless it is absent, an empty folder, or a bundle; and say
    now, not after minutes of training, when its parent cannot be written."""
    out = resolved(out)  # a link to a bundle: the bundle it points at; `.` and `sub/..`: the real folder
    if out.exists() or out.is_symlink():
        if not out.is_dir() or (any(out.iterdir()) and not is_bundle(out)):
            raise UserError(f"{out} exists and is not a model bundle; choose a new or empty folder for {slot('out')} "
                            f"(only a bundle is replaced)")
    check_can_write(out, "out")


def write_bundle(out: Path, write_files, keep_from_old: tuple[str, ...] = ()) -> None:
    """Stage a bundle folder beside `out` and swap it in whole. `write_files(stage)` writes the
    bundle's own files; the files of an old bundle at `out` that the bundle does not own (the
    user's notes, plots, ...) and those named in `keep_from_old` are carried over as they are. A
    link at `out` stays a link: the folder it points at is replaced."""
    out = resolved(out)
    check_bundle_destination(out)
    with staging(out, "the bundle", "out") as stage:
        written = set(write_files(stage)) | {p.name for p in stage.iterdir()}
        if out.is_dir():
            owned = owned_files()
            for f in out.iterdir():
                if f.name in written or (f.name in owned and f.name not in keep_from_old):
                    continue
                link_or_copy(f, stage / f.name)
        swap_in(stage, out)


def save_bundle(out: str | os.PathLike, *, write_files, tokenizer: Tokenizer, config: TrainConfig,
                history: list[dict], metrics: dict, extra: dict | None = None,
                keep_generator: bool = False) -> Path:
    """Write a classifier bundle at `out`, whole or not at all: `write_files(folder) -> names` writes
    the model's own files (the kind's), this the tokenizer, history, metrics and config. With `keep_generator`,
    an old bundle's generator is carried over (it must share this tokenizer, which the caller checks)."""
    import pandas as pd

    out = Path(out)
    old_generator = {}
    if keep_generator and is_bundle(out):
        old = read_json(out / CONFIG_FILE)
        old_generator = {"generator": old["generator"]} if "generator" in old else {}
        old_files = {n: s for n, s in old.get("files", {}).items() if n in GENERATOR_FILES}
    else:
        old_files = {}

    def write(stage: Path) -> list[str]:
        files = [*write_files(stage), TOKENIZER_FILE]
        tokenizer.save(stage / TOKENIZER_FILE)
        pd.DataFrame(history).to_csv(stage / HISTORY_FILE, index_label="epoch")
        write_json(stage / METRICS_FILE, metrics)
        meta = {
            "format": FORMAT,
            "config": config.to_dict(),
            "tokenizer_sha256": tokenizer.sha256,
            "versions": package_versions(),
            "metrics": metrics,
            **(extra or {}),
            **old_generator,
            "files": {**{n: file_sha256(stage / n) for n in files}, **old_files},
        }
        write_json(stage / CONFIG_FILE, meta)
        return [*files, HISTORY_FILE, METRICS_FILE, CONFIG_FILE]

    write_bundle(out, write, keep_from_old=tuple(old_files))
    return out


def update_bundle(path: str | os.PathLike, write_files, drop: tuple[str, ...] = (), **meta_updates) -> None:
    """Add or replace files of an existing bundle and record them, all or nothing: `write_files(folder)`
    writes the new files into the staging folder and returns their names; the bundle's other files
    (less `drop`, files made stale) are carried over, and the whole folder is swapped in."""
    path = Path(path)
    meta = read_json(path / CONFIG_FILE)

    def write(stage: Path) -> list[str]:
        names = write_files(stage)
        files = meta.setdefault("files", {})
        for name in drop:
            files.pop(name, None)
        for name in names:
            files[name] = file_sha256(stage / name)
        meta.update(meta_updates)
        write_json(stage / CONFIG_FILE, meta)
        return [*names, CONFIG_FILE]

    write_bundle(path, write, keep_from_old=tuple(n for n in owned_files() if n not in drop))


def update_meta(path: str | os.PathLike, key: str, **updates) -> None:
    """Merge `updates` into config.json's `key` section (figures measured after saving), atomically."""
    path = Path(path)
    meta = read_json(path / CONFIG_FILE)
    meta.setdefault(key, {}).update(updates)
    write_json(path / CONFIG_FILE, meta)
