"""A damaged embedded store is named, not disguised: which file, and what to do.

Qdrant Edge reports every failure to open its write-ahead log the same way; only a
``WouldBlock`` is another process holding the lock. A damaged segment file can make the engine
panic, which pyo3 raises as ``PanicException``, a ``BaseException`` that ``except Exception``
lets through as a traceback. And photoseek's own side record (``photoseek_metadata.json``) may
be truncated by a full disk or a bad copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from photoseek.errors import StoreError, StoreLocked

_DAMAGED_FILE = re.compile(r"(?:Failed to deserialize|failed to read) (/\S+?):")


def is_engine_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic raised through pyo3 (``pyo3_runtime.PanicException``)."""
    return type(exc).__name__ == "PanicException"


def edge_error(folder: Path, exc: BaseException) -> StoreError:
    """Qdrant Edge's exception ``exc`` on the shard in ``folder`` as photoseek's store error.

    Args:
        folder: the shard folder (``<path>/<collection>``).
        exc: what the engine raised (an ``Exception`` or a ``PanicException``).
    """
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "WouldBlock" in text:
        return StoreLocked(
            f"embedded store {folder} is open in another process; concurrent access from "
            "several processes needs the server backend (set PHOTOSEEK_QDRANT__URL)"
        )
    if "failed to open WAL" in text or "Can't init WAL" in text:
        damaged = _DAMAGED_FILE.search(text)
        where = damaged.group(1) if damaged else str(folder / "wal")
        return StoreError(
            f"embedded store {folder}: its write-ahead log is damaged ({where}); no other process holds it. "
            f"Restore the store from a snapshot (photoseek snapshot), or move {folder / 'wal'} aside: the "
            f"store then opens without the writes that were not yet in its segments, and the next "
            f"`photoseek ingest` adds them again [engine: {first[:300]}]"
        )
    if is_engine_panic(exc):
        return StoreError(
            f"embedded store {folder} is damaged: the engine failed reading it ({first[:300]}). Restore it "
            "from a snapshot (photoseek snapshot), or delete the collection folder and ingest again"
        )
    return StoreError(f"embedded store {folder}: {first}")


def read_metadata_file(path: Path) -> dict[str, Any]:
    """photoseek's side record of a collection (``{}`` when there is none).

    Raises:
        StoreError: the file is not a JSON object (truncated, garbled), naming it and the fix.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"{path} is damaged ({exc}). It records which model built the collection: move it "
            "aside and the next `photoseek ingest` writes it again from the configured model"
        ) from None
    if not isinstance(data, dict):
        raise StoreError(
            f"{path} is damaged (a JSON {type(data).__name__}, not an object). Move it aside and the next "
            "`photoseek ingest` writes it again from the configured model"
        )
    return data
