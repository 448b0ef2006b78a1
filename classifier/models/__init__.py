"""Model builders and fitters: the Keras LSTM, TF-IDF + logistic regression, the tuned stack."""
