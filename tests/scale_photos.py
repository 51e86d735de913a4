"""Generated photos at scale: clustered CLIP-like vectors and Unsplash-shaped payloads.

Shared by the filtered-recall tests (tests/retrieval/store/test_filtered_recall.py) and the
cost curve (benchmarks/scale.py), so the two measure the same data.

Vectors: Gaussian blobs around ``CENTRES`` random centres, normalised. HNSW behaves on them as
on real CLIP embeddings (neighbours are near, clusters far apart); on uniform random vectors
every point is about as far as every other and a filtered graph search looks better than it is.

Payloads: the fields of the Unsplash source (``photoseek.retrieval.schema``), with filter
values of known frequency, independent of the vector (the hard case for a filtered graph
search: the matching points are spread over every cluster):

- ``COMMON_KEYWORD`` in ``keywords`` of about 5 % of the photos;
- ``RARE_KEYWORD`` in ``keywords`` of about 0.1 %;
- ``orientation`` portrait for about 30 %, and ``submitted_at`` spread evenly over ten
  years, so ``DATE_RANGE`` (one year) plus portrait matches about 3 %.

Every batch is a function of its start index and the seed alone, so a run can stop and go on
from where a kept collection ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from qdrant_client import models

from photoseek.retrieval.schema import point_id

CENTRES = 2_000
COMMON_KEYWORD = "mountain"
COMMON_SHARE = 0.05
RARE_KEYWORD = "lighthouse"
RARE_SHARE = 0.001
PORTRAIT_SHARE = 0.30
START = datetime(2014, 1, 1, tzinfo=UTC)
YEARS = 10
DATE_RANGE = ("2019-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
# Spread of a blob around its centre (per dimension, centres have unit variance): neighbours of a
# query lie in its own blob, as near neighbours of a CLIP embedding lie in its own topic.
SPREAD = 0.6

_WORDS = tuple(f"kw{i:04d}" for i in range(3_000))
_COUNTRIES = tuple(f"Country {i:02d}" for i in range(60))
_COUNTRY_WEIGHTS = 1.0 / np.arange(1, len(_COUNTRIES) + 1)
_COLOURS = ("black", "white", "grey", "blue", "green", "red", "yellow", "orange", "brown", "purple", "pink", "teal")
_MAKES = ("Canon", "Nikon", "Sony", "Fujifilm", "Apple", "Olympus", "Panasonic", "Leica")


@dataclass(frozen=True)
class FilterKind:
    """A kind of filter the tests and the benchmark check, with the share of photos it matches."""

    name: str
    filter: models.Filter
    share: float


def filter_kinds() -> list[FilterKind]:
    """The filter kinds: a common keyword, a rare keyword, a date range with an orientation."""

    def keyword(value: str) -> models.Filter:
        return models.Filter(must=[models.FieldCondition(key="keywords", match=models.MatchValue(value=value))])

    dated = models.Filter(
        must=[
            models.FieldCondition(key="orientation", match=models.MatchValue(value="portrait")),
            models.FieldCondition(key="submitted_at", range=models.DatetimeRange(gte=DATE_RANGE[0], lt=DATE_RANGE[1])),
        ]
    )
    return [
        FilterKind("keyword ~5%", keyword(COMMON_KEYWORD), COMMON_SHARE),
        FilterKind("keyword ~0.1%", keyword(RARE_KEYWORD), RARE_SHARE),
        FilterKind("date+orientation ~3%", dated, PORTRAIT_SHARE / YEARS),
    ]


def centres(dim: int, seed: int = 0, count: int = CENTRES) -> np.ndarray:
    """The ``count`` x ``dim`` blob centres (unit variance per dimension)."""
    return np.random.default_rng([seed, 0]).standard_normal((count, dim)).astype(np.float32)


def clustered_vectors(
    start: int, n: int, dim: int, seed: int = 0, *, centre_table: np.ndarray | None = None, stream: int = 1
) -> np.ndarray:
    """Unit vectors ``start`` .. ``start + n`` of the collection (the same for the same arguments)."""
    table = centres(dim, seed) if centre_table is None else centre_table
    rng = np.random.default_rng([seed, stream, start])
    which = rng.integers(0, len(table), n)
    vectors = table[which] + SPREAD * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def query_vectors(n: int, dim: int, seed: int = 0, *, centre_count: int = CENTRES) -> np.ndarray:
    """``n`` queries from the same blobs as the points (none of them a stored point)."""
    return clustered_vectors(0, n, dim, seed, centre_table=centres(dim, seed, centre_count), stream=3)


def photo_payloads(start: int, n: int, seed: int = 0) -> tuple[list[str], list[dict[str, Any]]]:
    """Ids and payloads of photos ``start`` .. ``start + n``, shaped as the Unsplash source writes them."""
    rng = np.random.default_rng([seed, 2, start])
    common = rng.random(n) < COMMON_SHARE
    rare = rng.random(n) < RARE_SHARE
    shape = rng.random(n)
    seconds = rng.integers(0, int(YEARS * 365.25 * 86400), n)
    word_counts = rng.integers(3, 12, n)
    words = rng.integers(0, len(_WORDS), (n, 12))
    countries = rng.choice(len(_COUNTRIES), n, p=_COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum())
    has_place = rng.random(n) < 0.6
    has_camera = rng.random(n) < 0.7
    colours = rng.integers(0, len(_COLOURS), (n, 3))
    views = rng.integers(0, 2_000_000, n)
    ids: list[str] = []
    payloads: list[dict[str, Any]] = []
    for i in range(n):
        index = start + i
        photo_id = f"s{index:09d}"
        if shape[i] < PORTRAIT_SHARE:
            width, height, orientation = 4000, 6000, "portrait"
        elif shape[i] < PORTRAIT_SHARE + 0.08:
            width, height, orientation = 4000, 4000, "square"
        else:
            width, height, orientation = 6000, 4000, "landscape"
        keywords = [_WORDS[w] for w in words[i, : word_counts[i]]]
        if common[i]:
            keywords.insert(0, COMMON_KEYWORD)
        if rare[i]:
            keywords.insert(0, RARE_KEYWORD)
        submitted = (START + timedelta(seconds=int(seconds[i]))).strftime("%Y-%m-%dT%H:%M:%SZ")
        colour_names = list(dict.fromkeys(_COLOURS[c] for c in colours[i]))
        payload: dict[str, Any] = {
            "source": "unsplash",
            "photo_id": photo_id,
            "image_url": f"https://images.unsplash.com/photo-{photo_id}",
            "page_url": f"https://unsplash.com/photos/{photo_id}",
            "photographer": f"user{index % 40_000}",
            "photographer_name": f"First{index % 997} Last{index % 991}",
            "submitted_at": submitted,
            "featured": bool(index % 9 == 0),
            "width": width,
            "height": height,
            "aspect_ratio": round(width / height, 2),
            "orientation": orientation,
            "description": f"Photo {index} of {keywords[0]}",
            "ai_description": f"a photo of {' and '.join(keywords[:3])}",
            "views": int(views[i]),
            "downloads": int(views[i]) // 100,
            "keywords": keywords,
            "user_keywords": keywords[:2],
            "colors": colour_names,
            "color_hexes": [f"#{(hash(c) & 0xFFFFFF):06x}" for c in colour_names],
            "blur_hash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        }
        if has_place[i]:
            country = _COUNTRIES[countries[i]]
            payload["location"] = {
                "name": f"Town {index % 500}, {country}",
                "city": f"Town {index % 500}",
                "country": country,
                "geo": {"lat": round(-60 + (index % 1200) / 10, 6), "lon": round(-170 + (index % 3400) / 10, 6)},
            }
        if has_camera[i]:
            payload["camera"] = {
                "make": _MAKES[index % len(_MAKES)],
                "model": "X",
                "iso": 100 * (1 + index % 16),
                "aperture": 2.8,
                "aperture_text": "f/2.8",
                "focal_length": 50.0,
                "focal_length_text": "50 mm",
                "exposure_time": "1/250",
                "exposure_seconds": 0.004,
            }
        ids.append(point_id(photo_id))
        payloads.append(payload)
    return ids, payloads


def batches(
    start: int, stop: int, dim: int, batch: int = 1_000, seed: int = 0, *, centre_count: int = CENTRES
) -> Iterator[tuple[list[str], np.ndarray, list[dict[str, Any]]]]:
    """(ids, vectors, payloads) of photos ``start`` .. ``stop`` in batches of ``batch``.

    Batches start at multiples of ``batch``, so a run that resumes at a batch boundary writes
    exactly the photos a single run would have.
    """
    table = centres(dim, seed, centre_count)
    for first in range(start, stop, batch):
        n = min(batch, stop - first)
        ids, payloads = photo_payloads(first, n, seed)
        yield ids, clustered_vectors(first, n, dim, seed, centre_table=table), payloads
