"""The one place that knows a bundle's files.

    bundle = load("saved_models/default")
    bundle.predict_proba(["love it", "it ripped"])

A bundle is a folder:
    classifier.keras   plain Keras model over front-padded ids (no optimizer state); the NumPy
                       engine (classifier.engine) reads the same file without TensorFlow
    tokenizer.json     the shared tokenizer (JSON, never pickle)
    config.json        every setting, data sha256, versions, and the sha256 of each file
    history.csv        per-epoch training history
    metrics.json       test-split figures
Loading re-hashes the files against config.json, so a tokenizer or model from
another run is refused instead of silently giving wrong predictions.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from classifier.config import DEFAULT_DATA, TrainConfig
from classifier.data import file_sha256
from classifier.errors import UserError, import_tensorflow_quietly
from classifier.files import atomic_write, umask_mode
from classifier.tokenizer import Tokenizer

FORMAT = "classifier-bundle/1"
CLASSIFIER_FILE = "classifier.keras"
ENGINES = ("numpy", "keras")
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"


def write_json(path: Path, obj) -> None:
    """Write JSON atomically: a temp file beside it, then rename."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def check_bundle_destination(out: Path) -> None:
    """Refuse to replace anything at `out` but a bundle: a mistyped --out must not delete a folder of data."""
    if not out.exists():
        return
    if out.is_dir() and not any(out.iterdir()):
        return
    try:
        is_bundle = out.is_dir() and json.loads((out / CONFIG_FILE).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        is_bundle = False
    if not is_bundle:
        raise UserError(f"{out} exists and is not a model bundle; choose a new or empty folder for --out "
                        f"(only a bundle is replaced)")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path.parent} is not a model bundle: {path.name} is missing; train one with `classifier train --out DIR`"
        ) from None
    except ValueError as e:
        raise UserError(f"{path} is not valid JSON ({e}); retrain the bundle") from None


def package_versions() -> dict:
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for name in ("classifier", "tensorflow", "keras", "numpy", "pandas", "scikit-learn"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def read_keras_file(path: Path, weights: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """A .keras file's model config and its weights by HDF5 path (none if not `weights`), without
    TensorFlow (zip + h5py).

    Keras names each layer's group by its class, in order: layers/embedding, layers/lstm,
    layers/lstm_1, ..., layers/dense, layers/dense_1; an LSTM's weights are under cell/vars/0..2.
    """
    import io
    import zipfile

    import h5py

    arrays = {}
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            if not weights:
                return config, arrays
            with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
                h5.visititems(lambda name, obj: arrays.__setitem__(name, np.asarray(obj, np.float32))
                              if isinstance(obj, h5py.Dataset) else None)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise UserError(f"{path} is not a Keras model saved by this tool ({e}); retrain it") from None
    return config, arrays


def keras_layer_path(kind: str, i: int = 0) -> str:
    """HDF5 group of the i-th layer of a kind ("embedding", "lstm", "dense") in a .keras file."""
    return f"layers/{kind}{f'_{i}' if i else ''}"


class Bundle:
    """A loaded bundle: config, tokenizer, and the models, loaded when first used."""

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        self.path = path
        self.meta = meta
        self.config = TrainConfig.from_dict(meta["config"])
        self.tokenizer = tokenizer
        self._keras_classifier = None
        self._numpy_engine = None
        self._default_engine = None

    def data_path(self, data: str | os.PathLike | None = None) -> Path:
        """`data` if given, else the file the bundle was trained on, else the default data file."""
        return Path(data or self.meta.get("data", {}).get("path") or DEFAULT_DATA)

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    def keras_classifier(self):
        if self._keras_classifier is None:
            self._keras_classifier = load_keras(self.path / CLASSIFIER_FILE)
        return self._keras_classifier

    def numpy_engine(self):
        """The classifier as a `classifier.engine.ClassifierEngine`, built from classifier.keras
        without TensorFlow (UserError if the engine cannot run the model). An old bundle's
        classifier.npz, if any, is not read: it held the same weights."""
        if self._numpy_engine is None:
            from classifier.engine import ClassifierEngine

            tok = self.tokenizer.config
            self._numpy_engine = ClassifierEngine.from_keras_file(self.path / CLASSIFIER_FILE, tok.padding,
                                                                  tok.truncating)
        return self._numpy_engine

    def default_engine(self) -> str:
        """numpy when the engine can run the bundle's model (decided from classifier.keras's config,
        no TensorFlow), else keras."""
        if self._default_engine is None:
            from classifier.engine import runs_keras_file

            self._default_engine = "numpy" if runs_keras_file(self.path / CLASSIFIER_FILE) else "keras"
        return self._default_engine

    def predict_proba(self, texts, batch_size: int = 512, engine: str | None = None) -> np.ndarray:
        """Probability of recommending, one float32 per text; engine "keras" runs the Keras model,
        None the bundle's default."""
        return self.predict_proba_ids(self.tokenizer.encode_many(texts), batch_size=batch_size, engine=engine)

    def predict_proba_ids(self, id_lists, batch_size: int = 512, engine: str | None = None) -> np.ndarray:
        """predict_proba for texts already encoded by `self.tokenizer.encode` (scoring tokenizes once).

        `batch_size` is the model.predict batch of the Keras engine; the NumPy engine sizes its own chunks.
        """
        engine = engine or self.default_engine()
        if engine == "numpy":
            return self.numpy_engine().predict_ids(id_lists)
        if engine != "keras":
            raise UserError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
        x = self.tokenizer.pad(id_lists)
        if not len(x):
            return np.zeros(0, dtype=np.float32)
        return self.keras_classifier().predict(x, batch_size=batch_size, verbose=0).reshape(-1)


def load_keras(path: Path):
    import_tensorflow_quietly()
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (OSError, ValueError) as e:
        raise UserError(f"{path} could not be loaded as a Keras model ({e}); retrain the bundle") from None


def load(path: str | os.PathLike) -> Bundle:
    path = Path(path)
    if not path.is_dir():
        raise UserError(
            f"{path}: no such model folder; train one with `classifier train --out {path}` or pass --model DIR"
        )
    meta = read_json(path / CONFIG_FILE)
    if meta.get("format") != FORMAT or "config" not in meta:
        raise UserError(f"{path / CONFIG_FILE} is not the config of a model bundle; retrain the bundle")
    tokenizer = Tokenizer.load(path / TOKENIZER_FILE)
    want = meta.get("tokenizer_sha256")
    if tokenizer.sha256 != want:
        raise UserError(
            f"{path / TOKENIZER_FILE} does not match the model in {path} (tokenizer hash "
            f"{tokenizer.sha256[:12]}, model trained with {str(want)[:12]}); restore the bundle's "
            f"own tokenizer.json or retrain"
        )
    for name, sha in meta.get("files", {}).items():
        f = path / name
        if not f.exists():
            raise UserError(f"{path} is not a complete bundle: {name} is missing; retrain the bundle")
        if file_sha256(f) != sha:
            raise UserError(
                f"{f} is not the file this bundle was saved with (sha256 differs); "
                f"restore it or retrain the bundle"
            )
    if meta["config"].get("model") == "tfidf":
        from classifier.baseline import TfidfBundle

        return TfidfBundle(path, meta, tokenizer)
    if "blend" in meta:
        from classifier.baseline import BlendBundle

        return BlendBundle(path, meta, tokenizer)
    return Bundle(path, meta, tokenizer)


def save_keras(model, path: Path) -> None:
    """Save weights and architecture only: a clone without the optimizer state."""
    # from_config gives an uncompiled twin; clone_model would carry the compile state along
    export = model.__class__.from_config(model.get_config())
    export.set_weights(model.get_weights())
    export.save(path)


def add_files(path: Path, names: list[str], **meta_updates) -> None:
    """Record new or rewritten files (and metadata) in an existing bundle's config.json."""
    meta = read_json(path / CONFIG_FILE)
    for name in names:
        meta.setdefault("files", {})[name] = file_sha256(path / name)
    meta.update(meta_updates)
    write_json(path / CONFIG_FILE, meta)


def swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder `tmp` at `out`, replacing an old one: readers see the old or the new, whole."""
    os.chmod(tmp, umask_mode(0o777))
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old"))
        os.replace(out, old / "bundle")
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def update_bundle(path: str | os.PathLike, write_files, drop: tuple[str, ...] = (), **meta_updates) -> None:
    """Add or replace files of an existing bundle and record them, all or nothing: `write_files(folder)`
    writes the new files into an empty folder and returns their names; they join hard links of the
    bundle's other files (less `drop`, files made stale) in a staging copy, which is swapped in whole."""
    path = Path(path)
    meta = read_json(path / CONFIG_FILE)
    stage = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp"))
    try:
        new = stage / ".new"
        new.mkdir()
        names = write_files(new)
        for f in path.iterdir():
            if f.is_file() and f.name not in names and f.name not in drop:
                try:
                    os.link(f, stage / f.name)
                except OSError:  # no hard links on this file system
                    shutil.copy2(f, stage / f.name)
        for name in drop:
            meta.get("files", {}).pop(name, None)
        for name in names:
            os.replace(new / name, stage / name)
            meta.setdefault("files", {})[name] = file_sha256(stage / name)
        new.rmdir()
        meta.update(meta_updates)
        write_json(stage / CONFIG_FILE, meta)  # a new file: the linked original is untouched
        swap_in(stage, path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def save_bundle(out: str | os.PathLike, *, model, tokenizer: Tokenizer, config: TrainConfig,
                history: list[dict], metrics: dict, extra: dict | None = None, write_files=None) -> Path:
    """Write every file into a temp folder, then swap it in: a bundle is whole or absent.

    A model that is not Keras (model=None, the tfidf baseline) passes `write_files(folder) -> names`.
    """
    import pandas as pd

    out = Path(out)
    check_bundle_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    try:
        files = [TOKENIZER_FILE]
        if model is not None:
            save_keras(model, tmp / CLASSIFIER_FILE)
            files.insert(0, CLASSIFIER_FILE)
        if write_files is not None:
            files += write_files(tmp)
        tokenizer.save(tmp / TOKENIZER_FILE)
        pd.DataFrame(history).to_csv(tmp / HISTORY_FILE, index_label="epoch")
        write_json(tmp / METRICS_FILE, metrics)
        meta = {
            "format": FORMAT,
            "config": config.to_dict(),
            "tokenizer_sha256": tokenizer.sha256,
            "versions": package_versions(),
            **(extra or {}),
            "files": {n: file_sha256(tmp / n) for n in files},
        }
        write_json(tmp / CONFIG_FILE, meta)
        swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
