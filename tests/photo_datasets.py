"""Generated test inputs: a Lite-format Unsplash dataset folder and images of every kind.

Used by the ingest tests, the pipeline tests, the benchmarks and the demo. Everything is
deterministic, so a test can state the payload and the pixels it expects.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PHOTO_COLUMNS = (
    "photo_id", "photo_url", "photo_image_url", "photo_submitted_at", "photo_featured",
    "photo_width", "photo_height", "photo_aspect_ratio", "photo_description",
    "photographer_username", "photographer_first_name", "photographer_last_name",
    "exif_camera_make", "exif_camera_model", "exif_iso", "exif_aperture_value",
    "exif_focal_length", "exif_exposure_time", "photo_location_name", "photo_location_latitude",
    "photo_location_longitude", "photo_location_country", "photo_location_city", "stats_views",
    "stats_downloads", "ai_description", "ai_primary_landmark_name",
    "ai_primary_landmark_latitude", "ai_primary_landmark_longitude",
    "ai_primary_landmark_confidence", "blur_hash",
)
KEYWORD_COLUMNS = ("photo_id", "keyword", "ai_service_1_confidence", "ai_service_2_confidence", "suggested_by_user")
COLOR_COLUMNS = ("photo_id", "hex", "red", "green", "blue", "keyword", "ai_coverage", "ai_score")
COLLECTION_COLUMNS = ("photo_id", "collection_id", "collection_title", "photo_collected_at")
CONVERSION_COLUMNS = (
    "converted_at", "conversion_type", "keyword", "photo_id", "anonymous_user_id", "conversion_country"
)


def photo_color(index: int) -> tuple[int, int, int]:
    """The solid colour of generated photo ``index``."""
    return ((index * 37 + 40) % 256, (index * 91 + 80) % 256, (index * 53 + 120) % 256)


def jpeg_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30), quality: int = 92,
               exif: Image.Exif | None = None) -> bytes:
    """A solid-colour JPEG."""
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    image.save(out, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def photo_jpeg(width: int, height: int, seed: int = 0, quality: int = 90) -> bytes:
    """A photo-like JPEG (smooth gradients plus texture), for speed and accuracy checks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        127 + 100 * np.sin(x / (17 + seed % 7)) * np.cos(y / 23),
        127 + 100 * np.cos((x + y) / 41),
        127 + 80 * np.sin(y / 13 + seed),
    ], axis=-1)
    noise = rng.normal(0, 12, (height, width, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def rotated_jpeg() -> bytes:
    """A 64x32 JPEG, left half red and right half blue, with EXIF orientation 6.

    Shown upright (turned 90 degrees clockwise) it is 32x64 with red on top, blue below.
    """
    image = Image.new("RGB", (64, 32), (255, 0, 0))
    image.paste((0, 0, 255), (32, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(image, "JPEG", quality=95, exif=exif)


def animated_gif() -> bytes:
    """A two-frame GIF: the first frame red, the second blue."""
    frames = [Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


@dataclass
class ModeImage:
    """An encoded image and the RGB colour its upright centre must decode to."""

    data: bytes
    expected: tuple[int, int, int]
    tolerance: int = 6


def mode_images() -> dict[str, ModeImage]:
    """Images in every mode and format the decoder must handle, keyed by a short name."""
    images: dict[str, ModeImage] = {}
    images["rgb_jpeg"] = ModeImage(jpeg_bytes(48, 32, (200, 30, 30)), (200, 30, 30))
    images["grey_png"] = ModeImage(_save(Image.new("L", (24, 24), 128), "PNG"), (128, 128, 128), 0)
    images["bilevel_png"] = ModeImage(_save(Image.new("1", (24, 24), 1), "PNG"), (255, 255, 255), 0)
    palette = Image.new("P", (24, 24), 0)
    palette.putpalette([10, 200, 10] + [0, 0, 0] * 255)
    images["palette_png"] = ModeImage(_save(palette, "PNG"), (10, 200, 10), 0)
    images["palette_transparent_png"] = ModeImage(_save(palette, "PNG", transparency=0), (255, 255, 255), 0)
    alpha_palette = Image.new("P", (24, 24), 0)
    alpha_palette.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    images["palette_alpha_png"] = ModeImage(
        _save(alpha_palette, "PNG", transparency=bytes([128])), (127, 127, 255), 2
    )
    images["rgba_png"] = ModeImage(_save(Image.new("RGBA", (24, 24), (255, 0, 0, 128)), "PNG"), (255, 127, 127), 2)
    images["la_png"] = ModeImage(_save(Image.new("LA", (24, 24), (0, 128)), "PNG"), (127, 127, 127), 2)
    images["cmyk_jpeg"] = ModeImage(
        _save(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG", quality=95), (255, 0, 0), 8
    )
    images["grey16_png"] = ModeImage(
        _save(Image.fromarray(np.full((24, 24), 32896, dtype=np.uint16)), "PNG"), (128, 128, 128), 1
    )
    images["rgb_webp"] = ModeImage(
        _save(Image.new("RGB", (24, 24), (30, 60, 220)), "WEBP", lossless=True), (30, 60, 220), 0
    )
    images["rgb_bmp"] = ModeImage(_save(Image.new("RGB", (24, 24), (90, 10, 160)), "BMP"), (90, 10, 160), 0)
    images["rgb_tiff"] = ModeImage(_save(Image.new("RGB", (24, 24), (15, 150, 95)), "TIFF"), (15, 150, 95), 0)
    images["animated_gif"] = ModeImage(animated_gif(), (255, 0, 0), 0)
    return images


def bad_images() -> dict[str, tuple[bytes, str]]:
    """Inputs the decoder must refuse, with the reason it must give."""
    whole = photo_jpeg(256, 256, seed=3)
    return {
        "empty": (b"", "empty_file"),
        "truncated_jpeg": (whole[: len(whole) // 2], "truncated"),
        "truncated_jpeg_header": (whole[:200], "truncated"),
        "html": (b"<!doctype html><html><body>Not found</body></html>", "unsupported_format"),
        "bomb_png": (bomb_png(), "too_many_pixels"),
    }


# One row per photo; rows are tuples in PHOTO_COLUMNS order.
def _photo_row(index: int, photo_id: str, image_url: str) -> list[str]:
    width, height = (1200, 800) if index % 3 else (800, 1200)
    if index % 5 == 4:
        width = height = 1000
    has_place = index % 2 == 0
    return [
        photo_id, f"https://unsplash.com/photos/{photo_id}", image_url,
        f"2021-0{1 + index % 9}-1{index % 10} 10:20:3{index % 10}.{index:06d}",
        "t" if index % 4 == 0 else "f",
        str(width), str(height), f"{width / height:.2f}",
        f"Photo number {index}" if index % 6 else "",
        f"user{index}", f"First{index}", "" if index % 7 == 0 else f"Last{index}",
        "Canon" if index % 2 else "", "EOS 5D" if index % 2 else "", str(100 * (1 + index % 4)) if index % 2 else "",
        "2.8" if index % 2 else "", "50.0" if index % 2 else "", "1/250" if index % 2 else "",
        f"Place {index}" if has_place else "", f"{10 + index * 0.5:.4f}" if has_place else "",
        f"{20 - index * 0.25:.4f}" if has_place else "", "Iceland" if has_place else "",
        "Reykjavik" if has_place and index % 4 == 0 else "",
        str(1000 * index), str(10 * index), f"a generated scene {index}", "", "", "", "", "LEHLe6WB2y",
    ]


@dataclass
class LiteDataset:
    """A generated dataset folder and what a reader must find in it."""

    dir: Path
    photo_ids: list[str] = field(default_factory=list)  # good photos, in file order
    bad_rows: dict[str, str] = field(default_factory=dict)  # "photos.tsv000:17" -> column named in detail
    colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # photo_id -> exact payload


def _expected_payload(index: int, photo_id: str, image_url: str) -> dict[str, Any]:
    width, height = (1200, 800) if index % 3 else (800, 1200)
    if index % 5 == 4:
        width = height = 1000
    payload: dict[str, Any] = {
        "source": "unsplash", "photo_id": photo_id, "image_url": image_url,
        "page_url": f"https://unsplash.com/photos/{photo_id}",
        "photographer": f"user{index}",
        "photographer_name": f"First{index}" + ("" if index % 7 == 0 else f" Last{index}"),
        # RFC 3339 leaves out a zero fraction of a second.
        "submitted_at": f"2021-0{1 + index % 9}-1{index % 10}T10:20:3{index % 10}"
        + (f".{index:06d}Z" if index else "Z"),
        "featured": index % 4 == 0, "width": width, "height": height,
        "aspect_ratio": float(f"{width / height:.2f}"),
        "orientation": "square" if width == height else ("landscape" if width > height else "portrait"),
        "ai_description": f"a generated scene {index}",
        "keywords": [f"kw{index}-best", f"kw{index}-second", "shared", f"kw{index}-user"],
        "user_keywords": [f"kw{index}-user"],
        "colors": ["green", "grey"], "color_hexes": ["#22AA33", "#888888"],
    }
    if index % 1000:
        payload["views"] = 1000 * index
        payload["downloads"] = 10 * index
    else:
        payload["views"], payload["downloads"] = 0, 0
    if index % 6:
        payload["description"] = f"Photo number {index}"
    if index % 2:
        payload["camera"] = {"make": "Canon", "model": "EOS 5D", "iso": 100 * (1 + index % 4),
                             "aperture": 2.8, "focal_length": 50.0, "exposure_time": "1/250"}
    else:
        payload["location"] = {"name": f"Place {index}", "country": "Iceland",
                               "geo": {"lat": float(f"{10 + index * 0.5:.4f}"),
                                       "lon": float(f"{20 - index * 0.25:.4f}")}}
        if index % 4 == 0:
            payload["location"]["city"] = "Reykjavik"
    if index % 3 == 0:
        payload["collections"] = ["Nature", f"Set {index}"]
    return payload


def write_lite_dataset(
    folder: Path,
    n_photos: int = 30,
    image_base_url: str = "https://images.unsplash.com",
    malformed: bool = True,
    split: bool = True,
    image_size: tuple[int, int] = (48, 32),
    images_dir: Path | None = None,
) -> LiteDataset:
    """Write a Lite-format dataset folder with ``n_photos`` good photos (and bad rows).

    Args:
        folder: where to write ``photos.tsv000`` (and ``photos.tsv001`` when ``split``),
            ``keywords.tsv000``, ``colors.tsv000``, ``collections.tsv000``, ``conversions.tsv000``.
        n_photos: good photos.
        image_base_url: photo_image_url is ``<image_base_url>/photos/<photo_id>``.
        malformed: add three bad photo rows (wrong column count, bad number, bad timestamp)
            and a few bad rows to the other tables.
        split: split photos over two files.
        image_size: pixel size of each photo's solid-colour JPEG (``LiteDataset.images``).
        images_dir: also write each image as ``<images_dir>/<photo_id>.jpg``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = LiteDataset(folder)
    rows: list[list[str]] = []
    keywords: list[list[str]] = []
    colors: list[list[str]] = []
    collections: list[list[str]] = []
    for index in range(n_photos):
        photo_id = f"Ph{index:05d}xYz"
        image_url = f"{image_base_url}/photos/{photo_id}"
        rows.append(_photo_row(index, photo_id, image_url))
        data.photo_ids.append(photo_id)
        data.colors[photo_id] = photo_color(index)
        data.images[photo_id] = jpeg_bytes(*image_size, photo_color(index))
        data.expected[photo_id] = _expected_payload(index, photo_id, image_url)
        # Listed worst first, so that a reader that keeps file order fails the test.
        keywords += [
            [photo_id, f"kw{index}-user", "", "", "t"],
            [photo_id, "shared", "20.5", "", "f"],
            [photo_id, f"kw{index}-second", "", "55.0", "f"],
            [photo_id, f"kw{index}-best", "90.1", "80.0", "f"],
        ]
        colors += [[photo_id, "888888", "136", "136", "136", "grey", "0.2", "0.5"],
                   [photo_id, "22AA33", "34", "170", "51", "green", "0.6", "0.9"]]
        if index % 3 == 0:
            collections += [[photo_id, "7", "Nature", "2021-05-01 10:00:00"],
                            [photo_id, f"{100 + index}", f"Set {index}", "2022-05-01 10:00:00"]]
        if images_dir is not None:
            images_dir.mkdir(parents=True, exist_ok=True)
            (images_dir / f"{photo_id}.jpg").write_bytes(data.images[photo_id])
    bad: list[tuple[int, list[str], str]] = []
    if malformed:
        short = _photo_row(900, "BadCols0001", f"{image_base_url}/photos/BadCols0001")[:-3]
        number = _photo_row(901, "BadNumb0001", f"{image_base_url}/photos/BadNumb0001")
        number[PHOTO_COLUMNS.index("photo_width")] = "wide"
        stamp = _photo_row(902, "BadTime0001", f"{image_base_url}/photos/BadTime0001")
        stamp[PHOTO_COLUMNS.index("photo_submitted_at")] = "yesterday"
        bad = [(min(3, len(rows)), short, "columns"), (min(7, len(rows)), number, "photo_width"),
               (min(11, len(rows)), stamp, "photo_submitted_at")]
        for position, row, _ in sorted(bad, key=lambda b: -b[0]):
            rows.insert(position, row)
        keywords.append(["only-two", "columns"])
        colors.append(["Ph00000xYz", "123456", "x", "1", "2", "blue", "not-a-number", "0.1"])
    parts = [rows[: len(rows) // 2], rows[len(rows) // 2 :]] if split else [rows]
    for number, part in enumerate(parts):
        name = f"photos.tsv{number:03d}"
        _write_tsv(folder / name, PHOTO_COLUMNS, part)
        for line, row in enumerate(part, start=2):
            for _, bad_row, detail in bad:
                if row is bad_row:
                    data.bad_rows[f"{name}:{line}"] = detail
    _write_tsv(folder / "keywords.tsv000", KEYWORD_COLUMNS, keywords)
    _write_tsv(folder / "colors.tsv000", COLOR_COLUMNS, colors)
    _write_tsv(folder / "collections.tsv000", COLLECTION_COLUMNS, collections)
    _write_tsv(folder / "conversions.tsv000", CONVERSION_COLUMNS, [])
    return data


def _write_tsv(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(columns) + "\n")
        handle.writelines("\t".join(row) + "\n" for row in rows)
