"""Bounded reads of local files: regular files only, up to a size, within a time.

A path given by a user or found in a folder may name a FIFO (opening it blocks until a writer
comes), a device (``/dev/zero`` never ends), a socket, or a file on a hung network mount
(a read that never returns). Every local read of a picture goes through :func:`read_file`,
which refuses anything but a regular file before opening it, stops at a size cap, and gives
up after a timeout; a read that hangs in the kernel is left behind in a daemon thread, so it
can never keep the process from ending.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class LocalReadError(OSError):
    """A local file could not be read within its bounds.

    Attributes:
        reason: ``file_not_found``, ``not_a_regular_file``, ``too_large``, ``read_timeout`` or
            ``unreadable``.
        detail: one line saying what happened, naming the file.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A printable form of any path: bytes that are not UTF-8 shown as ``\\xff`` escapes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def file_kind(mode: int) -> str | None:
    """What a ``st_mode`` names when it is not a regular file (``a FIFO (named pipe)``); else None."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def regular_file_size(path: str | os.PathLike[str]) -> int:
    """The size of a regular file, found without opening it (symlinks followed).

    Raises:
        LocalReadError: ``file_not_found``, ``not_a_regular_file`` or ``unreadable``.
    """
    shown = display_path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise LocalReadError("file_not_found", f"{shown} does not exist") from None
    except OSError as exc:
        raise LocalReadError("unreadable", f"{shown}: {exc.strerror or exc}") from None
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise LocalReadError("not_a_regular_file", f"{shown} is {kind}, not a regular file")
    return info.st_size


def call_with_timeout(function: Callable[[], T], timeout: float, what: str) -> T:
    """``function()`` run in a daemon thread, given up on after ``timeout`` seconds.

    Raises:
        LocalReadError: ``read_timeout`` when it did not return in time (it is left running).
        BaseException: whatever ``function`` raised.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)

    worker = threading.Thread(target=target, name="bounded-read", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise LocalReadError("read_timeout", f"{what} was not read within {timeout:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


def _read_open_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    shown = display_path(path)
    # O_NONBLOCK: should the path have become a FIFO since it was checked, opening it does not
    # wait for a writer; it changes nothing for a regular file.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise LocalReadError("file_not_found", f"{shown} does not exist") from None
    except OSError as exc:
        raise LocalReadError("unreadable", f"{shown}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        kind = file_kind(info.st_mode)
        if kind is not None:
            raise LocalReadError("not_a_regular_file", f"{shown} is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise LocalReadError("too_large", f"{shown} has {info.st_size} bytes, over the limit of {max_bytes}")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:  # grew while being read
                raise LocalReadError("too_large", f"{shown} is over the limit of {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        if isinstance(exc, LocalReadError):
            raise
        raise LocalReadError("unreadable", f"{shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_file(path: str | os.PathLike[str], *, max_bytes: int, timeout: float) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, read within ``timeout`` seconds.

    Checked before opening: a FIFO, a device, a socket or a folder is refused without being
    opened, and a file larger than the cap is not read.

    Args:
        path: the file (a non-UTF-8 name, as ``os.fsdecode`` gives it, is fine).
        max_bytes: the largest file accepted.
        timeout: seconds the whole read may take.

    Raises:
        LocalReadError: with ``reason`` ``file_not_found``, ``not_a_regular_file``,
            ``too_large``, ``read_timeout`` or ``unreadable``.
    """

    def read() -> bytes:
        size = regular_file_size(path)
        if size > max_bytes:
            raise LocalReadError("too_large", f"{display_path(path)} has {size} bytes, over the limit of {max_bytes}")
        return _read_open_file(path, max_bytes)

    return call_with_timeout(read, timeout, display_path(path))


__all__ = [
    "LocalReadError",
    "call_with_timeout",
    "display_path",
    "file_kind",
    "read_file",
    "regular_file_size",
]
