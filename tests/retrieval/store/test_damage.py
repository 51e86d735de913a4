"""A damaged embedded store is named, not disguised (real damaged files of a real Qdrant Edge store)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.errors import StoreError, StoreLocked
from photoseek.retrieval.store.edge import EdgeStore


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cleanly closed store of 50 points with a metadata record."""
    base = tmp_path_factory.mktemp("clean")
    store = EdgeStore(QdrantSettings(path=base, collection="c"))
    store.ensure_collection(4)
    rng = np.random.default_rng(0)
    store.upsert(
        [str(uuid.UUID(int=i + 1)) for i in range(50)],
        rng.random((50, 4), dtype=np.float32),
        [{"n": i} for i in range(50)],
    )
    store.set_metadata({"image_model": "tiny"})
    store.close()
    return base


@pytest.fixture
def copy(clean_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(clean_store, target)
    return target


def _open_count(base: Path) -> int:
    store = EdgeStore(QdrantSettings(path=base, collection="c"))
    try:
        return store.count()
    finally:
        store.close()


def test_a_damaged_wal_is_not_reported_as_a_lock(copy: Path) -> None:
    (copy / "c" / "wal" / "first-index").write_bytes(b"garbage!" * 3)
    with pytest.raises(StoreError) as caught:
        _open_count(copy)
    assert not isinstance(caught.value, StoreLocked)
    message = str(caught.value)
    assert "write-ahead log is damaged" in message and "first-index" in message and "no other process" in message
    # The advice works: with the log moved aside the store opens with what its segments hold.
    (copy / "c" / "wal").rename(copy / "c" / "wal.damaged")
    assert _open_count(copy) == 50


def test_a_lock_held_by_another_process_is_still_a_lock(copy: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, qdrant_edge as qe; s = qe.EdgeShard.load(sys.argv[1]); "
            "print('open', flush=True); time.sleep(60)",
            str(copy / "c"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLocked, match="open in another process"):
            _open_count(copy)
    finally:
        holder.kill()
        holder.wait()


def test_an_engine_panic_is_a_store_error(copy: Path) -> None:
    status = next(p for p in (copy / "c").rglob("status.dat") if p.parent.name == "vectors")
    status.write_bytes(b"\x07" * 3)
    with pytest.raises(StoreError, match="is damaged: the engine failed reading it"):
        _open_count(copy)


def test_a_damaged_metadata_file_is_a_clear_error(copy: Path) -> None:
    record = copy / "c" / "photoseek_metadata.json"
    record.write_text(record.read_text()[:5])
    store = EdgeStore(QdrantSettings(path=copy, collection="c"))
    try:
        with pytest.raises(StoreError, match=r"photoseek_metadata\.json is damaged .*move it aside"):
            store.get_metadata()
        record.rename(record.with_suffix(".damaged"))
        assert store.get_metadata() == {}
    finally:
        store.close()


def test_info_on_a_damaged_metadata_file_says_so_in_one_line(
    copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record = copy / "c" / "photoseek_metadata.json"
    record.write_text(record.read_text()[:5])
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(copy))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "c")
    assert main(["info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("photoseek: error: ") and "photoseek_metadata.json is damaged" in err[0]
