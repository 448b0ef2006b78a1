"""The classifier's stages: train, evaluate, predict, score, explain, compare, report, and the metrics they share."""
