"""stdin and stdout, the same for every command: closed or full streams are one-line errors.

    raw = stdin_binary()              # sys.stdin's bytes; UserError when stdin is closed (`<&-`)
    out = Stdout()                    # text to stdout; a closed (`>&-`) or full (`> /dev/full`) one is a UserError
    out.write("0.91\\t1\\tok\\tlove it\\n")
    finish_stdout()                   # at the end of a command: flush, and say so if that fails

What is read from stdin is decoded as `score` decodes files (classifier.io.records.open_source:
a BOM dropped, any line end); this module only finds the streams and words their failures.
"""

from __future__ import annotations

import os
import sys

from classifier.errors import UserError


def stdin_binary():
    """stdin's byte stream (the text stream itself when it has none, as under a test's redirect)."""
    if sys.stdin is None or getattr(sys.stdin, "closed", False):
        raise UserError("stdin is closed; pass the input as a file or pipe it in")
    return getattr(sys.stdin, "buffer", sys.stdin)


def stdout_binary():
    """stdout's byte stream, for output written as bytes (`score -o -`)."""
    if sys.stdout is None or getattr(sys.stdout, "closed", False):
        raise UserError("stdout is closed; give an output file (-o FILE) or leave stdout open")
    return sys.stdout.buffer


def stdout_error(e: OSError) -> UserError:
    return UserError(f"cannot write to stdout ({e.strerror or e}); free space or send the output elsewhere")


class Stdout:
    """sys.stdout for a command's text: the stream's failures (but a reader going away, which the
    CLI handles as `| head` expects) become UserErrors."""

    def __init__(self):
        if sys.stdout is None or getattr(sys.stdout, "closed", False):
            raise UserError("stdout is closed; leave it open or send it to a file (> FILE)")
        self.stream = sys.stdout

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise stdout_error(e) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise stdout_error(e) from None


def finish_stdout() -> None:
    """Flush stdout at the end of a command; UserError if that fails (a full disk)."""
    if sys.stdout is not None and not getattr(sys.stdout, "closed", False):
        Stdout().flush()


def drop_stdout() -> None:
    """After a failed write: point stdout at /dev/null, so that Python's own flush at exit does not
    print a second error (and a traceback) about the same stream."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
            pass
