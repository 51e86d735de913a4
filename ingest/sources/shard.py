"""Partitioning for several workers: ``shard=(k, n)`` keeps the ids that hash to ``k``."""

from __future__ import annotations

import hashlib

# One parser and one range check for the setting and for sources built in code.
from photoseek.config.settings import check_shard, parse_shard

__all__ = ["Shard", "check_shard", "in_shard", "parse_shard", "shard_of"]

Shard = tuple[int, int]


def shard_of(key: str, n: int) -> int:
    """The shard in ``range(n)`` that ``key`` belongs to: a stable hash, the same in every run.

    Python's ``hash()`` is salted per process, so a digest is used instead.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def in_shard(key: str, shard: Shard | None) -> bool:
    """True when ``key`` belongs to ``shard`` (always true without sharding)."""
    if shard is None or shard[1] == 1:
        return True
    return shard_of(key, shard[1]) == shard[0]
