"""The one exception type for user mistakes: the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """Bad input or a bad bundle: say what is wrong and what to do, no traceback."""
