"""The dashboard console examples in the README: valid Qdrant filters on indexed photo fields that match."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from compose_files import REPO
from photoseek.retrieval.schema import INDEXED_FIELDS, point_id


def console_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every console request in the README's deployment section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- deployment:begin -->")[1].split("<!-- deployment:end -->")[0]
    found = []
    for block in re.findall(r"```\n((?:GET|POST|PUT) collections/.*?)```", section, flags=re.S):
        first, _, body = block.partition("\n")
        method, path = first.split()
        found.append((method, path, json.loads(body)))
    return found


def keys_of(condition: Any) -> list[str]:
    if isinstance(condition, dict):
        own = [condition["key"]] if "key" in condition else []
        return own + [k for value in condition.values() for k in keys_of(value)]
    if isinstance(condition, list):
        return [k for item in condition for k in keys_of(item)]
    return []


def test_there_are_three_filter_examples() -> None:
    requests = console_requests()
    assert len([r for r in requests if "filter" in r[2]]) == 3


@pytest.mark.parametrize("index", range(3))
def test_example_is_a_valid_filter_on_indexed_fields(index: int) -> None:
    method, path, body = [r for r in console_requests() if "filter" in r[2]][index]
    assert method == "POST" and re.fullmatch(r"collections/unsplash/points/(scroll|count)", path)
    models.Filter.model_validate(body["filter"])
    for key in keys_of(body["filter"]):
        assert key in INDEXED_FIELDS, f"{key} is not an indexed payload field (see retrieval/schema.py)"


def test_examples_find_the_photos_they_describe() -> None:
    photos = {
        "iceland": {"orientation": "landscape", "location": {"country": "Iceland"}},
        "nikon": {"featured": True, "camera": {"make": "NIKON CORPORATION"}},
        "paris": {
            "location": {"geo": {"lat": 48.86, "lon": 2.29}},
            "submitted_at": "2021-05-01T20:00:00Z",
            "description": "Eiffel tower at night",
        },
        "decoy": {"orientation": "portrait", "location": {"country": "Iceland", "geo": {"lat": 40.0, "lon": 2.3}}},
    }
    client = QdrantClient(":memory:")
    client.create_collection("unsplash", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE))
    client.upsert(
        "unsplash",
        models.Batch(
            ids=[point_id(name) for name in photos],
            vectors=np.ones((len(photos), 2)).tolist(),
            payloads=[{"photo_id": name, **payload} for name, payload in photos.items()],
        ),
    )
    matched = []
    for _, path, body in [r for r in console_requests() if "filter" in r[2]]:
        query = models.Filter.model_validate(body["filter"])
        if path.endswith("/count"):
            assert client.count("unsplash", count_filter=query, exact=True).count == 1
            matched.append("nikon")
        else:
            points, _ = client.scroll("unsplash", scroll_filter=query, limit=10)
            matched.extend(p.payload["photo_id"] for p in points if p.payload)
    assert matched == ["iceland", "nikon", "paris"]
    client.close()
