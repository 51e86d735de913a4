"""The streaming ingest: source -> fetch -> decode -> batch -> encode -> write, all at once.

This is the one module that knows about threads, queues and pools; the stages themselves are
plain callables elsewhere (``sources``, ``fetch``, ``decode``, the encoder, the store).

    feeder thread     reads the source, skips photos already stored (one store call per chunk),
                      hands each remaining photo to a decode worker (local file) or to the
                      fetch loop (URL), holding one of a bounded number of slots per photo
    fetch loop        an asyncio loop in its own thread: downloads with bounded concurrency,
                      then hands the bytes to a decode worker
    decode pool       worker threads (or processes) turning bytes into uint8 model input:
                      crops, or whole pictures when the encoder resizes on its GPU
    main thread       forms batches from whatever has been decoded (never waiting long on a
                      slow download) and runs the encoder, the expensive part
    writer thread     upserts the previous batch while the next one is encoded

Memory stays flat whatever the dataset size: a photo holds a slot from the moment it leaves
the feeder until its pixels are taken into a batch, and at most two encoded batches wait for
the writer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from photoseek.config.settings import IngestSettings
from photoseek.errors import ItemError
from photoseek.ingest.decode import DecodePool
from photoseek.ingest.fetch import Fetcher
from photoseek.ingest.ledger import Failure, Ledger
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.record import SourceFailure, SourceItem, SourceRecord, SourceWarning
from photoseek.retrieval.encoder import Encoder
from photoseek.retrieval.local_files import display_path
from photoseek.retrieval.store.base import VectorStore

log = logging.getLogger(__name__)

# How many photos the feeder checks against the store in one call.
EXISTS_CHUNK = 256



@dataclass
class PipelineOptions:
    """How one ingest run behaves.

    Attributes:
        batch_size: images per encoder batch.
        reencode: encode and write every photo, even those already stored.
        refresh_payload: rewrite the payload of photos already stored, without re-encoding.
        retry_ids: when set, only these point ids are ingested (``--retry-failed``).
        max_batch_wait: seconds the encoder waits to fill a batch once it has one image.
        max_pending: photos between the feeder and the encoder at once (None = derived).
        optimize: build the vector index at the end (embedded store).
    """

    batch_size: int = 32
    reencode: bool = False
    refresh_payload: bool = False
    retry_ids: set[str] | None = None
    max_batch_wait: float = 0.05
    max_pending: int | None = None
    optimize: bool = True


# What flows from the decode stage to the encoder: a photo and its pixels, or None if it failed.
_Decoded = tuple[SourceRecord, "np.ndarray | None"]


class Pipeline:
    """One ingest run. Build it, call ``run()`` once; ``stop()`` from a signal handler.

    Args:
        source: records, failures and field warnings, read lazily (``UnsplashSource``, ``FolderSource``). A
            source may also have ``limit`` (a run it cuts short is not a whole read) and
            ``read_again(failure)`` (which earlier malformed rows a whole read of it meets again).
        store: where the points go.
        encoder: turns uint8 batches into vectors (``encode_pixels``).
        ingest: download and decode settings.
        ledger: the failures file.
        options: batch size, resume and refresh behaviour.
        decoder: a ready decode pool (default: threads, ``ingest.decode_workers`` of them).
        fetcher_factory: builds the downloader inside the fetch loop (tests pass shorter backoffs).
        progress: called with the report after every batch (the CLI draws its bar from it).
        on_optimize: called before the index build, with the number of points, to tell the user.
    """

    def __init__(
        self,
        source: Iterable[SourceItem],
        *,
        store: VectorStore,
        encoder: Encoder,
        ingest: IngestSettings,
        ledger: Ledger,
        options: PipelineOptions | None = None,
        decoder: DecodePool | None = None,
        fetcher_factory: Callable[[IngestSettings], Fetcher] | None = None,
        progress: Callable[[IngestReport], None] | None = None,
        on_optimize: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.encoder = encoder
        self.ingest = ingest
        self.ledger = ledger
        self.options = options or PipelineOptions()
        self._own_decoder = decoder is None
        # An encoder that resizes on its GPU takes whole pictures: the decode workers then
        # leave the resize and crop to it (ClipEncoder.encode_frames).
        frames = bool(getattr(encoder, "resizes_on_device", False))
        self.decoder = decoder or DecodePool(
            encoder.image_size, ingest.max_image_pixels, workers=ingest.decode_workers,
            max_file_bytes=ingest.max_file_bytes, read_timeout=ingest.file_read_timeout, resize=not frames,
        )
        self._frames = not self.decoder.resize
        self._fetcher_factory = fetcher_factory or Fetcher
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._on_optimize = on_optimize
        self.report = IngestReport(failures_file=str(ledger.path))
        self._stop = threading.Event()
        self._stopped_at: float | None = None
        self._abandoned = 0
        self._fatal: BaseException | None = None
        self._lock = threading.Lock()
        max_pending = self.options.max_pending or ingest.concurrency + 4 * self.options.batch_size
        self._slots = threading.Semaphore(max_pending)
        self._pending = 0
        self._feeder_done = threading.Event()
        self._decoded: queue.Queue[_Decoded | None] = queue.Queue()
        # Two batches at most wait for the writer: writes of batch n overlap encoding of n+1.
        self._writes: queue.Queue[tuple[list[str], np.ndarray, list[dict[str, Any]]] | None] = queue.Queue(2)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fetcher: Fetcher | None = None
        # Every row of the source was read (no stop, --limit or --retry-failed): malformed rows
        # of earlier runs that the source read again without failing leave the failures file.
        self._source_read_whole = False

    # ----------------------------------------------------------------- control

    def stop(self) -> None:
        """Stop reading new photos; what is in flight is finished, written and reported.

        Photos still in flight ``ingest.stop_grace`` seconds later (a read that hangs) are left
        to the next run, so that a stop always ends the run.
        """
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        self._stop.set()

    def _past_grace(self) -> bool:
        return self._stopped_at is not None and time.monotonic() - self._stopped_at > self.ingest.stop_grace

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called or a stage failed for good."""
        return self._stop.is_set()

    def run(self) -> IngestReport:
        """Run the ingest to its end (or to ``stop()``) and return the report.

        Raises:
            PhotoseekError: when a dependency broke (the store after its retries, the model).
        """
        started = time.perf_counter()
        loop_thread = threading.Thread(target=self._run_fetch_loop, name="fetch", daemon=True)
        loop_ready = threading.Event()
        self._loop_ready = loop_ready
        loop_thread.start()
        loop_ready.wait()
        if self._fatal is not None:
            loop_thread.join()
            if self._own_decoder:
                self.decoder.close(wait=False)
            raise self._fatal
        feeder = threading.Thread(target=self._guard(self._feed), name="feeder", daemon=True)
        writer = threading.Thread(target=self._guard(self._write), name="writer", daemon=True)
        writer.start()
        feeder.start()
        try:
            self._encode_loop()
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised below
            self._fail_fatally(exc)
        finally:
            feeder.join(None if self._stopped_at is None else self.ingest.stop_grace)
            self._put_write(None, force=True)
            writer.join()
            self._close_fetch_loop(loop_thread)
            if self._own_decoder:
                self.decoder.close(wait=self._fatal is None and not self._abandoned)
        if self._abandoned:
            log.warning(
                "left %d photos in flight %g s after the stop; the next run takes them",
                self._abandoned, self.ingest.stop_grace,
            )
        self.report.stopped_early = self._stop.is_set() and self._fatal is None
        if self._fatal is not None:
            self.ledger.compact()
            self.report.seconds = time.perf_counter() - started
            raise self._fatal
        read_again = getattr(self.source, "read_again", None) if self._source_read_whole else None
        try:
            if self.options.optimize and self.store.index_threshold is not None:
                self._build_index(self.store.index_threshold)
        finally:
            self.ledger.compact(read_again=read_again)
            self.report.seconds = time.perf_counter() - started
        return self.report

    def _build_index(self, cheap_to_scan: int) -> None:
        """Build the store's vector index once the writes are done (a store that does not index itself).

        A stopped run leaves it: the user asked to stop, and on a big collection the build
        takes minutes. The next run that ends builds it, even if it writes nothing new, unless
        fewer than ``cheap_to_scan`` points (the store's ``index_threshold``) are unindexed:
        searches scan those, the store builds the index itself on the first search above it,
        and Qdrant leaves segments much smaller than that unindexed anyway (an index build
        would find nothing to do, every run).
        """
        if self.report.stopped_early:
            self.report.index_deferred = bool(self.report.indexed or self.report.refreshed)
            return
        if not (self.report.indexed or self.report.refreshed) and self.store.unindexed_tail() < cheap_to_scan:
            return
        if self._on_optimize is not None:
            self._on_optimize(self.store.count())
        self.store.check_space(self.store.count(), self.encoder.dimension, "build the vector index")
        self.store.optimize()

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self._fail_fatally(exc)

        return guarded

    def _fail_fatally(self, exc: BaseException) -> None:
        with self._lock:
            if self._fatal is None:
                self._fatal = exc
        self._stop.set()
        self._decoded.put(None)  # wake the encoder loop

    # ----------------------------------------------------------------- feeder

    def _feed(self) -> None:
        chunk: list[SourceRecord] = []
        try:
            for item in self.source:
                if self._stop.is_set():
                    break
                if isinstance(item, SourceWarning):
                    if self.options.retry_ids is None:
                        self._warn(item)
                    continue
                if isinstance(item, SourceFailure):
                    if self.options.retry_ids is None:
                        self._count_seen(1)
                        self._record(
                            Failure(
                                None, item.ref, item.stage, item.reason, item.detail,
                                photo_id=item.photo_id, origin=item.origin,
                            )
                        )
                    continue
                if self.options.retry_ids is not None and item.id not in self.options.retry_ids:
                    continue
                self._count_seen(1)
                chunk.append(item)
                if len(chunk) >= EXISTS_CHUNK:
                    self._dispatch(chunk)
                    chunk = []
            if chunk and not self._stop.is_set():
                self._dispatch(chunk)
            self._source_read_whole = (
                not self._stop.is_set()
                and self.options.retry_ids is None
                and getattr(self.source, "limit", None) is None
            )
        finally:
            self._feeder_done.set()
            self._decoded.put(None)

    def _count_seen(self, n: int) -> None:
        with self._lock:
            self.report.seen += n

    def _dispatch(self, records: list[SourceRecord]) -> None:
        if not self.options.reencode:
            existing = self.store.existing_ids([r.id for r in records])
            if existing:
                old = [r for r in records if r.id in existing]
                records = [r for r in records if r.id not in existing]
                if self.options.refresh_payload:
                    self.store.set_payloads([r.id for r in old], [r.payload for r in old])
                    with self._lock:
                        self.report.refreshed += len(old)
                else:
                    with self._lock:
                        self.report.skipped_existing += len(old)
                self.ledger.mark_done([r.id for r in old])
                self._notify()
        for record in records:
            while not self._slots.acquire(timeout=0.1):
                if self._stop.is_set():
                    return
            if self._stop.is_set():
                self._slots.release()
                return
            with self._lock:
                self._pending += 1
            self._start(record)

    def _start(self, record: SourceRecord) -> None:
        if record.local_path is not None:
            self._decode(record, record.local_path)
        elif record.url is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._fetch_then_decode(record), self._loop)
        else:
            self._item_failed(record, "source", "no_image", "the record names neither a file nor a URL")

    # ----------------------------------------------------------------- fetch and decode

    def _run_fetch_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._fetcher = self._fetcher_factory(self.ingest)
            self._fetcher.open()
        except BaseException as exc:  # noqa: BLE001 - e.g. an unreadable SSL_CERT_FILE
            self._fail_fatally(exc)
            self._loop = None
            self._loop_ready.set()
            loop.close()
            return
        loop.call_soon(self._loop_ready.set)
        loop.run_forever()
        # Only a fatal error leaves downloads running here; they are abandoned.
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(self._fetcher.aclose())
        loop.close()

    def _close_fetch_loop(self, thread: threading.Thread) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join()

    async def _fetch_then_decode(self, record: SourceRecord) -> None:
        assert self._fetcher is not None and record.url is not None
        try:
            fetched = await self._fetcher.fetch_result(record.url, key=record.id)
        except ItemError as exc:
            self._item_failed(record, "fetch", exc.reason, exc.detail, getattr(exc, "attempts", 1))
            return
        except Exception as exc:  # noqa: BLE001 - one photo fails, the job goes on
            self._item_failed(record, "fetch", "fetch_error", f"{type(exc).__name__}: {exc}")
            return
        self._decode(record, fetched.data)

    def _decode(self, record: SourceRecord, data: Any) -> None:
        try:
            future = self.decoder.submit(data)
        except RuntimeError as exc:  # the pool was shut down under a fatal error
            self._item_failed(record, "decode", "decode_error", str(exc))
            return
        future.add_done_callback(lambda done: self._decoded_one(record, done))

    def _decoded_one(self, record: SourceRecord, done: Future[np.ndarray]) -> None:
        if done.cancelled() or self._fatal is not None:
            self._decoded.put((record, None))  # abandoned with the job, not a bad photo
            return
        try:
            pixels = done.result()
        except ItemError as exc:
            self._item_failed(record, "decode", exc.reason, exc.detail)
            return
        except Exception as exc:  # noqa: BLE001 - a crashed worker fails this photo only
            self._item_failed(record, "decode", "decode_error", f"{type(exc).__name__}: {exc}")
            return
        self._decoded.put((record, pixels))

    def _item_failed(self, record: SourceRecord, stage: str, reason: str, detail: str, attempts: int = 1) -> None:
        ref = display_path(record.local_path) if record.local_path is not None else (record.url or record.photo_id)
        try:
            self._record(
                Failure(record.id, ref, stage, reason, detail, attempts=max(1, attempts), photo_id=record.photo_id)
            )
        except BaseException as exc:  # noqa: BLE001 - a failures file that cannot be written is fatal
            self._fail_fatally(exc)
        finally:
            # Always: the photo's slot must come back, or the job would wait for it for ever.
            self._decoded.put((record, None))

    def _record(self, failure: Failure) -> None:
        self.ledger.record(failure)
        with self._lock:
            self.report.failed += 1
            self.report.failures_by_reason[failure.reason] += 1

    def _warn(self, warning: SourceWarning) -> None:
        # A field warning: listed in the failures file, counted apart, never a failed photo.
        self.ledger.record(
            Failure(
                warning.id, warning.ref, warning.stage, warning.reason, warning.detail, photo_id=warning.photo_id,
                origin=warning.origin, severity="warning", field=warning.field,
            )
        )
        with self._lock:
            self.report.count_warning(warning.field, warning.reason)

    # ----------------------------------------------------------------- encode and write

    def _next_batch(self) -> list[_Decoded] | None:
        """Up to ``batch_size`` decoded photos; None once everything has come through."""
        items: list[_Decoded] = []
        deadline = 0.0
        while len(items) < self.options.batch_size:
            timeout = 0.1 if not items else deadline - time.perf_counter()
            if items and timeout <= 0:
                break
            try:
                item = self._decoded.get(timeout=timeout)
            except queue.Empty:
                if items:
                    break
                if self._fatal is not None or self._drained():
                    return None
                if self._past_grace():
                    with self._lock:
                        self._abandoned = max(1, self._pending)
                    return None
                continue
            if item is None:  # a wake-up: the feeder ended or something failed
                if self._fatal is not None:
                    return None
                if not items and self._drained():
                    return None
                continue
            with self._lock:
                self._pending -= 1
            self._slots.release()
            items.append(item)
            if len(items) == 1:
                deadline = time.perf_counter() + self.options.max_batch_wait
        return items

    def _drained(self) -> bool:
        with self._lock:
            return self._feeder_done.is_set() and self._pending == 0 and self._decoded.empty()

    def _encode_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            good = [(record, pixels) for record, pixels in batch if pixels is not None]
            if good:
                if self._frames:
                    vectors = self.encoder.encode_frames([pixels for _, pixels in good])  # type: ignore[attr-defined]
                else:
                    vectors = self.encoder.encode_pixels(np.stack([pixels for _, pixels in good]))
                self._put_write(
                    ([r.id for r, _ in good], vectors, [r.payload for r, _ in good]),
                )
            self._notify()

    def _notify(self) -> None:
        if self._progress is not None:
            with self._progress_lock:
                self._progress(self.report)

    def _put_write(self, job: tuple[list[str], np.ndarray, list[dict[str, Any]]] | None, force: bool = False) -> None:
        while True:
            if self._fatal is not None and not force:
                return
            try:
                self._writes.put(job, timeout=0.1)
                return
            except queue.Full:
                if self._fatal is not None and force:
                    # The writer is gone; make room so that the sentinel gets through.
                    try:
                        self._writes.get_nowait()
                    except queue.Empty:
                        pass

    def _write(self) -> None:
        while True:
            job = self._writes.get()
            if job is None:
                return
            if self._fatal is not None:
                continue
            self.write_batch(*job)

    def write_batch(self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]) -> None:
        """The writer stage's work for one encoded batch: space check, upsert, ledger, count.

        The writer thread calls it for each batch; ``benchmarks/store.py`` times it alone.

        Args:
            ids: point ids of the batch.
            vectors: one row per id.
            payloads: one payload per id.
        """
        # A full disk is one clear line, never a SIGBUS; a statvfs per batch costs microseconds.
        self.store.check_space(len(ids), vectors.shape[1], f"write {len(ids)} photos")
        self.store.upsert(ids, vectors, payloads)
        self.ledger.mark_done(ids)
        with self._lock:
            self.report.indexed += len(ids)


def run_pipeline(source: Iterable[SourceItem], **kwargs: Any) -> IngestReport:
    """Build a :class:`Pipeline` over ``source`` and run it (see its arguments)."""
    return Pipeline(source, **kwargs).run()

