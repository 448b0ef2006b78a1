"""NumPy forward passes that give Keras' outputs without TensorFlow: the LSTM cell, the
classifier engine and the generator network."""
