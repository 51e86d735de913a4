"""Evaluation queries from Unsplash's own search logs: a keyword and the photos people took for it.

``conversions.tsv*`` records which photo a person downloaded after searching a keyword: a
relevance judgment by a real user. ``keywords.tsv*`` optionally adds the keywords users
suggested for a photo. Both files can be large, so they are streamed, and only photos that are
in the collection are kept in memory.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from photoseek.errors import SourceError
from photoseek.ingest.sources.tsv import BadRow, iter_rows, table_parts

log = logging.getLogger(__name__)

# Bands of query frequency (relevance events of a keyword over the whole dataset): head
# queries behave differently from the long tail, so results are reported per band too.
BANDS: tuple[tuple[int, int | None], ...] = ((1, 9), (10, 99), (100, 999), (1000, None))


def band_of(frequency: int) -> str:
    """The frequency band label of a keyword seen ``frequency`` times, e.g. ``"10-99"``."""
    for low, high in BANDS:
        if frequency >= low and (high is None or frequency <= high):
            return f"{low}-{high}" if high is not None else f"{low}+"
    return f"{BANDS[0][0]}-{BANDS[0][1]}"


def band_labels() -> list[str]:
    """Every band label, rarest first."""
    return [band_of(low) for low, _ in BANDS]


def normalise_keyword(text: str) -> str:
    """A keyword as queries are grouped: trimmed, lower case, single spaces."""
    return " ".join(text.split()).lower()


@dataclass
class Query:
    """One evaluation query.

    Attributes:
        text: the keyword searched for.
        relevant: photo_id -> how many times it was taken for this keyword (only photos in
            the collection).
        frequency: relevance events of the keyword over the whole dataset (its popularity).
        band: the frequency band (see ``BANDS``).
    """

    text: str
    relevant: dict[str, int]
    frequency: int
    band: str = ""

    def __post_init__(self) -> None:
        if not self.band:
            self.band = band_of(self.frequency)


@dataclass
class QuerySet:
    """The queries of one evaluation and how they were chosen.

    Attributes:
        queries: the sampled queries, most frequent first.
        eligible: keywords that passed the filters (before sampling).
        keywords_seen: distinct keywords read.
        dropped_min_relevant: keywords with fewer than ``min_relevant`` photos in the collection.
        pairs_outside_collection: keyword-photo pairs dropped because the photo is not stored.
        bad_rows: rows that could not be read.
        sources: which files the judgments came from.
    """

    queries: list[Query]
    eligible: int = 0
    keywords_seen: int = 0
    dropped_min_relevant: int = 0
    pairs_outside_collection: int = 0
    bad_rows: int = 0
    sources: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, object]:
        """The counts, for the JSON report."""
        return {
            "queries": len(self.queries),
            "eligible": self.eligible,
            "keywords_seen": self.keywords_seen,
            "dropped_min_relevant": self.dropped_min_relevant,
            "pairs_outside_collection": self.pairs_outside_collection,
            "bad_rows": self.bad_rows,
            "sources": self.sources,
        }


def _column(header: list[str], name: str, part: str) -> int:
    try:
        return header.index(name)
    except ValueError:
        raise SourceError(
            f"{part} has no {name!r} column (columns: {', '.join(header)}); is it an Unsplash table?"
        ) from None


def _pairs(dataset_dir: Path, table: str, user_only: bool, counts: Counter[str]) -> Iterator[tuple[str, str] | None]:
    """Yield (keyword, photo_id) of one table, None for a bad row; count every keyword."""
    columns: dict[str, tuple[int, int, int | None]] = {}
    for header, row in iter_rows(table_parts(dataset_dir, table)):
        if isinstance(row, BadRow):
            yield None
            continue
        if row.part not in columns:
            flag = _column(header, "suggested_by_user", row.part) if user_only else None
            columns[row.part] = (_column(header, "keyword", row.part), _column(header, "photo_id", row.part), flag)
        keyword_at, photo_at, flag_at = columns[row.part]
        if len(row.fields) != len(header):
            yield None
            continue
        if flag_at is not None and row.fields[flag_at].strip().lower() not in {"t", "true", "1"}:
            continue
        keyword, photo_id = normalise_keyword(row.fields[keyword_at]), row.fields[photo_at].strip()
        if not keyword or not photo_id:
            yield None
            continue
        counts[keyword] += 1
        yield keyword, photo_id


def build_queries(
    dataset_dir: Path,
    collection_ids: Collection[str],
    *,
    min_relevant: int = 3,
    max_queries: int | None = None,
    seed: int = 0,
    user_keywords: bool = False,
) -> QuerySet:
    """Read the judgments of a dataset folder and sample evaluation queries.

    Args:
        dataset_dir: the Unsplash dataset folder (``conversions.tsv*``, ``keywords.tsv*``).
        collection_ids: the photo_ids stored in the collection; other photos are dropped
            from the judgments, since no search could return them.
        min_relevant: keep only keywords with at least this many relevant photos in the collection.
        max_queries: sample this many queries (None: all eligible ones).
        seed: the sampling seed; the same inputs and seed give the same queries.
        user_keywords: also count the keywords users suggested for a photo as judgments.

    Raises:
        SourceError: the folder has no conversions (and no keywords when asked for), or a
            table lacks the needed columns.
    """
    if min_relevant < 1:
        raise ValueError(f"min_relevant must be >= 1 (got {min_relevant})")
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"the number of queries must be >= 1 (got {max_queries})")
    if not dataset_dir.is_dir():
        raise SourceError(f"{dataset_dir} is not a folder: give the Unsplash dataset folder")
    tables = ["conversions"] + (["keywords"] if user_keywords else [])
    sources = [part.name for table in tables for part in table_parts(dataset_dir, table)]
    if not table_parts(dataset_dir, "conversions") and not (user_keywords and table_parts(dataset_dir, "keywords")):
        raise SourceError(
            f"{dataset_dir} has no conversions.tsv* file: the evaluation needs Unsplash's search "
            "conversions (both the Lite and the Full dataset have them)"
        )
    stored = set(collection_ids)
    frequency: Counter[str] = Counter()
    relevant: dict[str, Counter[str]] = defaultdict(Counter)
    outside = bad = 0
    for table in tables:
        for pair in _pairs(dataset_dir, table, table == "keywords", frequency):
            if pair is None:
                bad += 1
            elif pair[1] in stored:
                relevant[pair[0]][pair[1]] += 1
            else:
                outside += 1
    eligible = sorted(keyword for keyword, photos in relevant.items() if len(photos) >= min_relevant)
    if max_queries is None or max_queries >= len(eligible):
        chosen = eligible
    else:
        chosen = random.Random(seed).sample(eligible, max_queries)
    queries = [Query(keyword, dict(sorted(relevant[keyword].items())), frequency[keyword]) for keyword in chosen]
    queries.sort(key=lambda q: (-q.frequency, q.text))
    if bad:
        log.warning("skipped %d unreadable judgment rows", bad)
    return QuerySet(
        queries=queries,
        eligible=len(eligible),
        keywords_seen=len(frequency),
        dropped_min_relevant=len(frequency) - len(eligible),
        pairs_outside_collection=outside,
        bad_rows=bad,
        sources=sources,
    )
