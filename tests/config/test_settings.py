"""Settings: defaults, the environment, nested variables, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoseek.config import Settings, load_settings
from photoseek.errors import ConfigError


def test_defaults_are_the_embedded_store_and_clip_b32() -> None:
    settings = Settings()
    assert settings.qdrant.url is None and settings.qdrant.embedded
    assert settings.qdrant.path == Path("data/qdrant")
    assert settings.qdrant.collection == "unsplash"
    assert settings.model.image == settings.model.text == "sentence-transformers/clip-ViT-B-32"
    assert settings.model.device == "auto"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__URL", "http://qdrant:6333/")
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.setenv("PHOTOSEEK_MODEL__DEVICE", "cpu")
    monkeypatch.setenv("PHOTOSEEK_INGEST__ALLOWED_HOSTS", "a.example, B.example")
    settings = load_settings()
    assert settings.qdrant.url == "http://qdrant:6333" and not settings.qdrant.embedded
    assert settings.qdrant.collection == "photos"
    assert settings.model.device == "cpu"
    assert settings.ingest.allowed_host_list() == ("a.example", "b.example")


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PHOTOSEEK_QDRANT__COLLECTION=from_dotenv\n")
    assert load_settings().qdrant.collection == "from_dotenv"


def test_star_allows_any_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOSEEK_INGEST__ALLOWED_HOSTS", "*")
    assert load_settings().ingest.allowed_host_list() is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PHOTOSEEK_MODEL__DEVICE", "tpu"),
        ("PHOTOSEEK_QDRANT__URL", "localhost:6333"),
        ("PHOTOSEEK_INGEST__CONCURRENCY", "zero"),
        ("PHOTOSEEK_QDRANT__COLLECTION", "a/b"),
    ],
)
def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert variable in message and "\n" not in message


def test_api_key_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__API_KEY", "s3cret-key")
    settings = load_settings()
    assert settings.qdrant.api_key is not None
    assert settings.qdrant.api_key.get_secret_value() == "s3cret-key"
    assert "s3cret-key" not in repr(settings) and "s3cret-key" not in str(settings.model_dump())


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for section_name, section in Settings.model_fields.items():
        for field_name in section.annotation.model_fields:  # type: ignore[union-attr]
            variable = f"PHOTOSEEK_{section_name.upper()}__{field_name.upper()}"
            assert variable in example, f"{variable} missing from .env.example"
