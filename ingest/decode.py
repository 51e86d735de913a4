"""Bytes or a file to the encoder's uint8 pixels: safe against every bad image, fast for JPEG.

Every failure raises ``PermanentItemError`` with a reason: ``empty_file``,
``unsupported_format``, ``too_many_pixels``, ``truncated``, ``corrupt``, or for a local file
``file_not_found``, ``not_a_regular_file`` (a FIFO, a device, a socket, a folder: never
opened), ``too_large`` and ``unreadable`` (no permission, an I/O error); a local read that
takes longer than its timeout raises ``TransientItemError`` ``read_timeout``. A local file is
read whole, within its size cap and timeout (``retrieval/local_files.py``), then decoded from
memory like a download.
"""

from __future__ import annotations

import io
import os
import warnings
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from struct import error as struct_error
from typing import Literal, Self

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from photoseek.errors import PermanentItemError, TransientItemError
from photoseek.retrieval.local_files import LocalReadError, display_path, read_file
from photoseek.retrieval.preprocess import clip_resize_crop, one_torch_thread, to_8bit, to_rgb

ORIENTATION_TAG = 0x0112
# JPEG draft() may shrink by 1/2, 1/4 or 1/8 while decoding (DCT scaling). It is asked to keep
# the shortest side at least DRAFT_MARGIN times the model's input, so that the bicubic resize
# that follows still matches a full decode closely. Measured against a full decode (mean
# difference, of 255 levels): 0.77 for 1080x720, 0.81 for 1080x1620, 0.65 for 1920x1280 at 1.0;
# at 1.5 the portrait case falls to 0.39 but decodes at half the reduction and runs 1.6x
# slower; at 2.0 a 1080x720 photo is not reduced at all. tests/ingest/test_decode.py checks it.
# A 640-px-wide rendition (Unsplash's ?w=640) is not reduced: at 1/2 it would be 320x214,
# shorter than the crop, and it measured 3.65 levels from the processor on average
# (benchmarks/ingest.py --part check), over the one-level bound the encoder keeps.
DRAFT_MARGIN = 1.0
# A whole decoded picture handed to the encoder's device (decode_frame) is at most this many
# pixels; a larger one (a PNG or TIFF original: JPEGs are drafted down first) is resized and
# cropped here instead, so that a photo waiting for the GPU never holds tens of MB.
MAX_FRAME_PIXELS = 4_000_000
# Bounds of a local file read (the ingest settings ``max_file_bytes`` and ``file_read_timeout``).
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 30.0


def read_local(path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES, timeout: float = DEFAULT_READ_TIMEOUT) -> bytes:
    """The bytes of a local picture file, within a size cap and a timeout.

    Raises:
        PermanentItemError: ``file_not_found``, ``not_a_regular_file``, ``too_large``,
            ``unreadable`` or ``empty_file``.
        TransientItemError: ``read_timeout``.
    """
    try:
        data = read_file(path, max_bytes=max_bytes, timeout=timeout)
    except LocalReadError as exc:
        kind = TransientItemError if exc.reason == "read_timeout" else PermanentItemError
        raise kind(exc.reason, exc.detail) from None
    if not data:
        raise PermanentItemError("empty_file", f"{display_path(path)} has 0 bytes")
    return data


def _open(
    data: bytes | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES, timeout: float = DEFAULT_READ_TIMEOUT
) -> Image.Image:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        data = read_local(Path(data), max_bytes, timeout)
    if len(data) == 0:
        raise PermanentItemError("empty_file", "0 bytes")
    source = io.BytesIO(data)
    try:
        return Image.open(source)
    except UnidentifiedImageError:
        raise PermanentItemError("unsupported_format", "not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise PermanentItemError("too_many_pixels", str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PermanentItemError(_reason(exc), str(exc)) from None


def _reason(exc: BaseException) -> str:
    """``unreadable`` for a system error, ``truncated`` when Pillow ran out of data (its
    messages vary by plugin), else ``corrupt``."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return "unreadable"  # the file system's error (EACCES, EISDIR, EIO), not the image's
    text = str(exc).lower()
    return "truncated" if "truncated" in text or "broken data stream" in text else "corrupt"


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not fail a good picture
        return 1
    return value if isinstance(value, int) else 1


def load_rgb(
    data: bytes | Path,
    max_pixels: int,
    min_side: int | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Image.Image:
    """Decode the first frame of an image, upright, at 8 bits per sample (``clip_resize_crop``
    then makes it RGB, transparency composited on white).

    Args:
        data: the encoded bytes, or a file path.
        max_pixels: refuse images with more pixels than this (decompression bombs).
        min_side: when given, a JPEG may be decoded at reduced scale (``draft``) as long as its
            shortest side stays at least this long.
        max_file_bytes: the largest local file read.
        read_timeout: seconds a local file read may take.

    Raises:
        PermanentItemError: with reason ``empty_file``, ``unsupported_format``,
            ``too_many_pixels``, ``truncated`` or ``corrupt`` (and for a file, see ``read_local``).
        TransientItemError: ``read_timeout``.
    """
    with warnings.catch_warnings():
        # EXIF oddities, palette notes and Pillow's own bomb warning are not failures: the
        # pixel limit is checked here against the caller's max_pixels.
        warnings.simplefilter("ignore")
        image = _open(data, max_file_bytes, read_timeout)
        out = None
        try:
            out = _upright_rgb(image, max_pixels, min_side)
            return out
        except PermanentItemError:
            raise
        except Image.DecompressionBombError as exc:
            raise PermanentItemError("too_many_pixels", str(exc)) from None
        # Pillow lets struct and index errors escape from some plugins on corrupt files.
        except (OSError, SyntaxError, ValueError, IndexError, struct_error) as exc:
            raise PermanentItemError(_reason(exc), str(exc) or type(exc).__name__) from None
        finally:
            if out is not image:
                image.close()  # a derived image was returned, or nothing: the source is done


def _upright_rgb(image: Image.Image, max_pixels: int, min_side: int | None) -> Image.Image:
    width, height = image.size
    if width * height > max_pixels:
        raise PermanentItemError("too_many_pixels", f"{width}x{height} is over {max_pixels} pixels")
    if width == 0 or height == 0:
        raise PermanentItemError("corrupt", f"{width}x{height} image")
    if image.format == "JPEG" and min_side:
        image.draft("RGB", (min_side, min_side))
    image.load()  # the first frame of an animation: no seek
    out = image
    if _orientation(image) != 1:
        out = ImageOps.exif_transpose(image)
    return to_8bit(out)  # 1-bit and every 8-bit mode go to RGB in clip_resize_crop (to_rgb)


def decode_image(
    data: bytes | Path,
    size: int,
    max_pixels: int,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> np.ndarray:
    """Decode an image and resize and centre crop it to the encoder's input.

    The resize and crop are ``retrieval.preprocess.clip_resize_crop``, the encoder's own.

    Args:
        data: the encoded bytes, or a file path.
        size: the model's input size (224 for ViT-B/32).
        max_pixels: the decompression-bomb limit (``IngestSettings.max_image_pixels``).
        max_file_bytes: the largest local file read (``IngestSettings.max_file_bytes``).
        read_timeout: seconds a local file read may take (``IngestSettings.file_read_timeout``).

    Returns:
        uint8 array of shape (size, size, 3).

    Raises:
        PermanentItemError: with a reason (``truncated``, ``unsupported_format``, ...).
    """
    image = load_rgb(
        data, max_pixels, min_side=round(size * DRAFT_MARGIN), max_file_bytes=max_file_bytes, read_timeout=read_timeout
    )
    try:
        return clip_resize_crop(image, size)
    except (OSError, ValueError) as exc:
        raise PermanentItemError(_reason(exc), str(exc)) from None
    finally:
        image.close()


def decode_frame(
    data: bytes | Path,
    size: int,
    max_pixels: int,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> np.ndarray:
    """Decode an image whole, upright and RGB, for an encoder that resizes on its device.

    The CPU does only the decode (a JPEG is still drafted down while its shortest side stays
    at least ``size``, as in :func:`decode_image`); the resize and crop run on the GPU
    (``retrieval/encoder/device_resize.py``). A picture over ``MAX_FRAME_PIXELS`` is resized
    and cropped here and comes back as ``size`` x ``size``, which the device passes through.

    Args:
        data: the encoded bytes, or a file path.
        size: the model's input size (224 for ViT-B/32).
        max_pixels: the decompression-bomb limit (``IngestSettings.max_image_pixels``).
        max_file_bytes: the largest local file read.
        read_timeout: seconds a local file read may take.

    Returns:
        uint8 array of shape (height, width, 3), C-contiguous.

    Raises:
        PermanentItemError: with a reason, as :func:`decode_image`.
    """
    image = load_rgb(
        data, max_pixels, min_side=round(size * DRAFT_MARGIN), max_file_bytes=max_file_bytes, read_timeout=read_timeout
    )
    try:
        if image.width * image.height > MAX_FRAME_PIXELS:
            return clip_resize_crop(image, size)
        rgb = to_rgb(image)
        frame = np.asarray(rgb, dtype=np.uint8)
        if rgb is not image:
            rgb.close()
        return frame
    except (OSError, ValueError) as exc:
        raise PermanentItemError(_reason(exc), str(exc)) from None
    finally:
        image.close()


def _decode_tagged(
    data: bytes | Path, size: int, max_pixels: int, max_file_bytes: int, read_timeout: float, resize: bool = True
) -> tuple[str, object, str]:
    """``decode_image`` (or ``decode_frame``) for a worker process: errors come back as values.

    ``ItemError`` does not survive pickling with its reason, so it travels as a tuple.
    """
    decode = decode_image if resize else decode_frame
    try:
        pixels = decode(data, size, max_pixels, max_file_bytes=max_file_bytes, read_timeout=read_timeout)
        return ("ok", pixels, "")
    except TransientItemError as exc:
        return ("transient", exc.reason, exc.detail)
    except PermanentItemError as exc:
        return ("error", exc.reason, exc.detail)


class DecodePool:
    """Decode images off the caller's thread: ``submit`` returns a future of the pixels.

    Threads are the default: Pillow releases the GIL while it decodes and resizes, and a
    process pool pays for pickling the bytes in and the pixels out. Measured on 2 cores with
    2 workers (``benchmarks/fetch_decode.py``): threads 302/s against processes 249/s for
    640-px JPEGs, 252/s against 208/s for 1080-px ones.

    With ``resize=False`` the workers only decode (:func:`decode_frame`), for an encoder that
    resizes and crops on its GPU (``ClipEncoder.resizes_on_device``).
    """

    def __init__(
        self,
        size: int,
        max_pixels: int,
        workers: int | None = None,
        kind: Literal["thread", "process"] = "thread",
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        resize: bool = True,
    ) -> None:
        """Start the pool.

        Args:
            size: the model's input size.
            max_pixels: the decompression-bomb limit.
            workers: how many decodes run at once (default: the number of CPU cores).
            kind: ``"thread"`` or ``"process"``.
            max_file_bytes: the largest local file read.
            read_timeout: seconds a local file read may take.
            resize: hand ``size`` x ``size`` crops (:func:`decode_image`); False hands whole
                pictures (:func:`decode_frame`) for the encoder's device to resize.
        """
        self.size = size
        self.resize = resize
        self.max_pixels = max_pixels
        self.max_file_bytes = max_file_bytes
        self.read_timeout = read_timeout
        self.workers = workers or os.cpu_count() or 1
        self.kind = kind
        self._executor: Executor
        if kind == "process":
            self._executor = ProcessPoolExecutor(self.workers, initializer=one_torch_thread)
        elif kind == "thread":
            # One torch thread per worker: the pool already has a thread per core.
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="decode", initializer=one_torch_thread)
        else:
            raise ValueError(f"kind must be 'thread' or 'process', got {kind!r}")

    def submit(self, data: bytes | Path) -> Future[np.ndarray]:
        """Decode ``data`` in the pool; the future raises ``PermanentItemError`` on a bad image."""
        if self.kind == "thread":
            return self._executor.submit(
                decode_image if self.resize else decode_frame, data, self.size, self.max_pixels,
                max_file_bytes=self.max_file_bytes, read_timeout=self.read_timeout,
            )
        result: Future[np.ndarray] = Future()
        inner = self._executor.submit(
            _decode_tagged, data, self.size, self.max_pixels, self.max_file_bytes, self.read_timeout, self.resize
        )

        def _settle(done: Future[tuple[str, object, str]]) -> None:
            try:
                tag, value, detail = done.result()
            except BaseException as exc:  # noqa: BLE001 - a dead worker fails this item only
                result.set_exception(exc)
                return
            if tag == "ok":
                result.set_result(value)  # type: ignore[arg-type]  # the "ok" tag carries the decoded array
            elif tag == "transient":
                result.set_exception(TransientItemError(str(value), detail))
            else:
                result.set_exception(PermanentItemError(str(value), detail))

        inner.add_done_callback(_settle)
        return result

    def close(self, wait: bool = True) -> None:
        """Stop the workers (after the submitted decodes when ``wait``)."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
