"""``photoseek serve`` refuses what cannot work before it listens: several workers on the embedded store,
another model's collection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serve_data import COLLECTION, model_settings, serve_settings

from photoseek.cli import main
from photoseek.errors import ModelIdentityError
from photoseek.serve import create_app


def test_several_workers_need_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "3"]) == 1
    err = capsys.readouterr().err
    assert "--workers 3" in err and "one process at a time" in err and "PHOTOSEEK_QDRANT__URL" in err


def test_bad_port_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 1
    assert "PHOTOSEEK_SERVE__PORT" in capsys.readouterr().err


def test_another_models_collection_stops_the_start(
    fresh_data: Callable[[], Path], other_tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(fresh_data()))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", COLLECTION)
    for name in ("IMAGE", "TEXT"):
        monkeypatch.setenv(f"PHOTOSEEK_MODEL__{name}", str(other_tiny_clip_dir))
    monkeypatch.setenv("PHOTOSEEK_MODEL__DEVICE", "cpu")
    monkeypatch.setenv("PHOTOSEEK_SERVE__PORT", "1")  # never reached: the check comes first
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("photoseek: error:") and "model" in err and COLLECTION in err


def test_the_app_refuses_another_models_collection_too(
    collection: dict[str, Any], fresh_data: Callable[[], Path], other_tiny_clip_dir: Path
) -> None:
    settings = serve_settings(fresh_data(), other_tiny_clip_dir, collection["photos"])
    assert settings.model == model_settings(other_tiny_clip_dir)
    with pytest.raises(ModelIdentityError), TestClient(create_app(settings)):
        pass
