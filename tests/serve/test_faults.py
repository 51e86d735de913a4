"""10,000 requests to a real ``photoseek serve`` process, 5% of them malformed: no 500, no crash, memory flat."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_data import COLLECTION, LOCAL, UNSPLASH, png

pytestmark = pytest.mark.slow

TOTAL = 10_000
WARM_UP = 1_000
MALFORMED_SHARE = 0.05
CONCURRENCY = 8
WORDS = ["red", "green", "blue", "sea", "forest", "city", "rain", "snow", "sunset", "dog", "a", "photo", "of", "the"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(
    collection: dict[str, Any], fresh_data: Callable[[], Path], tiny_clip_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m photoseek serve`` on a copy of the collection, until the test ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSEEK_")}
    env.update({
        "PHOTOSEEK_QDRANT__PATH": str(fresh_data()),
        "PHOTOSEEK_QDRANT__COLLECTION": COLLECTION,
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
        "PHOTOSEEK_SERVE__PORT": str(port),
        "PHOTOSEEK_SERVE__PHOTO_FOLDERS": str(collection["photos"]),
        "PHOTOSEEK_SERVE__MAX_UPLOAD_BYTES": str(64 * 1024),
    })
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "photoseek", "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the service did not become ready"
        time.sleep(0.2)
    try:
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def good_request(rng: random.Random) -> dict[str, Any]:
    """A valid request of some kind."""
    kind = rng.random()
    # A few hundred distinct texts: the encoder runs for each once and the query cache (1024) serves repeats.
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))) + f" {rng.randint(0, 200)}"
    if kind < 0.55:
        where = rng.choice([{}, {"country": "Japan"}, {"orientation": "landscape", "min_width": 10}])
        body = {"text": text, "where": where, "limit": rng.randint(1, 20)}
        return {"method": "POST", "url": "/v1/search", "json": body}
    if kind < 0.65:
        return {"method": "POST", "url": "/v1/search", "json": {"similar_to": rng.choice(list(LOCAL)), "limit": 5}}
    if kind < 0.72:
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        upload = {"image": ("q.png", png(colour, (40, 30)), "image/png")}
        return {"method": "POST", "url": "/v1/search/image", "files": upload}
    if kind < 0.82:
        return {"method": "GET", "url": f"/v1/photos/{rng.choice(list(LOCAL) + list(UNSPLASH))}"}
    if kind < 0.90:
        return {"method": "GET", "url": f"/v1/photos/{rng.choice(list(LOCAL))}/thumbnail"}
    if kind < 0.95:
        return {"method": "GET", "url": rng.choice(["/v1/info", "/v1/filters", "/healthz", "/readyz"])}
    return {"method": "GET", "url": f"/v1/photos/{rng.choice(list(LOCAL))}/similar?limit=3"}


def malformed_request(rng: random.Random) -> dict[str, Any]:
    """A request a client got wrong, or a hostile one."""
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    json_type = {"Content-Type": "application/json"}
    multipart_type = {"Content-Type": "multipart/form-data; boundary=b"}
    good_upload = {"image": ("q.png", png((1, 1, 1)), "image/png")}
    choices: list[dict[str, Any]] = [
        {"method": "POST", "url": "/v1/search", "content": junk, "headers": json_type},
        {"method": "POST", "url": "/v1/search", "content": b'{"text": "x", ', "headers": json_type},
        {"method": "POST", "url": "/v1/search", "json": {"text": 7}},
        {"method": "POST", "url": "/v1/search", "json": {"text": "x", "where": {"contry": "Peru"}}},
        {"method": "POST", "url": "/v1/search", "json": {"text": "x", "where": {"min_width": "lots"}}},
        {"method": "POST", "url": "/v1/search", "json": {"text": "x", "where": {"near": [1, 2]}}},
        {"method": "POST", "url": "/v1/search", "json": {"text": "x", "limit": 10**9}},
        {"method": "POST", "url": "/v1/search", "json": {"image": "@@not-base64@@"}},
        {"method": "POST", "url": "/v1/search", "json": {"image": base64.b64encode(junk).decode()}},
        {"method": "POST", "url": "/v1/search", "json": {"vector": [float(rng.random())] * rng.randint(1, 40)}},
        {"method": "POST", "url": "/v1/search", "json": [1, 2, 3]},
        {"method": "POST", "url": "/v1/search", "json": {"similar_to": "no-such-photo"}},
        {"method": "POST", "url": "/v1/search/image", "files": {"image": ("x.png", junk, "image/png")}},
        {"method": "POST", "url": "/v1/search/image", "files": {"image": ("x.png", b"x" * 70_000, "image/png")}},
        {"method": "POST", "url": "/v1/search/image", "content": b"--b\r\nbroken", "headers": multipart_type},
        {"method": "POST", "url": "/v1/search/image", "data": {"where": "{not json"}, "files": good_upload},
        {"method": "GET", "url": "/v1/photos/..%2F..%2F..%2Fetc%2Fpasswd/thumbnail"},
        {"method": "GET", "url": "/v1/photos/%00/thumbnail"},
        {"method": "GET", "url": "/v1/photos/missing/similar?limit=-1"},
        {"method": "GET", "url": "/v1/photos/red.png/similar?where=%5B%5D"},
        {"method": "DELETE", "url": "/v1/search"},
        {"method": "GET", "url": "/v1/" + "a" * rng.randint(1, 3000)},
    ]
    return rng.choice(choices)


async def fire(url: str, requests: list[tuple[bool, dict[str, Any]]], statuses: Counter[tuple[bool, int]]) -> None:
    queue: asyncio.Queue[tuple[bool, dict[str, Any]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                malformed, spec = queue.get_nowait()
                spec = dict(spec)
                response = await client.request(spec.pop("method"), spec.pop("url"), **spec)
                statuses[(malformed, response.status_code)] += 1
                if response.status_code >= 400:
                    assert response.json()["error"]["type"], response.text

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def test_ten_thousand_requests_five_percent_malformed(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, process = server
    rng = random.Random(15)
    requests = [
        (True, malformed_request(rng)) if rng.random() < MALFORMED_SHARE else (False, good_request(rng))
        for _ in range(TOTAL)
    ]
    statuses: Counter[tuple[bool, int]] = Counter()
    asyncio.run(fire(url, requests[:WARM_UP], statuses))
    after_warm_up = rss_bytes(process.pid)
    asyncio.run(fire(url, requests[WARM_UP:], statuses))
    at_end = rss_bytes(process.pid)

    assert process.poll() is None, "the service died"
    assert sum(statuses.values()) == TOTAL
    assert not [key for key in statuses if key[1] >= 500], statuses
    good_failures = {key: n for key, n in statuses.items() if not key[0] and key[1] >= 400}
    assert not good_failures, good_failures
    malformed = sum(n for (bad, _), n in statuses.items() if bad)
    assert 0.03 * TOTAL < malformed < 0.07 * TOTAL
    assert all(400 <= status < 500 for (bad, status) in statuses if bad), statuses
    assert at_end <= after_warm_up * 1.10, f"memory grew {after_warm_up / 2**20:.1f} -> {at_end / 2**20:.1f} MiB"
    metrics = httpx.get(url + "/metrics").text
    assert 'photoseek_http_errors_total{type="ValidationError"}' in metrics
    print(json.dumps({"statuses": {f"{'bad' if b else 'good'} {s}": n for (b, s), n in sorted(statuses.items())},
                      "rss_mib": [round(after_warm_up / 2**20, 1), round(at_end / 2**20, 1)]}))
