"""Atomic file writes and file hashes.

    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)

A temp file beside the destination is renamed into place only when complete, so a
reader sees the old file or the new one, never half of one. `atomic_output` adds the rules for
what a user names as an output: checked before the work, devices written in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifier.errors import UserError, slot


def umask_mode(mode: int) -> int:
    """`mode` less the process umask: temp files are made 0600, finished ones should not be."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator:
    """A file object whose content appears at `path` whole, or not at all if the block fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
        os.chmod(tmp, umask_mode(0o666))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON atomically (indented, UTF-8, a final newline)."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_regular(path: str | os.PathLike):
    """`path` opened for reading if it is a regular file (links followed); a FIFO, a device or a
    folder is a UserError, found without waiting on it (a FIFO's open would block until a writer)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # FileNotFoundError is the caller's to word
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"{path} is not a regular file (a FIFO, a device or a folder); a bundle holds "
                            f"only files: restore it or retrain the bundle")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file `path`, refused (UserError) when it holds more than `limit`: a
    bundle's JSON files are read whole, so their size is bounded before they are."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{path} is over {limit >> 20} MiB, more than this file of a bundle ever holds; "
                        f"restore the bundle's own file or retrain it")
    return data


def cannot_write_in(folder: Path) -> str | None:
    """Why no file can be made in `folder` (a read-only file system, no permission), or None. A real
    try, not os.access: root passes every permission check but not a read-only mount."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".classifier-probe.")
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    os.unlink(probe)
    return None


def is_special(path: Path) -> bool:
    """A path that exists and is not a regular file once links are followed: a device, a fifo."""
    return path.exists() and not path.is_file() and not path.is_dir()


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether `a` and `b` name one file, existing or not: the same resolved path (links followed,
    dangling ones too, and `sub/..` taken out), or the same inode (hard links, bind mounts)."""
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Nothing the user owns is replaced without `overwrite` (an empty folder is taken): say so now,
    before minutes of work."""
    if overwrite or not path.exists():  # a link to nothing yet: the output is written where it points
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise UserError(f"{path} already exists; pass {{field}} to replace it, or choose another folder",
                    field="overwrite", file=path)


def resolved(path: str | os.PathLike) -> Path:
    """What writing `path` changes: absolute, every link followed (a dangling link to where it points)
    and `..` taken out. Outputs are compared and written by this name, so two spellings of one file
    (`o/a.csv` and `o/sub/../a.csv`, or a link to it) are found before any work."""
    return Path(os.path.realpath(path))


def names_folder(path: str | os.PathLike) -> bool:
    """`newdir/`, `.` or `..`: the user named a folder, whether or not it exists yet."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).name in ("", ".", "..")


def check_output(path: Path, overwrite: bool, field: str = "out") -> None:
    """Say now, before the work, why `path` cannot take an output: a folder, a file that exists
    (without `overwrite`), a missing or unwritable folder. A device or fifo is fine: it is written
    in place."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give {slot(field)} a file name")
    if is_special(path):
        return
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError(f"{path} already exists; "
                        f"pass {slot('overwrite')} to replace it or choose another {slot(field)}")
    folder = (path.resolve() if path.is_symlink() else path).parent
    if not folder.is_dir():
        raise UserError(f"{path}: folder {folder} does not exist; create it or choose another {slot(field)}")
    reason = cannot_write_in(folder)
    if reason:
        raise UserError(f"{path}: folder {folder} is not writable ({reason}); choose another {slot(field)}")


@contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, field: str = "out") -> Iterator:
    """A binary file whose content appears at `path` whole, or not at all if the block fails.

    A regular file (or a link to one) is replaced by a rename, never half-written; a device or a
    fifo (/dev/null, /dev/stdout, a pipe) is written in place, never renamed over. Errors of the
    file system become UserErrors naming `flag`."""
    path = Path(path)
    check_output(path, overwrite, field)
    if is_special(path):
        try:
            with open(path, "wb") as f:
                yield f
        except BrokenPipeError:
            raise
        except OSError as e:
            raise UserError(f"{path}: cannot write it ({e.strerror}); choose another {slot(field)}") from None
        return
    target = path.resolve() if path.is_symlink() else path  # replace what the link points at, keep the link
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"{path}: cannot write in {target.parent} ({e.strerror}); "
                        f"choose another {slot(field)}") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
        except BrokenPipeError:
            raise
        except OSError as e:
            raise UserError(f"{path}: cannot write it ({e.strerror}); "
                            f"free space or choose another {slot(field)}") from None
        if not overwrite and target.exists():
            raise UserError(f"{path} appeared while this ran; pass {slot('overwrite')} to replace it")
        try:
            os.chmod(tmp, umask_mode(0o666))
            os.replace(tmp, target)
        except OSError as e:
            raise UserError(f"{path}: cannot write it ({e.strerror}); choose another {slot(field)}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
