"""The bundle's Keras classifier as an ONNX model over front-padded ids, by Keras' own exporter.

    write_onnx(bundle.keras_classifier(), folder / "model.onnx", metadata={"threshold": "0.5"})

Contract: input `ids` int32 [batch, maxlen] (what `Tokenizer.texts_to_padded` gives), output
`recommend_proba` float32 [batch]. `metadata` goes into the model's metadata_props (onnxruntime:
`session.get_modelmeta().custom_metadata_map`). Keras' exporter runs tf2onnx's
`convert.from_function` on the model's traced call; tf2onnx's own `convert.from_keras` fails on
Keras 3 models (tf2onnx issue #2448), so it is not used.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from classifier.errors import UserError

INPUT = "ids"
OUTPUT = "recommend_proba"
BATCH = "batch"  # the name of the free batch dimension (tf2onnx calls it unk__N)


def write_onnx(model, path: Path, metadata: dict[str, str]) -> None:
    try:
        import onnx
        import tf2onnx  # noqa: F401  (Keras imports it lazily; an ImportError there would be obscure)
    except ImportError as e:
        raise UserError(f"ONNX export needs tf2onnx and onnx ({e}); pip install 'classifier[export]'") from None
    import keras
    import numpy as np

    maxlen = model.inputs[0].shape[1]
    ids = keras.Input(shape=(maxlen,), dtype="int32", name=INPUT)
    # (batch, 1) -> (batch,), named: the ONNX output takes the dict key's name
    proba = keras.layers.Reshape((), name=OUTPUT)(model(ids))
    wrapper = keras.Model(ids, {OUTPUT: proba}, name="recommend")
    wrapper(np.zeros((1, maxlen), dtype=np.int32))  # Keras exports only a model that has been called
    tf2onnx_log = logging.getLogger("tf2onnx")
    level = tf2onnx_log.level
    tf2onnx_log.setLevel(logging.ERROR)  # its INFO lines describe the conversion, not our output
    try:
        with warnings.catch_warnings():
            # Keras' NumPy 2 patch of tf2onnx touches np.object, which warns
            warnings.simplefilter("ignore", FutureWarning)
            wrapper.export(str(path), format="onnx", verbose=False)
    finally:
        tf2onnx_log.setLevel(level)

    proto = onnx.load(str(path))
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
