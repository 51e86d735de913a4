"""Device, precision and batch-size choice, and the GPU path when a GPU is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoseek.errors import ConfigError
from photoseek.retrieval.encoder.devices import choose_batch_size, choose_device, choose_precision, torch_dtype


@pytest.mark.parametrize(
    ("has_cuda", "has_mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(has_cuda: bool, has_mps: bool, expected: str) -> None:
    assert choose_device("auto", has_cuda=has_cuda, has_mps=has_mps) == expected


def test_an_explicit_device_is_kept_when_present() -> None:
    assert choose_device("cpu", has_cuda=True, has_mps=True) == "cpu"
    assert choose_device("cuda", has_cuda=True, has_mps=False) == "cuda"
    assert choose_device("mps", has_cuda=False, has_mps=True) == "mps"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_an_absent_device_is_an_error_naming_the_setting(device: str) -> None:
    with pytest.raises(ConfigError, match=f"PHOTOSEEK_MODEL__DEVICE={device}"):
        choose_device(device, has_cuda=False, has_mps=False)


def test_unknown_device_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        choose_device("tpu", has_cuda=False, has_mps=False)


@pytest.mark.parametrize(
    ("setting", "device", "expected"),
    [
        ("auto", "cuda", "fp16"),
        ("auto", "mps", "fp16"),
        ("auto", "cpu", "fp32"),
        ("bf16", "cuda", "bf16"),
        ("bf16", "cpu", "bf16"),
        ("fp32", "cuda", "fp32"),
        ("fp16", "cuda", "fp16"),
    ],
)
def test_precision(setting: str, device: str, expected: str) -> None:
    assert choose_precision(setting, device) == expected


def test_fp16_on_cpu_is_refused() -> None:
    with pytest.raises(ConfigError, match="PHOTOSEEK_MODEL__PRECISION=fp16"):
        choose_precision("fp16", "cpu")


def test_dtypes() -> None:
    import torch

    assert (torch_dtype("fp32"), torch_dtype("fp16"), torch_dtype("bf16")) == (
        torch.float32,
        torch.float16,
        torch.bfloat16,
    )


def test_batch_size_defaults_per_device_and_honours_the_setting() -> None:
    assert choose_batch_size(None, "cuda") == 256
    assert choose_batch_size(None, "cpu") == 32
    assert choose_batch_size(None, "mps") == 64
    assert choose_batch_size(7, "cuda") == 7


def test_bf16_on_cpu_runs_and_stays_close_to_fp32(tiny_clip_dir: Path) -> None:
    from photoseek.retrieval.encoder import ClipEncoder

    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    full = ClipEncoder(str(tiny_clip_dir), device="cpu")
    half = ClipEncoder(str(tiny_clip_dir), device="cpu", precision="bf16")
    assert half.precision == "bf16" and half.identity() == full.identity()
    fast = half.encode_pixels(batch)
    assert fast.dtype == np.float32
    assert (fast * full.encode_pixels(batch)).sum(axis=1).min() > 0.98
    assert half.encode_text(["a dog"]).dtype == np.float32


@pytest.mark.gpu
def test_gpu_fast_path_matches_the_standard_path(tiny_clip_dir: Path) -> None:
    from photoseek.retrieval.encoder import ClipEncoder
    from photoseek.retrieval.preprocess import clip_resize_crop
    from test_encoder import varied_images

    encoder = ClipEncoder(str(tiny_clip_dir))
    assert (encoder.device, encoder.precision, encoder.batch_size) == ("cuda", "fp16", 256)
    images = list(varied_images())
    standard = np.asarray(encoder.image_model.encode(images, convert_to_numpy=True), dtype=np.float32)
    standard /= np.linalg.norm(standard, axis=1, keepdims=True)
    fast = encoder.encode_pixels(np.stack([clip_resize_crop(image, encoder.image_size) for image in images]))
    assert (standard * fast).sum(axis=1).min() >= 0.999
    assert encoder.encode_text(["a dog"]).shape == (1, 16)


_RETAINED = """
import numpy as np, sys
from photoseek.retrieval.encoder.devices import keep_freed_cpu_memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
if sys.argv[1] == "tuned":
    assert keep_freed_cpu_memory() and keep_freed_cpu_memory()
block = np.ones(24 * 2**20, dtype=np.uint8)  # a tensor-sized block, touched
held = rss()
del block
print((held - rss()) // 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_tuned_allocator_keeps_freed_blocks_for_reuse() -> None:
    """Untuned, glibc unmaps a freed 24 MB block at once; tuned, the next batch reuses it."""

    def released(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _RETAINED, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert released("default") >= 20
    assert released("tuned") < 4
