"""Shared fixtures and the markers for resources a test needs (a Qdrant server, a GPU)."""

from __future__ import annotations

import os

import pytest

SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"


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
