"""``photoseek eval unsplash|captions``: measure retrieval quality and print, save and plot it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoseek.evaluation.report import EvalReport


def register(subparsers: Any) -> None:
    """Add ``eval`` with its two kinds of judgments."""
    parser = subparsers.add_parser(
        "eval",
        help="measure search quality (Unsplash conversions, or a captioned image set)",
        description="Score text search against relevance judgments: Unsplash's search conversions "
        "(which photo people downloaded after searching a keyword) or a captioned image set "
        "(Flickr30k, COCO: text->image recall@k as in the CLIP paper). See docs/evaluation.md.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    unsplash = kinds.add_parser(
        "unsplash",
        help="keywords from conversions.tsv*, scored on the configured collection",
        description="Build queries (keywords) from the dataset's conversions, keep the relevant photos "
        "that are in the collection, and report recall@1/5/10/100, hit@10, MRR@10 and nDCG@10, overall "
        "and by keyword frequency band.",
    )
    unsplash.add_argument("dataset_dir", type=Path, help="the Unsplash dataset folder that was ingested")
    unsplash.add_argument("--min-relevant", type=int, default=3, metavar="N",
                          help="keep keywords with at least N relevant photos in the collection (default 3)")
    unsplash.add_argument("--queries", type=int, default=1000, metavar="N",
                          help="sample N keywords (default 1000; 0 = every eligible keyword)")
    unsplash.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    unsplash.add_argument("--user-keywords", action="store_true",
                          help="also use the keywords users suggested for a photo (keywords.tsv*) as judgments")
    captions = kinds.add_parser(
        "captions",
        help="a captions file and its images, in a throw-away collection",
        description="Ingest the images of a captions file into their own collection (once; reused while "
        "complete), then report text->image recall@1/5/10 over every caption.",
    )
    captions.add_argument("file", type=Path,
                          help="TSV/CSV of image file and caption, or a Karpathy split JSON (dataset_coco.json)")
    captions.add_argument("--images-dir", type=Path, required=True, help="folder the image file names are relative to")
    captions.add_argument("--split", default="test", help="split of a Karpathy JSON file (default test)")
    captions.add_argument("--captions-per-image", type=int, metavar="N",
                          help="keep the first N captions of each image (5 for the usual COCO 5k protocol)")
    captions.add_argument("--collection", help="collection name (default <collection>-captions-<hash>)")
    captions.add_argument("--drop", action="store_true", help="delete the throw-away collection afterwards")
    unsplash.add_argument(
        "--compare", action="store_true",
        help="run every query with HNSW and with exact search (and report the difference), in each search "
        "mode (vector, keyword, hybrid-rrf, hybrid-dbsf) and with diversity (mmr-0.5: MMR at lambda 0.5; "
        "collapse: near-duplicates dropped); modes the collection cannot run are listed as skipped",
    )
    captions.add_argument("--compare", action="store_true",
                          help="run every query with HNSW and with exact search, and report the difference")
    for sub in (unsplash, captions):
        sub.add_argument("--text-model", action="append", default=[], metavar="MODEL",
                         help="a text model to evaluate (repeatable; must share the image model's space)")
        sub.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
        sub.add_argument("--per-query", type=Path, metavar="FILE",
                         help="write one JSON line per query (default with --json: FILE.queries.jsonl)")
        sub.add_argument("--plot", type=Path, metavar="FILE.png", help="draw recall@k curves (needs matplotlib)")
        sub.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], help="where the model runs")
        sub.add_argument("--batch-size", type=int, metavar="N", help="images per encoder batch (captions ingest)")
        sub.set_defaults(run=run)


def _settings(args: argparse.Namespace) -> Any:
    from photoseek.config import load_settings

    base = load_settings()
    model = base.model.model_dump()
    if args.device:
        model["device"] = args.device
    if args.batch_size:
        model["batch_size"] = args.batch_size
    return load_settings(model=model)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation, print the table and write the files asked for."""
    from photoseek.errors import QueryError

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise QueryError(f"--plot writes a PNG: give a file name ending in .png (got {args.plot})")
    settings = _settings(args)
    report = _run_unsplash(args, settings) if args.kind == "unsplash" else _run_captions(args, settings)
    _output(report, args)
    return 0


def _run_unsplash(args: argparse.Namespace, settings: Any) -> EvalReport:
    from photoseek.errors import QueryError
    from photoseek.evaluation.searchers import build_settings
    from photoseek.evaluation.unsplash import evaluate_unsplash
    from photoseek.retrieval.search import missing_collection
    from photoseek.retrieval.store import open_store

    if args.min_relevant < 1 or args.queries < 0:
        raise QueryError("--min-relevant must be >= 1 and --queries >= 0")
    store = open_store(settings.qdrant)
    try:
        if not store.collection_exists():
            raise missing_collection(store)
        compared = build_settings(
            settings, store, text_models=args.text_model, compare=args.compare, modes=args.compare
        )
        return evaluate_unsplash(
            args.dataset_dir, compared, min_relevant=args.min_relevant, max_queries=args.queries or None,
            seed=args.seed, user_keywords=args.user_keywords,
        )
    finally:
        store.close()


def _run_captions(args: argparse.Namespace, settings: Any) -> EvalReport:
    from photoseek.errors import QueryError, SourceError
    from photoseek.evaluation.captions import (
        collection_name,
        evaluate_captions,
        read_captions,
    )
    from photoseek.evaluation.searchers import build_settings, text_encoder
    from photoseek.evaluation.throwaway import ensure_captions_collection
    from photoseek.retrieval.store import open_store

    if args.captions_per_image is not None and args.captions_per_image < 1:
        raise QueryError("--captions-per-image must be >= 1")
    if not args.images_dir.is_dir():
        raise SourceError(f"--images-dir {args.images_dir} is not a folder")
    caption_set = read_captions(args.file, split=args.split, per_image=args.captions_per_image)
    first_model = (args.text_model or [settings.model.text])[0]
    encoder = text_encoder(settings, first_model)
    name = args.collection or collection_name(
        settings.qdrant.collection, caption_set, args.images_dir, encoder.identity().fingerprint
    )
    qdrant = settings.qdrant.model_copy(update={"collection": name})
    data = Path(qdrant.path) if qdrant.embedded else Path("data")
    store = open_store(qdrant)
    try:
        print(f"captions collection {name}: {len(caption_set.images)} images, {len(caption_set.captions)} captions",
              file=sys.stderr)
        ingested = ensure_captions_collection(
            store, encoder, caption_set, args.images_dir, ingest=settings.ingest,
            failures_file=data / f"{name}.failures.jsonl",
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
        )
        if ingested is not None:
            print(ingested.summary(), file=sys.stderr)
        compared = build_settings(
            settings, store, text_models=args.text_model, compare=args.compare, encoders={first_model: encoder}
        )
        report = evaluate_captions(caption_set, compared)
        if ingested is not None:
            report.info["ingest"] = ingested.to_json()
        if args.drop:
            store.delete_collection()
            report.notes.append(f"collection {name} deleted (--drop)")
        return report
    finally:
        store.close()


def _output(report: EvalReport, args: argparse.Namespace) -> None:
    from photoseek.evaluation.report import (
        format_table,
        write_json,
        write_plot,
        write_query_lines,
    )

    print(format_table(report))
    per_query = args.per_query
    if per_query is None and args.json is not None:
        per_query = args.json.with_suffix(".queries.jsonl")
    if args.json is not None:
        write_json(report, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if per_query is not None:
        lines = write_query_lines(report.results, per_query)
        print(f"wrote {per_query} ({lines} lines)", file=sys.stderr)
    if args.plot is not None:
        write_plot(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
