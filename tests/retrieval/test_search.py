"""ImageSearch against Qdrant Edge and qdrant-client local mode: every filter, similar, avoid, pagination."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from qdrant_client import models

from photoseek.errors import PhotoNotFound, QueryError
from photoseek.retrieval import Hit, ImageSearch
from photoseek.retrieval.filters import WHERE_KEYS
from photoseek.retrieval.schema import point_id
from test_search_support import (
    WordEncoder,
    brute_force,
    filled_store,
    image_vector,
    photos,
    word_vector,
)

__all__ = ["filled_store", "photos"]  # fixtures used by name

QUERY = "a dog on the beach"


def _loc(p: Mapping[str, Any], key: str) -> Any:
    return (p.get("location") or {}).get(key)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _tokens(text: str | None) -> set[str]:
    return set(re.findall(r"\w+", (text or "").lower()))


def _km(p: Mapping[str, Any], lat: float, lon: float) -> float:
    geo = _loc(p, "geo")
    if not geo:
        return math.inf
    phi1, phi2 = math.radians(lat), math.radians(geo["lat"])
    dphi, dlmb = phi2 - phi1, math.radians(geo["lon"] - lon)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _text(p: Mapping[str, Any], words: str) -> bool:
    wanted = _tokens(words)
    return wanted <= _tokens(p.get("description")) or wanted <= _tokens(p.get("ai_description"))


# (where, the same condition in plain Python)
CASES: list[tuple[dict[str, Any], Callable[[Mapping[str, Any]], bool]]] = [
    ({"orientation": "landscape"}, lambda p: p["orientation"] == "landscape"),
    ({"orientation": ["portrait", "square"]}, lambda p: p["orientation"] in ("portrait", "square")),
    ({"country": "Iceland"}, lambda p: _loc(p, "country") == "Iceland"),
    ({"country": ["Norway", "Japan"]}, lambda p: _loc(p, "country") in ("Norway", "Japan")),
    ({"city": "Paris"}, lambda p: _loc(p, "city") == "Paris"),
    ({"photographer": "ana"}, lambda p: p["photographer"] == "ana"),
    ({"source": "folder"}, lambda p: p["source"] == "folder"),
    ({"camera_make": "Nikon"}, lambda p: p["camera"]["make"] == "Nikon"),
    ({"keywords_any": ["dog", "cat"]}, lambda p: bool({"dog", "cat"} & set(p["keywords"]))),
    ({"keywords_all": ["dog", "beach"]}, lambda p: {"dog", "beach"} <= set(p["keywords"])),
    ({"colors_any": "red"}, lambda p: "red" in p["colors"]),
    ({"collections_any": ["col1", "col3"]}, lambda p: bool({"col1", "col3"} & set(p["collections"]))),
    ({"topics_any": ["col1", "col2"]}, lambda p: bool({"col1", "col2"} & set(p.get("topics", [])))),
    ({"min_width": 3000}, lambda p: p["width"] >= 3000),
    ({"max_width": 2000}, lambda p: p["width"] <= 2000),
    ({"min_height": 4000}, lambda p: p["height"] >= 4000),
    ({"max_height": 1500}, lambda p: p["height"] <= 1500),
    ({"min_width": 2000, "max_width": 4000}, lambda p: 2000 <= p["width"] <= 4000),
    ({"min_aspect_ratio": 1.5}, lambda p: p["aspect_ratio"] >= 1.5),
    ({"max_aspect_ratio": 0.8}, lambda p: p["aspect_ratio"] <= 0.8),
    ({"min_views": 50_000}, lambda p: p["views"] >= 50_000),
    ({"min_downloads": 4_000}, lambda p: p["downloads"] >= 4_000),
    (
        {"submitted_after": datetime(2020, 1, 1, tzinfo=UTC)},
        lambda p: _when(p["submitted_at"]) >= datetime(2020, 1, 1, tzinfo=UTC),
    ),
    ({"submitted_before": date(2017, 6, 1)}, lambda p: _when(p["submitted_at"]) <= datetime(2017, 6, 1, tzinfo=UTC)),
    (
        {"submitted_after": "2018-01-01", "submitted_before": datetime(2019, 1, 1)},
        lambda p: datetime(2018, 1, 1, tzinfo=UTC) <= _when(p["submitted_at"]) <= datetime(2019, 1, 1, tzinfo=UTC),
    ),
    (
        {"taken_after": "2021-01-01"},
        lambda p: "taken_at" in p and _when(p["taken_at"]) >= datetime(2021, 1, 1, tzinfo=UTC),
    ),
    (
        {"taken_before": date(2018, 1, 1)},
        lambda p: "taken_at" in p and _when(p["taken_at"]) <= datetime(2018, 1, 1, tzinfo=UTC),
    ),
    ({"featured": True}, lambda p: p["featured"] is True),
    ({"featured": False}, lambda p: p["featured"] is False),
    ({"near": (64.13, -21.90, 100)}, lambda p: _km(p, 64.13, -21.90) <= 100),
    ({"near": (48.86, 2.35, 5)}, lambda p: _km(p, 48.86, 2.35) <= 5),
    ({"text_contains": "dog"}, lambda p: _text(p, "dog")),
    ({"text_contains": "red car"}, lambda p: _text(p, "red car")),
    (
        {"country": "France", "min_width": 2000, "featured": False},
        lambda p: _loc(p, "country") == "France" and p["width"] >= 2000 and not p["featured"],
    ),
]


def test_every_where_key_has_a_case() -> None:
    covered = {key for where, _ in CASES for key in where}
    assert covered == set(WHERE_KEYS)


@pytest.mark.parametrize(("where", "keep"), CASES, ids=[",".join(w) + f"-{i}" for i, (w, _) in enumerate(CASES)])
def test_where_returns_what_a_brute_force_scan_returns(
    filled_store: Any,
    photos: Any,
    where: dict[str, Any],
    keep: Callable[[Mapping[str, Any]], bool],
) -> None:
    ids, vectors, payloads = photos
    encoder = WordEncoder()
    search = ImageSearch(filled_store, encoder)
    expected = brute_force(vectors, ids, payloads, encoder.encode_text([QUERY])[0], keep, 15)
    assert expected, "the case selects nothing: the test would prove little"
    hits = search.search(QUERY, limit=15, exact=True, **where)
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-4)
    assert all(keep(h.payload) for h in hits)


def test_where_and_filter_combine_with_and(filled_store: Any, photos: Any) -> None:
    ids, vectors, payloads = photos
    encoder = WordEncoder()
    either = models.Filter(
        should=[
            models.FieldCondition(key="photographer", match=models.MatchValue(value="ana")),
            models.FieldCondition(key="photographer", match=models.MatchValue(value="ben")),
        ],
        must_not=[models.FieldCondition(key="location.country", match=models.MatchValue(value="Iceland"))],
    )
    hits = ImageSearch(filled_store, encoder).search(
        QUERY, limit=20, exact=True, filter=either, orientation="landscape"
    )
    expected = brute_force(
        vectors,
        ids,
        payloads,
        encoder.encode_text([QUERY])[0],
        lambda p: (
            p["photographer"] in ("ana", "ben") and _loc(p, "country") != "Iceland" and p["orientation"] == "landscape"
        ),
        20,
    )
    assert [h.id for h in hits] == [i for i, _ in expected]


def test_hits_carry_typed_payload_fields(filled_store: Any, photos: Any) -> None:
    ids, _, payloads = photos
    hit = ImageSearch(filled_store, WordEncoder()).search(QUERY, limit=1, source="unsplash", country="Iceland")[0]
    payload = payloads[ids.index(hit.id)]
    assert isinstance(hit, Hit)
    assert hit.photo_id == payload["photo_id"] and hit.image_url == payload["image_url"]
    assert hit.width == payload["width"] and isinstance(hit.width, int)
    assert hit.location is not None and hit.location.country == "Iceland"
    assert hit.location.lat == pytest.approx(payload["location"]["geo"]["lat"])
    assert hit.submitted_at == _when(payload["submitted_at"])
    assert hit.keywords == payload["keywords"] and hit.payload == payload
    assert hit.to_json_dict()["payload"]["camera"]["make"] == payload["camera"]["make"]


@pytest.mark.parametrize("source", ["unsplash", "folder"])
def test_similar_uses_the_stored_vector_and_leaves_the_photo_out(filled_store: Any, photos: Any, source: str) -> None:
    ids, vectors, payloads = photos
    index = next(i for i, p in enumerate(payloads) if p["source"] == source)
    photo_id = payloads[index]["photo_id"]
    hits = ImageSearch(filled_store, WordEncoder()).similar(photo_id, limit=10, exact=True)
    expected = brute_force(vectors, ids, payloads, vectors[index], lambda p: p["photo_id"] != photo_id, 10)
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert ids[index] not in {h.id for h in hits}
    # by point id, with a filter: still left out, and the filter holds
    by_id = ImageSearch(filled_store, WordEncoder()).similar(ids[index], limit=5, exact=True, orientation="portrait")
    assert ids[index] not in {h.id for h in by_id} and all(h.orientation == "portrait" for h in by_id)


def test_similar_of_an_unknown_photo_says_so(filled_store: Any) -> None:
    with pytest.raises(PhotoNotFound, match=r"no photo 'nope' in collection 'photos'.*photo_id"):
        ImageSearch(filled_store, WordEncoder()).similar("nope")


def test_avoid_pushes_results_away_from_a_concept(filled_store: Any) -> None:
    # Five photos of cats and five of dogs; "dog cat" finds both kinds, avoiding "cat" sinks the cats.
    rng = np.random.default_rng(3)
    cat, dog = word_vector("cat"), word_vector("dog")
    near = np.stack([v + 0.02 * rng.standard_normal(v.shape[0]) for v in [cat] * 5 + [dog] * 5]).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    extra = [point_id(f"pet{i}", "folder") for i in range(10)]
    cats = set(extra[:5])
    filled_store.upsert(extra, near, [{"photo_id": f"pet{i}", "source": "folder"} for i in range(10)])
    try:
        search = ImageSearch(filled_store, WordEncoder())
        plain = search.search("dog cat", limit=12, exact=True)
        avoided = search.search("dog cat", limit=12, exact=True, avoid=["cat"])
        vectors = {r.id: r.vector for r in filled_store.retrieve([h.id for h in plain + avoided], with_vectors=True)}

        def closeness(hits: list[Hit]) -> float:
            return float(np.mean([vectors[h.id] @ cat for h in hits]))

        assert len(cats & {h.id for h in plain}) >= 3
        assert not cats & {h.id for h in avoided}
        assert set(extra[5:]) <= {h.id for h in avoided}
        assert closeness(avoided) < closeness(plain) - 0.2
        # a string is one concept, not a list of letters
        assert [h.id for h in search.search("dog cat", limit=12, exact=True, avoid="cat")] == [h.id for h in avoided]
    finally:
        filled_store.delete(extra)


def test_pages_have_no_gaps_or_repeats(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    everything = [h.id for h in search.search(QUERY, limit=60, exact=True, orientation="landscape")]
    pages: list[str] = []
    for offset in range(0, 60, 7):
        pages += [h.id for h in search.search(QUERY, limit=7, offset=offset, exact=True, orientation="landscape")]
    assert pages[:60] == everything
    assert len(set(everything)) == len(everything) == 60


def test_score_threshold_cuts_the_tail(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    everything = search.search(QUERY, limit=50, exact=True)
    cut = (everything[20].score + everything[21].score) / 2  # between two hits: no float32 rounding at the edge
    kept = search.search(QUERY, limit=50, exact=True, score_threshold=cut)
    assert [h.id for h in kept] == [h.id for h in everything if h.score >= cut]
    assert len(kept) == 21


def test_search_by_image_from_a_path_bytes_or_pil(filled_store: Any, tmp_path: Path) -> None:
    # Store a photo whose vector is the encoder's vector of this very picture.
    picture = Image.new("RGB", (40, 30), (200, 30, 90))
    picture.paste((10, 200, 30), (0, 0, 20, 15))
    pid = point_id("query-picture", "folder")
    filled_store.upsert([pid], image_vector(picture)[None, :], [{"photo_id": "query-picture", "source": "folder"}])
    try:
        path = tmp_path / "q.png"
        picture.save(path)
        search = ImageSearch(filled_store, WordEncoder())
        for given in (path, str(path), path.read_bytes(), picture):
            hits = search.search_by_image(given, limit=3, exact=True)
            assert hits[0].id == pid and hits[0].score == pytest.approx(1.0, abs=1e-4)
        with pytest.raises(QueryError, match="not a readable image"):
            search.search_by_image(b"<html>not an image</html>")
        with pytest.raises(QueryError, match="does not exist"):
            search.search_by_image(tmp_path / "missing.jpg")
    finally:
        filled_store.delete([pid])


def test_search_batch_equals_one_search_per_text(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    texts = ["dog", "snow at night", "red car"]
    batch = search.search_batch(texts, limit=5, exact=True, min_width=2000)
    assert [[h.id for h in hits] for hits in batch] == [
        [h.id for h in search.search(t, limit=5, exact=True, min_width=2000)] for t in texts
    ]
    assert search.search_batch([]) == []


def test_threads_share_one_client(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    texts = [f"{a} {b}" for a in ("dog", "cat", "snow") for b in ("beach", "night", "river")]
    expected = {t: [h.id for h in search.search(t, limit=5, exact=True, featured=True)] for t in texts}
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(text: str) -> None:
        try:
            for _ in range(5):
                results[text] = [h.id for h in search.search(text, limit=5, exact=True, featured=True)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == expected


def test_hnsw_search_finds_the_exact_best_hit(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    assert search.search(QUERY, limit=1)[0].id == search.search(QUERY, limit=1, exact=True)[0].id
