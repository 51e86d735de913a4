"""The streaming pipeline end to end: tiny CLIP, a loopback image server with faults, real stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from httpserver import LoopbackServer, Reply
from photo_datasets import LiteDataset, jpeg_bytes, write_lite_dataset
from photoseek.config.settings import IngestSettings, ModelSettings, QdrantSettings
from photoseek.ingest.fetch import Fetcher
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.sources.folder import FolderSource
from photoseek.ingest.sources.unsplash import UnsplashSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.base import VectorStore
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.server import ServerStore

REPO = Path(__file__).resolve().parents[2]

# Photos that misbehave on the server, by index in the generated dataset, and what happens.
NOT_FOUND, HTML, TRUNCATED, FLAKY, THROTTLED = 2, 5, 8, 11, 14
EXPECTED_FAILURES = {NOT_FOUND: "http_404", HTML: "not_an_image", TRUNCATED: "truncated"}


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LoopbackServer, LiteDataset]]:
    """A Lite dataset whose images a loopback server serves, a few of them badly."""
    with LoopbackServer() as server:
        data = write_lite_dataset(tmp_path / "lite", n_photos=24, image_base_url=server.base_url, image_size=(64, 48))
        for photo_id, image in data.images.items():
            server.image(f"/photos/{photo_id}", image)
        ids = data.photo_ids
        server.add(f"/photos/{ids[NOT_FOUND]}", Reply(404, b"gone", "text/plain"))
        server.add(f"/photos/{ids[HTML]}", Reply(200, b"<html>sign in</html>", "text/html"))
        server.add(f"/photos/{ids[TRUNCATED]}", Reply(200, data.images[ids[TRUNCATED]][:200], "image/jpeg"))
        server.add(f"/photos/{ids[FLAKY]}", Reply(500, b"oops", "text/plain"), Reply(200, data.images[ids[FLAKY]]))
        server.add(
            f"/photos/{ids[THROTTLED]}",
            Reply(429, b"slow down", "text/plain", {"Retry-After": "0"}),
            Reply(200, data.images[ids[THROTTLED]]),
        )
        yield server, data


def _ingest_settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {"allowed_hosts": "127.0.0.1", "connect_timeout": 2.0, "read_timeout": 2.0, "retries": 2}
    values.update(overrides)
    return IngestSettings(**values)


def _fast_fetcher(ingest: IngestSettings) -> Fetcher:
    return Fetcher(ingest, backoff_initial=0.01, backoff_max=0.05)


def _run(source: Any, store: VectorStore, encoder: ClipEncoder, ledger_path: Path, **options: Any) -> Any:
    store.ensure_collection(encoder.dimension)
    ingest = _ingest_settings()
    pipeline = Pipeline(
        source,
        store=store,
        encoder=encoder,
        ingest=ingest,
        ledger=Ledger(ledger_path),
        options=PipelineOptions(batch_size=8, **options),
        fetcher_factory=_fast_fetcher,
    )
    return pipeline.run()


def _snapshot(store: VectorStore) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    points: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
    offset = None
    while True:
        page, offset = store.scroll(limit=100, offset=offset, with_vectors=True)
        for record in page:
            assert record.vector is not None
            points[record.id] = (record.payload, record.vector)
        if offset is None:
            return points


def _good_ids(data: LiteDataset) -> set[str]:
    bad = set(EXPECTED_FAILURES)
    return {point_id(pid) for i, pid in enumerate(data.photo_ids) if i not in bad}


@pytest.fixture(params=["edge", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    settings = QdrantSettings(path=tmp_path / "qdrant", collection="photos")
    made: VectorStore = (
        EdgeStore(settings) if request.param == "edge" else ServerStore(settings, QdrantClient(":memory:"))
    )
    yield made
    made.close()


def test_collection_holds_exactly_the_good_photos_and_a_rerun_adds_nothing(
    served: tuple[LoopbackServer, LiteDataset], store: VectorStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    server, data = served
    ingest = _ingest_settings()
    report = _run(UnsplashSource(data.dir, ingest=ingest), store, encoder, tmp_path / "failures.jsonl")

    assert report.indexed == len(data.photo_ids) - len(EXPECTED_FAILURES)
    assert report.failed == len(EXPECTED_FAILURES) + len(data.bad_rows)
    assert report.failures_by_reason["bad_row"] == len(data.bad_rows)
    for reason in EXPECTED_FAILURES.values():
        assert report.failures_by_reason[reason] == 1
    points = _snapshot(store)
    assert set(points) == _good_ids(data)
    for i, photo_id in enumerate(data.photo_ids):
        if i in EXPECTED_FAILURES:
            continue
        payload, vector = points[point_id(photo_id)]
        assert payload == data.expected[photo_id]
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    # The vector is the encoder's own for that picture: the pipeline kept ids and pixels together.
    sample = data.photo_ids[0]
    from photoseek.ingest.decode import decode_image

    direct = encoder.encode_pixels(decode_image(data.images[sample], encoder.image_size, 10**8)[None])[0]
    assert float(points[point_id(sample)][1] @ direct) > 0.999

    failures = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    by_photo = {f["photo_id"]: f for f in failures if f.get("photo_id")}
    assert by_photo[data.photo_ids[NOT_FOUND]]["reason"] == "http_404"
    assert by_photo[data.photo_ids[NOT_FOUND]]["stage"] == "fetch"
    assert by_photo[data.photo_ids[TRUNCATED]]["stage"] == "decode"

    hits_before = sum(server.hits.values())
    again = _run(UnsplashSource(data.dir, ingest=ingest), store, encoder, tmp_path / "failures.jsonl")
    assert again.indexed == 0
    assert again.skipped_existing == len(_good_ids(data))
    assert store.count() == len(_good_ids(data))
    # Only the three bad photos were asked for again, not the stored ones.
    assert sum(server.hits.values()) - hits_before == len(EXPECTED_FAILURES)


def test_fixed_rows_leave_the_failures_file(tmp_path: Path, encoder: ClipEncoder) -> None:
    images = tmp_path / "images"
    data = write_lite_dataset(tmp_path / "lite", n_photos=6, images_dir=images)
    failures = tmp_path / "failures.jsonl"
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="unsplash"))

    def bad_rows(path: Path = failures) -> set[str]:
        return {
            row["ref"] for row in map(json.loads, path.read_text().splitlines())
            if row["stage"] == "source" and row.get("severity") != "warning"
        }

    # Which rows each of three workers reports, each into a file of its own.
    per_shard = []
    for k in range(3):
        _run(UnsplashSource(data.dir, images, shard=(k, 3)), store, encoder, tmp_path / f"shard{k}.jsonl")
        per_shard.append(bad_rows(tmp_path / f"shard{k}.jsonl"))
    assert all(per_shard) and set().union(*per_shard) == set(data.bad_rows), per_shard

    _run(UnsplashSource(data.dir, images), store, encoder, failures)
    assert bad_rows() == set(data.bad_rows)
    # Other sources writing to the same failures file leave this dataset's rows alone.
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "a.jpg").write_bytes(jpeg_bytes(40, 30, (200, 0, 0)))
    _run(FolderSource(tmp_path / "pictures"), store, encoder, failures)
    assert bad_rows() == set(data.bad_rows)

    write_lite_dataset(tmp_path / "lite", n_photos=6, images_dir=images, malformed=False)  # the rows fixed
    _run(UnsplashSource(data.dir, images, limit=3), store, encoder, failures)
    assert bad_rows() == set(data.bad_rows), "a run that stopped at --limit did not see every row"
    _run(UnsplashSource(data.dir, images, shard=(0, 3)), store, encoder, failures)
    assert bad_rows() == per_shard[1] | per_shard[2], "worker 0 cleared its own row only"
    _run(UnsplashSource(data.dir, images), store, encoder, failures)
    assert bad_rows() == set()
    store.close()


def test_retry_failed_picks_up_photos_once_the_server_serves_them(
    served: tuple[LoopbackServer, LiteDataset], encoder: ClipEncoder, tmp_path: Path
) -> None:
    server, data = served
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="photos"))
    ingest = _ingest_settings()
    ledger_path = tmp_path / "failures.jsonl"
    _run(UnsplashSource(data.dir, ingest=ingest), store, encoder, ledger_path)
    assert store.count() == len(_good_ids(data))

    for index in EXPECTED_FAILURES:  # the server is fixed
        photo_id = data.photo_ids[index]
        server.image(f"/photos/{photo_id}", data.images[photo_id])
    hits_before = sum(server.hits.values())
    retry = Ledger(ledger_path).retry_ids()
    assert retry == {point_id(data.photo_ids[i]) for i in EXPECTED_FAILURES}
    report = _run(UnsplashSource(data.dir, ingest=ingest), store, encoder, ledger_path, retry_ids=retry)
    assert report.indexed == len(EXPECTED_FAILURES) and report.failed == 0
    assert sum(server.hits.values()) - hits_before == len(EXPECTED_FAILURES)
    assert store.count() == len(data.photo_ids)
    # Only the malformed rows are still listed (and the field warnings, which are not retried).
    left = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    assert {f["reason"] for f in left if f.get("severity") != "warning"} == {"bad_row"}
    store.close()


def test_refresh_payload_rewrites_payloads_without_reencoding(tmp_path: Path, encoder: ClipEncoder) -> None:
    images = tmp_path / "images"
    data = write_lite_dataset(tmp_path / "lite", n_photos=6, malformed=False, images_dir=images)
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="photos"))
    _run(UnsplashSource(data.dir, images), store, encoder, tmp_path / "f.jsonl")
    before = _snapshot(store)
    target = point_id(data.photo_ids[0])
    store.set_payloads([target], [{"photo_id": "stale"}])
    for file in images.iterdir():  # a re-encode would now fail on every photo
        file.write_bytes(b"")
    report = _run(UnsplashSource(data.dir, images), store, encoder, tmp_path / "f.jsonl", refresh_payload=True)
    assert report.refreshed == 6 and report.indexed == 0 and report.failed == 0
    after = _snapshot(store)
    assert after[target][0] == before[target][0]
    # A picture read from --images-dir is named in the payload (the contact sheet reads it there).
    assert after[target][0]["path"] == str((images / f"{data.photo_ids[0]}.jpg").resolve())
    assert np.allclose(after[target][1], before[target][1])
    store.close()


def test_folder_source_without_metadata(tmp_path: Path, encoder: ClipEncoder) -> None:
    root = tmp_path / "pictures"
    (root / "trip").mkdir(parents=True)
    (root / "a.jpg").write_bytes(jpeg_bytes(80, 60, (250, 0, 0)))
    (root / "trip" / "b.jpg").write_bytes(jpeg_bytes(60, 80, (0, 0, 250)))
    (root / "trip" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (root / "notes.txt").write_text("not a picture")
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="mine"))
    report = _run(FolderSource(root), store, encoder, tmp_path / "f.jsonl")
    assert report.indexed == 2 and report.failed == 1
    points = _snapshot(store)
    assert {p["photo_id"] for p, _ in points.values()} == {"a.jpg", "trip/b.jpg"}
    assert points[point_id("trip/b.jpg", "folder")][0]["orientation"] == "portrait"
    store.close()


def test_a_stopped_run_leaves_the_index_to_the_next_run(tmp_path: Path, encoder: ClipEncoder) -> None:
    """Stopping must not start a long index build; the next run builds it even with nothing new."""
    root = tmp_path / "pictures"
    root.mkdir()
    for index in range(150):
        (root / f"{index:03d}.jpg").write_bytes(jpeg_bytes(40, 30, (index, 0, 0)))
    settings = QdrantSettings(path=tmp_path / "q", collection="mine")
    store = EdgeStore(settings, auto_optimize_tail=1)  # these few points count as a tail
    store.ensure_collection(encoder.dimension)
    builds: list[int] = []

    def run(stop_after_first: bool) -> Any:
        pipeline: Pipeline

        def progress(*_: Any) -> None:
            if stop_after_first:
                pipeline.stop()

        pipeline = Pipeline(
            FolderSource(root), store=store, encoder=encoder, ingest=_ingest_settings(),
            ledger=Ledger(tmp_path / "f.jsonl"), options=PipelineOptions(batch_size=2),
            progress=progress, on_optimize=builds.append,
        )
        return pipeline.run()

    stopped = run(stop_after_first=True)
    assert stopped.stopped_early and stopped.index_deferred and 0 < stopped.indexed < 150
    assert builds == []
    assert "the vector index was not built" in stopped.summary()
    finished = run(stop_after_first=False)
    assert not finished.stopped_early and not finished.index_deferred
    assert builds == [150]
    again = run(stop_after_first=False)  # nothing new
    assert again.indexed == 0 and builds == [150, 150]  # the tail (never indexed: tiny) is built again
    store.close()
    store = EdgeStore(settings, auto_optimize_tail=1_000)
    run(stop_after_first=False)
    assert builds == [150, 150], "a small tail is left to scans"
    store.close()


def test_a_broken_store_stops_the_job_with_its_error(tmp_path: Path, encoder: ClipEncoder) -> None:
    """A dependency that fails for good raises; nothing is reported as indexed that was not."""
    images = tmp_path / "images"
    data = write_lite_dataset(tmp_path / "lite", n_photos=12, malformed=False, images_dir=images)
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="photos"))
    store.ensure_collection(encoder.dimension)
    store.delete_collection()  # every write now fails
    pipeline = Pipeline(
        UnsplashSource(data.dir, images),
        store=store,
        encoder=encoder,
        ingest=_ingest_settings(),
        ledger=Ledger(tmp_path / "f.jsonl"),
        options=PipelineOptions(batch_size=4, reencode=True),
    )
    from photoseek.errors import StoreError

    with pytest.raises(StoreError):
        pipeline.run()
    assert pipeline.report.indexed == 0
    store.close()


# --------------------------------------------------------------------------- the CLI, in a process


def _cli_env(tiny_clip_dir: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSEEK_")}
    env.update(
        PHOTOSEEK_MODEL__IMAGE=str(tiny_clip_dir),
        PHOTOSEEK_MODEL__TEXT=str(tiny_clip_dir),
        PHOTOSEEK_MODEL__DEVICE="cpu",
        PHOTOSEEK_QDRANT__PATH=str(data_dir),
        PHOTOSEEK_INGEST__ALLOWED_HOSTS="127.0.0.1",
        PHOTOSEEK_INGEST__CONCURRENCY="2",
        PHOTOSEEK_INGEST__PER_HOST_CONCURRENCY="2",
        PHOTOSEEK_MODEL__BATCH_SIZE="4",
        HF_HUB_OFFLINE="1",
    )
    return env


def _start_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "photoseek", *args],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_hits(server: LoopbackServer, n: int, process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sum(server.hits.values()) < n:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the ingest made no progress"
        time.sleep(0.02)


def _slow_dataset(tmp_path: Path, server: LoopbackServer, n: int) -> LiteDataset:
    data = write_lite_dataset(tmp_path / "lite", n_photos=n, image_base_url=server.base_url, malformed=False)
    for photo_id, image in data.images.items():
        server.image(f"/photos/{photo_id}", image)
    return data


def _collection(data_dir: Path) -> dict[str, dict[str, Any]]:
    store = EdgeStore(QdrantSettings(path=data_dir, collection="unsplash"))
    try:
        return {pid: payload for pid, (payload, _) in _snapshot(store).items()}
    finally:
        store.close()


def test_sigkill_then_resume_gives_the_same_collection(tiny_clip_dir: Path, tmp_path: Path) -> None:
    with LoopbackServer(latency=0.03) as server:
        data = _slow_dataset(tmp_path, server, 60)
        env = _cli_env(tiny_clip_dir, tmp_path / "killed")
        killed = _start_cli(["ingest", "unsplash", str(data.dir), "--no-progress"], env, tmp_path)
        _wait_for_hits(server, 25, killed)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        partial = _collection(tmp_path / "killed")
        assert 0 < len(partial) < 60, "the kill should land part-way"

        resumed = _start_cli(
            ["ingest", "unsplash", str(data.dir), "--no-progress", "--report", "r.json"], env, tmp_path
        )
        out, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, err
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["skipped_existing"] == len(partial)
        assert report["indexed"] == 60 - len(partial)

        clean_env = _cli_env(tiny_clip_dir, tmp_path / "clean")
        clean = _start_cli(["ingest", "unsplash", str(data.dir), "--no-progress"], clean_env, tmp_path)
        out, err = clean.communicate(timeout=180)
        assert clean.returncode == 0, err
    assert _collection(tmp_path / "killed") == _collection(tmp_path / "clean")
    assert len(_collection(tmp_path / "clean")) == 60


def test_sigterm_finishes_in_flight_writes_the_report_and_exits_0(tiny_clip_dir: Path, tmp_path: Path) -> None:
    with LoopbackServer(latency=0.05) as server:
        data = _slow_dataset(tmp_path, server, 80)
        env = _cli_env(tiny_clip_dir, tmp_path / "q")
        process = _start_cli(
            ["ingest", "unsplash", str(data.dir), "--no-progress", "--report", "r.json"], env, tmp_path
        )
        _wait_for_hits(server, 10, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopping" in err and "stopped early" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stopped_early"] is True and report["index_deferred"] is True
    assert "the vector index was not built" in out
    assert 0 < report["indexed"] < 80
    assert set(report) >= {
        "seen", "indexed", "skipped_existing", "failed", "failures_by_reason", "seconds", "images_per_second",
    }
    # Everything fetched was written: what is stored is what the report says.
    assert len(_collection(tmp_path / "q")) == report["indexed"]


def test_an_unwritable_failures_file_stops_the_job_instead_of_hanging(tmp_path: Path, encoder: ClipEncoder) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (tmp_path / "blocked").write_text("a file where the folder should be")
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="mine"))
    store.ensure_collection(encoder.dimension)
    pipeline = Pipeline(
        FolderSource(root), store=store, encoder=encoder, ingest=_ingest_settings(),
        ledger=Ledger(tmp_path / "blocked" / "f.jsonl"), options=PipelineOptions(batch_size=4),
    )
    with pytest.raises(OSError):
        pipeline.run()
    store.close()


def test_a_downloader_that_cannot_start_stops_the_job(tmp_path: Path, encoder: ClipEncoder) -> None:
    def broken(ingest: IngestSettings) -> Fetcher:
        raise FileNotFoundError("SSL_CERT_FILE /nonexistent")

    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="mine"))
    pipeline = Pipeline(
        FolderSource(tmp_path), store=store, encoder=encoder, ingest=_ingest_settings(),
        ledger=Ledger(tmp_path / "f.jsonl"), fetcher_factory=broken,
    )
    with pytest.raises(FileNotFoundError, match="SSL_CERT_FILE"):
        pipeline.run()
    store.close()
