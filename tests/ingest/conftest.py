"""Fixtures of the ingest tests: the loopback HTTP server and fast download settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from httpserver import LoopbackServer
from photoseek.config.settings import IngestSettings


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 (random port), stopped after the test."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def fast_ingest() -> IngestSettings:
    """Download settings with short timeouts and few retries, allowing the loopback host."""
    return IngestSettings(
        allowed_hosts="127.0.0.1", connect_timeout=1.0, read_timeout=0.4, retries=2,
        max_download_bytes=64 * 1024, concurrency=8, per_host_concurrency=8,
    )
