"""A SIGTERM while the ingest is still starting (model loading) exits 0 with a report of nothing done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from photo_datasets import jpeg_bytes


def _catches_sigterm(pid: int) -> bool:
    """The process has a handler for SIGTERM (its SigCgt mask in /proc has bit 15)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_sigterm_during_startup_exits_0_saying_nothing_was_done(tiny_clip_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSEEK_")}
    env.update(
        PHOTOSEEK_MODEL__IMAGE=str(tiny_clip_dir), PHOTOSEEK_MODEL__TEXT=str(tiny_clip_dir),
        PHOTOSEEK_MODEL__DEVICE="cpu", PHOTOSEEK_QDRANT__PATH=str(tmp_path / "q"), HF_HUB_OFFLINE="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "photoseek", "ingest", "folder", str(root), "--no-progress", "--report", "r.json"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not _catches_sigterm(process.pid):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the ingest never took charge of SIGTERM"
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)  # the model has not even started loading
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped during start-up, before any photo was read: nothing was done" in err
    assert out.startswith("stopped early: 0 indexed")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stopped_early"] is True and report["indexed"] == report["seen"] == 0
