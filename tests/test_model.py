"""The seed classifier is the reference network, layer for layer."""

from classifier.config import preset
from classifier.models.keras_lstm import build_classifier


def test_seed_model_layers_and_parameter_count():
    model = build_classifier(preset("reference"))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "LSTM", "Dense"]
    emb, lstm, dense = model.layers
    assert (emb.input_dim, emb.output_dim, emb.mask_zero) == (3000, 300, False)
    assert lstm.units == 64
    assert dense.units == 1 and dense.activation.__name__ == "sigmoid"
    assert model.input_shape == (None, 400)
    assert model.count_params() == 993_505
