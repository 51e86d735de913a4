"""``photoseek search`` end to end: the tiny CLIP, Qdrant Edge, a table, JSON lines and a contact sheet."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from httpserver import LoopbackServer, redirect
from photoseek.cli import main
from photoseek.config import ModelSettings, QdrantSettings
from photoseek.contact_sheet import PLACEHOLDER, ThumbnailSource, sheet_size, tile_box
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

# photo_id -> colour of its (solid) picture
LOCAL = {"pics/red.png": (220, 20, 20), "pics/green.png": (20, 200, 40), "pics/blue.png": (30, 40, 220)}
REMOTE = {"u-yellow": (240, 220, 10), "u-purple": (140, 20, 160), "u-teal": (10, 150, 150)}
BROKEN = "u-broken"


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (48, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Iterator[dict[str, Any]]:
    """A collection of seven photos (three local files, three on a loopback server, one 404), built once."""
    tmp_path = tmp_path_factory.mktemp("cli-search")
    http_server = LoopbackServer().start()
    data = tmp_path / "data"
    encoder = ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))  # type: ignore[call-arg]
    ids, pictures, payloads = [], [], []
    for photo_id, colour in LOCAL.items():
        path = tmp_path / photo_id
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(_png(colour))
        ids.append(point_id(photo_id, "folder"))
        pictures.append(Image.open(path).convert("RGB"))
        payloads.append(
            {"source": "folder", "photo_id": photo_id, "path": str(path), "description": f"a {photo_id} file"}
        )
    for photo_id, colour in [*REMOTE.items(), (BROKEN, (0, 0, 0))]:
        url = (
            http_server.image(f"/img/{photo_id}", _png(colour), "image/png")
            if photo_id != BROKEN
            else http_server.url("/img/missing")
        )
        ids.append(point_id(photo_id, "unsplash"))
        pictures.append(Image.new("RGB", (48, 36), colour))
        payloads.append(
            {"source": "unsplash", "photo_id": photo_id, "image_url": url, "description": f"photo {photo_id}"}
        )
    store = EdgeStore(QdrantSettings(path=data / "qdrant", collection="unsplash"))  # type: ignore[call-arg]
    store.ensure_collection(encoder.dimension)
    record_identity(store, encoder)
    store.upsert(ids, encoder.encode_images(pictures), payloads)
    store.close()
    env = {
        "PHOTOSEEK_QDRANT__PATH": str(data / "qdrant"),
        "PHOTOSEEK_QDRANT__COLLECTION": "unsplash",
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
        "PHOTOSEEK_INGEST__ALLOWED_HOSTS": "127.0.0.1",
        "PHOTOSEEK_INGEST__CACHE_DIR": str(tmp_path / "cache"),
    }
    yield {"tmp": tmp_path, "server": http_server, "env": env}
    http_server.stop()


@pytest.fixture
def setup(collection: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The collection's PHOTOSEEK_* variables, set for one test."""
    for name, value in collection["env"].items():
        monkeypatch.setenv(name, value)
    return collection


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_table(setup: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "a red photo", "--limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "score", "photo_id", "description", "image_url"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3", "4", "5"]
    known = {*LOCAL, *REMOTE, BROKEN}
    assert all(line.split()[2] in known for line in lines[1:])
    scores = [float(line.split()[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)


def test_json_lines_and_where(setup: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "a photo", "--limit", "10", "--json"]) == 0
    every = _json_lines(capsys.readouterr().out)
    assert [r["rank"] for r in every] == list(range(1, 8))
    assert {r["photo_id"] for r in every} == {*LOCAL, *REMOTE, BROKEN}
    assert all(set(r) >= {"id", "score", "photo_id", "image_url", "description", "payload"} for r in every)

    assert main(["search", "a photo", "--json", "--where", "source=folder", "--limit", "2", "--offset", "1"]) == 0
    page = _json_lines(capsys.readouterr().out)
    assert [r["rank"] for r in page] == [2, 3]
    folder_order = [r["photo_id"] for r in every if r["payload"]["source"] == "folder"]
    assert [r["photo_id"] for r in page] == folder_order[1:3]


def test_similar_and_image(setup: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--similar", "pics/red.png", "--json", "--limit", "10"]) == 0
    similar = _json_lines(capsys.readouterr().out)
    assert len(similar) == 6 and "pics/red.png" not in {r["photo_id"] for r in similar}

    assert main(["search", "--image", str(setup["tmp"] / "pics/green.png"), "--json", "--limit", "1"]) == 0
    (best,) = _json_lines(capsys.readouterr().out)
    assert best["photo_id"] == "pics/green.png" and best["score"] == pytest.approx(1.0, abs=1e-3)


def test_grid_has_one_tile_per_hit_and_downloads_once(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = setup["tmp"] / "sheet.png"
    args = ["search", "a photo", "--limit", "7", "--json", "--grid", str(out), "--columns", "3", "--tile-size", "40"]
    for _ in range(2):
        assert main(args) == 0
    captured = capsys.readouterr()
    hits = _json_lines(captured.out)[-7:]
    assert f"wrote {out} (7 tiles)" in captured.err
    sheet = Image.open(out).convert("RGB")
    assert sheet.size == sheet_size(7, 3, 40)
    colours = {**LOCAL, **REMOTE}
    for index, hit in enumerate(hits):
        left, top, right, bottom = tile_box(index, 3, 40)
        centre = sheet.getpixel(((left + right) // 2, (top + bottom) // 2))
        want = colours.get(hit["photo_id"], PLACEHOLDER)
        assert all(abs(a - b) <= 3 for a, b in zip(centre, want, strict=True)), (index, hit["photo_id"], centre, want)
    server: LoopbackServer = setup["server"]
    # two sheets, one download per remote picture; the 404 is not cached and asked again
    assert all(server.hits[f"/img/{photo_id}"] == 1 for photo_id in REMOTE)
    assert server.hits["/img/missing"] == 2


def test_a_redirect_off_the_allow_list_is_not_followed(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.image("/img/elsewhere", _png((240, 220, 10)), "image/png")
        # The same server under another name: localhost is not on the allow-list, 127.0.0.1 is.
        server.add("/img/hop", redirect(f"http://localhost:{server.port}/img/elsewhere"))
        server.add("/img/inside", redirect(server.url("/img/elsewhere")))
        source = ThumbnailSource(cache_dir=tmp_path / "cache", allowed_hosts=("127.0.0.1",))
        with source.client() as client:
            refused = source.load(Hit(id="a", score=1.0, image_url=server.url("/img/hop")), client)
            followed = source.load(Hit(id="b", score=1.0, image_url=server.url("/img/inside")), client)
        assert refused is None
        assert followed is not None and followed.getpixel((0, 0)) == (240, 220, 10)
        assert server.hits["/img/elsewhere"] == 1, "only the allowed hop reached the picture"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search"], "give one of: a text, --image PATH or --similar PHOTO_ID"),
        (["search", "dog", "--similar", "x"], "got a text and --similar"),
        (["search", "dog", "--where", "colour=red"], "unknown field 'colour'"),
        (["search", "dog", "--where", "min_width=wide"], "--where min_width: cannot read 'wide'"),
        (["search", "   "], "query text is empty"),
        (["search", "--similar", "nope"], "no photo 'nope' in collection 'unsplash'"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("photoseek: error: ") and message in last


def test_missing_collection(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "other")
    assert main(["search", "dog"]) == 1
    assert "collection 'other' does not exist" in capsys.readouterr().err


def test_grid_pointing_at_a_folder_fails_before_searching(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["search", "a photo", "--grid", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "", "nothing is searched or printed before the error"
    assert captured.err.strip() == (
        f"photoseek: error: --grid {tmp_path} is a folder; give an image file name such as {tmp_path / 'results.jpg'}"
    )
    assert main(["search", "a photo", "--grid", str(tmp_path / "sheet.txt")]) == 1
    assert "needs an image extension" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["text", "fifo", "dev-zero", "missing"])
def test_image_errors_name_the_file(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    import os

    path = {"dev-zero": Path("/dev/zero")}.get(kind, tmp_path / "query.jpg")
    if kind == "text":
        path.write_text("not a picture")
    elif kind == "fifo":
        os.mkfifo(path)
    assert main(["search", "--image", str(path)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"photoseek: error: query image {path} ") and "BytesIO" not in last, last


def test_a_very_long_query_is_searched(setup: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "a red photo " * 10_000, "--limit", "2", "--json"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 2
    assert main(["search", "a\udcff red photo", "--limit", "2", "--json"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 2
