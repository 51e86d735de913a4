"""Diverse results through the HTTP API: MMR (``diversity``) and collapsed near-duplicates, on the real app.

The collection is the shared one of ``serve_data.py`` plus near-copies of two of its photos
(shades of red and blue a few units apart: cosine >= 0.99 to the original with the tiny CLIP,
while the shared photos stay below 0.95 of each other).
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_data import COLLECTION, LOCAL, png, serve_settings

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval import ImageSearch
from photoseek.retrieval.diversity import DEFAULT_CANDIDATES, DEFAULT_COLLAPSE_THRESHOLD
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.serve import create_app
from photoseek.serve.schemas import MAX_CANDIDATES

# near-copy -> (its original, its colour)
COPIES: dict[str, tuple[str, tuple[int, int, int]]] = {
    "red-copy-1.png": ("red.png", (222, 24, 18)),
    "red-copy-2.png": ("red.png", (216, 18, 24)),
    "blue-copy.png": ("blue.png", (34, 44, 216)),
}
RED_FAMILY = {"red.png", "red-copy-1.png", "red-copy-2.png"}


def error_of(response: Any, status: int, type: str) -> dict[str, Any]:
    """The error body, after checking the status and the one shape every error has."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == type
    return body["error"]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["photo_id"] for hit in response.json()["hits"]]


@pytest.fixture(scope="module")
def duplicated(collection: dict[str, Any], encoder: ClipEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared collection's points and three near-copies, in a new Edge data folder (built once)."""
    source = EdgeStore(QdrantSettings(path=collection["data"], collection=COLLECTION))  # type: ignore[call-arg]
    try:
        records, _ = source.scroll(limit=100, with_vectors=True)
    finally:
        source.close()
    data = tmp_path_factory.mktemp("diverse") / "qdrant"
    store = EdgeStore(QdrantSettings(path=data, collection=COLLECTION))  # type: ignore[call-arg]
    try:
        store.ensure_collection(encoder.dimension)
        record_identity(store, encoder)
        store.upsert([r.id for r in records], [r.vector for r in records], [r.payload for r in records])
        names = list(COPIES)
        vectors = encoder.encode_images([Image.new("RGB", (64, 48), COPIES[n][1]) for n in names])
        payloads = [
            {"source": "folder", "photo_id": n, "description": f"a {n.split('-')[0]} picture, again",
             "width": 64, "height": 48, "orientation": "landscape",
             "location": {"country": LOCAL[COPIES[n][0]][2]}, "keywords": list(LOCAL[COPIES[n][0]][3])}
            for n in names
        ]
        store.upsert([point_id(n, "folder") for n in names], vectors, payloads)
    finally:
        store.close()
    return data


@pytest.fixture(scope="module")
def vectors(duplicated: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """photo_id -> unit vector, as stored."""
    copy = tmp_path_factory.mktemp("diverse-read") / "qdrant"
    shutil.copytree(duplicated, copy)
    store = EdgeStore(QdrantSettings(path=copy, collection=COLLECTION))  # type: ignore[call-arg]
    try:
        records, _ = store.scroll(limit=100, with_vectors=True)
    finally:
        store.close()
    out = {}
    for record in records:
        vector = np.asarray(record.vector, dtype=np.float64)
        out[record.payload["photo_id"]] = vector / np.linalg.norm(vector)
    return out


@pytest.fixture(scope="module")
def api(
    duplicated: Path, collection: dict[str, Any], tiny_clip_dir: Path, encoder: ClipEncoder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    copy = tmp_path_factory.mktemp("diverse-api") / "qdrant"
    shutil.copytree(duplicated, copy)
    settings = serve_settings(copy, tiny_clip_dir, collection["photos"])
    with TestClient(create_app(settings, encoder=encoder), raise_server_exceptions=False) as client:
        yield client


def closest_pair(found: list[str], vectors: dict[str, np.ndarray]) -> float:
    """The highest cosine between two of the photos."""
    rows = np.stack([vectors[name] for name in found])
    sims = rows @ rows.T
    np.fill_diagonal(sims, -1.0)
    return float(sims.max())


def test_the_collection_has_near_duplicates_and_plain_search_returns_them(
    api: TestClient, vectors: dict[str, np.ndarray]
) -> None:
    originals = [name for name in vectors if name not in COPIES]
    assert closest_pair(originals, vectors) < DEFAULT_COLLAPSE_THRESHOLD  # only the copies are near-duplicates
    for name, (original, _) in COPIES.items():
        assert float(vectors[name] @ vectors[original]) >= 0.99
    plain = ids(api.post("/v1/search", json={"text": "a red picture", "limit": 50}))
    assert set(plain[:3]) == RED_FAMILY and len(plain) == len(vectors)
    body = api.post("/v1/search", json={"text": "a red picture"}).json()
    assert body["diversity"] is None and body["candidates"] is None and body["collapse_threshold"] is None


@pytest.mark.parametrize(
    ("extra", "threshold"),
    [
        ({"collapse_duplicates": True}, DEFAULT_COLLAPSE_THRESHOLD),
        ({"collapse_duplicates": True, "collapse_threshold": 0.99}, 0.99),
        ({"collapse_duplicates": True, "diversity": 0.5}, DEFAULT_COLLAPSE_THRESHOLD),
        ({"collapse_duplicates": True, "mode": "keyword"}, DEFAULT_COLLAPSE_THRESHOLD),
        ({"collapse_duplicates": True, "mode": "hybrid"}, DEFAULT_COLLAPSE_THRESHOLD),
    ],
)
def test_collapse_leaves_no_two_hits_above_the_threshold(
    api: TestClient, vectors: dict[str, np.ndarray], extra: dict[str, Any], threshold: float
) -> None:
    text = "a red blue picture" if extra.get("mode") else "a red picture"
    plain = ids(api.post("/v1/search", json={"text": text, "limit": 50, "mode": extra.get("mode")}))
    assert closest_pair(plain, vectors) >= threshold  # what collapsing is for
    response = api.post("/v1/search", json={"text": text, "limit": 50, **extra})
    found = ids(response)
    assert closest_pair(found, vectors) < threshold
    assert len(found) == len(plain) - len(set(plain) & set(COPIES))  # exactly the copies' family shrank to one
    assert len(RED_FAMILY & set(found)) == 1 and len({"blue.png", "blue-copy.png"} & set(found)) == 1
    body = response.json()
    assert body["collapse_threshold"] == pytest.approx(threshold)
    assert body["diversity"] == extra.get("diversity")
    assert body["candidates"] == (DEFAULT_CANDIDATES if "diversity" in extra else None)


def test_mmr_moves_the_near_copies_down(api: TestClient) -> None:
    plain = ids(api.post("/v1/search", json={"text": "a red picture", "limit": 50}))
    assert set(plain[:3]) == RED_FAMILY  # plain relevance: the three shots of one scene first
    response = api.post("/v1/search", json={"text": "a red picture", "limit": 50, "diversity": 0.5})
    diverse = ids(response)
    assert diverse[0] == plain[0]  # the best hit stays first
    assert len(RED_FAMILY & set(diverse[:3])) == 1  # the copies make way for other scenes
    assert sorted(diverse) == sorted(plain)  # reordered, nothing lost: the collection is within the candidates
    assert response.json()["diversity"] == 0.5 and response.json()["candidates"] == DEFAULT_CANDIDATES
    relevance = ids(api.post("/v1/search", json={"text": "a red picture", "limit": 50, "diversity": 1.0}))
    assert relevance == plain  # lambda 1 is plain relevance


def test_the_api_gives_the_library_s_diverse_hits(
    api: TestClient, duplicated: Path, encoder: ClipEncoder, tmp_path: Path
) -> None:
    asked: list[dict[str, Any]] = [
        {"text": "a red picture", "diversity": 0.3, "limit": 8},
        {"text": "a red picture", "diversity": 0.5, "candidates": 6, "limit": 10},
        {"text": "a picture", "collapse_duplicates": True, "collapse_threshold": 0.9, "offset": 2, "limit": 5},
        {"text": "red picture Iceland", "mode": "keyword", "diversity": 0.5, "limit": 5},
        {"text": "a blue picture", "mode": "hybrid", "diversity": 0.5, "collapse_duplicates": True, "limit": 6},
    ]
    answers = [api.post("/v1/search", json=query) for query in asked]
    shutil.copytree(duplicated, tmp_path / "qdrant")
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection=COLLECTION))  # type: ignore[call-arg]
    with ImageSearch(store, encoder, owns_store=True) as library:
        for query, answer in zip(asked, answers, strict=True):
            options = {k: v for k, v in query.items() if k not in ("text", "collapse_threshold")}
            if "collapse_threshold" in query:
                options["collapse_duplicates"] = query["collapse_threshold"]
            want = [hit.photo_id for hit in library.search(query["text"], **options)]
            assert want, query
            assert ids(answer) == want, query


def walk(api: TestClient, body: dict[str, Any], size: int) -> list[str]:
    """Every hit, page by page through ``next_offset``."""
    found: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = api.post("/v1/search", json={**body, "limit": size, "offset": offset})
        found += ids(page)
        offset = page.json()["next_offset"]
        assert len(found) <= 100, "the pages never end"
    return found


@pytest.mark.parametrize(
    "body",
    [
        {"text": "a red picture", "diversity": 0.5},
        {"text": "a red picture", "diversity": 0.2, "candidates": 7},
        {"text": "a picture", "collapse_duplicates": True},
        {"text": "a picture", "collapse_duplicates": True, "collapse_threshold": 0.8, "diversity": 0.7},
        {"text": "picture Iceland", "mode": "keyword", "diversity": 0.5},
        {"text": "a blue picture", "mode": "hybrid", "collapse_duplicates": True, "diversity": 0.5},
        {"similar_to": "red.png", "diversity": 0.5},
        {"similar_to": "blue.png", "collapse_duplicates": True},
        {"image": base64.b64encode(png((221, 21, 20))).decode(), "diversity": 0.4, "collapse_duplicates": True},
    ],
)
@pytest.mark.parametrize("size", [1, 3, 4])
def test_pages_concatenate_to_one_big_page(api: TestClient, body: dict[str, Any], size: int) -> None:
    whole = ids(api.post("/v1/search", json={**body, "limit": 100}))
    assert whole
    paged = walk(api, body, size)
    assert paged == whole and len(set(paged)) == len(paged)


def test_candidates_end_the_pages(api: TestClient) -> None:
    body = {"text": "a picture", "diversity": 0.5, "candidates": 5}
    assert len(ids(api.post("/v1/search", json={**body, "limit": 50}))) == 5
    first = api.post("/v1/search", json={**body, "limit": 3}).json()
    assert first["count"] == 3 and first["next_offset"] == 3 and first["candidates"] == 5
    second = api.post("/v1/search", json={**body, "limit": 3, "offset": 3}).json()
    assert second["count"] == 2 and second["next_offset"] is None


def test_image_search_and_similar_routes_take_the_options(api: TestClient, vectors: dict[str, np.ndarray]) -> None:
    red = png((221, 21, 20))
    plain = ids(api.post("/v1/search/image", files={"image": ("q.png", red, "image/png")}, data={"limit": "50"}))
    assert set(plain[:3]) == RED_FAMILY
    response = api.post(
        "/v1/search/image", files={"image": ("q.png", red, "image/png")},
        data={"limit": "50", "collapse_duplicates": "true", "diversity": "0.5"},
    )
    found = ids(response)
    assert closest_pair(found, vectors) < DEFAULT_COLLAPSE_THRESHOLD and len(RED_FAMILY & set(found)) == 1
    assert response.json()["diversity"] == 0.5
    # Like red.png (itself left out): its two copies are near-duplicates of each other, one stays.
    assert set(ids(api.get("/v1/photos/red.png/similar", params={"limit": 2}))) == RED_FAMILY - {"red.png"}
    similar = api.get("/v1/photos/red.png/similar", params={"limit": 50, "collapse_duplicates": "true"})
    assert len(RED_FAMILY & set(ids(similar))) == 1 and "red.png" not in ids(similar)
    assert similar.json()["collapse_threshold"] == DEFAULT_COLLAPSE_THRESHOLD
    bad = api.post("/v1/search/image", files={"image": ("q.png", red, "image/png")}, data={"candidates": "5"})
    assert error_of(bad, 422, "ValidationError")["field"] == "candidates"
    bad = api.get("/v1/photos/red.png/similar", params={"collapse_threshold": 0.9})
    assert error_of(bad, 422, "ValidationError")["field"] == "collapse_threshold"
    bad = api.get("/v1/photos/red.png/similar", params={"diversity": 3})
    assert error_of(bad, 422, "ValidationError")["field"] == "diversity"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"text": "x", "diversity": 1.5}, "diversity", ["less than or equal to 1"]),
        ({"text": "x", "diversity": -0.1}, "diversity", ["greater than or equal to 0"]),
        ({"text": "x", "diversity": "lots"}, "diversity", ["number"]),
        ({"text": "x", "diversity": 0.5, "candidates": 0}, "candidates", ["greater than or equal to 1"]),
        ({"text": "x", "diversity": 0.5, "candidates": MAX_CANDIDATES + 1}, "candidates", [str(MAX_CANDIDATES)]),
        ({"text": "x", "candidates": 50}, "candidates", ["give diversity too"]),
        ({"text": "x", "collapse_duplicates": "maybe"}, "collapse_duplicates", ["boolean"]),
        ({"text": "x", "collapse_duplicates": True, "collapse_threshold": 0}, "collapse_threshold", ["greater than 0"]),
        ({"text": "x", "collapse_duplicates": True, "collapse_threshold": 1.2}, "collapse_threshold",
         ["less than or equal to 1"]),
        ({"text": "x", "collapse_threshold": 0.9}, "collapse_threshold", ["collapse_duplicates true"]),
        ({"text": "x", "score_threshold": 2}, "score_threshold", ["-1 and 1", "vector mode"]),
        ({"text": "x", "mode": "vector", "score_threshold": -3}, "score_threshold", ["-1 and 1"]),
        ({"similar_to": "red.png", "score_threshold": 1.5}, "score_threshold", ["-1 and 1"]),
        ({"text": "x", "diversity": 0.5, "offset": 995, "limit": 10}, "offset", ["1000", "1005"]),
        ({"text": "x", "collapse_duplicates": True, "offset": 1000, "limit": 20}, "offset", ["1000", "1020"]),
    ],
)
def test_out_of_range_values_are_422_naming_the_field(
    api: TestClient, body: dict[str, Any], field: str, words: list[str]
) -> None:
    error = error_of(api.post("/v1/search", json=body), 422, "ValidationError")
    assert error["field"] == field
    assert "\n" not in error["message"] and error["message"].startswith(f"{field}:")
    for word in words:
        assert word in error["message"]


def test_keyword_and_hybrid_thresholds_may_exceed_one(api: TestClient) -> None:
    keyword = api.post("/v1/search", json={"text": "volcano", "mode": "keyword"}).json()
    top = keyword["hits"][0]["score"]
    assert top > 1.0  # BM25: a threshold capped at 1 could not reach it
    kept = ids(api.post("/v1/search", json={"text": "volcano", "mode": "keyword", "score_threshold": top - 0.01}))
    assert kept[0] == "red.png"
    assert ids(api.post("/v1/search", json={"text": "volcano", "mode": "keyword", "score_threshold": top + 1})) == []
    assert api.post("/v1/search", json={"text": "volcano", "mode": "hybrid", "score_threshold": 5}).status_code == 200


def test_openapi_lists_the_fields(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    request = schemas["SearchRequest"]["properties"]
    assert {"diversity", "candidates", "collapse_duplicates", "collapse_threshold"} <= set(request)
    assert "MMR" in request["diversity"]["description"]
    assert {"diversity", "candidates", "collapse_threshold"} <= set(schemas["SearchResponse"]["properties"])
