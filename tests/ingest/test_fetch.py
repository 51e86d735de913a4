"""Downloads against a real loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from httpserver import LoopbackServer, Reply, Reset, Stall, redirect
from photo_datasets import jpeg_bytes, photo_jpeg
from photoseek.config.settings import IngestSettings
from photoseek.errors import ItemError, PermanentItemError, TransientItemError
from photoseek.ingest.fetch import Fetched, Fetcher

JPEG = jpeg_bytes(40, 30)


def _run(ingest: IngestSettings, url: str, key: str | None = None, **options: float) -> Fetched | ItemError:
    async def go() -> Fetched | ItemError:
        options.setdefault("backoff_initial", 0.01)
        options.setdefault("backoff_max", 0.05)
        async with Fetcher(ingest, **options) as fetcher:  # type: ignore[arg-type]
            try:
                return await fetcher.fetch_result(url, key)
            except ItemError as exc:
                return exc
    return asyncio.run(go())


def test_good_image_arrives_intact(http_server: LoopbackServer, fast_ingest: IngestSettings) -> None:
    result = _run(fast_ingest, http_server.image("/ok.jpg", JPEG))
    assert isinstance(result, Fetched) and result.data == JPEG and result.attempts == 1


@pytest.mark.parametrize(
    "behaviours,attempts",
    [
        ((Reply(500, b"oops", "text/plain"), Reply(200, JPEG)), 2),
        ((Reply(503, b"", "text/plain"), Reply(502, b"", "text/plain"), Reply(200, JPEG)), 3),
        ((Reset(), Reply(200, JPEG)), 2),
        ((Stall(seconds=1.5), Reply(200, JPEG)), 2),
    ],
    ids=["500-then-200", "503-502-then-200", "reset-then-200", "stall-then-200"],
)
def test_transient_failures_are_retried(
    http_server: LoopbackServer, fast_ingest: IngestSettings, behaviours: tuple, attempts: int
) -> None:
    result = _run(fast_ingest, http_server.add("/flaky.jpg", *behaviours))
    assert isinstance(result, Fetched), result
    assert result.data == JPEG and result.attempts == attempts
    assert http_server.hits["/flaky.jpg"] == attempts


def test_retry_after_is_honoured_and_capped(http_server: LoopbackServer, fast_ingest: IngestSettings) -> None:
    url = http_server.add("/busy.jpg", Reply(429, b"", "text/plain", {"Retry-After": "0.6"}), Reply(200, JPEG))
    started = time.monotonic()
    result = _run(fast_ingest, url)
    assert isinstance(result, Fetched) and result.attempts == 2
    assert time.monotonic() - started >= 0.55, "the 429's Retry-After must be waited out"
    url = http_server.add("/busier.jpg", Reply(429, b"", "text/plain", {"Retry-After": "3600"}), Reply(200, JPEG))
    started = time.monotonic()
    result = _run(fast_ingest, url, retry_after_cap=0.2)
    assert isinstance(result, Fetched) and time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "behaviour,error,reason,attempts",
    [
        (Reply(404, b"no", "text/plain"), PermanentItemError, "http_404", 1),
        (Reply(403, b"no", "text/plain"), PermanentItemError, "http_403", 1),
        (Reply(200, b"<html><body>hello</body></html>", "text/html"), PermanentItemError, "not_an_image", 1),
        (Reply(200, b"<html><body>hello</body></html>", "image/jpeg"), PermanentItemError, "not_an_image", 1),
        (Reply(200, photo_jpeg(400, 400, quality=98)), PermanentItemError, "too_large", 1),
        (Reply(200, photo_jpeg(400, 400, quality=98), no_length=True), PermanentItemError, "too_large", 1),
        (Reply(500, b"", "text/plain"), TransientItemError, "http_500", 3),
        (Reset(), TransientItemError, "connection_error", 3),
        (Stall(seconds=1.5), TransientItemError, "timeout", 3),
    ],
    ids=["404", "403", "html", "html-labelled-jpeg", "oversized", "oversized-unlabelled", "500", "reset", "stall"],
)
def test_failures_carry_their_reason(
    http_server: LoopbackServer, fast_ingest: IngestSettings, behaviour: object, error: type, reason: str, attempts: int
) -> None:
    result = _run(fast_ingest, http_server.add("/bad", behaviour))  # type: ignore[arg-type]
    assert isinstance(result, error), result
    assert result.reason == reason
    assert result.attempts == attempts == http_server.hits["/bad"]


def test_redirects_are_followed_within_the_allow_list(http_server: LoopbackServer, fast_ingest: IngestSettings) -> None:
    http_server.image("/target.jpg", JPEG)
    result = _run(fast_ingest, http_server.add("/moved", redirect("/target.jpg")))
    assert isinstance(result, Fetched) and result.data == JPEG
    away = _run(fast_ingest, http_server.add("/away", redirect("https://elsewhere.example/x.jpg")))
    assert isinstance(away, PermanentItemError) and away.reason == "host_not_allowed"
    http_server.add("/loop", redirect("/loop"))
    looping = _run(fast_ingest, http_server.url("/loop"))
    assert isinstance(looping, PermanentItemError) and looping.reason == "too_many_redirects"


def test_urls_are_checked_before_any_request(http_server: LoopbackServer, fast_ingest: IngestSettings) -> None:
    for url, reason in [
        ("ftp://127.0.0.1/x.jpg", "bad_url"),
        ("file:///etc/passwd", "bad_url"),
        ("http://", "bad_url"),
        ("https://images.unsplash.com/photo-1", "host_not_allowed"),
    ]:
        result = _run(fast_ingest, url)
        assert isinstance(result, PermanentItemError) and result.reason == reason, url
    anyhost = fast_ingest.model_copy(update={"allowed_hosts": "*"})
    assert isinstance(_run(anyhost, http_server.image("/any.jpg", JPEG)), Fetched)
    default = IngestSettings()
    assert isinstance(_run(default, http_server.image("/d.jpg", JPEG)), PermanentItemError)


def test_cache_serves_a_second_fetch_without_the_network(
    http_server: LoopbackServer, fast_ingest: IngestSettings, tmp_path: Path
) -> None:
    cached = fast_ingest.model_copy(update={"cache_dir": tmp_path / "cache"})
    url = http_server.image("/c.jpg", JPEG)
    first = _run(cached, url, key="photo-1")
    second = _run(cached, url, key="photo-1")
    assert isinstance(first, Fetched) and isinstance(second, Fetched)
    assert second.data == JPEG and second.cached and second.attempts == 0
    assert http_server.hits["/c.jpg"] == 1


def test_concurrency_is_bounded_per_host(http_server: LoopbackServer, fast_ingest: IngestSettings) -> None:
    http_server.latency = 0.1
    limited = fast_ingest.model_copy(update={"concurrency": 16, "per_host_concurrency": 2, "read_timeout": 2.0})
    urls = [http_server.image(f"/p{i}.jpg", JPEG) for i in range(6)]

    async def go() -> float:
        async with Fetcher(limited) as fetcher:
            started = time.monotonic()
            results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
            assert all(r == JPEG for r in results)
            return time.monotonic() - started

    # Six 0.1 s answers two at a time take three rounds.
    assert asyncio.run(go()) >= 0.28


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from photoseek.ingest.fetch import _retry_after

    assert _retry_after("7") == 7.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31


def test_a_stalling_url_gives_up_at_the_photo_deadline_across_retries(http_server: LoopbackServer) -> None:
    """Five attempts of 2 s reads would hold the slot ~10 s; the photo's deadline cuts it at 1.5 s."""
    ingest = IngestSettings(
        allowed_hosts="127.0.0.1", connect_timeout=1.0, read_timeout=2.0, retries=4, download_deadline=1.5
    )
    url = http_server.add("/stalls", Stall(seconds=30))
    started = time.monotonic()
    result = _run(ingest, url)
    elapsed = time.monotonic() - started
    assert isinstance(result, TransientItemError) and result.reason == "timeout"
    assert "download deadline of 1.5 s" in result.detail and result.attempts >= 1
    assert elapsed < 3, f"{elapsed:.1f} s"


def test_the_default_deadline_is_well_under_the_retries_times_the_timeouts() -> None:
    ingest = IngestSettings()
    assert ingest.download_deadline <= 60 < (ingest.retries + 1) * ingest.read_timeout
