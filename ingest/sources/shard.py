"""Partitioning for several workers: ``shard=(k, n)`` keeps the ids that hash to ``k``."""

from __future__ import annotations

import hashlib

Shard = tuple[int, int]


def parse_shard(text: str) -> Shard:
    """Parse ``"k/n"`` (0 <= k < n) into ``(k, n)``.

    Raises:
        ValueError: when the text is not of that form.
    """
    try:
        k_text, n_text = text.split("/")
        shard = (int(k_text), int(n_text))
    except ValueError:
        raise ValueError(f"shard must be k/n with 0 <= k < n (e.g. 0/4), got {text!r}") from None
    return check_shard(shard)


def check_shard(shard: Shard) -> Shard:
    """Return ``shard`` when ``0 <= k < n``; raise ValueError otherwise."""
    k, n = shard
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"shard must be k/n with 0 <= k < n (e.g. 0/4), got {k}/{n}")
    return shard


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
