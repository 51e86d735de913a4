"""The CLIP encoder on a tiny random CLIP loaded through the same path as a real model."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoseek.config.settings import ModelSettings
from photoseek.errors import ModelLoadError, ModelMismatchError
from photoseek.retrieval.encoder import ClipEncoder, Encoder
from photoseek.retrieval.encoder.query_cache import QueryCache
from photoseek.retrieval.preprocess import clip_resize_crop


def _picture(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 6.28, size=3)
    freq = rng.uniform(0.02, 0.3, size=3)
    base = np.stack([127 + 120 * np.sin(freq[c] * (x + 2 * y) + phase[c]) for c in range(3)], axis=-1)
    noise = rng.integers(-30, 30, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, dtype=np.uint8)
    alpha[: alpha.shape[0] // 2] = 0
    alpha[:, ::4] = 120
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


@functools.cache
def varied_images() -> tuple[Image.Image, ...]:
    """Portrait, landscape, tiny, huge, grayscale, alpha, palette: every shape the path must handle."""
    return (
        _picture(300, 480, 1),
        _picture(640, 360, 2),
        _picture(6, 4, 3),
        _picture(2400, 1600, 4),
        _picture(150, 100, 5).convert("L"),
        _alpha(_picture(120, 160, 6)),
        _picture(90, 60, 7).convert("P", palette=Image.Palette.ADAPTIVE, colors=32),
        _picture(32, 32, 8),
        _picture(45, 131, 9),
    )


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    # Float32 text, so that text vectors can be compared with sentence-transformers exactly.
    return ClipEncoder.from_settings(
        ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu", text_int8_on_cpu=False)
    )


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_is_an_encoder(encoder: ClipEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert (encoder.dimension, encoder.image_size, encoder.device, encoder.precision) == (16, 32, "cpu", "fp32")
    assert encoder.batch_size == 32


def test_text_vectors_are_normalised_float32(encoder: ClipEncoder) -> None:
    vectors = encoder.encode_text(["a dog on a beach", "a red car", "ein Hund"])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)


def test_text_vectors_match_sentence_transformers(encoder: ClipEncoder) -> None:
    texts = ["mountain lake at dawn", "city street at night"]
    expected = _unit(np.asarray(encoder.text_model.encode(texts)))
    np.testing.assert_allclose(encoder.encode_text(texts), expected, atol=1e-5)


def test_image_vectors_are_normalised_float32(encoder: ClipEncoder) -> None:
    vectors = encoder.encode_images(varied_images()[:3])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_fast_path_equals_the_standard_path(encoder: ClipEncoder) -> None:
    images = varied_images()
    standard = _unit(np.asarray(encoder.image_model.encode(list(images)), dtype=np.float32))
    batch = np.stack([clip_resize_crop(image, encoder.image_size) for image in images])
    fast = encoder.encode_pixels(batch)
    cosines = (standard * fast).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    # The comparison means something only if different images give clearly different vectors.
    off_diagonal = (standard @ standard.T)[~np.eye(len(images), dtype=bool)]
    assert off_diagonal.max() < 0.99
    np.testing.assert_allclose(encoder.encode_images(images), fast, atol=1e-6)


def test_fast_path_splits_into_batches(tiny_clip_dir: Path) -> None:
    small = ClipEncoder(str(tiny_clip_dir), device="cpu", batch_size=2)
    batch = np.stack([clip_resize_crop(image, 32) for image in varied_images()[:5]])
    whole = ClipEncoder(str(tiny_clip_dir), device="cpu", batch_size=64).encode_pixels(batch)
    np.testing.assert_allclose(small.encode_pixels(batch), whole, atol=1e-5)


def test_read_only_pixels_encode_without_a_warning(tiny_clip_dir: Path) -> None:
    """np.asarray of a PIL image is read-only; torch warns once per process about such arrays,
    so the check runs in a fresh process."""
    code = (
        "import sys, warnings, numpy as np\n"
        "from PIL import Image\n"
        "from photoseek.retrieval.encoder import ClipEncoder\n"
        "encoder = ClipEncoder(sys.argv[1], device='cpu')\n"
        "pixels = np.asarray(Image.new('RGB', (32, 32), (200, 10, 10)))[None]\n"
        "assert not pixels.flags.writeable\n"
        "warnings.simplefilter('error')\n"
        "print(encoder.encode_pixels(pixels).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tiny_clip_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(1, 16)"


def test_empty_inputs_give_empty_arrays(encoder: ClipEncoder) -> None:
    assert encoder.encode_images([]).shape == (0, 16)
    assert encoder.encode_pixels(np.zeros((0, 32, 32, 3), dtype=np.uint8)).shape == (0, 16)


@pytest.mark.parametrize(
    "batch",
    [
        np.zeros((2, 32, 32, 3), dtype=np.float32),
        np.zeros((2, 64, 64, 3), dtype=np.uint8),
        np.zeros((32, 32, 3), dtype=np.uint8),
    ],
)
def test_encode_pixels_rejects_a_wrong_batch(encoder: ClipEncoder, batch: np.ndarray) -> None:
    with pytest.raises(ValueError, match="clip_resize_crop"):
        encoder.encode_pixels(batch)


def test_a_single_string_is_refused(encoder: ClipEncoder) -> None:
    with pytest.raises(TypeError, match="list"):
        encoder.encode_text("a dog")  # type: ignore[arg-type]


def test_repeated_query_is_served_from_the_cache(tiny_clip_dir: Path) -> None:
    encoder = ClipEncoder(str(tiny_clip_dir), device="cpu", query_cache_size=2)
    first = encoder.encode_text(["a dog"])
    calls: list[int] = []
    # Every text the model sees goes through the text tower once per batch.
    original = encoder._encode_text_chunk

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    encoder._encode_text_chunk = counting  # type: ignore[method-assign]
    again = encoder.encode_text(["a dog"])
    assert calls == [] and encoder.cache.hits == 1
    np.testing.assert_array_equal(first, again)
    again[0, 0] = 42.0  # callers own what they get; the cache keeps its copy
    assert encoder.encode_text(["a dog"])[0, 0] != 42.0
    encoder.encode_text(["b", "c"])  # bounded: "a dog" is the least recently used and goes
    assert len(encoder.cache) == 2
    encoder.encode_text(["a dog"])
    assert len(calls) == 2


def test_cache_of_size_zero_keeps_nothing() -> None:
    cache = QueryCache(0)
    cache.put("a", np.ones(3, dtype=np.float32))
    assert cache.get("a") is None and len(cache) == 0


def test_cache_is_safe_across_threads() -> None:
    cache = QueryCache(50)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(500):
                key = str((i + offset) % 80)
                cache.put(key, np.full(4, float(key), dtype=np.float32))
                hit = cache.get(key)
                assert hit is None or hit[0] == float(key)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(cache) == 50


def test_identity_names_the_folder_and_is_stable(encoder: ClipEncoder, tiny_clip_dir: Path) -> None:
    identity = encoder.identity()
    assert identity.name == str(tiny_clip_dir.resolve())
    assert identity.dimension == 16 and len(identity.fingerprint) == 16
    again = ClipEncoder(str(tiny_clip_dir), device="cpu")
    assert again.identity() == identity
    assert encoder.text_identity().fingerprint == identity.fingerprint


def test_another_model_has_another_fingerprint(encoder: ClipEncoder, other_tiny_clip_dir: Path) -> None:
    other = ClipEncoder(str(other_tiny_clip_dir), device="cpu")
    assert other.identity().fingerprint != encoder.identity().fingerprint


def test_text_model_of_another_dimension_is_refused(tiny_clip_dir: Path, tmp_path: Path) -> None:
    from tiny_clip import build_tiny_clip

    eight = build_tiny_clip(tmp_path / "eight", dim=8)
    with pytest.raises(ModelMismatchError, match="8-d"):
        ClipEncoder(str(tiny_clip_dir), str(eight), device="cpu", allow_unpaired_text_model=True)


def test_unpaired_text_model_is_refused_unless_allowed(tiny_clip_dir: Path, other_tiny_clip_dir: Path) -> None:
    with pytest.raises(ModelMismatchError, match="ALLOW_UNPAIRED_TEXT_MODEL"):
        ClipEncoder(str(tiny_clip_dir), str(other_tiny_clip_dir), device="cpu")
    both = ClipEncoder(str(tiny_clip_dir), str(other_tiny_clip_dir), device="cpu", allow_unpaired_text_model=True)
    assert both.text_model is not both.image_model
    assert both.text_identity().name == str(other_tiny_clip_dir.resolve())
    expected = _unit(np.asarray(both.text_model.encode(["a dog"])))
    np.testing.assert_allclose(both.encode_text(["a dog"]), expected, atol=1e-5)


def test_one_model_for_both_loads_once(encoder: ClipEncoder) -> None:
    assert encoder.text_model is encoder.image_model


def test_missing_named_model_fails_with_the_way_out() -> None:
    with pytest.raises(ModelLoadError) as caught:
        ClipEncoder("photoseek-test/no-such-clip-model", device="cpu")
    message = str(caught.value)
    assert "could not load model 'photoseek-test/no-such-clip-model'" in message
    assert "not in the Hugging Face cache" in message and "HF_HUB_OFFLINE" in message
    assert "PHOTOSEEK_MODEL__IMAGE" in message and "PHOTOSEEK_MODEL__TEXT" in message


def test_missing_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such folder"):
        ClipEncoder(str(tmp_path / "nowhere"), device="cpu")


def test_folder_that_is_not_a_model_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a model"):
        ClipEncoder(str(tmp_path), device="cpu")


def test_missing_text_model_is_not_replaced(tiny_clip_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="no-such-text-model"):
        ClipEncoder(str(tiny_clip_dir), "photoseek-test/no-such-text-model", device="cpu")



def test_older_sentence_transformers_clip_folder_loads(
    encoder: ClipEncoder, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    """The layout of sentence-transformers/clip-ViT-B-32: modules.json and a 0_CLIPModel folder."""
    import json
    import shutil

    inner = tmp_path / "legacy" / "0_CLIPModel"
    shutil.copytree(tiny_clip_dir, inner)
    processor = json.loads((inner / "processor_config.json").read_text())
    (inner / "processor_config.json").unlink()
    (inner / "preprocessor_config.json").write_text(
        json.dumps({**processor["image_processor"], "processor_class": "CLIPProcessor"})
    )
    (tmp_path / "legacy" / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}])
    )
    legacy = ClipEncoder(str(tmp_path / "legacy"), device="cpu")
    assert (legacy.dimension, legacy.image_size) == (16, 32)
    assert legacy.identity().fingerprint == encoder.identity().fingerprint
    batch = np.stack([clip_resize_crop(image, 32) for image in varied_images()[:3]])
    np.testing.assert_allclose(legacy.encode_pixels(batch), encoder.encode_pixels(batch), atol=1e-6)
    np.testing.assert_allclose(legacy.encode_text(["a dog"]), encoder.encode_text(["a dog"]), atol=1e-6)


def test_tiny_clip_command_line_writes_a_loadable_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tiny_clip import main

    assert main([str(tmp_path / "demo-model"), "--dim", "8"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "demo-model")
    assert ClipEncoder(str(tmp_path / "demo-model"), device="cpu").dimension == 8


def test_int8_text_tower_on_cpu_stays_close_to_float32(tiny_clip_dir: Path, encoder: ClipEncoder) -> None:
    quick = ClipEncoder(str(tiny_clip_dir), device="cpu", text_int8_on_cpu=True, query_cache_size=0)
    assert quick.text_int8 and not encoder.text_int8
    texts = ["a dog on a beach", "red bicycle in the snow", "city street at night", "x"]
    similarity = np.sum(quick.encode_text(texts) * encoder.encode_text(texts), axis=1)
    assert similarity.min() >= 0.99, similarity
    # A text's vector does not depend on the texts it is encoded with.
    np.testing.assert_array_equal(quick.encode_text(texts)[3], quick.encode_text(["x"])[0])
    # Images, which ingest stores, are untouched.
    images = varied_images()[:2]
    np.testing.assert_allclose(quick.encode_images(images), encoder.encode_images(images), atol=1e-6)


def test_settings_turn_the_int8_text_tower_on_for_cpu(tiny_clip_dir: Path) -> None:
    from photoseek.config.settings import ModelSettings

    settings = ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu")
    assert settings.text_int8_on_cpu
    assert ClipEncoder.from_settings(settings).text_int8
    off = settings.model_copy(update={"text_int8_on_cpu": False})
    assert not ClipEncoder.from_settings(off).text_int8
