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


def test_a_removed_setting_left_in_the_environment_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PHOTOSEEK_INGEST__WRITE_BATCH_SIZE was advertised once and read by nothing; users may still set it.
    monkeypatch.setenv("PHOTOSEEK_INGEST__WRITE_BATCH_SIZE", "512")
    monkeypatch.setenv("PHOTOSEEK_NO_SUCH_SECTION", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PHOTOSEEK_INGEST__WRITE_BATCH_SIZE=256\nPHOTOSEEK_INGEST__CONCURRENCY=7\n")
    settings = load_settings()
    assert settings.ingest.concurrency == 7
    assert "write_batch_size" not in settings.ingest.model_dump()


def test_removed_settings_are_not_advertised() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    assert "WRITE_BATCH_SIZE" not in example


@pytest.mark.parametrize(("value", "expected"), [("2/5", "2/5"), (" 0/1 ", "0/1"), ("03/04", "3/4"), ("", None)])
def test_shard_is_normalised_and_parsed_once(monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv("PHOTOSEEK_INGEST__SHARD", value)
    ingest = load_settings().ingest
    assert ingest.shard == expected
    assert ingest.shard_parts == (tuple(int(p) for p in expected.split("/")) if expected else None)


@pytest.mark.parametrize("value", ["5/5", "-1/3", "1", "a/b", "1/0", "1/2/3"])
def test_a_bad_shard_names_the_variable_and_the_form(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PHOTOSEEK_INGEST__SHARD", value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "PHOTOSEEK_INGEST__SHARD" in message and "k/n with 0 <= k < n" in message and repr(value) in message
    assert message.count(repr(value)) == 1  # the value once, from load_settings


def test_the_ingest_sources_parse_shards_with_the_settings_parser() -> None:
    from photoseek.config.settings import check_shard, parse_shard
    from photoseek.ingest.sources import shard

    assert shard.parse_shard is parse_shard and shard.check_shard is check_shard
    assert parse_shard("2/5") == (2, 5)
    with pytest.raises(ValueError, match="k/n"):
        check_shard((3, 3))
