"""What only the embedded Qdrant Edge store does: one shard per process, locks, WAL, indexing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models

from photoseek.config.settings import QdrantSettings
from photoseek.errors import StoreError
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import METADATA_FILE, EdgeStore

DIM = 16

# Opens the store named by argv in a fresh process and reports what happened.
OPEN_SCRIPT = textwrap.dedent(
    """
    import sys
    from photoseek.config.settings import QdrantSettings
    from photoseek.errors import StoreError, StoreLocked
    from photoseek.retrieval.store.edge import EdgeStore

    store = EdgeStore(QdrantSettings(path=sys.argv[1], collection=sys.argv[2]))
    try:
        if sys.argv[3:] == ["delete"]:
            store.delete_collection()
        print("OPENED", store.count(), flush=True)
    except StoreLocked as exc:
        print("LOCKED", exc, flush=True)
        sys.exit(3)
    """
)

# Upserts 200 points, says so, and waits to be killed: no flush, no close.
UPSERT_THEN_WAIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from photoseek.config.settings import QdrantSettings
    from photoseek.retrieval.schema import point_id
    from photoseek.retrieval.store.edge import EdgeStore

    store = EdgeStore(QdrantSettings(path=sys.argv[1], collection=sys.argv[2]))
    store.ensure_collection(16, {"photoseek": {"image_model": "tiny"}})
    vectors = np.random.default_rng(1).standard_normal((200, 16)).astype(np.float32)
    store.upsert([point_id(f"k{i}") for i in range(200)], vectors, [{"n": i} for i in range(200)])
    print("UPSERTED", flush=True)
    sys.stdin.readline()
    """
)


def settings(data_dir: Path, collection: str = "photos") -> QdrantSettings:
    return QdrantSettings(path=data_dir / "qdrant", collection=collection)


def run_child(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, check=False
    )


def fill(store: EdgeStore, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    ids = [point_id(f"{seed}-{i}") for i in range(n)]
    store.upsert(ids, vectors, [{"n": i} for i in range(n)])
    return ids, vectors


def test_stores_of_one_process_share_one_shard(data_dir):
    first, second = EdgeStore(settings(data_dir)), EdgeStore(settings(data_dir))
    first.ensure_collection(DIM)
    ids, _ = fill(first, 10)
    # Without the shared handle, this second open would hit Edge's WAL lock.
    assert second.count() == 10
    first.close()
    second.upsert(ids[:1], np.ones((1, DIM), dtype=np.float32), [{"n": -1}])
    assert second.retrieve(ids[:1])[0].payload == {"n": -1}
    second.close()
    # The last close released the lock: another process can open the folder now.
    child = run_child(OPEN_SCRIPT, str(data_dir / "qdrant"), "photos")
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["OPENED", "10"]


def test_another_process_gets_a_clear_store_locked(data_dir):
    store = EdgeStore(settings(data_dir))
    store.ensure_collection(DIM)
    child = run_child(OPEN_SCRIPT, str(data_dir / "qdrant"), "photos")
    assert child.returncode == 3, child.stderr
    message = child.stdout.strip()
    assert message.startswith("LOCKED") and len(message.splitlines()) == 1
    assert str(data_dir / "qdrant" / "photos") in message
    assert "PHOTOSEEK_QDRANT__URL" in message and "another process" in message
    # Nor can it delete the collection under our feet.
    child = run_child(OPEN_SCRIPT, str(data_dir / "qdrant"), "photos", "delete")
    assert child.returncode == 3 and child.stdout.startswith("LOCKED"), child.stderr
    assert store.collection_exists() and store.count() == 0
    store.close()


def test_points_survive_a_kill_9_before_any_flush(data_dir):
    child = subprocess.Popen(
        [sys.executable, "-c", UPSERT_THEN_WAIT_SCRIPT, str(data_dir / "qdrant"), "photos"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "UPSERTED", child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    with EdgeStore(settings(data_dir)) as store:  # the WAL replays on open
        assert store.count() == 200
        assert store.retrieve([point_id("k42")])[0].payload == {"n": 42}
        assert store.get_metadata() == {"photoseek": {"image_model": "tiny"}}
        vectors = np.random.default_rng(1).standard_normal((200, 16)).astype(np.float32)
        assert store.query(vectors[7], limit=1)[0].id == point_id("k7")


def test_concurrent_searches_from_many_threads_match_serial_ones(data_dir):
    writer_store = EdgeStore(settings(data_dir))
    writer_store.ensure_collection(DIM)
    _, vectors = fill(writer_store, 2000)
    queries = vectors[:48]
    # The writer's points have no "n": this filter keeps them out of the results compared.
    original = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=0))])
    expected = [[h.id for h in writer_store.query(q, limit=10, filter=original)] for q in queries]
    results: dict[int, list[list[str]]] = {}
    errors: list[BaseException] = []

    def search(worker: int) -> None:
        store = EdgeStore(settings(data_dir))  # each thread its own store, one shard below
        try:
            results[worker] = [[h.id for h in store.query(q, limit=10, filter=original)] for q in queries]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            store.close()

    def write() -> None:
        try:
            for i, q in enumerate(queries):
                writer_store.upsert([point_id(f"far-{i}")], -q.reshape(1, -1), [{"far": True}])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(w,)) for w in range(6)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert all(results[w] == expected for w in range(6))
    assert writer_store.count() == 2000 + len(queries)
    writer_store.close()


def test_first_search_builds_the_index_of_a_large_unindexed_tail(data_dir):
    # A small indexing threshold makes 1500 points of 16-d worth an HNSW index.
    eager = EdgeStore(settings(data_dir, "eager"), auto_optimize_tail=1000, indexing_threshold_kb=32)
    lazy = EdgeStore(settings(data_dir, "lazy"), auto_optimize_tail=100_000, indexing_threshold_kb=32)
    for store in (eager, lazy):
        store.ensure_collection(DIM)
        _, vectors = fill(store, 1500)
        assert store.info().indexed_vectors_count == 0
        store.query(vectors[0], limit=3)
    assert eager.info().indexed_vectors_count > 0
    assert lazy.info().indexed_vectors_count == 0
    assert lazy.optimize() is True
    assert lazy.info().indexed_vectors_count > 0
    assert lazy.optimize() is False
    eager.close()
    lazy.close()


def test_metadata_side_record_is_replaced_atomically(data_dir):
    with EdgeStore(settings(data_dir)) as store:
        store.ensure_collection(DIM, {"photoseek": {"image_model": "a"}})
        store.set_metadata({"photoseek": {"image_model": "b"}, "extra": [1, 2]})
        folder = data_dir / "qdrant" / "photos"
        assert json.loads((folder / METADATA_FILE).read_text()) == {"extra": [1, 2], "photoseek": {"image_model": "b"}}
        assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_delete_collection_closes_the_shard_for_every_store(data_dir):
    first, second = EdgeStore(settings(data_dir)), EdgeStore(settings(data_dir))
    first.ensure_collection(DIM)
    fill(first, 5)
    assert second.count() == 5
    first.delete_collection()
    assert not (data_dir / "qdrant" / "photos").exists()
    assert not second.collection_exists()
    assert second.ensure_collection(DIM) is True
    assert first.count() == 0
    first.close()
    second.close()


def test_collections_are_separate_shards(data_dir):
    with EdgeStore(settings(data_dir, "one")) as one, EdgeStore(settings(data_dir, "two")) as two:
        one.ensure_collection(DIM)
        two.ensure_collection(2 * DIM)
        fill(one, 3)
        assert (one.count(), two.count()) == (3, 0)
        assert two.info().vector_size == 2 * DIM


@pytest.mark.parametrize("bad", ["garbage", '{"vectors": {"image": {"size": 16, "distance": "Cosine"}}}'])
def test_a_foreign_shard_folder_is_refused(data_dir, bad):
    folder = data_dir / "qdrant" / "photos"
    folder.mkdir(parents=True)
    (folder / "edge_config.json").write_text(bad)
    store = EdgeStore(settings(data_dir))
    with pytest.raises(StoreError):  # CollectionMismatch is one
        store.ensure_collection(DIM)
    store.close()
