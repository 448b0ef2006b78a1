"""The text-generation head: train, evaluate and sample a language model over the bundle's tokenizer."""
