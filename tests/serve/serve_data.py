"""The service tests' photos and settings, importable by name from every test module of tests/serve.

They live here and not in conftest.py: a test module's ``from conftest import ...`` finds
whichever conftest was imported first when several test folders are collected together.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from photoseek.config.settings import ModelSettings, QdrantSettings, Settings

COLLECTION = "photos"
# relative path -> (colour, size, country, keywords)
LOCAL: dict[str, tuple[tuple[int, int, int], tuple[int, int], str, list[str]]] = {
    "red.png": ((220, 20, 20), (64, 48), "Iceland", ["volcano", "red"]),
    "green.png": ((20, 200, 40), (48, 64), "Norway", ["forest", "green"]),
    "blue.png": ((30, 40, 220), (64, 48), "Iceland", ["sea", "blue"]),
    "trips/orange.jpg": ((240, 140, 20), (64, 64), "Japan", ["sunset"]),
    "trips/grey.jpg": ((120, 120, 120), (64, 48), "Japan", ["city", "rain"]),
    "trips/white.png": ((245, 245, 245), (48, 64), "France", ["snow"]),
}
UNSPLASH: dict[str, tuple[tuple[int, int, int], str, str]] = {
    "u-yellow": ((240, 220, 10), "alice", "Peru"),
    "u-purple": ((140, 20, 160), "bob", "Peru"),
    "u-teal": ((10, 150, 150), "alice", "Kenya"),
}
OUTSIDE = "outside.png"  # a stored photo whose file lies outside the served folder
ESCAPE = "escape.png"  # a stored photo whose path is a link inside the folder to a file outside it


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    """A solid-colour image file."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def orientation_of(size: tuple[int, int]) -> str:
    return "landscape" if size[0] > size[1] else "portrait" if size[0] < size[1] else "square"


def model_settings(folder: Path) -> ModelSettings:
    """Settings that load the tiny CLIP in ``folder`` on the CPU."""
    return ModelSettings(image=str(folder), text=str(folder), device="cpu")  # type: ignore[call-arg]


def serve_settings(data: Path, tiny_clip_dir: Path, photos: Path, **serve: Any) -> Settings:
    """Settings for an app on ``data`` with the tiny CLIP, serving thumbnails from ``photos``."""
    values: dict[str, Any] = {"photo_folders": str(photos), **serve}
    return Settings(
        qdrant=QdrantSettings(path=data, collection=COLLECTION),  # type: ignore[call-arg]
        model=model_settings(tiny_clip_dir),
        serve=values,  # type: ignore[arg-type]
    )
