"""The payload field the Qdrant dashboard draws: on every point of both sources, served by the running app."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image
from serve_data import model_settings

from httpserver import LoopbackServer
from live import live_server
from photo_datasets import photo_color, write_lite_dataset
from photoseek.config.settings import IngestSettings, QdrantSettings, ServeSettings, Settings
from photoseek.errors import ConfigError
from photoseek.ingest import run_ingest
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.picture_url import PICTURE_FIELD, picture_url, rewrite_picture_urls
from photoseek.ingest.pipeline import PipelineOptions
from photoseek.ingest.sources.folder import FolderSource
from photoseek.ingest.sources.unsplash import UnsplashSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.base import Record
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.serve import create_app

COLLECTION = "photos"
# qdrant-web-ui, src/components/Points/PointImage.jsx: `new URL(value)` must parse, then
# /\.(jpg|jpeg|png|webp|gif|svg)$/.test(url.pathname) (case-sensitive; query and fragment excluded).
DASHBOARD_EXTENSIONS = re.compile(r"\.(jpg|jpeg|png|webp|gif|svg)$")
FOLDER_FILES = ("a.jpg", "b.png", "trips/c d.jpg", "trips/#5.png")
N_UNSPLASH = 4
OLD_ADDRESS = "http://photos.invalid:9/gallery"


def dashboard_draws(value: Any) -> bool:
    """The dashboard's rule: a string that parses as a (browser-loadable) URL whose path ends in an image extension."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return DASHBOARD_EXTENSIONS.search(parts.path) is not None


def test_the_rule_refuses_the_cdn_url_and_a_local_path_and_takes_the_thumbnail_url() -> None:
    assert not dashboard_draws("https://images.unsplash.com/photo-1550258987-190a2d41a8ba?w=640&fm=jpg&q=80")
    assert not dashboard_draws("https://images.unsplash.com/photo-1?x=#.jpg")
    assert not dashboard_draws("/home/me/photos/a.jpg")
    assert not dashboard_draws("http://host/a.JPG")
    assert dashboard_draws(picture_url(point_id("trips/c d.jpg", "folder"), "http://127.0.0.1:8000"))
    assert picture_url("x", None) is None


def test_public_url_setting_is_checked_and_trimmed() -> None:
    assert ServeSettings(public_url="https://photos.example.org/base/").public_url == "https://photos.example.org/base"
    assert ServeSettings(public_url="  ").public_url is None
    with pytest.raises(ValueError, match="http"):
        ServeSettings(public_url="photos.example.org")
    from photoseek.config import load_settings

    with pytest.raises(ConfigError, match="PHOTOSEEK_SERVE__PUBLIC_URL"):
        load_settings(serve={"public_url": "ftp://x"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _all(store: EdgeStore) -> dict[str, Record]:
    records, offset = store.scroll(limit=1000, with_vectors=True)
    assert offset is None
    return {record.id: record for record in records}


@pytest.fixture
def built(tmp_path: Path, encoder: ClipEncoder, http_server: LoopbackServer) -> Iterator[dict[str, Any]]:
    """A collection of an Unsplash-layout dataset and a folder, ingested with an old public address."""
    dataset = tmp_path / "lite"
    images = tmp_path / "lite-images"
    write_lite_dataset(dataset, n_photos=N_UNSPLASH, malformed=False, image_base_url=http_server.base_url,
                       images_dir=images)
    http_server.serve_dir("/photos/", images, ".jpg")  # the "CDN" the Unsplash thumbnails redirect to
    folder = tmp_path / "pictures"
    for index, name in enumerate(FOLDER_FILES):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), photo_color(index)).save(path, "PNG" if name.endswith(".png") else "JPEG")
    data = tmp_path / "qdrant"
    store = EdgeStore(QdrantSettings(path=data, collection=COLLECTION))  # type: ignore[call-arg]
    ingest = IngestSettings(decode_workers=1)
    for source in (UnsplashSource(dataset, images, ingest), FolderSource(folder)):
        report = run_ingest(source, store=store, encoder=encoder, ingest=ingest,
                            ledger=Ledger(tmp_path / "failures.jsonl"), public_url=OLD_ADDRESS)
        assert report.failed == 0
    yield {"store": store, "data": data, "folder": folder, "dataset": dataset, "images": images, "tmp": tmp_path}
    store.close()


def test_every_point_of_both_sources_gets_a_url_the_dashboard_draws(built: dict[str, Any]) -> None:
    records = _all(built["store"])
    assert len(records) == N_UNSPLASH + len(FOLDER_FILES)
    assert {r.payload["source"] for r in records.values()} == {"unsplash", "folder"}
    for record in records.values():
        url = record.payload[PICTURE_FIELD]
        assert dashboard_draws(url), url
        assert url == f"{OLD_ADDRESS}/v1/photos/{record.id}/thumbnail.jpg"
    # The CDN URL itself is not drawn: that is why the field exists.
    unsplash = [r for r in records.values() if r.payload["source"] == "unsplash"]
    assert all(not dashboard_draws(r.payload["image_url"]) for r in unsplash)


def test_a_refresh_changes_the_field_on_every_point_and_nothing_else_and_the_urls_load(
    built: dict[str, Any], encoder: ClipEncoder, tiny_clip_dir: Path
) -> None:
    store: EdgeStore = built["store"]
    before = _all(store)
    port = _free_port()
    address = f"http://127.0.0.1:{port}"
    assert rewrite_picture_urls(store, address) == len(before)
    after = _all(store)
    assert after.keys() == before.keys()
    for point, old in before.items():
        new = after[point]
        assert new.payload[PICTURE_FIELD] != old.payload[PICTURE_FIELD]
        assert dashboard_draws(new.payload[PICTURE_FIELD])
        assert {k: v for k, v in new.payload.items() if k != PICTURE_FIELD} == {
            k: v for k, v in old.payload.items() if k != PICTURE_FIELD
        }
        assert old.vector is not None and new.vector is not None
        np.testing.assert_array_equal(new.vector, old.vector)
    assert rewrite_picture_urls(store, address) == 0  # already current: nothing written
    store.close()

    settings = Settings(
        qdrant=QdrantSettings(path=built["data"], collection=COLLECTION),  # type: ignore[call-arg]
        model=model_settings(tiny_clip_dir),
        serve={"photo_folders": str(built["folder"]), "public_url": address},  # type: ignore[arg-type]
    )
    with live_server(create_app(settings, encoder=encoder), port=port) as base, httpx.Client() as client:
        assert base == address
        for record in after.values():
            reply = client.get(record.payload[PICTURE_FIELD], follow_redirects=True)
            assert reply.status_code == 200, (record.payload["photo_id"], reply.text)
            assert reply.headers["content-type"].startswith("image/"), reply.headers
            with Image.open(io.BytesIO(reply.content)) as picture:
                assert picture.width > 0
            if record.payload["source"] == "unsplash":
                assert reply.history and reply.history[0].status_code == 307


def test_refresh_payload_ingest_rewrites_the_field_and_no_address_leaves_it_out(
    built: dict[str, Any], encoder: ClipEncoder
) -> None:
    store: EdgeStore = built["store"]
    before = _all(store)
    folder_points = {p for p, r in before.items() if r.payload["source"] == "folder"}
    report = run_ingest(FolderSource(built["folder"]), store=store, encoder=encoder,
                        ingest=IngestSettings(decode_workers=1), ledger=Ledger(built["tmp"] / "f.jsonl"),
                        options=PipelineOptions(batch_size=4, refresh_payload=True), public_url="https://new.example")
    assert report.refreshed == len(FOLDER_FILES)
    after = _all(store)
    for point in folder_points:
        url = after[point].payload[PICTURE_FIELD]
        assert url == f"https://new.example/v1/photos/{point}/thumbnail.jpg" and dashboard_draws(url)
    # Without a public address the field is removed rather than left pointing at the old one.
    assert rewrite_picture_urls(store, None) == len(before)
    assert all(PICTURE_FIELD not in r.payload for r in _all(store).values())


def test_the_url_names_the_point_id_and_ignores_a_trailing_slash() -> None:
    point = point_id("trips/#5 a?.jpg", "folder")
    assert picture_url(point, "http://h/base/") == f"http://h/base/v1/photos/{point}/thumbnail.jpg"


def test_an_ingested_folder_is_recorded_and_its_thumbnails_load_without_settings(
    built: dict[str, Any], encoder: ClipEncoder, tiny_clip_dir: Path
) -> None:
    from fastapi.testclient import TestClient

    from photoseek.retrieval.photo_folders import folders_in_metadata

    store: EdgeStore = built["store"]
    assert folders_in_metadata(store.get_metadata()) == [Path(built["folder"]).resolve()]
    store.close()
    settings = Settings(
        qdrant=QdrantSettings(path=built["data"], collection=COLLECTION),  # type: ignore[call-arg]
        model=model_settings(tiny_clip_dir),
        serve={"photo_folders": ""},  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings, encoder=encoder)) as client:
        for name in FOLDER_FILES:
            reply = client.get(f"/v1/photos/{point_id(name, 'folder')}/thumbnail")
            assert reply.status_code == 200, (name, reply.text)
            assert reply.headers["content-type"] == "image/jpeg"
