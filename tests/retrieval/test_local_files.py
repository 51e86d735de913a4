"""Bounded local reads: only regular files, up to a size, within a time; query images name their file."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from photoseek.errors import QueryError
from photoseek.retrieval.local_files import LocalReadError, call_with_timeout, read_file
from photoseek.retrieval.search import read_image


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "x.jpg"
    os.mkfifo(path)
    yield path
    # Release any reader still waiting on it (a blocked open returns once a writer comes).
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "s.jpg"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    yield path
    server.close()


def _nobody_opened(path: Path) -> bool:
    """A FIFO that no reader holds open refuses a non-blocking writer (ENXIO)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        return True
    return False


def test_special_files_are_refused_without_being_opened(fifo: Path, unix_socket: Path, tmp_path: Path) -> None:
    for path, kind in (
        (fifo, "FIFO"),
        (Path("/dev/zero"), "character device"),
        (unix_socket, "socket"),
        (tmp_path, "folder"),
    ):
        started = time.monotonic()
        with pytest.raises(LocalReadError) as caught:
            read_file(path, max_bytes=1 << 20, timeout=5)
        assert caught.value.reason == "not_a_regular_file" and kind in str(caught.value)
        assert time.monotonic() - started < 2
    assert _nobody_opened(fifo)


def test_a_file_over_the_cap_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(b"\xff" * 5000)
    with pytest.raises(LocalReadError) as caught:
        read_file(path, max_bytes=4096, timeout=5)
    assert caught.value.reason == "too_large" and "5000 bytes" in str(caught.value)
    assert read_file(path, max_bytes=5000, timeout=5) == b"\xff" * 5000


def test_a_read_that_hangs_gives_up_after_its_timeout(fifo: Path) -> None:
    # Opening a FIFO for reading without O_NONBLOCK blocks in the kernel until a writer comes:
    # a real hanging read, as on a dead network mount.
    started = time.monotonic()
    with pytest.raises(LocalReadError) as caught:
        call_with_timeout(lambda: open(fifo, "rb").read(), 0.5, str(fifo))
    assert caught.value.reason == "read_timeout" and "0.5 s" in str(caught.value)
    assert time.monotonic() - started < 2
    # The reader left behind is a daemon thread: it does not keep the process alive.
    assert all(t.daemon for t in threading.enumerate() if t.name == "bounded-read")


def test_query_image_from_dev_zero_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"query image /dev/zero is not a regular file: .*character device"):
        read_image("/dev/zero")
    assert time.monotonic() - started < 2


def test_query_image_from_a_fifo_is_a_clear_error(fifo: Path) -> None:
    with pytest.raises(QueryError, match="is not a regular file.*FIFO"):
        read_image(fifo, timeout=2)
    assert _nobody_opened(fifo)


def test_query_image_over_the_cap_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256)).save(buffer, "BMP")
    path = tmp_path / "large.bmp"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(QueryError, match=r"large\.bmp is too large"):
        read_image(path, max_bytes=10_000)
    with pytest.raises(QueryError, match="too large"):
        read_image(buffer.getvalue(), max_bytes=10_000)
    assert read_image(path).size == (256, 256)


def test_query_image_errors_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(QueryError) as caught:
        read_image(text)
    assert str(text) in str(caught.value) and "BytesIO" not in str(caught.value)
    with pytest.raises(QueryError, match=r"gone\.jpg does not exist"):
        read_image(tmp_path / "gone.jpg")
