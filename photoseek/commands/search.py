"""``photoseek search``: find photos by text, by example image or by similarity to a stored photo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoseek.config.settings import Settings
    from photoseek.retrieval.hits import Hit


class _Sources:
    """The schema's source names for ``--source``'s choices, imported only when argparse reads them.

    ``photoseek.retrieval`` takes seconds to import; building the parser must not (``--help``).
    """

    def __contains__(self, value: object) -> bool:
        from photoseek.retrieval.schema import SOURCES

        return value in SOURCES

    def __iter__(self) -> Iterator[str]:
        from photoseek.retrieval.schema import SOURCES

        return iter(SOURCES)


# The library's names (``photoseek.retrieval.modes``), repeated here so that ``--help`` and the
# parser do not import the library; a test checks that the two lists agree.
SEARCH_MODES = ("vector", "keyword", "hybrid")
FUSIONS = ("rrf", "dbsf")
MODES_HELP = (
    "Modes (text searches): vector = CLIP similarity of the text to the pictures (finds what a photo "
    "shows); keyword = BM25 over the photo's words (description, AI description, keywords, place, "
    "photographer: finds exact names and rare words); hybrid = both, fused. --fusion rrf (reciprocal "
    "rank fusion) merges the two rankings by rank; dbsf (distribution-based score fusion) by "
    "normalised scores. --prefetch N: candidates each side brings to the fusion. Defaults: "
    "PHOTOSEEK_RETRIEVAL__MODE, __FUSION, __PREFETCH."
)


def register(subparsers: Any) -> None:
    """Add the ``search`` subcommand."""
    parser = subparsers.add_parser(
        "search",
        help="search the collection by text, by image or by a similar photo",
        description="Search the configured collection. Give a text, --image PATH or --similar PHOTO_ID. "
        "Filters: --where key=value, repeatable (country=Iceland, min_width=3000, orientation=landscape, "
        "keywords_any=dog,beach, near=64.1,-21.9,50, submitted_after=2020-01-01, text_contains=bicycle, "
        "featured=true, ...). " + MODES_HELP,
    )
    parser.add_argument("text", nargs="?", help='what to look for, e.g. "a dog on a beach"')
    parser.add_argument("--image", metavar="PATH", type=Path, help="search by an example image instead")
    parser.add_argument("--similar", metavar="PHOTO_ID", help="photos like a stored photo (itself left out)")
    # A metavar, and the choices in the help only: argparse reads them when it prints, not before.
    parser.add_argument(
        "--source", choices=_Sources(), metavar="SOURCE", help="the source of --similar's photo: %(choices)s"
    )
    parser.add_argument(
        "--mode",
        choices=SEARCH_MODES,
        help="vector (CLIP), keyword (BM25 over the photo's words) or hybrid (both, fused); "
        "text searches only (default PHOTOSEEK_RETRIEVAL__MODE)",
    )
    parser.add_argument(
        "--fusion",
        choices=FUSIONS,
        help="how hybrid merges its two rankings: rrf = by rank, dbsf = by normalised score "
        "(default PHOTOSEEK_RETRIEVAL__FUSION)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        metavar="N",
        help="candidates each side (vector, keyword) brings to a hybrid fusion, at least --offset + --limit "
        "(default PHOTOSEEK_RETRIEVAL__PREFETCH)",
    )
    parser.add_argument("--limit", type=int, default=None, help="how many results (default PHOTOSEEK_RETRIEVAL__LIMIT)")
    parser.add_argument("--offset", type=int, default=0, help="results to skip (pagination)")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="a filter; repeatable")
    parser.add_argument("--avoid", action="append", default=[], metavar="TEXT", help="push results away from this")
    parser.add_argument("--score-threshold", type=float, default=None, help="leave out results scoring lower")
    parser.add_argument("--exact", action="store_true", default=None, help="exact search instead of HNSW")
    parser.add_argument(
        "--diversity",
        type=float,
        metavar="LAMBDA",
        help="reorder for variety (MMR): 1 = relevance only, 0.5 = balanced; pages end after --candidates",
    )
    parser.add_argument("--candidates", type=int, help="hits --diversity chooses among (default 100)")
    # A flag and a separate threshold: an optional value would swallow the query that follows
    # (`--collapse-duplicates "a dog"`).
    parser.add_argument(
        "--collapse-duplicates",
        action="store_true",
        help="drop a hit too close to a better-ranked one (cosine 0.95, or --collapse-threshold)",
    )
    parser.add_argument(
        "--collapse-threshold",
        type=float,
        metavar="COSINE",
        help="the cosine at or above which --collapse-duplicates drops a hit (implies it; default 0.95)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    parser.add_argument("--grid", metavar="FILE", type=Path, help="also write a contact sheet image (e.g. results.jpg)")
    parser.add_argument("--columns", type=int, default=5, help="tiles per row of the contact sheet")
    parser.add_argument("--tile-size", type=int, default=200, help="thumbnail size in pixels on the contact sheet")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the search and print the results (and write the contact sheet)."""
    from photoseek.config import load_settings
    from photoseek.errors import QueryError
    from photoseek.retrieval.filters import parse_where
    from photoseek.retrieval.search import ImageSearch

    queries = (("a text", args.text), ("--image", args.image), ("--similar", args.similar))
    given = [name for name, value in queries if value]
    if len(given) != 1:
        raise QueryError(
            "give one of: a text, --image PATH or --similar PHOTO_ID"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if args.text is not None and not args.text.strip():
        raise QueryError("query text is empty; give some words to search for, e.g. 'a dog on a beach'")
    if args.avoid and not args.text:
        raise QueryError("--avoid works with a text search")
    mode_options = {
        name: value for name in ("mode", "fusion", "prefetch") if (value := getattr(args, name)) is not None
    }
    if mode_options and not args.text and (args.mode or "vector") != "vector":
        raise QueryError(f"--mode {args.mode} works with a text search (an image or a photo has no words to match)")
    if mode_options.keys() & {"fusion", "prefetch"} and not args.text:
        raise QueryError("--fusion and --prefetch work with a text search in hybrid mode")
    if args.columns < 1 or not 16 <= args.tile_size <= 2048:
        raise QueryError("--columns must be >= 1 and --tile-size between 16 and 2048")
    if args.grid is not None:
        from photoseek.contact_sheet import check_sheet_path

        try:
            check_sheet_path(args.grid)  # before the search: a bad path must not cost the results
        except ValueError as exc:
            raise QueryError(str(exc)) from None
    where = parse_where(args.where)  # before the model loads: a typo fails at once
    options: dict[str, Any] = dict(
        limit=args.limit, offset=args.offset, score_threshold=args.score_threshold, exact=args.exact, **where
    )
    collapse: bool | float = args.collapse_duplicates
    if args.collapse_threshold is not None:
        collapse = args.collapse_threshold
    if args.diversity is not None or args.candidates is not None or collapse is not False:
        options.update(diversity=args.diversity, candidates=args.candidates, collapse_duplicates=collapse)
    settings = load_settings()
    with ImageSearch.from_settings(settings) as search:
        if args.text:
            hits = search.search(args.text, avoid=args.avoid, **mode_options, **options)
        elif args.image:
            hits = search.search_by_image(args.image, **options)
        else:
            # similar()'s own `source` names where the photo is looked up; a `source` filter
            # on the results goes in as a Qdrant filter instead, so that the two never clash.
            result_source = options.pop("source", None)
            if result_source is not None:
                from photoseek.retrieval.filters import build_filter

                options["filter"] = build_filter(None, {"source": result_source})
            hits = search.similar(args.similar, source=args.source, **options)
    if args.json:
        print_json(hits, args.offset)
    else:
        print_table(hits, args.offset)
    if args.grid:
        write_grid(hits, args.grid, settings, columns=args.columns, tile=args.tile_size, offset=args.offset)
    return 0


def print_json(hits: Sequence[Hit], offset: int = 0) -> None:
    """One JSON object a line: the rank, then the hit's typed fields and raw payload."""
    for rank, hit in enumerate(hits, start=offset + 1):
        print(json.dumps({"rank": rank, **hit.to_json_dict()}, ensure_ascii=False))


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(hits: Sequence[Hit], offset: int = 0) -> None:
    """A table: rank, score, photo_id, description, image_url."""
    if not hits:
        print("no photos matched", file=sys.stderr)
        return
    rows = [
        (str(rank), f"{hit.score:.4f}", hit.photo_id or hit.id, _cut(hit.title, 50), hit.image_url or hit.path or "")
        for rank, hit in enumerate(hits, start=offset + 1)
    ]
    header = ("rank", "score", "photo_id", "description", "image_url")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])


def write_grid(
    hits: Sequence[Hit], out: Path, settings: Settings, *, columns: int, tile: int, offset: int = 0
) -> None:
    """Write the contact sheet of ``hits`` to ``out``; thumbnails are cached beside the data."""
    from photoseek.contact_sheet import ThumbnailSource, make_contact_sheet

    if not hits:
        print("no photos matched: no contact sheet written", file=sys.stderr)
        return
    ingest = settings.ingest
    cache = (ingest.cache_dir or Path(settings.qdrant.path).parent) / "thumbnails"
    source = ThumbnailSource(
        cache_dir=cache,
        allowed_hosts=ingest.allowed_host_list(),
        timeout=ingest.connect_timeout + ingest.read_timeout,
        max_bytes=ingest.max_download_bytes,
        width=max(tile * 2, 200),
    )
    make_contact_sheet(hits, out, source, columns=columns, tile=tile, first_rank=offset + 1)
    print(f"wrote {out} ({len(hits)} tiles)", file=sys.stderr)
