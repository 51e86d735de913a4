"""``photoseek facets``: value counts from the configured store, no model loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store import EdgeStore

COUNTRIES = ["France", "France", "Japan", "France", "Japan", "Peru", None]


@pytest.fixture
def collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "qdrant"
    payloads = [
        {"orientation": "landscape" if i % 2 else "portrait", **({"location": {"country": c}} if c else {})}
        for i, c in enumerate(COUNTRIES)
    ]
    with EdgeStore(QdrantSettings(path=data, collection="photos")) as store:
        store.ensure_collection(4)
        vectors = np.random.default_rng(1).standard_normal((len(COUNTRIES), 4)).astype(np.float32)
        store.upsert([point_id(str(i)) for i in range(len(COUNTRIES))], vectors, payloads)
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(data))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    return data


def test_facets_prints_values_most_frequent_first(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facets", "country"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [line.split() for line in lines if line] == [["France", "3"], ["Japan", "2"], ["Peru", "1"]]


def test_facets_json_with_a_filter_and_limit(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Odd points are landscape: France (1 and 3) and Peru (5); Japan is left out by the filter.
    assert main(["facets", "location.country", "--where", "orientation=landscape", "--limit", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"value": "France", "count": 2}, {"value": "Peru", "count": 1}]


def test_facets_of_an_unindexed_field_lists_the_facetable_ones(
    collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["facets", "description"]) == 1
    err = capsys.readouterr().err
    assert "cannot count the values of 'description'" in err and "location.country" in err and "keywords" in err
