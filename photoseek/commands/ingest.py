"""``photoseek ingest unsplash|folder``: the ingest job a user runs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoseek.config.settings import Settings
    from photoseek.ingest.pipeline import Pipeline

_COMMON_HELP = {
    "--limit": "stop after N photos (env PHOTOSEEK_INGEST__LIMIT)",
    "--shard": "ingest only partition k of n, e.g. 0/4, for several workers (env PHOTOSEEK_INGEST__SHARD)",
    "--batch-size": "images per encoder batch (env PHOTOSEEK_MODEL__BATCH_SIZE; default 256 on GPU, 32 on CPU)",
    "--decode-workers": "decode workers (env PHOTOSEEK_INGEST__DECODE_WORKERS; default: CPU cores)",
    "--concurrency": "downloads in flight (env PHOTOSEEK_INGEST__CONCURRENCY; default 64)",
    "--device": "cuda, mps or cpu (env PHOTOSEEK_MODEL__DEVICE; default: auto)",
}


def register(subparsers: Any) -> None:
    """Add ``ingest`` with its two sources."""
    parser = subparsers.add_parser(
        "ingest",
        help="encode photos into the collection (Unsplash dataset or a folder)",
        description="Stream photos through the CLIP image encoder into the collection. Photos already "
        "in the collection are skipped, so a stopped or killed job resumes where it was; failures "
        "are listed in a JSON-lines file and can be retried alone with --retry-failed. "
        "Ctrl-C (or SIGTERM) stops cleanly: what is in flight is finished and written.",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    unsplash = sources.add_parser(
        "unsplash",
        help="an Unsplash Lite/Full dataset folder (photos.tsv*, keywords.tsv*, ...)",
        description="Ingest an Unsplash dataset folder. Pictures come from --images-dir "
        "(<photo_id>.jpg files, as in the sentence-transformers Unsplash 25k zip) when there, "
        "otherwise they are downloaded from the Unsplash image CDN at a small rendition.",
    )
    unsplash.add_argument("dataset_dir", type=Path, help="folder with photos.tsv* (and keywords, colors, collections)")
    unsplash.add_argument(
        "--images-dir", type=Path, help="folder of <photo_id>.jpg files to use instead of downloading"
    )
    folder = sources.add_parser(
        "folder",
        help="every image file under a folder",
        description="Ingest every image under a folder (jpg, png, webp, gif, bmp, tiff); the payload "
        "holds the path, size, dates, camera and GPS position when the file has them.",
    )
    folder.add_argument("root", type=Path, help="folder to scan recursively")
    for sub in (unsplash, folder):
        _add_common(sub)
        sub.set_defaults(run=run)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, metavar="N", help=_COMMON_HELP["--limit"])
    parser.add_argument("--shard", metavar="K/N", help=_COMMON_HELP["--shard"])
    parser.add_argument("--batch-size", type=int, metavar="N", help=_COMMON_HELP["--batch-size"])
    parser.add_argument("--decode-workers", type=int, metavar="N", help=_COMMON_HELP["--decode-workers"])
    parser.add_argument("--concurrency", type=int, metavar="N", help=_COMMON_HELP["--concurrency"])
    parser.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], help=_COMMON_HELP["--device"])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--reencode", action="store_true", help="encode every photo again, even those already stored")
    mode.add_argument(
        "--refresh-payload", action="store_true", help="rewrite the payload of stored photos without re-encoding"
    )
    mode.add_argument("--retry-failed", action="store_true", help="run only the photos listed in the failures file")
    parser.add_argument("--failures", type=Path, metavar="FILE", help="failures file (default: beside the data)")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the run's counts as JSON to FILE")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """CLI options as settings overrides, so that each is also settable by environment."""
    from photoseek.config import load_settings

    base = load_settings()
    model = base.model.model_dump()
    ingest = base.ingest.model_dump()
    for option, section, key in (
        ("batch_size", model, "batch_size"),
        ("device", model, "device"),
        ("decode_workers", ingest, "decode_workers"),
        ("concurrency", ingest, "concurrency"),
        ("limit", ingest, "limit"),
        ("shard", ingest, "shard"),
        ("failures", ingest, "failures_file"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            section[key] = value
    return {"model": model, "ingest": ingest}


def _source(args: argparse.Namespace, settings: Settings) -> Any:
    from photoseek.errors import SourceError
    from photoseek.ingest.sources.folder import FolderSource
    from photoseek.ingest.sources.unsplash import UnsplashSource

    shard = settings.ingest.shard_parts
    # With --retry-failed the whole source is read and filtered by id, so no limit applies.
    limit = None if args.retry_failed else settings.ingest.limit
    try:
        if args.source == "unsplash":
            if args.images_dir is not None and not args.images_dir.is_dir():
                raise SourceError(f"--images-dir {args.images_dir} is not a folder")
            return UnsplashSource(args.dataset_dir, args.images_dir, settings.ingest, shard=shard, limit=limit)
        if not args.root.is_dir():
            raise SourceError(f"{args.root} is not a folder: give the folder of images to ingest")
        return FolderSource(args.root, shard=shard, limit=limit, read_timeout=settings.ingest.file_read_timeout)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        raise SourceError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the ingest; 0 when it ran to its end (even with failed photos) or was stopped."""
    from photoseek.ingest.startup import StoppedAtStartup, nothing_done, stop_at_startup

    with stop_at_startup() as startup:
        try:
            return _run(args, startup)
        except StoppedAtStartup:
            return nothing_done(startup, args.report)


def _run(args: argparse.Namespace, startup: Any) -> int:
    from photoseek.config import load_settings
    from photoseek.ingest import failures_path, run_ingest
    from photoseek.ingest.ledger import Ledger
    from photoseek.ingest.pipeline import PipelineOptions
    from photoseek.ingest.progress import ProgressBar
    from photoseek.retrieval.encoder import ClipEncoder
    from photoseek.retrieval.store import open_store

    settings = load_settings(**_overrides(args))  # validated again: the CLI values may be bad too
    source = _source(args, settings)
    ledger = Ledger(failures_path(settings))
    retry_ids = ledger.retry_ids() if args.retry_failed else None
    if retry_ids is not None and not retry_ids:
        print(f"nothing to retry: {ledger.path} lists no photo that can be retried")
        return 0
    joins = getattr(source, "joins", None)
    if joins is not None and not joins.is_current():
        print(
            f"indexing the keywords, colours and collections of {args.dataset_dir} "
            "(once; minutes for the Full dataset)..."
        )
        joins.ensure_built()
    encoder = ClipEncoder.from_settings(settings.model)
    # Drawn once the collection and the models are checked, so that a refusal prints no bar.
    bar = ProgressBar(enabled=False)

    @contextmanager
    def attended(pipeline: Pipeline) -> Iterator[None]:
        """The bar and the signal handlers (Ctrl-C, SIGTERM: stop cleanly) last as long as the run."""
        nonlocal bar
        bar = ProgressBar(total=len(retry_ids) if retry_ids else settings.ingest.limit, enabled=not args.no_progress)
        previous = _install_signal_handlers(pipeline)
        startup.over()  # from here a SIGTERM is the pipeline's: it stops cleanly
        try:
            yield
        finally:
            _restore_signal_handlers(previous)
            bar.close(pipeline.report)

    store = open_store(settings.qdrant)
    try:
        report = run_ingest(
            source,
            store=store,
            encoder=encoder,
            ingest=settings.ingest,
            ledger=ledger,
            options=PipelineOptions(
                batch_size=encoder.batch_size,
                reencode=args.reencode,
                refresh_payload=args.refresh_payload,
                retry_ids=retry_ids,
            ),
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
            progress=lambda report: bar.update(report),
            on_optimize=lambda n: bar.note(
                f"building the vector index for {n} points (this can take a while on big collections)..."
            ),
            while_running=attended,
            public_url=settings.serve.public_url,
        )
    finally:
        store.close()
    print(report.summary())
    if args.report is not None:
        report.write(args.report)
    return 0


def _install_signal_handlers(pipeline: Any) -> dict[int, Any]:
    """First SIGINT/SIGTERM: stop cleanly. A second SIGINT: exit at once."""

    def handle(signum: int, frame: Any) -> None:
        if pipeline.stopping and signum == signal.SIGINT:
            print("\nphotoseek: interrupted again, exiting now", file=sys.stderr)
            os._exit(130)
        print(
            "\nphotoseek: stopping: finishing the photos in flight (Ctrl-C again to quit at once)",
            file=sys.stderr,
        )
        pipeline.stop()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
