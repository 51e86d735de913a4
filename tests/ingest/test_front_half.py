"""Source, fetch and decode together: a Lite dataset whose images come from the loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from httpserver import LoopbackServer, Reply, Reset
from photo_datasets import write_lite_dataset
from photoseek.config.settings import IngestSettings
from photoseek.errors import ItemError
from photoseek.ingest.decode import DecodePool
from photoseek.ingest.fetch import Fetcher
from photoseek.ingest.sources import SourceFailure, SourceRecord, UnsplashSource
from photoseek.ingest.sources.shard import parse_shard

SIZE = 32


def test_every_good_photo_arrives_with_its_pixels_and_every_bad_one_with_its_reason(
    tmp_path: Path, http_server: LoopbackServer, fast_ingest: IngestSettings
) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=20, image_base_url=http_server.base_url,
                              images_dir=tmp_path / "served")
    http_server.serve_dir("/photos/", tmp_path / "served", suffix=".jpg")
    ids = data.photo_ids
    expected_failures = {ids[1]: ("fetch", "http_404"), ids[2]: ("fetch", "not_an_image"),
                         ids[4]: ("fetch", "connection_error"), ids[5]: ("decode", "truncated")}
    http_server.add(f"/photos/{ids[1]}", Reply(404, b"gone", "text/plain"))
    http_server.add(f"/photos/{ids[2]}", Reply(200, b"<html>sign in</html>", "text/html"))
    http_server.add(f"/photos/{ids[3]}", Reply(503, b"", "text/plain"), Reply(200, data.images[ids[3]]))
    http_server.add(f"/photos/{ids[4]}", Reset())
    http_server.add(f"/photos/{ids[5]}", Reply(200, data.images[ids[5]][:300]))
    items = list(UnsplashSource(data.dir, ingest=fast_ingest))
    records = [i for i in items if isinstance(i, SourceRecord)]
    assert sorted(f.ref for f in items if isinstance(f, SourceFailure)) == sorted(data.bad_rows)
    failures: dict[str, tuple[str, str]] = {}
    pixels: dict[str, np.ndarray] = {}

    async def run() -> None:
        async with Fetcher(fast_ingest, backoff_initial=0.01, backoff_max=0.05) as fetcher:
            with DecodePool(SIZE, fast_ingest.max_image_pixels, workers=2) as pool:
                async def one(record: SourceRecord) -> None:
                    assert record.url is not None and "w=640&fm=jpg&q=80" in record.url
                    try:
                        body = await fetcher.fetch(record.url, key=record.id)
                    except ItemError as exc:
                        failures[record.photo_id] = ("fetch", exc.reason)
                        return
                    try:
                        pixels[record.photo_id] = await asyncio.wrap_future(pool.submit(body))
                    except ItemError as exc:
                        failures[record.photo_id] = ("decode", exc.reason)

                await asyncio.gather(*(one(r) for r in records))

    asyncio.run(run())
    assert failures == expected_failures
    assert set(pixels) == set(ids) - set(expected_failures)
    for photo_id, image in pixels.items():
        assert np.abs(image.astype(int) - np.array(data.colors[photo_id])).max() <= 4, photo_id
        record = next(r for r in records if r.photo_id == photo_id)
        assert record.payload == data.expected[photo_id]
    assert http_server.hits[f"/photos/{ids[3]}"] == 2


def test_parse_shard() -> None:
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "1/0"):
        try:
            parse_shard(bad)
        except ValueError as exc:
            assert "k/n" in str(exc)
        else:
            raise AssertionError(f"{bad!r} must be refused")
