"""Downloads of image bytes: async, bounded, retried with backoff, and checked before use.

Each give-up raises ``TransientItemError`` (worth a later retry: ``timeout``,
``connection_error``, ``http_429``, ``http_5xx``) or ``PermanentItemError`` (``http_404`` and
other 4xx, ``not_an_image``, ``too_large``, ``host_not_allowed``, ``bad_url``,
``too_many_redirects``). The exception's ``attempts`` attribute says how many requests were made.
A photo's download has a deadline (``IngestSettings.download_deadline``) counted across its
attempts and the waits between them, so that a URL that stalls cannot hold a slot for
``retries x read timeout``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from photoseek.config.settings import IngestSettings
from photoseek.errors import ItemError, PermanentItemError, TransientItemError

log = logging.getLogger(__name__)
MAX_REDIRECTS = 5
# Types a CDN may label an image with besides image/*.
BINARY_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", ""})
USER_AGENT = "photoseek/0.1"
# httpcore scans every pooled connection (a syscall each) whenever it schedules a request, so
# CPU per download grows with the pool. Several small pools, each request going to the least
# busy one, keep the scan short (measured here at 64 connections: ~2 ms of CPU per download
# with pools of 4 against ~4 ms with one pool of 64).
CONNECTIONS_PER_CLIENT = 4


def looks_like_image(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a body) starts like an image file Pillow can read."""
    return (
        head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"))  # JPEG, PNG, GIF
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[:2] == b"BM"
        or head[:4] in (b"II*\x00", b"MM\x00*")  # TIFF
        or head[4:12] in (b"ftypavif", b"ftypheic", b"ftypheix", b"ftypmif1")
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class Fetched:
    """A download's bytes, how many requests it took, and whether it came from the cache."""

    data: bytes
    attempts: int
    cached: bool = False


class Fetcher:
    """Download image bytes with bounded concurrency, retries and checks.

    Use as ``async with Fetcher(settings.ingest) as fetcher: data = await fetcher.fetch(url)``.
    """

    def __init__(
        self,
        ingest: IngestSettings,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_cap: float = 60.0,
        attempt_timeout: float | None = None,
        deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Configure downloads.

        Args:
            ingest: concurrency, timeouts, retries, size limit, allowed hosts, cache folder.
            backoff_initial: first backoff in seconds; it doubles per retry, with jitter.
            backoff_max: the longest backoff.
            retry_after_cap: the longest ``Retry-After`` honoured; a longer one is cut to this.
            attempt_timeout: the most one request may take in all, so that a server dripping
                bytes cannot hold a slot forever (default: connect + 2 x read timeout).
            deadline: the most one photo's download may take, every attempt and wait included
                (default: ``ingest.download_deadline``).
            transport: an httpx transport (default: a pooled one with keep-alive).
        """
        self.ingest = ingest
        self.allowed_hosts = ingest.allowed_host_list()
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.deadline = deadline or ingest.download_deadline
        # One attempt never outlasts the photo's whole deadline.
        self.attempt_timeout = min(attempt_timeout or ingest.connect_timeout + 2 * ingest.read_timeout, self.deadline)
        self.cache_dir = ingest.cache_dir
        self._transport = transport
        self._clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []
        self._total = asyncio.Semaphore(ingest.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def open(self) -> None:
        """Create the HTTP clients (done by ``async with``)."""
        if self._clients:
            return
        count = max(1, -(-self.ingest.concurrency // CONNECTIONS_PER_CLIENT))
        per_client = -(-self.ingest.concurrency // count)
        limits = httpx.Limits(
            max_connections=per_client, max_keepalive_connections=per_client, keepalive_expiry=30.0
        )
        timeout = httpx.Timeout(
            connect=self.ingest.connect_timeout, read=self.ingest.read_timeout,
            write=self.ingest.read_timeout, pool=None,
        )
        # One TLS context for all pools: loading the CA bundle costs ~60 ms each time.
        tls = httpx.create_ssl_context()
        self._clients = [
            httpx.AsyncClient(
                limits=limits, timeout=timeout, follow_redirects=False, transport=self._transport, verify=tls,
                headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
            )
            for _ in range(count)
        ]
        self._busy = [0] * count

    async def aclose(self) -> None:
        """Close the HTTP clients and their connections."""
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    def _cache_path(self, url: str, key: str | None) -> Path | None:
        if self.cache_dir is None:
            return None
        name = key or hashlib.sha256(url.encode()).hexdigest()
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return Path(self.cache_dir) / name[:2] / f"{name}.img"

    async def fetch(self, url: str, key: str | None = None) -> bytes:
        """The image bytes at ``url`` (from the cache when ``key`` is cached).

        Raises:
            TransientItemError | PermanentItemError: with ``reason`` and ``attempts``.
        """
        return (await self.fetch_result(url, key)).data

    async def fetch_result(self, url: str, key: str | None = None) -> Fetched:
        """Like ``fetch``, also saying how many requests were made and whether it was cached."""
        cache = self._cache_path(url, key)
        if cache is not None and cache.is_file():
            return Fetched(cache.read_bytes(), attempts=0, cached=True)
        self.check_url(url)
        attempts = 0

        async def attempt() -> bytes:
            nonlocal attempts
            attempts += 1
            return await self._attempt(url)

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientItemError),
            stop=stop_after_attempt(self.ingest.retries + 1),
            wait=self._wait,
            reraise=True,
        )
        try:
            async with asyncio.timeout(self.deadline):
                data: bytes = await retrying(attempt)
        except TimeoutError:
            error = TransientItemError(
                "timeout", f"no complete image within the download deadline of {self.deadline:g} s "
                f"({attempts} attempts; PHOTOSEEK_INGEST__DOWNLOAD_DEADLINE)"
            )
            error.attempts = attempts
            raise error from None
        except ItemError as exc:
            exc.attempts = attempts
            raise
        if cache is not None:
            try:
                _write_atomic(cache, data)
            except OSError as exc:  # the cache is best effort: a good download is never lost to it
                log.warning("could not cache %s in %s: %s", url, cache, exc)
        return Fetched(data, attempts)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.retry_after_cap)
        # Full jitter: a crowd of clients that failed together does not retry together.
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    def check_url(self, url: str) -> None:
        """Refuse URLs that are not http(s) or whose host is not allowed.

        Raises:
            PermanentItemError: ``bad_url`` or ``host_not_allowed``.
        """
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError as exc:
            raise PermanentItemError("bad_url", f"{url!r}: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise PermanentItemError("bad_url", f"{url!r}: only http and https URLs are fetched")
        if not host:
            raise PermanentItemError("bad_url", f"{url!r} has no host")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            raise PermanentItemError(
                "host_not_allowed",
                f"{host} is not in PHOTOSEEK_INGEST__ALLOWED_HOSTS ({','.join(self.allowed_hosts)})",
            )

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc.lower()
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.ingest.per_host_concurrency)
        return slot

    async def _attempt(self, url: str) -> bytes:
        """One request (following redirects), inside the concurrency limits and a deadline."""
        if not self._clients:
            self.open()
        async with self._total, self._host_slot(url):
            slot = min(range(len(self._busy)), key=self._busy.__getitem__)
            self._busy[slot] += 1
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    return await self._follow(self._clients[slot], url)
            except TimeoutError:
                raise TransientItemError("timeout", f"no complete answer within {self.attempt_timeout:g} s") from None
            except httpx.TimeoutException as exc:
                raise TransientItemError("timeout", f"{type(exc).__name__} for {url}") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise PermanentItemError("bad_url", str(exc)) from None
            except httpx.TransportError as exc:
                # Refused, reset or dropped connections, protocol errors from a dying server.
                raise TransientItemError("connection_error", f"{type(exc).__name__}: {exc}") from None
            finally:
                self._busy[slot] -= 1

    async def _follow(self, client: httpx.AsyncClient, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", url) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise PermanentItemError(f"http_{response.status_code}", "redirect without Location")
                    url = urljoin(str(response.url), location)
                    self.check_url(url)
                    continue
                return await self._body(response)
        raise PermanentItemError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    async def _body(self, response: httpx.Response) -> bytes:
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            error = TransientItemError(f"http_{status}", f"{response.url}")
            error.retry_after = _retry_after(response.headers.get("retry-after"))
            raise error
        if status != 200:
            raise PermanentItemError(f"http_{status}", f"{response.url}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not kind.startswith("image/") and kind not in BINARY_TYPES:
            raise PermanentItemError("not_an_image", f"content type {kind!r}")
        limit = self.ingest.max_download_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PermanentItemError("too_large", f"{declared} bytes is over {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise PermanentItemError("too_large", f"over {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
        if not looks_like_image(data[:16]):
            raise PermanentItemError("not_an_image", f"{len(data)} bytes that do not start like an image")
        return data


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two downloads of the same key may finish together: each writes its own temporary file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{random.getrandbits(48):x}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

