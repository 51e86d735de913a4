"""A search process runs torch with ``ModelSettings.query_threads`` CPU threads; an ingest keeps the default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, torch
from photoseek.config.settings import ModelSettings
from photoseek.retrieval.encoder import ClipEncoder
default = torch.get_num_threads()
settings = ModelSettings(image=sys.argv[1], text=sys.argv[1], device="cpu", query_threads=int(sys.argv[2]))
ClipEncoder.from_settings(settings)
after_ingest_encoder = torch.get_num_threads()
ClipEncoder.from_settings(settings, for_queries=True)
print(default, after_ingest_encoder, torch.get_num_threads())
"""


def test_query_threads_apply_to_search_processes_only(tiny_clip_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_clip_dir), "3"], capture_output=True, text=True, check=True, timeout=120
    )
    default, after_ingest_encoder, after_query_encoder = map(int, done.stdout.split())
    assert after_ingest_encoder == default
    assert after_query_encoder == 3


def test_the_default_is_one_thread() -> None:
    from photoseek.config.settings import ModelSettings

    assert ModelSettings().query_threads == 1
