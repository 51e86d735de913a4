"""``photoseek migrate``: copy the configured collection to a Qdrant server without re-encoding."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoseek.config.settings import QdrantSettings

# The variable docker-compose.yml gives the Qdrant server its key with.
API_KEY_VARIABLE = "QDRANT_API_KEY"


def register(subparsers: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = subparsers.add_parser(
        "migrate",
        help="copy the collection to a Qdrant server (vectors and payloads, no re-encoding)",
        description="Copy the configured collection (the embedded store by default, or the server "
        "that PHOTOSEEK_QDRANT__URL names) to the Qdrant server at --to: every point with its vector "
        "and payload, in batches, and the collection's metadata. An interrupted copy resumes where it "
        "stopped when run again; at the end both collections must hold the same number of points. "
        "The new collection takes PHOTOSEEK_QDRANT__SHARD_NUMBER / __REPLICATION_FACTOR / "
        "__WRITE_CONSISTENCY_FACTOR when they are set.",
    )
    parser.add_argument("--to", required=True, metavar="URL", help="the target server, e.g. http://localhost:6333")
    parser.add_argument(
        "--api-key",
        help=f"the target server's API key (default: ${API_KEY_VARIABLE}, else PHOTOSEEK_QDRANT__API_KEY "
        "when copying from the embedded store)",
    )
    parser.add_argument("--collection", metavar="NAME", help="target collection name (default: the same name)")
    parser.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="points per batch (default 256)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where the resume point is kept (default: a file under migrate/ next to the embedded data folder)",
    )
    parser.add_argument("--restart", action="store_true", help="forget the resume point and copy everything again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def target_settings(source: QdrantSettings, args: argparse.Namespace) -> QdrantSettings:
    """The settings of the target server: the source's, with the URL, key and name of the target.

    Raises:
        ConfigError: the URL or the collection name is invalid.
    """
    from pydantic import ValidationError

    from photoseek.config.settings import QdrantSettings
    from photoseek.errors import ConfigError

    api_key = args.api_key or os.environ.get(API_KEY_VARIABLE) or None
    values = source.model_dump()
    values.update(url=args.to, collection=args.collection or source.collection)
    if api_key is not None:
        values["api_key"] = api_key
    elif not source.embedded:
        values["api_key"] = None  # the source server's key is not the target's
    try:
        return QdrantSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"--{'to' if e['loc'][0] == 'url' else e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid migrate target: {problems}") from None


def default_checkpoint(source: QdrantSettings, source_name: str, target_name: str) -> Path:
    """A resume-point file per (source, target) pair, beside the embedded data folder."""
    digest = hashlib.sha256(f"{source_name} -> {target_name}".encode()).hexdigest()[:12]
    return Path(source.path).parent / "migrate" / f"{source.collection}-{digest}.json"


def run(args: argparse.Namespace) -> int:
    """Copy the collection and print what was done."""
    from photoseek.config import load_settings
    from photoseek.retrieval.store import ServerStore, open_store
    from photoseek.retrieval.store.migrate import Checkpoint, describe, migrate

    settings = load_settings()
    source = open_store(settings.qdrant)
    target = ServerStore(target_settings(settings.qdrant, args))
    try:
        source_name, target_name = describe(source), describe(target)
        path = args.checkpoint or default_checkpoint(settings.qdrant, source_name, target_name)
        checkpoint = Checkpoint(path, source_name, target_name)
        if args.restart:
            checkpoint.clear()
        report = migrate(
            source,
            target,
            batch_size=args.batch_size,
            checkpoint=checkpoint,
            progress=not args.no_progress and not args.json,
        )
    finally:
        source.close()
        target.close()
    if args.json:
        print(json.dumps({"source": source_name, "target": target_name, **asdict(report)}))
        return 0
    resumed = f" (resumed after {report.resumed_from})" if report.resumed_from else ""
    print(f"copied {report.copied} points{resumed} from {source_name} to {target_name} in {report.seconds:.1f} s")
    print(f"verified: both collections hold {report.target_count} points")
    return 0
