"""Free space checks for the embedded store: a full disk is a clear error, never a SIGBUS.

Qdrant Edge maps its files into memory. On a full file system a write to a mapped page that
has no block behind it kills the process with SIGBUS (status 135, no message), so the space
must be there before the engine needs it. Measured on a tmpfs with a 512-d collection and
photoseek's payload indexes: creating a store takes about 54 MiB; opening an existing one
allocates a fresh appendable segment, about 200 MiB with its preallocated text indexes; the
write-ahead log grows into two 32 MiB segment files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from photoseek.errors import StoreError

MIB = 1024 * 1024
# What opening (or creating) a store may allocate, with a margin (see the module docstring).
OPEN_HEADROOM = 288 * MIB
# The write-ahead log's segment files fill as writes come, whatever else is free.
WAL_HEADROOM = 64 * MIB


class NoSpaceError(StoreError):
    """Not enough free space for what the embedded store is about to do."""


def free_bytes(folder: Path) -> int:
    """Free bytes (for this user) on the file system that holds ``folder`` or its nearest parent."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(folder: Path, needed: int, what: str) -> None:
    """Raise unless ``needed`` bytes are free where ``folder`` lives.

    Args:
        folder: the store's (shard) folder; it need not exist yet.
        needed: bytes the next step needs.
        what: the step, for the message (``open the store``, ``write 256 photos``).

    Raises:
        NoSpaceError: naming the folder, the space needed and the space free.
    """
    free = free_bytes(folder)
    if free < needed:
        raise NoSpaceError(
            f"not enough free space to {what} in {folder}: needs about {-(-needed // MIB)} MiB, "
            f"{free // MIB} MiB free. Free some space (or move PHOTOSEEK_QDRANT__PATH to a larger disk) "
            "and run again: what was written so far is kept, and an ingest resumes where it stopped"
        )


def write_bytes_needed(points: int, dimension: int) -> int:
    """A generous estimate of what writing ``points`` vectors (and payloads) adds on disk."""
    return WAL_HEADROOM + points * (dimension * 4 * 3 + 8 * 1024)
