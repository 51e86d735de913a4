"""Which device, precision and batch size the encoder runs with, from the model settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from photoseek.errors import ConfigError

if TYPE_CHECKING:
    import torch

# Images per batch when the setting is unset: a GPU wants large batches to stay busy, a CPU
# gains nothing past a few dozen and only holds more memory.
DEFAULT_BATCH_SIZE = {"cuda": 256, "mps": 64, "cpu": 32}


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU."""
    import torch

    return bool(torch.cuda.is_available())


def mps_available() -> bool:
    """Whether torch sees an Apple GPU (Metal Performance Shaders)."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(setting: str, *, has_cuda: bool | None = None, has_mps: bool | None = None) -> str:
    """The torch device to run on.

    Args:
        setting: ``auto``, ``cuda``, ``mps`` or ``cpu`` (``PHOTOSEEK_MODEL__DEVICE``).
        has_cuda: whether CUDA is available; probed when None.
        has_mps: whether MPS is available; probed when None.

    Returns:
        ``cuda``, ``mps`` or ``cpu``: ``auto`` takes the first one available in that order.

    Raises:
        ConfigError: a device was asked for explicitly and is not there.
    """
    has_cuda = cuda_available() if has_cuda is None and setting in ("auto", "cuda") else has_cuda
    has_mps = mps_available() if has_mps is None and setting in ("auto", "mps") else has_mps
    if setting == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if setting == "cuda" and not has_cuda:
        raise ConfigError(
            "PHOTOSEEK_MODEL__DEVICE=cuda but torch sees no CUDA GPU; install a CUDA build of torch "
            "or set PHOTOSEEK_MODEL__DEVICE=auto"
        )
    if setting == "mps" and not has_mps:
        raise ConfigError("PHOTOSEEK_MODEL__DEVICE=mps but torch sees no MPS device; set PHOTOSEEK_MODEL__DEVICE=auto")
    if setting not in ("cuda", "mps", "cpu"):
        raise ConfigError(f"PHOTOSEEK_MODEL__DEVICE: unknown device {setting!r}; use auto, cuda, mps or cpu")
    return setting


def choose_precision(setting: str, device: str) -> str:
    """The floating-point precision to run the model in.

    Args:
        setting: ``auto``, ``fp32``, ``fp16`` or ``bf16`` (``PHOTOSEEK_MODEL__PRECISION``).
        device: the device chosen by :func:`choose_device`.

    Returns:
        ``fp16`` on a GPU and ``fp32`` on the CPU for ``auto``; otherwise the setting.

    Raises:
        ConfigError: ``fp16`` on the CPU, where half-precision matmuls are slow or missing.
    """
    if setting == "auto":
        return "fp32" if device == "cpu" else "fp16"
    if setting == "fp16" and device == "cpu":
        raise ConfigError(
            "PHOTOSEEK_MODEL__PRECISION=fp16 is not supported on the CPU; use fp32 or bf16 there, "
            "or auto (fp32 on CPU, fp16 on GPU)"
        )
    if setting not in ("fp32", "fp16", "bf16"):
        raise ConfigError(f"PHOTOSEEK_MODEL__PRECISION: unknown precision {setting!r}; use auto, fp32, fp16 or bf16")
    return setting


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a precision name (``fp32``, ``fp16``, ``bf16``)."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def choose_batch_size(setting: int | None, device: str) -> int:
    """Images per batch: the setting when given, otherwise the device's default."""
    if setting is not None:
        return setting
    return DEFAULT_BATCH_SIZE.get(device, DEFAULT_BATCH_SIZE["cpu"])


# glibc's mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_allocator_tuned: bool | None = None  # None: not tried yet


def keep_freed_cpu_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel at once.

    A CPU forward pass of a CLIP image tower allocates and frees tensors of tens of MB, dozens
    of times per batch. By default glibc serves each from a fresh ``mmap`` and unmaps it on
    free, so every batch pays page faults and zero-filling for all of them again: measured on
    2 cores, a full-size ViT-B/32 went from 12.6 to 13.7 images/s with this. Raising the mmap
    threshold to its maximum (32 MB) and the trim threshold to 256 MB keeps those pages in
    the heap. Each thread's malloc arena may then hold up to about 256 MB it freed. The
    encoder calls this only when it encodes images on the CPU (a service that only encodes
    text queries is left as it is), and not at all when the process was started with glibc
    settings of its own (``MALLOC_*_`` or ``GLIBC_TUNABLES`` in the environment).

    Returns:
        True when the allocator was tuned (now or before), False otherwise.
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = _tune_glibc()
    return _allocator_tuned


def _tune_glibc() -> bool:
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return False
    if "GLIBC_TUNABLES" in os.environ or any(name.startswith("MALLOC_") for name in os.environ):
        return False  # the user's own allocator settings win
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))
