"""The HTTP API against the real app: Qdrant Edge, the tiny CLIP, every route and every error in one shape."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_data import COLLECTION, ESCAPE, LOCAL, OUTSIDE, UNSPLASH, png

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval import ImageSearch
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.store.edge import EdgeStore


def error_of(response: Any, status: int, type: str) -> dict[str, Any]:
    """The error body, after checking the status and the one shape every error has."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] == type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["photo_id"] for hit in response.json()["hits"]]


# --- health, info, page ----------------------------------------------------------------------


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "collection": COLLECTION}


def test_info(client: TestClient, collection: dict[str, Any]) -> None:
    info = client.get("/v1/info").json()
    assert info["collection"] == COLLECTION
    assert info["count"] == collection["count"]
    assert info["backend"] == "embedded"
    assert info["vector_size"] == 16
    assert "tiny-clip" in info["model"]["image"] or info["model"]["image"]


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/search", "/v1/search/image", "/v1/photos/{photo_id}", "/v1/photos/{photo_id}/similar",
                 "/v1/photos/{photo_id}/thumbnail", "/v1/info", "/v1/filters", "/healthz", "/readyz"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    for name in ("page.js", "page.css"):
        assert client.get(f"/static/{name}").status_code == 200


# --- search ------------------------------------------------------------------------------------


def test_text_search_returns_hits_with_links(client: TestClient) -> None:
    response = client.post("/v1/search", json={"text": "a red picture", "limit": 5})
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 5 and body["offset"] == 0 and body["limit"] == 5 and body["next_offset"] == 5
    assert body["took_ms"] >= 0
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert [hit["rank"] for hit in body["hits"]] == [1, 2, 3, 4, 5]
    for hit in body["hits"]:
        assert hit["thumbnail_url"] == f"/v1/photos/{hit['id']}/thumbnail"
        assert isinstance(hit["payload"], dict) and hit["payload"]["photo_id"] == hit["photo_id"]


def test_same_hits_as_the_library(
    client: TestClient, fresh_data: Callable[[], Path], encoder: ClipEncoder
) -> None:
    queries: list[dict[str, Any]] = [
        {"text": "a blue sea", "limit": 6},
        {"text": "sunset", "where": {"country": "Japan"}},
        {"text": "forest", "where": {"orientation": "landscape", "min_width": 50}, "offset": 1, "limit": 3},
        {"similar_to": "red.png", "limit": 4},
    ]
    answers = [client.post("/v1/search", json=query).json()["hits"] for query in queries]
    store = EdgeStore(QdrantSettings(path=fresh_data(), collection=COLLECTION))  # type: ignore[call-arg]
    with ImageSearch(store, encoder, owns_store=True) as library:
        expected = [
            library.search("a blue sea", limit=6),
            library.search("sunset", country="Japan"),
            library.search("forest", orientation="landscape", min_width=50, offset=1, limit=3),
            library.similar("red.png", limit=4),
        ]
    for got, want in zip(answers, expected, strict=True):
        assert [hit["id"] for hit in got] == [hit.id for hit in want]
        assert [hit["score"] for hit in got] == pytest.approx([hit.score for hit in want], abs=1e-6)


def test_filters_apply(client: TestClient) -> None:
    query = {"text": "photo", "limit": 50, "where": {"country": "Iceland"}}
    hits = client.post("/v1/search", json=query).json()["hits"]
    assert sorted(hit["photo_id"] for hit in hits) == ["blue.png", "red.png"]
    portrait = ids(client.post("/v1/search", json={"text": "photo", "limit": 50, "where": {"orientation": "portrait"}}))
    assert sorted(portrait) == ["green.png", "trips/white.png"]
    # Strings are read as the CLI reads them: a number, a list.
    wide = ids(client.post("/v1/search", json={"text": "photo", "limit": 50, "where": {"min_width": "64",
                                                                                      "keywords_any": "sea,snow"}}))
    assert wide == ["blue.png"]


def test_paging_with_offset(client: TestClient) -> None:
    whole = ids(client.post("/v1/search", json={"text": "a picture", "limit": 6}))
    first = client.post("/v1/search", json={"text": "a picture", "limit": 3}).json()
    second = client.post("/v1/search", json={"text": "a picture", "limit": 3, "offset": first["next_offset"]}).json()
    assert [h["photo_id"] for h in first["hits"] + second["hits"]] == whole
    assert second["hits"][0]["rank"] == 4
    last = client.post("/v1/search", json={"text": "a picture", "limit": 1000}).json()
    assert last["next_offset"] is None


def test_score_threshold_can_leave_nothing(client: TestClient) -> None:
    body = client.post("/v1/search", json={"text": "a picture", "score_threshold": 0.9999}).json()
    assert body["hits"] == [] and body["count"] == 0 and body["next_offset"] is None


def test_avoid_changes_the_order(client: TestClient) -> None:
    plain = ids(client.post("/v1/search", json={"text": "a picture", "limit": 11}))
    avoided = ids(client.post("/v1/search", json={"text": "a picture", "limit": 11, "avoid": ["red", "blue sea"]}))
    assert sorted(plain) == sorted(avoided) and plain != avoided


def test_search_by_base64_image_and_vector(client: TestClient, encoder: ClipEncoder) -> None:
    red = png(LOCAL["red.png"][0])
    by_image = ids(client.post("/v1/search", json={"image": base64.b64encode(red).decode(), "limit": 3}))
    assert by_image[0] == "red.png"
    data_url = "data:image/png;base64," + base64.b64encode(red).decode()
    assert ids(client.post("/v1/search", json={"image": data_url, "limit": 3})) == by_image
    vector = encoder.encode_images([Image.open(io.BytesIO(red)).convert("RGB")])[0].tolist()
    assert ids(client.post("/v1/search", json={"vector": vector, "limit": 3}))[0] == "red.png"


def test_search_by_upload(client: TestClient) -> None:
    green = png(LOCAL["green.png"][0], (48, 64))
    response = client.post("/v1/search/image", files={"image": ("g.png", green, "image/png")}, data={"limit": "2"})
    assert ids(response)[0] == "green.png" and len(ids(response)) == 2
    filtered = client.post(
        "/v1/search/image", files={"image": ("g.png", green, "image/png")},
        data={"where": json.dumps({"country": "Japan"}), "limit": "10"},
    )
    assert sorted(ids(filtered)) == ["trips/grey.jpg", "trips/orange.jpg"]


def test_similar_leaves_the_photo_out(client: TestClient) -> None:
    similar = ids(client.get("/v1/photos/trips/orange.jpg/similar", params={"limit": 20}))
    assert "trips/orange.jpg" not in similar and len(similar) == 10
    by_body = ids(client.post("/v1/search", json={"similar_to": "trips/orange.jpg", "limit": 20}))
    assert by_body == similar
    iceland = ids(client.get("/v1/photos/u-teal/similar", params={"where": json.dumps({"country": "Iceland"})}))
    assert sorted(iceland) == ["blue.png", "red.png"]


# --- photos and thumbnails ---------------------------------------------------------------------


def test_photo_by_source_id_and_point_id(client: TestClient) -> None:
    photo = client.get("/v1/photos/trips/grey.jpg").json()
    assert photo["photo_id"] == "trips/grey.jpg" and photo["location"]["country"] == "Japan"
    assert client.get(f"/v1/photos/{photo['id']}").json()["photo_id"] == "trips/grey.jpg"
    unsplash = client.get("/v1/photos/u-yellow").json()
    assert unsplash["photographer_url"].startswith("https://unsplash.com/@alice?utm_source=photoseek")
    assert unsplash["page_url"].startswith("https://unsplash.com/photos/u-yellow?utm_source=photoseek")


def test_unknown_photo_is_404(client: TestClient) -> None:
    error = error_of(client.get("/v1/photos/no-such-photo"), 404, "PhotoNotFound")
    assert "no-such-photo" in error["message"]
    error_of(client.get("/v1/photos/no-such-photo/similar"), 404, "PhotoNotFound")
    error_of(client.get("/v1/photos/no-such-photo/thumbnail"), 404, "PhotoNotFound")
    error_of(client.post("/v1/search", json={"similar_to": "nope"}), 404, "PhotoNotFound")


def test_local_thumbnail_is_a_small_jpeg_with_cache_headers(client: TestClient) -> None:
    response = client.get("/v1/photos/red.png/thumbnail")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert "max-age" in response.headers["cache-control"]
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "JPEG" and picture.size == (64, 48)
    r, g, b = picture.convert("RGB").getpixel((10, 10))
    assert r > 180 and g < 60 and b < 60
    again = client.get("/v1/photos/red.png/thumbnail", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_unsplash_thumbnail_redirects_to_the_cdn(client: TestClient) -> None:
    response = client.get("/v1/photos/u-purple/thumbnail", follow_redirects=False)
    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith("https://images.unsplash.com/photo-u-purple?") and "w=400" in location


@pytest.mark.parametrize("path", [
    "/v1/photos/..%2F..%2F..%2F..%2Fetc%2Fpasswd/thumbnail",
    "/v1/photos/%2Fetc%2Fpasswd/thumbnail",
    "/v1/photos/trips%2F..%2F..%2Fsecret%2Fprivate.png/thumbnail",
    "/v1/photos/red.png%00/thumbnail",
])
def test_path_traversal_reads_nothing(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/json"
    assert b"root:" not in response.content


@pytest.mark.parametrize("photo_id", [OUTSIDE, ESCAPE])
def test_a_recorded_path_outside_the_folders_is_refused(client: TestClient, photo_id: str) -> None:
    assert client.get(f"/v1/photos/{photo_id}").status_code == 200  # the photo exists
    error = error_of(client.get(f"/v1/photos/{photo_id}/thumbnail"), 404, "NoThumbnail")
    assert "not under the folders" in error["message"]


def test_no_folders_no_local_thumbnails(make_client: Callable[..., Any]) -> None:
    with make_client(photo_folders="") as client:
        error = error_of(client.get("/v1/photos/red.png/thumbnail"), 404, "NoThumbnail")
        assert "PHOTOSEEK_SERVE__PHOTO_FOLDERS" in error["message"]


# --- errors --------------------------------------------------------------------------------------


def test_bad_filter_key_names_the_valid_ones(client: TestClient) -> None:
    error = error_of(client.post("/v1/search", json={"text": "x", "where": {"contry": "Iceland"}}), 400, "QueryError")
    assert "'country'" in error["message"] and "min_width" in error["message"] and error["field"] == "where"


@pytest.mark.parametrize("where", [
    {"min_width": "wide"}, {"min_width": -3}, {"orientation": "diagonal"}, {"submitted_after": "yesterday"},
    {"near": [100, 0, 5]}, {"min_width": 100, "max_width": 10},
])
def test_bad_filter_value(client: TestClient, where: dict[str, Any]) -> None:
    error = error_of(client.post("/v1/search", json={"text": "x", "where": where}), 400, "QueryError")
    assert next(iter(where)) in error["message"] or "range" in error["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"text": "x", "similar_to": "red.png"}, "body"),
    ({"text": "x", "limit": 0}, "limit"),
    ({"text": "x", "limit": 1001}, "limit"),
    ({"text": "x", "offset": -1}, "offset"),
    ({"text": "x", "score_threshold": 2}, "score_threshold"),
    ({"text": "x", "colour": "red"}, "colour"),
    ({"similar_to": "red.png", "source": "flickr"}, "source"),
    ({"vector": [0.1, 0.2]}, "vector"),
    ({"image": "not base64!!"}, "image"),
])
def test_invalid_request_is_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    error = error_of(client.post("/v1/search", json=body), 422, "ValidationError")
    assert error["field"] == field
    if field == "body" and body:
        assert "text, image, vector, similar_to" in error["message"]
    if field == "source":
        assert "unsplash" in error["message"] and "folder" in error["message"]


def test_not_json_is_422(client: TestClient) -> None:
    response = client.post("/v1/search", content=b"{not json", headers={"Content-Type": "application/json"})
    error_of(response, 422, "ValidationError")


def test_empty_text_is_400(client: TestClient) -> None:
    error_of(client.post("/v1/search", json={"text": "   "}), 400, "QueryError")


def test_unknown_route_and_method(client: TestClient) -> None:
    error_of(client.get("/v1/nothing-here"), 404, "NotFound")
    error_of(client.get("/v1/search"), 405, "MethodNotAllowed")


def test_non_image_upload_is_415(client: TestClient) -> None:
    response = client.post("/v1/search/image", files={"image": ("a.txt", b"hello, not an image", "text/plain")})
    error_of(response, 415, "NotAnImage")
    truncated = png((1, 2, 3))[:40]
    error_of(client.post("/v1/search/image", files={"image": ("t.png", truncated, "image/png")}), 415, "NotAnImage")
    error_of(client.post("/v1/search", json={"image": base64.b64encode(b"GIF89a nope").decode()}), 415, "NotAnImage")


def test_empty_or_missing_upload_is_422(client: TestClient) -> None:
    error_of(client.post("/v1/search/image", files={"image": ("e.png", b"", "image/png")}), 422, "ValidationError")
    error_of(client.post("/v1/search/image", data={"limit": "3"}), 422, "ValidationError")


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG file that declares ``width`` x ``height`` 1-bit pixels (all zero: it compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_decompression_bomb_is_413(make_client: Callable[..., Any]) -> None:
    bomb = bomb_png(12_000, 12_000)  # 144 M pixels in a file of a few kB
    assert len(bomb) < 100_000
    with make_client() as client:
        error = error_of(client.post("/v1/search/image", files={"image": ("b.png", bomb, "image/png")}), 413,
                         "ImageTooLarge")
        assert "pixels" in error["message"]
    with make_client(max_image_pixels=10_000) as client:  # the limit is a setting
        big = png((9, 9, 9), (200, 100))
        error_of(client.post("/v1/search/image", files={"image": ("b.png", big, "image/png")}), 413, "ImageTooLarge")
        assert client.post("/v1/search/image", files={"image": ("s.png", png((9, 9, 9), (90, 90)), "image/png")}
                           ).status_code == 200


def test_oversized_upload_is_413(make_client: Callable[..., Any]) -> None:
    with make_client(max_upload_bytes=4096) as client:
        big = Image.frombytes("RGB", (128, 128), bytes(range(256)) * 192)
        out = io.BytesIO()
        big.save(out, "PNG", compress_level=0)
        data = out.getvalue()
        assert len(data) > 4096
        error_of(client.post("/v1/search/image", files={"image": ("big.png", data, "image/png")}), 413,
                 "PayloadTooLarge")
        error_of(client.post("/v1/search", json={"image": base64.b64encode(data).decode()}), 413, "PayloadTooLarge")
        # A body far over the cap is refused from its Content-Length, before it is read.
        huge = b"x" * 200_000
        error_of(client.post("/v1/search", content=huge, headers={"Content-Type": "application/json"}), 413,
                 "PayloadTooLarge")
        # A chunked body without a length is cut off as it streams.
        error_of(client.post("/v1/search", content=iter([b"x" * 50_000] * 4),
                             headers={"Content-Type": "application/json"}), 413, "PayloadTooLarge")
        assert client.post("/v1/search", json={"text": "still fine"}).status_code == 200


def test_missing_collection_is_503_with_retry_after(make_client: Callable[..., Any], tmp_path: Path) -> None:
    with make_client(data=tmp_path / "empty-qdrant") as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        error_of(ready, 503, "CollectionNotFound")
        assert ready.headers["retry-after"].isdigit()
        for response in (
            client.post("/v1/search", json={"text": "a dog"}),
            client.get("/v1/photos/red.png"),
            client.get("/v1/photos/red.png/similar"),
            client.get("/v1/info"),
        ):
            error = error_of(response, 503, "CollectionNotFound")
            assert "photoseek ingest" in error["message"]
            assert int(response.headers["retry-after"]) > 0


# --- API key, CORS, metrics ----------------------------------------------------------------------


def test_api_key(make_client: Callable[..., Any]) -> None:
    with make_client(api_key="s3cret") as client:
        error = error_of(client.post("/v1/search", json={"text": "x"}), 401, "Unauthorized")
        assert "Bearer" in error["message"]
        error_of(client.get("/v1/info", headers={"Authorization": "Bearer wrong"}), 401, "Unauthorized")
        error_of(client.get("/v1/photos/red.png/thumbnail"), 401, "Unauthorized")
        good = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/search", json={"text": "x"}, headers=good).status_code == 200
        assert client.get("/v1/info", headers=good).status_code == 200
        for open_path in ("/healthz", "/readyz", "/metrics", "/"):
            assert client.get(open_path).status_code == 200, open_path


def test_cors(make_client: Callable[..., Any], client: TestClient) -> None:
    origin = {"Origin": "https://photos.example.org"}
    assert "access-control-allow-origin" not in client.get("/v1/info", headers=origin).headers
    with make_client(cors_origins="https://photos.example.org, https://other.example") as allowed:
        response = allowed.get("/v1/info", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://photos.example.org"
        refused = allowed.get("/v1/info", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in refused.headers


def test_metrics_count_routes_errors_and_encoder_time(client: TestClient) -> None:
    client.post("/v1/search", json={"text": "metrics please"})
    client.get("/v1/photos/not-there")
    text = client.get("/metrics").text
    assert 'photoseek_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'route="/v1/photos/{photo_id:path}",status="404"' in text
    assert 'photoseek_http_errors_total{type="PhotoNotFound"}' in text
    assert 'photoseek_encoder_seconds_count{kind="text"}' in text
    assert 'photoseek_store_seconds_count{operation="query"}' in text
    assert "not-there" not in text  # ids never become labels


def test_filter_choices_come_from_the_collection(client: TestClient, collection: dict[str, Any]) -> None:
    choices = client.get("/v1/filters").json()
    countries = {c["value"]: c["count"] for c in choices["country"]}
    assert countries == {"Iceland": 2, "Japan": 2, "Norway": 1, "France": 1, "Peru": 2, "Kenya": 1}
    assert choices["country"][0]["count"] == 2
    keywords = {c["value"]: c["count"] for c in choices["keywords"]}
    assert keywords["travel"] == len(UNSPLASH) and keywords["volcano"] == 1
    assert choices["scanned"] == collection["count"] and choices["truncated"] is False


def test_unreachable_server_is_503_with_retry_after(
    collection: dict[str, Any], tiny_clip_dir: Path, encoder: ClipEncoder
) -> None:
    import socket

    from photoseek.config.settings import Settings
    from photoseek.serve import create_app

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        qdrant=QdrantSettings(url=f"http://127.0.0.1:{port}", prefer_grpc=False, retries=0, timeout=2,
                              collection=COLLECTION),  # type: ignore[call-arg]
        model={"image": str(tiny_clip_dir), "text": str(tiny_clip_dir), "device": "cpu"},  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings, encoder=encoder), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        error_of(client.get("/readyz"), 503, "StoreUnavailable")
        response = client.post("/v1/search", json={"text": "a dog"})
        error_of(response, 503, "StoreUnavailable")
        assert int(response.headers["retry-after"]) > 0
