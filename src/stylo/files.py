"""Input files checked before they are opened: only regular files are read, and settings files are read within a
size bound. A FIFO, a device (``/dev/zero``), a socket, a directory or a symlink loop is refused with one line
instead of blocking, reading forever or raising from deep inside a decoder.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from stylo.errors import StyloError

MAX_SETTINGS_BYTES = 1_000_000  # a TOML settings file or a sweep file; real ones are a few hundred bytes


def shown(path: Path | str) -> str:
    """A path as it may appear in a one-line message: control characters (a newline in a file name) escaped."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def regular_file(path: Path | str, what: str = "file") -> Path:
    """``path`` if it names a regular file (through symlinks); otherwise a one-line :class:`StyloError` that says
    what it is. Nothing is opened, so a FIFO cannot block here."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise StyloError(f"{what} not found: {shown(path)}") from None
    except PermissionError:
        raise StyloError(f"{what} cannot be read (permission denied): {shown(path)}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StyloError(f"{what} is a symlink loop: {shown(path)}") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise StyloError(f"{what} has a name that is too long: {shown(path)[:80]}…") from None
        raise StyloError(f"{what} cannot be read ({exc.strerror or exc}): {shown(path)}") from None
    except (RuntimeError, ValueError) as exc:  # pathlib's own loop detection; a NUL byte in the name
        raise StyloError(f"{what} cannot be read ({exc}): {shown(path)}") from None
    if stat.S_ISDIR(mode):
        raise StyloError(f"{what} is a directory, not a file: {shown(path)}")
    if not stat.S_ISREG(mode):
        raise StyloError(f"{what} is not a regular file (a pipe, device or socket): {shown(path)}")
    return path


def open_regular(path: Path | str, what: str = "file") -> BinaryIO:
    """The regular file at ``path`` opened for binary reading, or a one-line :class:`StyloError`.

    The file is opened non-blocking and checked again on its descriptor, so a FIFO swapped in after the first
    check still cannot block (for a regular file, non-blocking changes nothing)."""
    path = regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise StyloError(f"{what} cannot be read ({exc.strerror or exc}): {shown(path)}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StyloError(f"{what} is not a regular file (a pipe, device or socket): {shown(path)}")
    return os.fdopen(fd, "rb")


def read_bounded(path: Path | str, what: str = "file", limit: int = MAX_SETTINGS_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, refusing more than ``limit`` bytes without reading them
    (opened as by :func:`open_regular`)."""
    with open_regular(path, what) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise StyloError(f"{what} is too large: {size} bytes (limit {limit}): {shown(path)}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise StyloError(f"{what} is too large (limit {limit} bytes): {shown(path)}")
    return data


def spare_inputs(outputs: Iterable[Path], inputs: Iterable[Path | str]) -> None:
    """Refuse, with a one-line :class:`StyloError`, if any of ``outputs`` is one of ``inputs`` (the same file
    through a symlink or a hard link, or the same path spelled differently). Only an output that exists can be
    an input (the inputs exist), so files are compared by device and inode: linear in their numbers."""
    ids: dict[tuple[int, int], Path] = {}
    for source in inputs:
        try:
            info = os.stat(source)
        except (OSError, ValueError):
            continue  # a missing input is reported where it is opened
        ids[(info.st_dev, info.st_ino)] = Path(source)
    for output in outputs:
        try:
            info = os.stat(output)
        except (OSError, ValueError):
            continue
        same = ids.get((info.st_dev, info.st_ino))
        if same is not None:
            raise StyloError(f"output {shown(output)} is the input {shown(same)}: it would be replaced; "
                             "choose another -o or rename the input")
