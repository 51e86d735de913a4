"""A full disk is a one-line error, never a SIGBUS: real size-limited tmpfs mounts (needs root)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from photo_datasets import jpeg_bytes


def _mount(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (.ci/run runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    _mount(folder, "400m")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_ingest_on_a_nearly_full_disk_is_one_line_not_a_sigbus(tiny_clip_dir: Path, tmp_path: Path) -> None:
    disk = tmp_path / "tiny-disk"
    _mount(disk, "20m")
    try:
        root = tmp_path / "pictures"
        root.mkdir()
        (root / "a.jpg").write_bytes(jpeg_bytes(40, 30))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSEEK_")}
        env.update(
            PHOTOSEEK_MODEL__IMAGE=str(tiny_clip_dir),
            PHOTOSEEK_MODEL__TEXT=str(tiny_clip_dir),
            PHOTOSEEK_MODEL__DEVICE="cpu",
            PHOTOSEEK_QDRANT__PATH=str(disk / "qdrant"),
            HF_HUB_OFFLINE="1",
            PHOTOSEEK_INGEST__FAILURES_FILE=str(tmp_path / "f.jsonl"),
        )
        done = subprocess.run(
            [sys.executable, "-m", "photoseek", "ingest", "folder", str(root), "--no-progress"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("photoseek: error: not enough free space to open the embedded store in ")
    assert "needs about 288 MiB" in last and "MiB free" in last


SCRIPT = """
import sys, os
from pathlib import Path
from photoseek.config.settings import IngestSettings, ModelSettings, QdrantSettings
from photoseek.errors import StoreError
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.sources.folder import FolderSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.disk_space import free_bytes, MIB
model, disk, root, ledger = sys.argv[1:5]
encoder = ClipEncoder.from_settings(ModelSettings(image=model, text=model, device="cpu"))
store = EdgeStore(QdrantSettings(path=Path(disk) / "q", collection="c"))
store.ensure_collection(encoder.dimension)
ballast = Path(disk) / "ballast"
with open(ballast, "wb") as handle:  # leave 40 MiB: less than the write-ahead log may take
    handle.write(b"\\0" * (free_bytes(Path(disk)) - 40 * MIB))
pipeline = Pipeline(FolderSource(Path(root)), store=store, encoder=encoder, ingest=IngestSettings(),
                    ledger=Ledger(Path(ledger)), options=PipelineOptions(batch_size=4))
try:
    pipeline.run()
    print("no error")
except StoreError as exc:
    print("error:", exc)
ballast.unlink()
print("stored:", store.count())
store.close()
"""


def test_writes_stop_cleanly_before_the_disk_is_full(tiny_clip_dir: Path, small_disk: Path, tmp_path: Path) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    for index in range(8):
        (root / f"{index}.jpg").write_bytes(jpeg_bytes(40, 30, (index * 30, 0, 0)))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_clip_dir), str(small_disk), str(root), str(tmp_path / "f.jsonl")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"error: not enough free space to write 4 photos in {small_disk / 'q' / 'c'}"), lines
    assert lines[-1] == "stored: 0"
