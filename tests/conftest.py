"""Shared fixtures (tiny CLIP models, the loopback HTTP server, fast download settings) and the
markers for resources a test needs (a Qdrant server, a GPU)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ holds helpers the tests import by module name (tiny_clip), as the demo does.
sys.path.insert(0, str(Path(__file__).parent))

from httpserver import LoopbackServer  # noqa: E402  (found through the path set above)
from photoseek.config.settings import IngestSettings  # noqa: E402

SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"

# Set before anything imports huggingface_hub, which reads these once at import: a session or
# module fixture that loads a model runs before the per-test environment fixture below.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep a developer's PHOTOSEEK_* variables, .env file and model hub out of the tests."""
    for name in list(os.environ):
        if name.startswith("PHOTOSEEK_") and name != SERVER_URL_VAR:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``server`` tests without PHOTOSEEK_TEST_QDRANT_URL and ``gpu`` tests without CUDA."""
    skip_server = pytest.mark.skip(reason=f"set {SERVER_URL_VAR} to run against a real Qdrant server")
    has_cuda = False
    if any("gpu" in item.keywords for item in items):
        import torch

        has_cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "server" in item.keywords and not os.environ.get(SERVER_URL_VAR):
            item.add_marker(skip_server)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP folder (16-d, 32 px input), built once per test run."""
    from tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), dim=16, image_size=32, seed=0)


@pytest.fixture(scope="session")
def other_tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny CLIP of the same dimension but another architecture and weights."""
    from tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("other-tiny-clip"), dim=16, image_size=32, layers=1, seed=1)


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
