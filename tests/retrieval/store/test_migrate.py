"""``migrate``: a collection copied point by point from Qdrant Edge to a server API, resumably."""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from photoseek.config.settings import QdrantSettings
from photoseek.errors import CollectionNotFound, ModelIdentityError, StoreError
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.base import METADATA_KEY, Record, VectorStore
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.migrate import Checkpoint, describe, migrate
from photoseek.retrieval.store.server import ServerStore

SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"
DIM = 16
POINTS = 45
BATCH = 8  # 6 batches: 5 full ones and a last one of 5
IDENTITY = {"image_model": {"name": "tiny-clip", "dimension": DIM, "fingerprint": "abc123"}}


def payload(i: int) -> dict[str, Any]:
    """A payload with every kind of value a photo carries: nested, lists, geo, dates, unicode."""
    return {
        "source": "unsplash",
        "photo_id": f"p{i:03d}",
        "image_url": f"https://images.unsplash.com/photo-{i}",
        "description": "Fjörður at dawn — ☀" if i % 3 == 0 else None,
        "featured": i % 2 == 0,
        "width": 4000 + i,
        "aspect_ratio": 1.5 + i / 100,
        "submitted_at": f"2020-01-{1 + i % 28:02d}T10:00:00Z",
        "keywords": ["fjord", "iceland", f"k{i}"],
        "location": {"country": "Iceland", "city": None, "geo": {"lat": 64.1 + i / 1000, "lon": -21.9}},
        "camera": {"make": "Canon", "iso": 100 * (1 + i % 4)},
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeStore]:
    """An embedded collection of POINTS photos with unit vectors and the model identity record.

    Built once for the module (no test writes to it): creating an Edge collection is the slow part.
    """
    store = EdgeStore(QdrantSettings(path=tmp_path_factory.mktemp("embedded"), collection="photos"))
    store.ensure_collection(DIM, {METADATA_KEY: IDENTITY})
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(POINTS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [point_id(f"p{i:03d}") for i in range(POINTS)]
    store.upsert(ids, vectors, [payload(i) for i in range(POINTS)])
    yield store
    store.close()


class Targets:
    """Target stores on one backend: qdrant-client local mode, Qdrant Edge, or a real server."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.prefix = f"t{uuid.uuid4().hex[:10]}_" if backend == "server" else ""
        self.client: QdrantClient | None = None
        self.made: list[VectorStore] = []

    def __call__(self, collection: str = "photos") -> VectorStore:
        settings = QdrantSettings(path=self.tmp_path / "target", collection=self.prefix + collection, retries=1)
        store: VectorStore
        if self.backend == "edge":
            store = EdgeStore(settings)
        else:
            if self.client is None:
                self.client = (
                    QdrantClient(":memory:")
                    if self.backend == "local"
                    else QdrantClient(url=os.environ[SERVER_URL_VAR], timeout=30)
                )
            store = ServerStore(settings, client=self.client)
        self.made.append(store)
        return store

    def close(self) -> None:
        for store in self.made:
            if self.backend == "server":
                store.delete_collection()
            store.close()
        if self.client is not None:
            self.client.close()


@pytest.fixture(params=["local", "edge", pytest.param("server", marks=pytest.mark.server)])
def targets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Targets]:
    made = Targets(request.param, tmp_path)
    yield made
    made.close()


def everything(store: VectorStore) -> dict[str, Record]:
    """Every point of ``store`` with its vector, by id."""
    points: dict[str, Record] = {}
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=100, offset=offset, with_vectors=True)
        points.update((record.id, record) for record in page)
        if offset is None:
            return points


def assert_same_points(source: VectorStore, target: VectorStore) -> None:
    expected, got = everything(source), everything(target)
    assert len(expected) == POINTS
    assert sorted(got) == sorted(expected)
    for key, record in expected.items():
        assert got[key].payload == record.payload, key
        assert record.vector is not None and got[key].vector is not None
        np.testing.assert_allclose(got[key].vector, record.vector, rtol=1e-5, atol=1e-6)


def test_copies_every_point_with_its_vector_payload_and_metadata(source: EdgeStore, targets: Targets) -> None:
    target = targets()
    seen: list[tuple[int, int]] = []
    report = migrate(source, target, batch_size=BATCH, on_batch=lambda b, n: seen.append((b, n)))
    assert report.created and report.resumed_from == 0
    assert (report.copied, report.batches) == (POINTS, 6)
    assert report.source_count == report.target_count == POINTS
    assert seen[-1] == (6, POINTS) and [n for _, n in seen[:5]] == [8, 16, 24, 32, 40]
    assert_same_points(source, target)
    assert target.get_metadata()[METADATA_KEY] == IDENTITY
    assert target.info().vector_size == DIM
    if targets.backend != "local":  # local mode keeps no payload indexes
        # The copy has the same payload indexes as a collection built by ingest.
        assert set(source.info().indexed_fields) <= set(target.info().indexed_fields)


def test_resumes_after_an_interruption(source: EdgeStore, targets: Targets, tmp_path: Path) -> None:
    target = targets()
    checkpoint = Checkpoint(tmp_path / "migrate.json", describe(source), describe(target))

    def crash_after_three(batches: int, copied: int) -> None:
        if batches == 3:
            raise KeyboardInterrupt  # what Ctrl-C (or a kill) does between two batches

    with pytest.raises(KeyboardInterrupt):
        migrate(source, target, batch_size=BATCH, checkpoint=checkpoint, on_batch=crash_after_three)
    assert target.count() == 3 * BATCH
    saved = json.loads(checkpoint.path.read_text())
    assert saved["copied"] == 3 * BATCH and saved["offset"] is not None

    report = migrate(source, target, batch_size=BATCH, checkpoint=checkpoint)
    assert report.resumed_from == 3 * BATCH
    assert report.copied == POINTS - 3 * BATCH, "the second run must not send the first batches again"
    assert report.batches == 3 and not report.created
    assert report.target_count == POINTS
    assert not checkpoint.path.exists(), "a verified copy leaves no resume point behind"
    assert_same_points(source, target)


def test_a_checkpoint_for_a_target_since_deleted_starts_over(
    source: EdgeStore, targets: Targets, tmp_path: Path
) -> None:
    target = targets()
    checkpoint = Checkpoint(tmp_path / "migrate.json", describe(source), describe(target))

    def crash_after_two(batches: int, copied: int) -> None:
        if batches == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(source, target, batch_size=BATCH, checkpoint=checkpoint, on_batch=crash_after_two)
    assert checkpoint.path.exists()
    target.delete_collection()  # someone drops the half-made copy before the resume
    report = migrate(source, target, batch_size=BATCH, checkpoint=checkpoint)
    assert report.created and report.resumed_from == 0 and report.copied == POINTS
    assert_same_points(source, target)


def test_checkpoint_of_another_copy_is_ignored(source: EdgeStore, targets: Targets, tmp_path: Path) -> None:
    target = targets()
    path = tmp_path / "migrate.json"
    elsewhere = Checkpoint(path, describe(source), "server:http://elsewhere:6333/photos")
    elsewhere.save("ffffffff-0000-0000-0000-000000000000", 40)
    report = migrate(source, target, batch_size=BATCH, checkpoint=Checkpoint(path, describe(source), describe(target)))
    assert report.resumed_from == 0 and report.copied == POINTS
    assert_same_points(source, target)


def test_counts_that_disagree_fail_the_copy(source: EdgeStore, targets: Targets) -> None:
    target = targets()
    target.ensure_collection(DIM)
    extra = np.ones((1, DIM), dtype=np.float32)
    target.upsert([point_id("not-in-the-source")], extra, [{"source": "folder"}])
    with pytest.raises(StoreError, match=f"has {POINTS} points but .* has {POINTS + 1}"):
        migrate(source, target, batch_size=BATCH)


def test_refuses_a_target_built_by_another_model(source: EdgeStore, targets: Targets) -> None:
    target = targets()
    other = {"image_model": {"name": "other-clip", "dimension": DIM, "fingerprint": "zzz"}}
    target.ensure_collection(DIM, {METADATA_KEY: other})
    with pytest.raises(ModelIdentityError, match="other-clip"):
        migrate(source, target, batch_size=BATCH)
    assert target.count() == 0


def test_missing_source_and_bad_arguments(tmp_path: Path, targets: Targets) -> None:
    empty = EdgeStore(QdrantSettings(path=tmp_path / "nothing", collection="photos"))
    with pytest.raises(CollectionNotFound, match="nothing to copy"):
        migrate(empty, targets())
    with pytest.raises(ValueError, match="batch_size"):
        migrate(empty, targets(), batch_size=0)
    with pytest.raises(ValueError, match="same collection"):
        migrate(empty, EdgeStore(QdrantSettings(path=tmp_path / "nothing", collection="photos")))


# -- the command line ------------------------------------------------------------------------


def cli_args(*argv: str) -> argparse.Namespace:
    from photoseek.cli import build_parser

    return build_parser().parse_args(["migrate", *argv])


def test_target_settings_take_url_key_and_name_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from photoseek.commands.migrate import target_settings

    embedded = QdrantSettings(collection="photos", api_key="configured-key", shard_number=6, replication_factor=2)
    target = target_settings(embedded, cli_args("--to", "http://qdrant:6333/", "--collection", "copy"))
    assert (target.url, target.collection) == ("http://qdrant:6333", "copy")
    assert target.api_key is not None and target.api_key.get_secret_value() == "configured-key"
    layout = (target.shard_number, target.replication_factor)
    assert layout == (6, 2), "the cluster layout applies to the new collection"
    monkeypatch.setenv("QDRANT_API_KEY", "compose-key")
    assert target_settings(embedded, cli_args("--to", "http://q:6333")).api_key.get_secret_value() == "compose-key"  # type: ignore[union-attr]
    given = target_settings(embedded, cli_args("--to", "http://q:6333", "--api-key", "given"))
    assert given.api_key is not None and given.api_key.get_secret_value() == "given"
    monkeypatch.delenv("QDRANT_API_KEY")
    # Copying between servers, the source server's key is not sent to the target.
    server = QdrantSettings(url="http://old:6333", api_key="old-key", collection="photos")
    assert target_settings(server, cli_args("--to", "http://new:6333")).api_key is None


def test_cli_rejects_a_bad_target_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from photoseek.cli import main

    assert main(["migrate", "--to", "qdrant:6333"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("photoseek: error: invalid migrate target: --to:") and "http://" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["migrate", "--to", "http://q:6333", "--batch-size", "0"])


def test_cli_says_when_there_is_nothing_to_copy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoseek.cli import main

    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(tmp_path / "nothing"))
    # The target is never contacted: the missing source is found first.
    assert main(["migrate", "--to", "http://127.0.0.1:9", "--no-progress"]) == 1
    assert "nothing to copy" in capsys.readouterr().err


@pytest.mark.server
def test_cli_copies_the_embedded_store_to_a_real_server(
    source: EdgeStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoseek.cli import main

    url = os.environ[SERVER_URL_VAR]
    collection = f"t{uuid.uuid4().hex[:10]}_migrated"
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(source.folder.parent))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    target = ServerStore(QdrantSettings(url=url, collection=collection))
    try:
        argv = ["migrate", "--to", url, "--collection", collection, "--batch-size", str(BATCH), "--json"]
        assert main(argv) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["copied"] == report["target_count"] == POINTS
        assert_same_points(EdgeStore(QdrantSettings(path=source.folder.parent, collection="photos")), target)
    finally:
        target.delete_collection()
        target.close()
