"""A TF SavedModel over raw review text: the graph tokenizer, then the bundle's Keras model.

    write_savedmodel(bundle.keras_classifier(), bundle.tokenizer, bundle.threshold, folder)

Signatures (`tf.saved_model.load(folder).signatures[...]`, or TF Serving):
    serving_default   text: string [batch] -> recommend_proba: float32 [batch], recommend: int64 [batch]
    tokenize          text: string [batch] -> ids: int32 [batch, maxlen], what the model reads
Only core TensorFlow ops: loading needs neither Keras nor this package.
Imports TensorFlow: the export pipeline imports this module only after its checks.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from classifier.export.graph_tokenizer import GraphTokenizer
from classifier.io.tokenizer import Tokenizer

TEXT = tf.TensorSpec([None], tf.string, name="text")


class TextClassifier(tf.Module):
    """Tokenizer and Keras model as one module, so saving tracks the table and the weights."""

    def __init__(self, model, tokenizer: Tokenizer, threshold: float):
        super().__init__(name="classifier")
        self.tokenizer = GraphTokenizer(tokenizer)
        self.model = model
        self.threshold = float(threshold)

    @tf.function(input_signature=[TEXT])
    def serve(self, text):
        proba = tf.reshape(self.model(self.tokenizer(text), training=False), [-1])
        # compared in float64, as the bundle compares its float32 probabilities with a Python float
        recommend = tf.cast(tf.cast(proba, tf.float64) >= self.threshold, tf.int64)
        return {"recommend_proba": proba, "recommend": recommend}

    @tf.function(input_signature=[TEXT])
    def tokenize(self, text):
        return {"ids": self.tokenizer(text)}


def write_savedmodel(model, tokenizer: Tokenizer, threshold: float, folder: Path) -> None:
    module = TextClassifier(model, tokenizer, threshold)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve,
                                                         "tokenize": module.tokenize})
