"""Exports of an LSTM bundle for other runtimes: a TF SavedModel over raw text (the tokenizer in
the graph) and an ONNX model over front-padded ids (`classifier export`, see pipeline.py)."""
