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

# The columns of each table as DOCS.md of release 1.4.0 documents them.
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
KEYWORD_COLUMNS_1_4 = (
    "photo_id", "keyword", "ai_service_1_confidence", "ai_service_2_confidence", "suggested_by_user",
    "user_suggestion_source", "suggested_by_ai_service_3", "confirmed_by_ai_service_3",
)
COLOR_COLUMNS = ("photo_id", "hex", "red", "green", "blue", "keyword", "coverage", "score")
COLLECTION_COLUMNS_1_3 = ("photo_id", "collection_id", "collection_title", "photo_collected_at", "collection_type")
CONVERSION_COLUMNS_1_4 = (
    "converted_at", "conversion_type", "keyword", "photo_id", "anonymous_user_id", "conversion_country",
    "device_type", "search_orientation_filter", "search_ordering",
)
# The layouts before: keywords of 1.0-1.2 (no user source, no AI service 3), collections of 1.0-1.2
# (no type), conversions of 1.0-1.3, and colors as the official SQL names its columns.
KEYWORD_COLUMNS = KEYWORD_COLUMNS_1_4[:5]
COLLECTION_COLUMNS = COLLECTION_COLUMNS_1_3[:4]
CONVERSION_COLUMNS = CONVERSION_COLUMNS_1_4[:6]
SQL_COLOR_COLUMNS = ("photo_id", "hex", "red", "green", "blue", "keyword", "ai_coverage", "ai_score")
SQL_NAMES = {"ai_coverage": "coverage", "ai_score": "score"}
# Columns of photos.tsv that 1.0 lacks: sizes and descriptions came in 1.1, the blur hash in 1.2.
ADDED_AFTER_1_0 = ("photo_width", "photo_height", "photo_aspect_ratio", "photo_description", "blur_hash")
RELEASES = ("1.4.0", "1.2", "1.0")


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


# Photos whose values are odd (only written when ``malformed``): index -> what is odd.
SWAPPED, ODD_FOCAL, ODD_WIDTH, OFF_EARTH, ODD_FLAG, ODD_TIME = 2, 5, 7, 9, 10, 11
# A true location far enough east that the swapped pair is off Earth (unsplash/datasets#63).
OREGON = (45.4655, -123.97116667)
# photo_submitted_at in the forms a PostgreSQL export writes, all the same instant in UTC.
TIME_FORMS = ("{d} {t}", "{d} {t}+00", "{d}T{t}Z", "{d} {t} UTC")
BLUR_HASH = "LEHLe6WB2y"
LANDMARK = ("Hallgrimskirkja", "64.1417", "-21.9266", "0.87")


def _size(index: int) -> tuple[int, int]:
    width, height = (1200, 800) if index % 3 else (800, 1200)
    if index % 5 == 4:
        width = height = 1000
    return width, height


def _place(index: int) -> tuple[float, float]:
    if index == SWAPPED:
        return OREGON
    return float(f"{10 + index * 0.5:.4f}"), float(f"{20 - index * 0.25:.4f}")


def _photo_row(index: int, photo_id: str, image_url: str, odd: bool = False) -> dict[str, str]:
    """One photos.tsv row, by column name (``_write_tsv`` keeps the columns of the layout)."""
    width, height = _size(index)
    has_place, has_camera = index % 2 == 0, index % 2 == 1
    lat, lon = _place(index)
    day, clock = f"2021-0{1 + index % 9}-1{index % 10}", f"10:20:3{index % 10}.{index:06d}"
    row = {
        "photo_id": photo_id, "photo_url": f"https://unsplash.com/photos/{photo_id}", "photo_image_url": image_url,
        "photo_submitted_at": TIME_FORMS[index % 4].format(d=day, t=clock),
        "photo_featured": "t" if index % 4 == 0 else "f",
        "photo_width": str(width), "photo_height": str(height), "photo_aspect_ratio": f"{width / height:.2f}",
        "photo_description": f"Photo number {index}" if index % 6 else "",
        "photographer_username": f"user{index}", "photographer_first_name": f"First{index}",
        "photographer_last_name": "" if index % 7 == 0 else f"Last{index}",
        "exif_camera_make": "Canon" if has_camera else "", "exif_camera_model": "EOS 5D" if has_camera else "",
        "exif_iso": str(100 * (1 + index % 4)) if has_camera else "",
        # varchar in the official schema: both the bare number and the photographer's notation occur.
        "exif_aperture_value": ("f/2.8" if index % 4 == 1 else "2.8") if has_camera else "",
        "exif_focal_length": ("50 mm" if index % 4 == 1 else "50.0") if has_camera else "",
        "exif_exposure_time": "1/250" if has_camera else "",
        "photo_location_name": f"Place {index}" if has_place else "",
        "photo_location_latitude": f"{lat}" if has_place else "",
        "photo_location_longitude": f"{lon}" if has_place else "",
        "photo_location_country": "Iceland" if has_place else "",
        "photo_location_city": "Reykjavik" if has_place and index % 4 == 0 else "",
        "stats_views": str(1000 * index), "stats_downloads": str(10 * index),
        "ai_description": f"a generated scene {index}",
        "ai_primary_landmark_name": LANDMARK[0] if index % 5 == 0 else "",
        "ai_primary_landmark_latitude": LANDMARK[1] if index % 5 == 0 else "",
        "ai_primary_landmark_longitude": LANDMARK[2] if index % 5 == 0 else "",
        "ai_primary_landmark_confidence": LANDMARK[3] if index % 5 == 0 else "",
        "blur_hash": BLUR_HASH,
    }
    if odd:
        if index == SWAPPED:  # written the wrong way round, as releases up to 1.2.2 did
            row["photo_location_latitude"], row["photo_location_longitude"] = f"{lon}", f"{lat}"
        elif index == ODD_FOCAL:
            row["exif_focal_length"] = "24-70mm"
        elif index == ODD_WIDTH:
            row["photo_width"] = "wide"
        elif index == OFF_EARTH:
            row["ai_primary_landmark_name"] = "Nowhere"
            row["ai_primary_landmark_latitude"], row["ai_primary_landmark_longitude"] = "200", "300"
        elif index == ODD_FLAG:
            row["photo_featured"] = "maybe"
        elif index == ODD_TIME:
            row["photo_submitted_at"] = "yesterday"
    return row


# The field warnings each odd photo must produce: (column, reason).
ODD_WARNINGS = {
    SWAPPED: ("photo_location_latitude/photo_location_longitude", "swapped"),
    ODD_FOCAL: ("exif_focal_length", "not_a_number"),
    ODD_WIDTH: ("photo_width", "not_a_number"),
    OFF_EARTH: ("ai_primary_landmark_latitude/ai_primary_landmark_longitude", "out_of_range"),
    ODD_FLAG: ("photo_featured", "not_a_flag"),
    ODD_TIME: ("photo_submitted_at", "not_a_timestamp"),
}


@dataclass
class LiteDataset:
    """A generated dataset folder and what a reader must find in it."""

    dir: Path
    release: str = "1.4.0"
    photo_ids: list[str] = field(default_factory=list)  # good photos, in file order
    bad_rows: dict[str, str] = field(default_factory=dict)  # "photos.tsv000:17" -> words of its detail
    # "photos.tsv000:5" (or "keywords.tsv000:9") -> {(column, reason)} expected there
    warnings: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # photo_id -> exact payload


def _keywords(index: int, photo_id: str, release: str) -> tuple[list[dict[str, str]], list[str], list[dict[str, Any]]]:
    """The keyword rows of one photo (worst first), and the keywords and details a reader must find."""
    rows = [
        {"keyword": f"kw{index}-user", "suggested_by_user": "t", "user_suggestion_source": "photographer"},
        {"keyword": "shared", "ai_service_1_confidence": "20.5", "suggested_by_user": "f"},
        {"keyword": f"kw{index}-second", "ai_service_2_confidence": "55.0", "suggested_by_user": "f"},
        {"keyword": f"kw{index}-best", "ai_service_1_confidence": "90.1", "ai_service_2_confidence": "80.0",
         "suggested_by_user": "f", "suggested_by_ai_service_3": "t", "confirmed_by_ai_service_3": "t"},
    ]
    details: list[dict[str, Any]] = [
        {"keyword": f"kw{index}-best", "ai_service_1": 90.1, "ai_service_2": 80.0},
        {"keyword": f"kw{index}-second", "ai_service_2": 55.0},
        {"keyword": "shared", "ai_service_1": 20.5},
        {"keyword": f"kw{index}-user", "user": "unknown"},
    ]
    if release == "1.4.0":
        rows.append({"keyword": f"kw{index}-ai3", "suggested_by_user": "f", "suggested_by_ai_service_3": "t",
                     "confirmed_by_ai_service_3": "f"})
        details[0]["ai_service_3"] = "confirmed"
        details[3]["user"] = "photographer"
        details.append({"keyword": f"kw{index}-ai3", "ai_service_3": "suggested"})
    for row in rows:
        row["photo_id"] = photo_id
    return rows, [d["keyword"] for d in details], details


# (hex, rgb, keyword, coverage, score), listed smallest coverage first
_COLOURS = (("888888", (136, 136, 136), "grey", 20.0, 0.5), ("000000", (0, 0, 0), "black", 5.0, 0.95),
            ("22AA33", (34, 170, 51), "green", 62.0, 0.9))


def _expected_payload(index: int, photo_id: str, image_url: str, release: str, odd: bool) -> dict[str, Any]:
    width, height = _size(index)
    lat, lon = _place(index)
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
        "blur_hash": BLUR_HASH,
    }
    _, keywords, details = _keywords(index, photo_id, release)
    payload.update(keywords=keywords, user_keywords=[f"kw{index}-user"], keyword_details=details)
    if release != "1.0":
        ranked = sorted(_COLOURS, key=lambda c: -c[3])
        payload["colors"] = [c[2] for c in ranked]
        payload["color_hexes"] = [f"#{c[0]}" for c in ranked]
        payload["color_details"] = [
            {"keyword": c[2], "hex": f"#{c[0]}", "coverage": c[3], "score": c[4], "rgb": list(c[1])} for c in ranked
        ]
    payload["views"], payload["downloads"] = 1000 * index, 10 * index
    if index % 6:
        payload["description"] = f"Photo number {index}"
    if index % 2:
        notation = index % 4 == 1
        payload["camera"] = {"make": "Canon", "model": "EOS 5D", "iso": 100 * (1 + index % 4),
                             "aperture": 2.8, "aperture_text": "f/2.8" if notation else "2.8",
                             "focal_length": 50.0, "focal_length_text": "50 mm" if notation else "50.0",
                             "exposure_time": "1/250", "exposure_seconds": 0.004}
    else:
        payload["location"] = {"name": f"Place {index}", "country": "Iceland", "geo": {"lat": lat, "lon": lon}}
        if index % 4 == 0:
            payload["location"]["city"] = "Reykjavik"
    if index % 5 == 0:
        payload["landmark"] = {"name": LANDMARK[0], "geo": {"lat": float(LANDMARK[1]), "lon": float(LANDMARK[2])},
                               "confidence": float(LANDMARK[3])}
    if index % 3 == 0:
        payload["collections"] = ["Nature", f"Set {index}"]
        if release == "1.4.0":
            payload["topics"] = ["Nature"]
    if odd:
        if index == ODD_FOCAL:
            payload["camera"]["focal_length_text"] = "24-70mm"
            del payload["camera"]["focal_length"]
        elif index == ODD_WIDTH:
            del payload["width"]  # the aspect ratio of the file still gives the orientation
        elif index == OFF_EARTH:
            payload["landmark"] = {"name": "Nowhere"}
        elif index == ODD_FLAG:
            del payload["featured"]
        elif index == ODD_TIME:
            del payload["submitted_at"]
    if release == "1.0":
        for key in ("width", "height", "aspect_ratio", "orientation", "description", "blur_hash"):
            payload.pop(key, None)
    return payload


def write_lite_dataset(
    folder: Path,
    n_photos: int = 30,
    image_base_url: str = "https://images.unsplash.com",
    malformed: bool = True,
    split: bool = True,
    image_size: tuple[int, int] = (48, 32),
    images_dir: Path | None = None,
    release: str = "1.4.0",
    extension: str = "tsv",
    bom: bool = False,
) -> LiteDataset:
    """Write a Lite-format dataset folder with ``n_photos`` good photos (and bad rows).

    Args:
        folder: where to write ``photos.tsv000`` (and ``photos.tsv001`` when ``split``),
            ``keywords.tsv000``, ``colors.tsv000``, ``collections.tsv000``, ``conversions.tsv000``.
        n_photos: good photos.
        image_base_url: photo_image_url is ``<image_base_url>/photos/<photo_id>``.
        malformed: add three photo rows that cannot be photos (too few and too many columns,
            an empty photo_id), odd values in good photos (swapped coordinates, ``24-70mm``, ``wide``,
            ``maybe``, ``yesterday``, a landmark off Earth) and odd rows to the other tables.
        split: split photos over two files.
        image_size: pixel size of each photo's solid-colour JPEG (``LiteDataset.images``).
        images_dir: also write each image as ``<images_dir>/<photo_id>.jpg``.
        release: ``1.4.0`` (the documented layout), ``1.2`` (keywords without user source and
            AI service 3, collections without type, colors with the SQL's ``ai_coverage`` and
            ``ai_score``) or ``1.0`` (also no sizes, descriptions, blur hash or colors file).
        extension: ``tsv`` or ``csv`` (the Lite download of 1.3.0 on names its parts ``.csv000``).
        bom: start every file with a UTF-8 byte-order mark.
    """
    if release not in RELEASES:
        raise ValueError(f"release must be one of {RELEASES}")
    folder.mkdir(parents=True, exist_ok=True)
    data = LiteDataset(folder, release)
    rows: list[dict[str, str]] = []
    keywords: list[dict[str, str]] = []
    colors: list[dict[str, str]] = []
    collections: list[dict[str, str]] = []
    odd_at: dict[int, int] = {}  # position in rows -> photo index, for the expected warnings
    for index in range(n_photos):
        photo_id = f"Ph{index:05d}xYz"
        image_url = f"{image_base_url}/photos/{photo_id}"
        # 1.0 has no photo_width to be odd in.
        odd = malformed and index in ODD_WARNINGS and not (release == "1.0" and index == ODD_WIDTH)
        if odd:
            odd_at[len(rows)] = index
        rows.append(_photo_row(index, photo_id, image_url, odd))
        data.photo_ids.append(photo_id)
        data.colors[photo_id] = photo_color(index)
        data.images[photo_id] = jpeg_bytes(*image_size, photo_color(index))
        data.expected[photo_id] = _expected_payload(index, photo_id, image_url, release, odd)
        keywords += _keywords(index, photo_id, release)[0]
        colors += [{"photo_id": photo_id, "hex": c[0], "red": str(c[1][0]), "green": str(c[1][1]),
                    "blue": str(c[1][2]), "keyword": c[2], "coverage": str(c[3]), "score": str(c[4])}
                   for c in _COLOURS]
        if index % 3 == 0:
            collections += [
                {"photo_id": photo_id, "collection_id": "7", "collection_title": "Nature",
                 "photo_collected_at": "2021-05-01 10:00:00", "collection_type": "collection"},
                {"photo_id": photo_id, "collection_id": f"{100 + index}", "collection_title": f"Set {index}",
                 "photo_collected_at": "2022-05-01 10:00:00+00", "collection_type": "collection"},
            ]
            if release == "1.4.0":  # a topic of the same title stays apart from the collection
                collections.append({"photo_id": photo_id, "collection_id": "bo8jQKTaE0Y", "collection_title": "Nature",
                                    "photo_collected_at": "2021-01-01 00:00:00 UTC", "collection_type": "topic"})
        if images_dir is not None:
            images_dir.mkdir(parents=True, exist_ok=True)
            (images_dir / f"{photo_id}.jpg").write_bytes(data.images[photo_id])
    columns = {
        "photos": tuple(c for c in PHOTO_COLUMNS if release != "1.0" or c not in ADDED_AFTER_1_0),
        "keywords": KEYWORD_COLUMNS_1_4 if release == "1.4.0" else KEYWORD_COLUMNS,
        "colors": COLOR_COLUMNS if release == "1.4.0" else SQL_COLOR_COLUMNS,
        "collections": COLLECTION_COLUMNS_1_3 if release == "1.4.0" else COLLECTION_COLUMNS,
        "conversions": CONVERSION_COLUMNS_1_4 if release == "1.4.0" else CONVERSION_COLUMNS,
    }
    bad: list[tuple[int, dict[str, str] | list[str], str]] = []
    extra_warnings: dict[str, set[tuple[str, str]]] = {}
    if malformed:
        short = list(_photo_row(900, "BadCols0001", f"{image_base_url}/photos/BadCols0001").values())[:-3]
        no_id = _photo_row(901, "", f"{image_base_url}/photos/nothing")
        long = [*_photo_row(902, "BadCols0009", f"{image_base_url}/photos/BadCols0009").values(), "extra"]
        bad = [(min(3, len(rows)), short, "columns"), (min(8, len(rows)), no_id, "photo_id"),
               (min(11, len(rows)), long, "columns")]
        for position, row, _ in sorted(bad, key=lambda b: -b[0]):
            rows.insert(position, row)  # type: ignore[arg-type]
            odd_at = {(p + 1 if p >= position else p): i for p, i in odd_at.items()}
        keywords.append({"photo_id": "only-two", "keyword": "columns", "__short__": "1"})
        extra_warnings[f"keywords.tsv000:{len(keywords) + 1}"] = {("row", "bad_row")}
        if n_photos:
            keywords.append({"photo_id": data.photo_ids[0], "keyword": "odd-confidence",
                             "ai_service_1_confidence": "high", "suggested_by_user": "f"})
            extra_warnings[f"keywords.tsv000:{len(keywords) + 1}"] = {("ai_service_1_confidence", "not_a_number")}
            expected = data.expected[data.photo_ids[0]]
            expected["keywords"].append("odd-confidence")
            expected["keyword_details"].append({"keyword": "odd-confidence"})
            if release != "1.0":
                colors.append({"photo_id": data.photo_ids[0], "hex": "123456", "red": "x", "green": "1",
                               "blue": "2", "keyword": "blue", "coverage": "not-a-number", "score": "0.1"})
                extra_warnings[f"colors.tsv000:{len(colors) + 1}"] = {("red", "not_a_number"),
                                                                      ("coverage", "not_a_number")}
                expected["colors"].append("blue")
                expected["color_hexes"].append("#123456")
                expected["color_details"].append({"keyword": "blue", "hex": "#123456", "score": 0.1})
    parts = [rows[: len(rows) // 2], rows[len(rows) // 2 :]] if split else [rows]
    offset = 0
    for number, part in enumerate(parts):
        name = f"photos.{extension}{number:03d}"
        _write_tsv(folder / name, columns["photos"], part, bom)
        for line, row in enumerate(part, start=2):
            for _, bad_row, detail in bad:
                if row is bad_row:
                    data.bad_rows[f"{name}:{line}"] = detail
            index = odd_at.get(offset + line - 2)
            if index is not None:
                data.warnings[f"{name}:{line}"] = {ODD_WARNINGS[index]}
        offset += len(part)
    for ref, found in extra_warnings.items():
        table, _, line = ref.partition(".tsv000:")
        data.warnings[f"{table}.{extension}000:{line}"] = found
    _write_tsv(folder / f"keywords.{extension}000", columns["keywords"], keywords, bom)
    if release != "1.0":
        _write_tsv(folder / f"colors.{extension}000", columns["colors"], colors, bom)
    _write_tsv(folder / f"collections.{extension}000", columns["collections"], collections, bom)
    _write_tsv(folder / f"conversions.{extension}000", columns["conversions"], [], bom)
    return data


def _write_tsv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]] | list[list[str]],
               bom: bool = False) -> None:
    """A table file; a row given by column name has the columns of ``columns`` (others dropped,
    absent ones empty); a row given as a list is written as it is."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        handle.write("\t".join(columns) + "\n")
        for row in rows:
            if isinstance(row, dict):
                if "__short__" in row:
                    cells = [row["photo_id"], row["keyword"]]
                else:
                    cells = [row.get(column, row.get(SQL_NAMES.get(column, ""), "")) for column in columns]
            else:
                cells = list(row)
            handle.write("\t".join(cells) + "\n")
