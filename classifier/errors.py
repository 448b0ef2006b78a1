"""The one exception type for user mistakes (the CLI prints it as one line), and a quiet TensorFlow import."""

import os
import sys


class UserError(Exception):
    """Bad input or a bad bundle: say what is wrong and what to do, no traceback."""


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 muted: its C++ start-up lines ("All log messages
    before absl::InitializeLog()", "Could not find cuda drivers") ignore TF_CPP_MIN_LOG_LEVEL.
    An import error still surfaces: the exception is raised after stderr is restored."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
