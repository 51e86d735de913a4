"""The folder source: which files, ids from relative paths, payload from the file and its EXIF."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from photo_datasets import jpeg_bytes
from photoseek.ingest.sources import FolderSource, SourceRecord
from photoseek.retrieval.schema import FIELDS_BY_PATH, point_id


def _exif_jpeg(path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Nikon"
    exif[0x0110] = "D750"
    exif[0x0112] = 6  # stored 60x40, shown 40x60
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2019:07:14 16:05:09"
    ifd[0x9011] = "+02:00"
    ifd[0x829A] = 0.004
    ifd[0x829D] = 4.0
    ifd[0x8827] = 400
    ifd[0x920A] = 35.0
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (64.0, 8.0, 24.0)
    gps[3], gps[4] = "W", (21.0, 56.0, 24.0)
    Image.new("RGB", (60, 40), (10, 20, 30)).save(path, "JPEG", exif=exif)


def test_folder_records_carry_file_and_exif_metadata(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "trip" / "day1").mkdir(parents=True)
    (root / ".hidden").mkdir()
    _exif_jpeg(root / "trip" / "day1" / "a.JPG")
    Image.new("RGB", (30, 30)).save(root / "b.png")
    (root / "c.webp").write_bytes(b"")  # an empty file: the decoder gives its reason later
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden" / "d.jpg").write_bytes(jpeg_bytes(8, 8))
    records = list(FolderSource(root))
    assert [r.photo_id for r in records] == ["b.png", "c.webp", "trip/day1/a.JPG"]
    assert all(isinstance(r, SourceRecord) for r in records)
    exif_record = records[2]
    assert exif_record.id == point_id("trip/day1/a.JPG", "folder")
    assert exif_record.local_path == root / "trip" / "day1" / "a.JPG"
    payload = exif_record.payload
    assert payload["source"] == "folder" and payload["path"] == str((root / "trip/day1/a.JPG").resolve())
    assert payload["width"] == 40 and payload["height"] == 60 and payload["orientation"] == "portrait"
    assert payload["taken_at"] == "2019-07-14T14:05:09Z"
    assert payload["camera"] == {"make": "Nikon", "model": "D750", "iso": 400, "aperture": 4.0,
                                 "focal_length": 35.0, "exposure_time": "1/250", "exposure_seconds": 0.004}
    geo = payload["location"]["geo"]
    assert abs(geo["lat"] - 64.14) < 1e-6 and abs(geo["lon"] + 21.94) < 1e-6
    assert payload["file_size"] == (root / "trip/day1/a.JPG").stat().st_size
    assert payload["mtime"].endswith("Z")
    assert records[0].payload["orientation"] == "square" and "camera" not in records[0].payload
    assert records[1].payload.keys() == {"source", "photo_id", "path", "mtime"}
    for record in records:
        assert {k for k in record.payload if k not in ("location", "camera")} <= set(FIELDS_BY_PATH)


def test_folder_shards_and_limit(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"{i:02d}.jpg").write_bytes(jpeg_bytes(8, 8))
    everything = [r.photo_id for r in FolderSource(tmp_path)]
    parts = [[r.photo_id for r in FolderSource(tmp_path, shard=(k, 4))] for k in range(4)]
    assert sorted(name for part in parts for name in part) == sorted(everything) and all(parts)
    assert [r.photo_id for r in FolderSource(tmp_path, limit=3)] == everything[:3]
