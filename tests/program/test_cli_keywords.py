"""``photoseek keywords``: an embedded collection built before the keyword side gets it, in place, no model loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store import EdgeStore

DESCRIPTIONS = ["a lighthouse at dawn", "red tram in Lisbon", "snowy mountain hut", "a cat on a sofa"] * 5


@pytest.fixture
def old_collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded collection laid out as before the keyword side: one unnamed vector."""
    data = tmp_path / "qdrant"
    (data / "photos").mkdir(parents=True)
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=4, distance=qe.Distance.Cosine))
    qe.EdgeShard.create(str(data / "photos"), config).close()
    with EdgeStore(QdrantSettings(path=data, collection="photos")) as store:
        store.ensure_collection(4)
        vectors = np.random.default_rng(1).standard_normal((len(DESCRIPTIONS), 4)).astype(np.float32)
        payloads = [{"photo_id": str(i), "description": d} for i, d in enumerate(DESCRIPTIONS)]
        store.upsert([point_id(str(i)) for i in range(len(DESCRIPTIONS))], vectors, payloads)
        assert not store.has_keywords()
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(data))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    return data


def test_keywords_add_gives_an_old_collection_keyword_search(
    old_collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keywords", "status"]) == 0
    assert "has no keyword side" in capsys.readouterr().out
    assert main(["keywords", "add", "--batch-size", "6", "--no-progress"]) == 0
    assert "added the keyword side and wrote the keyword vectors of 20 points" in capsys.readouterr().out
    assert main(["keywords", "add", "--json"]) == 0  # again: safe, nothing new to add
    assert json.loads(capsys.readouterr().out) | {"seconds": 0} == {
        "collection": "photos",
        "added_side": False,
        "points": 20,
        "seconds": 0,
    }
    with EdgeStore(QdrantSettings(path=old_collection, collection="photos")) as store:
        hits = store.query_keywords("lisbon trams", limit=10)
        assert len(hits) == 5 and all(h.payload["description"] == "red tram in Lisbon" for h in hits)
        assert len(store.query(np.ones(4, dtype=np.float32), limit=30)) == 20  # vector search as before


def test_keywords_add_of_a_missing_collection_says_which_command_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(tmp_path))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "nothing")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    assert main(["keywords", "add"]) == 1
    assert "photoseek ingest" in capsys.readouterr().err
