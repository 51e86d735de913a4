"""``photoseek check [--repair]`` on a real Qdrant Edge store with random bytes over part of a vector file."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.edge import EdgeStore

DIM, N = 16, 200


def _build(base: Path) -> list[str]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(N)]
    store = EdgeStore(QdrantSettings(path=base, collection="c"))
    store.ensure_collection(DIM)
    store.upsert(ids, vectors, [{"photo_id": f"p{i}"} for i in range(N)])
    store.close()
    return ids


def test_check_finds_damaged_vectors_and_repair_deletes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(tmp_path))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "c")
    _build(tmp_path)
    assert main(["check"]) == 0
    assert "200 points counted, 200 listed, 200 read whole, 0 damaged" in capsys.readouterr().out

    chunk = next((tmp_path / "c").rglob("vectors/chunk_0.mmap"))
    with open(chunk, "r+b") as handle:  # random bytes over vectors 50..59
        handle.seek(50 * DIM * 4)
        handle.write(np.random.default_rng(1).bytes(10 * DIM * 4))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "200 points counted, 200 listed, 190 read whole, 10 damaged" in out
    assert "not a unit vector" in out or "NaN" in out
    assert "photoseek check --repair" in out

    assert main(["check", "--repair"]) == 0
    assert "deleted 10 damaged points" in capsys.readouterr().out
    assert main(["check"]) == 0
    assert "190 points counted, 190 listed, 190 read whole, 0 damaged" in capsys.readouterr().out
