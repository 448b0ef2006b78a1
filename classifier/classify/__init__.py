"""The classifier's stages: train, evaluate, predict, score, compare, report, and the metrics they share."""
