"""Where photos come from: the Unsplash dataset folder and plain image folders."""

from photoseek.ingest.sources.folder import FolderSource
from photoseek.ingest.sources.record import SourceFailure, SourceRecord, SourceWarning
from photoseek.ingest.sources.shard import parse_shard
from photoseek.ingest.sources.unsplash import UnsplashSource

__all__ = ["FolderSource", "SourceFailure", "SourceRecord", "SourceWarning", "UnsplashSource", "parse_shard"]
