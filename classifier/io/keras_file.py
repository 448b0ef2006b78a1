"""Read a .keras file without TensorFlow: its model config and weights, with zip + h5py.

    config, arrays = read_keras_file("saved_models/default/classifier.keras")
    arrays[f"{keras_layer_path('lstm')}/cell/vars/0"]     # the LSTM kernel

Keras names each layer's group by its class, in order: layers/embedding, layers/lstm,
layers/lstm_1, ..., layers/dense, layers/dense_1; an LSTM's weights are under cell/vars/0..2.
The NumPy engines read the bundle's own model files through here, so weights are stored once.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from classifier.errors import UserError


def read_keras_file(path: str | os.PathLike, weights: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """A .keras file's model config and its weights by HDF5 path (none if not `weights`)."""
    import h5py  # here: reading the config alone (is this model one the engine runs?) needs no HDF5

    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(Path(path)) as z:
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


def saved_layers(model_config: dict) -> tuple[list[tuple[str, dict]], int | None]:
    """(class name, config) of each layer of a saved model's config.json, and its input length."""
    def as_dict(x) -> dict:
        return x if isinstance(x, dict) else {}

    inner = as_dict(as_dict(model_config).get("config"))
    entries = inner.get("layers") if isinstance(inner.get("layers"), list) else []
    layers = [(as_dict(e).get("class_name"), as_dict(as_dict(e).get("config"))) for e in entries]
    shape = next((config.get("batch_shape") for kind, config in layers if kind == "InputLayer"), None)
    shape = shape or inner.get("build_input_shape")
    return layers, (shape[1] if isinstance(shape, list) and len(shape) == 2 else None)
