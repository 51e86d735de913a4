"""Any query text is encoded: long ones cut to the model's context (with a warning), bad Unicode replaced."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from photoseek.config.settings import ModelSettings
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.encoder.text_input import clean_text


@pytest.fixture(scope="module")
def old_folder_encoder(tiny_clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ClipEncoder:
    """A CLIP folder whose tokenizer has no ``model_max_length``, as sentence-transformers'
    own ``clip-ViT-B-32`` folder: the 77-token limit is known only to the model's config."""
    folder = tmp_path_factory.mktemp("old-clip") / "model"
    shutil.copytree(tiny_clip_dir, folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("model_max_length", None)
    config_path.write_text(json.dumps(config))
    return ClipEncoder.from_settings(
        ModelSettings(image=str(folder), text=str(folder), device="cpu", text_int8_on_cpu=False, query_cache_size=0)
    )


def test_the_context_comes_from_the_model(old_folder_encoder: ClipEncoder) -> None:
    assert old_folder_encoder.text_context == 77


@pytest.mark.parametrize(
    "text", ["word " * 60, "x" * 100_000, "a dog " * 20_000], ids=["60-words", "100k-chars", "120k-words"]
)
def test_a_long_query_is_cut_with_a_warning(
    old_folder_encoder: ClipEncoder, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="photoseek.retrieval.encoder"):
        vector = old_folder_encoder.encode_text([text])
    assert vector.shape == (1, 16) and np.isfinite(vector).all()
    warnings = [
        r.getMessage() for r in caplog.records if "cut to the text model's context of 77 tokens" in r.getMessage()
    ]
    assert len(warnings) == 1, caplog.text
    # Cut to the first 77 tokens: the rest changes nothing (one token a byte in this tokenizer).
    np.testing.assert_allclose(vector[0], old_folder_encoder.encode_text([text[:200]])[0], atol=1e-6)


def test_a_short_query_is_not_cut(old_folder_encoder: ClipEncoder, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="photoseek.retrieval.encoder"):
        short, longer = old_folder_encoder.encode_text(["a" * 70, "a" * 74])
    assert "cut" not in caplog.text
    assert not np.allclose(short, longer, atol=1e-4)  # all of both is read


def test_unpaired_surrogates_are_replaced(old_folder_encoder: ClipEncoder) -> None:
    got = old_folder_encoder.encode_text(["a\udcff b", "\ud83d\ude00 x"])
    expected = old_folder_encoder.encode_text(["a\ufffd b", "\U0001f600 x"])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_clean_text() -> None:
    assert clean_text("a dog") == "a dog"
    assert clean_text("a\udcff b") == "a\ufffd b"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a pair given as two code points is joined
