"""The embedded store's write path: every schema field comes back exactly, ids keep their form."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import FIELDS, point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.inputs import canonical_ids

DIM = 8


def full_payload(n: int) -> dict[str, Any]:
    """A payload with every schema field, as the Unsplash and folder sources write them."""
    return {
        "source": "unsplash",
        "photo_id": f"Ph{n:05d}xYz",
        "image_url": f"https://images.unsplash.com/photos/Ph{n:05d}xYz",
        "picture_url": f"http://photos.example:8000/photos/{n}/thumbnail.jpg",
        "page_url": f"https://unsplash.com/photos/Ph{n:05d}xYz",
        "path": f"trips/Ísland/{n}.jpg",
        "description": "Fjörður at dusk — «quiet» 🌅",
        "ai_description": "a boat on a lake",
        "photographer": "björk",
        "photographer_name": "Björk Guðmundsdóttir",
        "submitted_at": "2021-03-14T10:20:30.000123Z",
        "taken_at": "2020-12-31T23:59:59Z",
        "featured": n % 2 == 0,
        "width": 6000,
        "height": 4000,
        "aspect_ratio": 1.5,
        "orientation": "landscape",
        "location": {
            "name": "Reykjavík, Iceland",
            "city": "Reykjavík",
            "country": "Iceland",
            "geo": {"lat": 64.146582, "lon": -21.942635},
        },
        "camera": {
            "make": "Canon",
            "model": "EOS 5D Mark IV",
            "iso": 1600,
            "aperture": 2.8,
            "aperture_text": "f/2.8",
            "focal_length": 50.0,
            "focal_length_text": "50 mm",
            "exposure_time": "1/250",
            "exposure_seconds": 0.004,
        },
        "landmark": {"name": "Hallgrímskirkja", "geo": {"lat": 64.1417, "lon": -21.9266}, "confidence": 0.8731},
        "blur_hash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "views": 2**40 + n,
        "downloads": 0,
        "keywords": ["boat", "lake", "dusk", f"kw{n}"],
        "user_keywords": [],
        "keyword_details": [
            {"keyword": "boat", "ai_service_1": 90.125, "ai_service_2": 80.0, "ai_service_3": "confirmed"},
            {"keyword": "lake", "ai_service_2": 55.5},
            {"keyword": f"kw{n}", "user": "photographer"},
        ],
        "colors": ["green", "grey"],
        "color_hexes": ["#22AA33", "#888888"],
        "color_details": [
            {"keyword": "green", "hex": "#22AA33", "rgb": [34, 170, 51], "coverage": 62.0, "score": 0.9},
            {"keyword": "grey", "hex": "#888888", "rgb": [136, 136, 136], "coverage": 20.0, "score": 0.5},
        ],
        "collections": ["Nature", "Set 3"],
        "topics": ["Nature"],
        "file_size": 3_141_592,
        "mtime": "2024-02-29T12:00:00.5Z",
        # Not in the schema: a null, a negative and a deeply nested value pass through too.
        "extra": {"none": None, "negative": -7, "deep": [[1, 2], {"a": [True, False]}]},
    }


def has_path(payload: dict[str, Any], path: str) -> bool:
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


@pytest.fixture
def store(tmp_path: Path):
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection="writes"))
    store.ensure_collection(DIM)
    yield store
    store.close()


def test_the_test_payload_holds_every_schema_field():
    missing = [f.path for f in FIELDS if not has_path(full_payload(0), f.path)]
    assert missing == [], "add the new schema fields to full_payload"


def test_every_schema_field_comes_back_exactly_as_written(store):
    ids = [point_id(f"Ph{n:05d}xYz") for n in range(300)]
    payloads = [full_payload(n) for n in range(300)]
    # float64 and not C-contiguous: the store makes them float32 rows itself.
    vectors = np.random.default_rng(3).standard_normal((DIM, 300)).T
    for start in range(0, 300, 128):
        store.upsert(ids[start : start + 128], vectors[start : start + 128], payloads[start : start + 128])

    got = store.retrieve(ids, with_vectors=True)
    assert [r.id for r in got] == ids
    for record, payload, vector in zip(got, payloads, vectors, strict=True):
        assert record.payload == payload
        assert record.vector is not None
        np.testing.assert_allclose(record.vector, vector / np.linalg.norm(vector), atol=1e-6)
    # Types too: an int stays an int, a float with no fraction stays a float.
    camera = got[0].payload["camera"]
    assert type(camera["focal_length"]) is float and type(camera["iso"]) is int
    assert type(got[0].payload["views"]) is int and got[0].payload["views"] == 2**40


def test_a_mapping_that_is_not_a_dict_is_stored_and_the_callers_dict_is_not_kept(store):
    ids = [point_id("a"), point_id("b")]
    first = full_payload(1)
    store.upsert(ids, np.eye(2, DIM, dtype=np.float32), [first, MappingProxyType(full_payload(2))])
    first["keywords"].append("changed after the upsert")
    first["views"] = -1
    got = store.retrieve(ids)
    assert got[0].payload == full_payload(1)
    assert got[1].payload == full_payload(2)


def test_an_upsert_of_the_same_id_replaces_the_whole_payload(store):
    key = point_id("same")
    store.upsert([key], np.ones((1, DIM), dtype=np.float32), [full_payload(5)])
    store.upsert([key], -np.ones((1, DIM), dtype=np.float32), [{"source": "folder", "path": "a.jpg"}])
    got = store.retrieve([key], with_vectors=True)
    assert store.count() == 1
    assert got[0].payload == {"source": "folder", "path": "a.jpg"}, "no field of the old payload is left"
    assert got[0].vector is not None and got[0].vector[0] < 0


def test_ids_in_any_uuid_form_are_stored_under_the_canonical_form(store):
    base = uuid.UUID(point_id("forms"))
    forms = [str(base).upper(), "{" + str(base) + "}", base.hex, f"urn:uuid:{base}"]
    for n, form in enumerate(forms):
        store.upsert([form], np.ones((1, DIM), dtype=np.float32), [{"n": n}])
    assert store.count() == 1
    assert store.retrieve([str(base)])[0].payload == {"n": len(forms) - 1}


@pytest.mark.parametrize(
    "given",
    [
        "8f5c3b4e-6a8d-5c1e-9a57-70686f746f73",
        "8F5C3B4E-6A8D-5C1E-9A57-70686F746F73",
        "8f5c3b4e6a8d5c1e9a5770686f746f73",
        "{8f5c3b4e-6a8d-5c1e-9a57-70686f746f73}",
        "urn:uuid:8f5c3b4e-6a8d-5c1e-9a57-70686f746f73",
        uuid.UUID("8f5c3b4e-6a8d-5c1e-9a57-70686f746f73"),
    ],
)
def test_canonical_ids_match_the_uuid_module(given):
    assert canonical_ids([given]) == [str(uuid.UUID(str(given)))] == ["8f5c3b4e-6a8d-5c1e-9a57-70686f746f73"]


@pytest.mark.parametrize(
    "bad",
    [
        "8f5c3b4e-6a8d-5c1e-9a57-70686f746f73\n",
        "8f5c3b4e-6a8d-5c1e-9a57-70686f746f7",
        "8f5c3b4e-6a8d-5c1e-9a57-70686f746f7g",
        "photo-1",
        "",
    ],
)
def test_ids_that_are_not_uuids_are_refused(bad):
    with pytest.raises(ValueError, match="not a UUID"):
        canonical_ids([bad])
