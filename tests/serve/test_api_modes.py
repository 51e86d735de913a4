"""Search modes through the HTTP API: keyword and hybrid text searches on the real app (Qdrant Edge, tiny CLIP).

The collection of ``conftest.py`` is built by ``ensure_collection``, so it has the keyword side:
each photo's words are its description ("a red picture"), keywords and country.
"""

from __future__ import annotations

import shutil
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serve_data import COLLECTION, serve_settings

from photoseek.config.settings import QdrantSettings, RetrievalSettings
from photoseek.retrieval import ImageSearch
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.modes import FUSIONS, SEARCH_MODES
from photoseek.retrieval.store import edge as edge_module
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.serve import create_app
from photoseek.serve.schemas import Fusion, SearchMode


def error_of(response: Any, status: int, type: str) -> dict[str, Any]:
    """The error body, after checking the status and the one shape every error has."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == type
    return body["error"]


def photo_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["photo_id"] for hit in response.json()["hits"]]


@contextmanager
def app_client(settings: Any, encoder: ClipEncoder) -> Iterator[TestClient]:
    with TestClient(create_app(settings, encoder=encoder), raise_server_exceptions=False) as client:
        yield client


def test_the_api_offers_the_library_s_modes_and_fusions(client: TestClient) -> None:
    assert typing.get_args(SearchMode) == SEARCH_MODES
    assert typing.get_args(Fusion) == FUSIONS
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SearchRequest"]["properties"]
    listed = {name: next(v["enum"] for v in schema[name]["anyOf"] if "enum" in v) for name in ("mode", "fusion")}
    assert listed == {"mode": list(SEARCH_MODES), "fusion": list(FUSIONS)}
    assert "BM25" in schema["mode"]["description"]


def test_keyword_mode_finds_a_photo_by_a_word_of_its_metadata(client: TestClient) -> None:
    # "volcano" is only among red.png's keywords: BM25 finds it alone; vector search ranks all.
    response = client.post("/v1/search", json={"text": "volcano", "mode": "keyword", "limit": 20})
    assert photo_ids(response) == ["red.png"]
    body = response.json()
    assert body["mode"] == "keyword" and body["fusion"] is None
    assert body["hits"][0]["score"] > 0
    assert len(photo_ids(client.post("/v1/search", json={"text": "volcano", "mode": "vector", "limit": 20}))) == 11


def test_every_mode_gives_the_library_s_hits(
    client: TestClient, fresh_data: Callable[[], Path], encoder: ClipEncoder
) -> None:
    asked: list[dict[str, Any]] = [
        {"text": "a green forest", "mode": "keyword", "limit": 5},
        {"text": "picture Japan", "mode": "keyword", "where": {"orientation": "landscape"}},
        {"text": "a blue sea picture", "mode": "hybrid", "limit": 6},
        {"text": "a blue sea picture", "mode": "hybrid", "fusion": "dbsf", "limit": 6},
        {"text": "sunset Japan", "mode": "hybrid", "fusion": "rrf", "prefetch": 8, "limit": 4,
         "where": {"country": "Japan"}},
        {"text": "picture", "mode": "hybrid", "offset": 2, "limit": 3},
    ]
    answers = [client.post("/v1/search", json=query) for query in asked]
    store = EdgeStore(QdrantSettings(path=fresh_data(), collection=COLLECTION))  # type: ignore[call-arg]
    with ImageSearch(store, encoder, owns_store=True) as library:
        for query, answer in zip(asked, answers, strict=True):
            assert answer.status_code == 200, answer.text
            options = {k: v for k, v in query.items() if k not in ("text", "where")}
            want = library.search(query["text"], **options, **query.get("where", {}))
            got = answer.json()["hits"]
            assert want, query  # each query finds something: the comparison says something
            assert [hit["id"] for hit in got] == [hit.id for hit in want], query
            assert [hit["score"] for hit in got] == pytest.approx([hit.score for hit in want], abs=1e-6)
            assert answer.json()["mode"] == query["mode"]
            assert answer.json()["fusion"] == (query.get("fusion", "rrf") if query["mode"] == "hybrid" else None)


def test_filters_hold_in_keyword_and_hybrid_mode(client: TestClient) -> None:
    for mode in ("keyword", "hybrid"):
        query = {"text": "picture photo travel", "mode": mode, "limit": 50, "where": {"country": "Iceland"}}
        assert set(photo_ids(client.post("/v1/search", json=query))) == {"blue.png", "red.png"}
        query = {"text": "photo travel", "mode": mode, "limit": 50, "where": {"country": "Peru"}}
        assert set(photo_ids(client.post("/v1/search", json=query))) == {"u-yellow", "u-purple"}


def test_defaults_come_from_the_service_s_settings(
    collection: dict[str, Any], fresh_data: Callable[[], Path], tiny_clip_dir: Path, encoder: ClipEncoder
) -> None:
    settings = serve_settings(fresh_data(), tiny_clip_dir, collection["photos"])
    retrieval = RetrievalSettings(mode="hybrid", fusion="dbsf")  # type: ignore[call-arg]
    with app_client(settings.model_copy(update={"retrieval": retrieval}), encoder) as client:
        body = client.post("/v1/search", json={"text": "volcano"}).json()
        assert body["mode"] == "hybrid" and body["fusion"] == "dbsf"
        assert body["hits"][0]["photo_id"] == "red.png"  # the keyword side lifts the one photo with the word
        chosen = client.post("/v1/search", json={"text": "volcano", "mode": "keyword"}).json()
        assert chosen["mode"] == "keyword" and [h["photo_id"] for h in chosen["hits"]] == ["red.png"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"text": "x", "mode": "fuzzy"}, "mode", ["vector", "keyword", "hybrid"]),
        ({"text": "x", "mode": "hybrid", "fusion": "max"}, "fusion", ["rrf", "dbsf"]),
        ({"text": "x", "mode": "hybrid", "prefetch": 0}, "prefetch", ["greater than or equal to 1"]),
        ({"text": "x", "mode": "hybrid", "prefetch": "many"}, "prefetch", ["integer"]),
        ({"similar_to": "red.png", "mode": "keyword"}, "body", ["text search"]),
        ({"vector": [0.1] * 16, "mode": "hybrid"}, "body", ["text search"]),
        ({"similar_to": "red.png", "fusion": "dbsf"}, "body", ["text search"]),
    ],
)
def test_invalid_mode_options_are_422(client: TestClient, body: dict[str, Any], field: str, words: list[str]) -> None:
    error = error_of(client.post("/v1/search", json=body), 422, "ValidationError")
    assert error["field"] == field
    for word in words:
        assert word in error["message"]


def test_the_library_s_own_checks_are_400_with_its_message(client: TestClient) -> None:
    # Each side must bring the page's end: the library says so, the API passes it on.
    error = error_of(client.post("/v1/search", json={"text": "picture", "mode": "hybrid", "prefetch": 3, "limit": 5}),
                     400, "QueryError")
    assert "prefetch" in error["message"] and "5" in error["message"]


@pytest.fixture
def vector_only_data(
    collection: dict[str, Any], tmp_path: Path, encoder: ClipEncoder, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A collection as built before the keyword side existed: the same points, no sparse vector."""
    source = EdgeStore(QdrantSettings(path=collection["data"], collection=COLLECTION))  # type: ignore[call-arg]
    try:
        records, _ = source.scroll(limit=100, with_vectors=True)
    finally:
        source.close()
    data = tmp_path / "old" / "qdrant"
    with monkeypatch.context() as patch:
        patch.setattr(edge_module.keywords, "edge_sparse_config", lambda: None)
        old = EdgeStore(QdrantSettings(path=data, collection=COLLECTION))  # type: ignore[call-arg]
        old.ensure_collection(encoder.dimension)
    try:
        assert not old.has_keywords()
        record_identity(old, encoder)
        old.upsert([r.id for r in records], [r.vector for r in records], [r.payload for r in records])
    finally:
        old.close()
    return data


def test_a_collection_without_the_keyword_side_says_how_to_add_it(
    vector_only_data: Path, collection: dict[str, Any], tiny_clip_dir: Path, encoder: ClipEncoder
) -> None:
    copy = vector_only_data.parent.parent / "copy"
    shutil.copytree(vector_only_data, copy)
    settings = serve_settings(copy, tiny_clip_dir, collection["photos"])
    with app_client(settings, encoder) as client:
        for mode in ("keyword", "hybrid"):
            error = error_of(client.post("/v1/search", json={"text": "volcano", "mode": mode}), 400, "KeywordsMissing")
            assert "keyword" in error["message"] and "photoseek keywords add" in error["message"]
        vector = client.post("/v1/search", json={"text": "volcano", "mode": "vector"})
        assert len(photo_ids(vector)) == 10 and vector.json()["mode"] == "vector"
