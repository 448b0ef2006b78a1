"""The three kinds of bundle and what they predict with: an LSTM (`Bundle`, the base of the others),
a tfidf model, and the tuned stack of both. Each registers itself with the format
(classifier.bundle.format.register_kind), which picks the kind from a bundle's config.json.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from classifier.bundle.checks import check_model_fits
from classifier.bundle.format import (
    CLASSIFIER_FILE,
    CONFIG_FILE,
    EXPERT_FILES,
    GENERATOR_KERAS,
    GENERATOR_NGRAM,
    METRICS_FILE,
    check_bundle_destination,
    owned_files,
    register_kind,
    write_bundle,
)
from classifier.classify.metrics import sigmoid
from classifier.config import TrainConfig
from classifier.engine.classifier_net import ClassifierEngine, runs_keras_file
from classifier.engine.generator import Net
from classifier.errors import UserError, slot
from classifier.io.dataset import labelled_split
from classifier.io.files import read_regular
from classifier.io.texts import as_texts
from classifier.io.tokenizer import Tokenizer
from classifier.models.keras_lstm import load_keras
from classifier.models.ngram import KneserNeyTrigram
from classifier.models.stack import blend_proba, tfidf_parts
from classifier.models.tfidf import VOCAB_FILE, WEIGHTS_FILE, TfidfModel
from classifier.models.vectors import FILE as VECTORS_FILE
from classifier.models.vectors import VectorEncoder, VectorPart

ENGINES = ("numpy", "keras")
# rows from which the stack runs its TF-IDF half on a thread beside the LSTM: a thread's start costs
# about as much as one review's whole answer (a server's request)
OVERLAP_MIN_ROWS = 256


@register_kind("lstm", files=(CLASSIFIER_FILE,))
class Bundle:
    """A loaded LSTM bundle: config, tokenizer, and the models, loaded when first used.

    The scikit-learn shape: `predict_proba(texts)` is (n, 2) with columns in `classes_` order
    (0 = does not recommend, 1 = recommends), `predict(texts)` the labels at the bundle's
    threshold. `recommend_proba(texts)` is column 1 alone.

    A multi-class bundle (labels other than 0/1; config.json lists them as `classes`) has a
    softmax head: `predict_proba` is (n, k) in `classes_` order, `predict` the most likely class.
    `predict_proba_ids` is (n, k) for texts encoded already; `proba_ids` the model's own output,
    (n,) P(recommends) for a binary bundle. A bundle without `classes` is the binary 0/1 one.
    `score(texts, labels)` is the accuracy of `predict`."""

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
        self._experts = None
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
                self.meta["metrics"] = json.loads(read_regular(self.path / METRICS_FILE, 64 << 20))
            except (OSError, ValueError, UserError):
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
            raise UserError(f"{self.path} was trained on texts in memory; pass the data file ({slot('data')} CSV)")
        return Path(data or recorded)

    # -- prediction ----------------------------------------------------------------
    # The texts of every public method pass classifier.io.texts: a list, array, Series or one-column
    # frame of str; a bare string is refused; None / NaN is an empty text.
    def predict_proba(self, texts, engine: str | None = None) -> np.ndarray:
        """(n, k) float32 in `classes_` order, rows summing to 1; binary: P(does not recommend), P(recommends)."""
        p = self.proba_texts(as_texts(texts, "predict_proba"), engine=engine)
        return p if self.multiclass else np.column_stack([1 - p, p])

    def predict(self, texts) -> np.ndarray:
        """Labels: the most likely class; binary: 0/1 at the bundle's threshold."""
        p = self.proba_texts(as_texts(texts, "predict"))
        if self.multiclass:
            return self.classes_[np.argmax(p, axis=1)]
        return (p >= self.threshold).astype(np.int64)

    def recommend_proba(self, texts, engine: str | None = None) -> np.ndarray:
        """P(recommends), one float32 per text (binary bundles only)."""
        if self.multiclass:
            raise UserError(f"{self.path} is a multi-class bundle ({len(self.classes_)} classes of "
                            f"{self.config.label_column!r}): it has no P(recommends); use predict_proba")
        return self.proba_texts(as_texts(texts, "recommend_proba"), engine=engine)

    def proba_texts(self, texts: list, engine: str | None = None) -> np.ndarray:
        """`proba_ids` of the texts encoded by `self.encoder`."""
        return self.proba_ids(self.encoder.encode_many(texts), engine=engine)

    def score(self, texts, labels) -> float:
        """The share of `predict(texts)` equal to `labels` (scikit-learn's `score`), on the rows that
        have a text and a label, as `classifier.evaluate` counts them; its (loss, accuracy) is at 0.5."""
        split = labelled_split(texts, labels, self.classes_.tolist() if self.multiclass else None, "score")
        predicted = self.predict(split.x_test)
        truth = split.y_test if not self.multiclass else self.classes_[split.y_test]
        return float(np.mean(predicted == truth))

    def predict_proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        """predict_proba for texts already encoded by `self.encoder`: (n, k) in `classes_` order."""
        p = self.proba_ids(id_lists, engine=engine)
        return p if self.multiclass else np.column_stack([1 - p, p])

    def proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        """The model's own output for encoded texts (scoring encodes once): P(recommends) (n,) for a
        binary bundle, (n, k) for a multi-class one. engine "numpy" runs the NumPy engine, "keras"
        the Keras model, None the bundle's default."""
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

    def explain(self, texts, top: int = 5) -> list:
        """Which words made each call: an Explanation per text (classifier.classify.explain has what the
        numbers mean); `top` words each way in its top_for / top_against."""
        from classifier.classify.explain import explain

        return explain(self, texts, top=top)

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
                f"{self.path} has no generator; train one with train-generator"
            )
        if meta.get("tokenizer_sha256") != self.tokenizer.sha256:
            raise UserError(
                f"the generator in {self.path} was trained with another tokenizer (hash "
                f"{str(meta.get('tokenizer_sha256'))[:12]}, bundle's tokenizer.json {self.tokenizer.sha256[:12]}); "
                f"retrain it with train-generator"
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

    def experts(self) -> dict[str, Net] | None:
        """The steering experts' NumPy networks by sentiment, or None when the generator has none."""
        experts = self.meta.get("generator", {}).get("experts")
        if experts is None:
            return None
        if self._experts is None:
            files = self.meta.get("files", {})
            for name in EXPERT_FILES.values():
                if name not in files:
                    raise UserError(f"{self.path / name} is not recorded in the bundle; retrain its steering experts "
                                    f"(`classifier train-generator`, experts only)")
            self._experts = {side: Net.from_keras(self.path / name, experts["spec"])
                             for side, name in EXPERT_FILES.items()}
        return self._experts

    # -- saving --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle's files to `path` (a new or empty folder, or a bundle to replace)."""
        out = Path(path)
        check_bundle_destination(out)

        def copy(folder: Path) -> list[str]:
            names = [n for n in owned_files() if (self.path / n).is_file()]
            for name in names:
                shutil.copy2(self.path / name, folder / name)
            return names

        write_bundle(out, copy)
        return out


@register_kind("tfidf", files=(VOCAB_FILE, WEIGHTS_FILE))
class TfidfBundle(Bundle):
    """A tfidf bundle: TF-IDF n-gram features and a logistic regression, NumPy only. Its `encoder`
    maps a text to n-gram ids; `tokenizer` is the word tokenizer fitted on the same texts."""

    kind = "tfidf"

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        super().__init__(path, meta, tokenizer)
        self.model = TfidfModel.load(path)
        check_model_fits(path / CONFIG_FILE, meta, tokenizer.config.num_words, None, self.model.n_classes)
        self.encoder = self.model.features

    @property
    def maxlen(self) -> int | None:
        return None  # n-gram features are never truncated

    def keras_classifier(self):
        raise UserError(f"{self.path} is a tfidf bundle: it has no Keras model; use {slot('engine')} numpy")

    def default_engine(self) -> str:
        return "numpy"

    def prepare(self) -> None:
        pass  # the model was read with the bundle; there is no classifier.keras to build an engine from

    def proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        return self.model.predict_proba_ids(id_lists)

    def proba_texts(self, texts: list, engine: str | None = None) -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        return self.model.predict_proba(texts)  # the features scored as found, never made id lists


@register_kind("tfidf+vectors", files=(VOCAB_FILE, WEIGHTS_FILE, VECTORS_FILE))
class TfidfVectorsBundle(TfidfBundle):
    """A tfidf bundle whose logistic regression also reads each text's pooled word vectors
    (classifier.models.vectors; `vectors` in config.json names the package and the files' sha256,
    checked against the installed ones). Its `encoder` gives the n-gram ids with the vector part's
    logits beside them (`EncodedTexts.vector_logits`); it is a tfidf bundle everywhere else."""

    def __init__(self, path: Path, meta: dict, tokenizer: Tokenizer):
        super().__init__(path, meta, tokenizer)
        self.vectors = VectorPart.load(path, meta["vectors"])
        self.encoder = VectorEncoder(self.model.features, self.vectors)

    def proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        extra = getattr(id_lists, "vector_logits", None)
        if extra is None or len(extra) != len(id_lists):
            raise UserError(f"{self.path} reads word vectors beside the n-grams: encode the texts with the "
                            f"bundle's encoder (bundle.encoder.encode_many), not with its tfidf features")
        return sigmoid(self.model.logits_ids(id_lists) + extra).astype(np.float32)

    def proba_texts(self, texts: list, engine: str | None = None) -> np.ndarray:
        if engine == "keras":
            self.keras_classifier()
        # the n-grams scored as found (TfidfBundle's path) plus the vector part's logits
        return sigmoid(self.model.logits_texts(texts) + self.vectors.logits(texts)).astype(np.float32)


@register_kind("stack", files=(CLASSIFIER_FILE, VOCAB_FILE, WEIGHTS_FILE))
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
        return super().proba_ids(id_lists, engine=engine)

    def proba_ids(self, id_lists, engine: str | None = None) -> np.ndarray:
        if len(id_lists) < OVERLAP_MIN_ROWS:
            return blend_proba(self.blend, self.lstm_proba_ids(id_lists, engine=engine),
                               *tfidf_parts(self.tfidf, id_lists))
        # the TF-IDF half runs beside the LSTM: its sorts and lookups release the GIL and fill the
        # cores between the LSTM's steps
        with ThreadPoolExecutor(1) as pool:
            tfidf = pool.submit(tfidf_parts, self.tfidf, id_lists)
            p_lstm = self.lstm_proba_ids(id_lists, engine=engine)
            return blend_proba(self.blend, p_lstm, *tfidf.result())
