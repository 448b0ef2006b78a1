"""Folders and files written whole: staged beside their destination, then renamed into place.

    check_can_write(out, "out")                     # before the work: the first existing parent is writable
    with staging(out, "the SavedModel", "out") as stage:
        write_savedmodel(model, stage)
        swap_in(stage, out)                        # readers see the old folder or the new one, whole

Training (a bundle) and export (a SavedModel, an ONNX file) share these, so the rules for what a
user names as an output live once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifier.errors import UserError, slot
from classifier.io.files import cannot_write_in, umask_mode


def check_can_write(out: Path, field: str) -> None:
    """Say now, before minutes of work, when `out` cannot be made: the folders it needs are made, so
    the first one that exists must take files (a real try, not os.access, which root always passes)."""
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    reason = "not a folder" if not parent.is_dir() else cannot_write_in(parent)
    if reason:
        raise UserError(f"{out}: cannot write in {parent} ({reason}); choose another {slot(field)}")


@contextmanager
def staging(out: Path, what: str, field: str) -> Iterator[Path]:
    """A temp folder in `out`'s folder (renames from it never cross file systems), removed afterwards;
    errors of the file system become one-line UserErrors naming `what` and `flag`."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    except OSError as e:
        raise UserError(f"{out}: cannot write {what} ({e.strerror}); choose another {slot(field)}") from None
    try:
        yield stage
    except OSError as e:
        raise UserError(f"{out}: cannot write {what} ({e.strerror}); "
                        f"free space or choose another {slot(field)}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def swap_in(stage: Path, out: Path) -> None:
    """Put the finished folder `stage` at `out`, replacing an old one: readers see the old or the new, whole."""
    os.chmod(stage, umask_mode(0o777))
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old"))
        try:
            os.replace(out, old / "folder")
        except OSError:
            old.rmdir()  # nothing moved: leave no hidden folder behind
            raise
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link `src` (a file or a folder tree) at `dst`, copying where links are not possible."""
    if src.is_dir() and not src.is_symlink():
        dst.mkdir()
        for child in src.iterdir():
            link_or_copy(child, dst / child.name)
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # no hard links on this file system
        shutil.copy2(src, dst, follow_symlinks=False)
