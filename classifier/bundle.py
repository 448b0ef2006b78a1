"""The one place that knows a bundle's files.

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
Loading re-hashes the files against config.json, so a tokenizer or model from another run
is refused instead of silently giving wrong predictions. Three kinds of bundle share one
interface (`KINDS`): an LSTM, a tfidf model, and the tuned stack of both.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from classifier.config import TrainConfig
from classifier.engine.classifier_net import ClassifierEngine, runs_keras_file
from classifier.engine.generator import Net
from classifier.errors import UserError
from classifier.io.files import cannot_write_in, file_sha256, umask_mode, write_json
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import load_keras, save_keras
from classifier.models.ngram import KneserNeyTrigram
from classifier.models.stack import blend_proba, tfidf_parts
from classifier.models.tfidf import VOCAB_FILE, WEIGHTS_FILE, TfidfModel

# rows from which the stack runs its TF-IDF half on a thread beside the LSTM: a thread's start
# costs about 1.5 ms, as much as one review's whole answer (a server's request)
OVERLAP_MIN_ROWS = 256

FORMAT = "classifier-bundle/1"
CLASSIFIER_FILE = "classifier.keras"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
GENERATOR_KERAS = "generator.keras"
GENERATOR_HISTORY = "generator_history.csv"
GENERATOR_NGRAM = "generator_ngram.npz"  # the trigram counts the default generator mixes in
CLASSIFIER_FILES = (CLASSIFIER_FILE, TOKENIZER_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, VOCAB_FILE, WEIGHTS_FILE)
GENERATOR_FILES = (GENERATOR_KERAS, GENERATOR_HISTORY, GENERATOR_NGRAM)
OWNED_FILES = CLASSIFIER_FILES + GENERATOR_FILES  # what a bundle may replace in its folder; nothing else
ENGINES = ("numpy", "keras")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path.parent} is not a model bundle: {path.name} is missing; train one with `classifier train --out DIR`"
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


class Bundle:
    """A loaded LSTM bundle: config, tokenizer, and the models, loaded when first used.

    The scikit-learn shape: `predict_proba(texts)` is (n, 2) with columns in `classes_` order
    (0 = does not recommend, 1 = recommends), `predict(texts)` the labels at the bundle's
    threshold. `recommend_proba(texts)` is column 1 alone.

    A multi-class bundle (labels other than 0/1; config.json lists them as `classes`) has a
    softmax head: `predict_proba` is (n, k) in `classes_` order, `predict` the most likely class,
    and `predict_proba_ids` gives (n, k) too. A bundle without `classes` is the binary 0/1 one."""

    kind = "lstm"

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        self.path = path
        self.meta = meta
        self.config = TrainConfig.from_dict(meta["config"])
        self.tokenizer = tokenizer
        self.encoder = tokenizer  # what turns a text into the ids the model reads
        self._keras_classifier = None
        self._numpy_engine = None
        self._generator = None
        self._default_engine = None
        self._scratch = None  # a fit() bundle's private folder, removed with the bundle

    def __repr__(self) -> str:
        metrics = self.metrics
        figures = (f", test [loss, acc] [{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}]"
                   if "test_loss" in metrics else "")
        where = "in memory (not saved)" if self._scratch is not None else str(self.path)
        return f"<classifier.Bundle {self.kind} preset={self.config.preset!r} {where}{figures}>"

    # -- facts -------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    @property
    def metrics(self) -> dict:
        """The test-split figures recorded at training time."""
        if "metrics" not in self.meta:
            try:
                self.meta["metrics"] = json.loads((self.path / METRICS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.meta["metrics"] = {}
        return self.meta["metrics"]

    @property
    def multiclass(self) -> bool:
        """Whether the labels are the user's own classes (a softmax head), not the binary 0/1."""
        return "classes" in self.meta

    @property
    def classes_(self) -> np.ndarray:
        return np.array(self.meta["classes"]) if self.multiclass else np.array([0, 1])

    @property
    def maxlen(self) -> int | None:
        """Ids the model reads at most (later ones are truncated), or None when it reads them all."""
        return self.tokenizer.config.maxlen

    def data_path(self, data: str | os.PathLike | None = None) -> Path:
        """`data` if given, else the file the bundle was trained on."""
        recorded = self.meta.get("data", {}).get("path")
        if data is None and recorded is None:
            raise UserError(f"{self.path} was trained on texts in memory; pass the data file (--data CSV)")
        return Path(data or recorded)

    # -- prediction ----------------------------------------------------------------
    def predict_proba(self, texts, engine: str | None = None) -> np.ndarray:
        """(n, k) float32 in `classes_` order, rows summing to 1; binary: P(does not recommend), P(recommends)."""
        if self.multiclass:
            return self.predict_proba_ids(self.encoder.encode_many(texts), engine=engine)
        p = self.recommend_proba(texts, engine=engine)
        return np.column_stack([1 - p, p])

    def predict(self, texts) -> np.ndarray:
        """Labels: the most likely class; binary: 0/1 at the bundle's threshold."""
        if self.multiclass:
            return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]
        return (self.recommend_proba(texts) >= self.threshold).astype(np.int64)

    def recommend_proba(self, texts, engine: str | None = None) -> np.ndarray:
        """P(recommends), one float32 per text (binary bundles only)."""
        if self.multiclass:
            raise UserError(f"{self.path} is a multi-class bundle ({len(self.classes_)} classes of "
                            f"{self.config.label_column!r}): it has no P(recommends); use predict_proba")
        return self.predict_proba_ids(self.encoder.encode_many(texts), engine=engine)

    def predict_proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        """recommend_proba for texts already encoded by `self.encoder` (scoring encodes once); (n, k)
        for a multi-class bundle. engine "numpy" runs the NumPy engine, "keras" the Keras model, None
        the bundle's default."""
        engine = engine or self.default_engine()
        if engine == "numpy":
            return self.numpy_engine().predict_ids(id_lists)
        if engine != "keras":
            raise UserError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
        x = self.tokenizer.pad(id_lists)
        shape = (-1, len(self.classes_)) if self.multiclass else (-1,)
        if not len(x):
            return np.zeros((0, *shape[1:]), dtype=np.float32)
        return self.keras_classifier().predict(x, batch_size=512, verbose=0).reshape(shape)

    # -- the models --------------------------------------------------------------------
    def keras_classifier(self):
        if self._keras_classifier is None:
            self._keras_classifier = load_keras(self.path / CLASSIFIER_FILE)
        return self._keras_classifier

    def numpy_engine(self) -> ClassifierEngine:
        """The classifier as a NumPy engine built from classifier.keras without TensorFlow
        (UserError if the engine cannot run the model)."""
        if self._numpy_engine is None:
            tok = self.tokenizer.config
            self._numpy_engine = ClassifierEngine.from_keras_file(self.path / CLASSIFIER_FILE, tok.padding,
                                                                  tok.truncating)
        return self._numpy_engine

    def prepare(self) -> None:
        """Build now what scoring needs (the NumPy engine where it runs the model), so that a
        server's first request does not pay for it."""
        if self.default_engine() == "numpy":
            self.numpy_engine()

    def default_engine(self) -> str:
        """numpy when the engine can run the bundle's model (decided from classifier.keras's config,
        no TensorFlow), else keras."""
        if self._default_engine is None:
            self._default_engine = "numpy" if runs_keras_file(self.path / CLASSIFIER_FILE) else "keras"
        return self._default_engine

    def generator(self) -> Net:
        """The text generator's NumPy network (and its n-gram partner), checked against this tokenizer."""
        if self._generator is None:
            self._generator = self._load_generator()
        return self._generator

    def _load_generator(self) -> Net:
        meta, files = self.meta.get("generator"), self.meta.get("files", {})
        if not meta:
            raise UserError(
                f"{self.path} has no generator; train one with `classifier train-generator --model {self.path}`"
            )
        if meta.get("tokenizer_sha256") != self.tokenizer.sha256:
            raise UserError(
                f"the generator in {self.path} was trained with another tokenizer (hash "
                f"{str(meta.get('tokenizer_sha256'))[:12]}, bundle's tokenizer.json {self.tokenizer.sha256[:12]}); "
                f"retrain it with `classifier train-generator --model {self.path}`"
            )
        if GENERATOR_KERAS not in files:
            raise UserError(f"{self.path / GENERATOR_KERAS} is not recorded in the bundle; retrain the generator")
        ngram = None
        if meta["spec"].get("ngram_weight"):
            if GENERATOR_NGRAM not in files:
                raise UserError(f"{self.path / GENERATOR_NGRAM} is not recorded in the bundle; retrain the generator")
            try:
                ngram = KneserNeyTrigram.load(self.path / GENERATOR_NGRAM)
            except (OSError, ValueError, KeyError) as e:
                raise UserError(f"{self.path / GENERATOR_NGRAM} is not an n-gram file of this tool ({e}); "
                                f"retrain the generator") from None
        return Net.from_keras(self.path / GENERATOR_KERAS, meta["spec"], ngram)

    # -- saving --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle's files to `path` (a new or empty folder, or a bundle to replace)."""
        out = Path(path)
        check_bundle_destination(out)

        def copy(folder: Path) -> list[str]:
            names = [n for n in OWNED_FILES if (self.path / n).is_file()]
            for name in names:
                shutil.copy2(self.path / name, folder / name)
            return names

        write_bundle(out, copy)
        return out


class TfidfBundle(Bundle):
    """A tfidf bundle: TF-IDF n-gram features and a logistic regression, NumPy only. Its `encoder`
    maps a text to n-gram ids; `tokenizer` is the word tokenizer fitted on the same texts."""

    kind = "tfidf"

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        super().__init__(path, meta, tokenizer)
        self.model = TfidfModel.load(path)
        self.encoder = self.model.features

    @property
    def maxlen(self) -> int | None:
        return None  # n-gram features are never truncated

    def keras_classifier(self):
        raise UserError(f"{self.path} is a tfidf bundle: it has no Keras model; use --engine numpy")

    def default_engine(self) -> str:
        return "numpy"

    def prepare(self) -> None:
        pass  # the model was read with the bundle; there is no classifier.keras to build an engine from

    def predict_proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        return self.model.predict_proba_ids(id_lists)


class StackBundle(Bundle):
    """The tuned preset: an LSTM bundle whose probability is stacked with a TF-IDF model over the
    same word ids (and, with `aux` in the blend, its rating regression); `blend` in config.json."""

    kind = "stack"

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        super().__init__(path, meta, tokenizer)
        self.tfidf = TfidfModel.load(path)
        self.blend = meta["blend"]

    def lstm_proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        """The LSTM's probability alone, without its TF-IDF partner."""
        return super().predict_proba_ids(id_lists, engine=engine)

    def predict_proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        if len(id_lists) < OVERLAP_MIN_ROWS:
            return blend_proba(self.blend, self.lstm_proba_ids(id_lists, engine=engine),
                               *tfidf_parts(self.tfidf, id_lists))
        # the TF-IDF half runs beside the LSTM: its sorts and lookups release the GIL and fill the
        # cores between the LSTM's steps (~8% off a whole-process `score` of the test split)
        with ThreadPoolExecutor(1) as pool:
            tfidf = pool.submit(tfidf_parts, self.tfidf, id_lists)
            p_lstm = self.lstm_proba_ids(id_lists, engine=engine)
            return blend_proba(self.blend, p_lstm, *tfidf.result())


KINDS = {"lstm": Bundle, "tfidf": TfidfBundle, "stack": StackBundle}


def kind_of(meta: dict) -> str:
    if meta["config"].get("model") == "tfidf":
        return "tfidf"
    return "stack" if "blend" in meta else "lstm"


def load(path: str | os.PathLike) -> Bundle:
    """The bundle in folder `path`, every recorded file hash-checked."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(
            f"{path}: no such model folder; train one with `classifier train --out {path}` or pass --model DIR"
        )
    meta = read_json(path / CONFIG_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
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
        if not f.is_file():
            raise UserError(f"{path} is not a complete bundle: {name} is missing; retrain the bundle")
        if file_sha256(f) != sha:
            raise UserError(
                f"{f} is not the file this bundle was saved with (sha256 differs); "
                f"restore it or retrain the bundle"
            )
    return KINDS[kind_of(meta)](path, meta, tokenizer)


# -- writing -------------------------------------------------------------------------
def is_bundle(folder: Path) -> bool:
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        return folder.is_dir() and meta.get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_bundle_destination(out: Path) -> None:
    """Refuse to write a bundle at `out` unless it is absent, an empty folder, or a bundle; and say
    now, not after minutes of training, when its parent cannot be written."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or (any(out.iterdir()) and not is_bundle(out)):
            raise UserError(f"{out} exists and is not a model bundle; choose a new or empty folder for --out "
                            f"(only a bundle is replaced)")
    parent = out.parent
    while not parent.exists():  # the folders --out needs are made, so check the first that exists
        parent = parent.parent
    reason = "not a folder" if not parent.is_dir() else cannot_write_in(parent)
    if reason:
        raise UserError(f"{out}: cannot write in {parent} ({reason}); choose another --out")


def swap_in(stage: Path, out: Path) -> None:
    """Put the finished folder `stage` at `out`, replacing an old one: readers see the old or the new, whole."""
    os.chmod(stage, umask_mode(0o777))
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old"))
        os.replace(out, old / "bundle")
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)


def write_bundle(out: Path, write_files, keep_from_old: tuple[str, ...] = ()) -> None:
    """Stage a bundle folder beside `out` and swap it in whole. `write_files(stage)` writes the
    bundle's own files; the files of an old bundle at `out` that the bundle does not own (the
    user's notes, plots, ...) and those named in `keep_from_old` are carried over as they are."""
    check_bundle_destination(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    except OSError as e:
        raise UserError(f"{out}: cannot write the bundle ({e.strerror}); choose another --out") from None
    try:
        written = set(write_files(stage)) | {p.name for p in stage.iterdir()}
        if out.is_dir():
            for f in out.iterdir():
                if f.name in written or (f.name in OWNED_FILES and f.name not in keep_from_old):
                    continue
                link_or_copy(f, stage / f.name)
        swap_in(stage, out)
    except OSError as e:
        raise UserError(f"{out}: cannot write the bundle ({e.strerror}); free space or choose another --out") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link `src` (a file or a folder tree) at `dst`, copying where links are not possible."""
    if src.is_dir() and not src.is_symlink():
        dst.mkdir()
        for child in src.iterdir():
            link_or_copy(child, dst / child.name)
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # no hard links on this file system
        shutil.copy2(src, dst, follow_symlinks=False)


def save_bundle(out: str | os.PathLike, *, model, tokenizer: Tokenizer, config: TrainConfig,
                history: list[dict], metrics: dict, extra: dict | None = None, write_files=None,
                keep_generator: bool = False) -> Path:
    """Write a classifier bundle at `out`, whole or not at all. A model that is not Keras
    (model=None, the tfidf preset) passes `write_files(folder) -> names`. With `keep_generator`,
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
        files = [TOKENIZER_FILE]
        if model is not None:
            save_keras(model, stage / CLASSIFIER_FILE)
            files.insert(0, CLASSIFIER_FILE)
        if write_files is not None:
            files += write_files(stage)
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

    write_bundle(path, write, keep_from_old=tuple(n for n in OWNED_FILES if n not in drop))


def update_meta(path: str | os.PathLike, key: str, **updates) -> None:
    """Merge `updates` into config.json's `key` section (figures measured after saving), atomically."""
    path = Path(path)
    meta = read_json(path / CONFIG_FILE)
    meta.setdefault(key, {}).update(updates)
    write_json(path / CONFIG_FILE, meta)
