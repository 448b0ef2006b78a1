"""Model bundles: the folder format (classifier.bundle.format) and the kinds that predict with one
(classifier.bundle.predictors). Importing this package registers every kind, so `load` knows them all.

    bundle = load("saved_models/default")
"""

from classifier.bundle.format import (
    CLASSIFIER_FILE,
    CONFIG_FILE,
    EXPERT_FILES,
    FORMAT,
    GENERATOR_FILES,
    GENERATOR_HISTORY,
    GENERATOR_KERAS,
    GENERATOR_NGRAM,
    HISTORY_FILE,
    METRICS_FILE,
    TOKENIZER_FILE,
    check_bundle_destination,
    is_bundle,
    load,
    read_json,
    register_kind,
    save_bundle,
    update_bundle,
    update_meta,
    write_bundle,
)
from classifier.bundle.predictors import ENGINES, Bundle, StackBundle, TfidfBundle

__all__ = ["CLASSIFIER_FILE", "CONFIG_FILE", "ENGINES", "EXPERT_FILES", "FORMAT", "GENERATOR_FILES",
           "GENERATOR_HISTORY", "GENERATOR_KERAS", "GENERATOR_NGRAM", "HISTORY_FILE", "METRICS_FILE", "TOKENIZER_FILE",
           "Bundle", "StackBundle", "TfidfBundle", "check_bundle_destination", "is_bundle", "load", "read_json",
           "register_kind", "save_bundle", "update_bundle", "update_meta", "write_bundle"]
