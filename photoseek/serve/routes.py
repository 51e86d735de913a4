"""The ``/v1`` routes: search by text, image, vector or similar photo; a photo, its thumbnail; info and filters."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from photoseek.retrieval import Hit
from photoseek.serve.errors import ApiError, validation_error
from photoseek.serve.schemas import (
    MAX_CANDIDATES,
    ErrorResponse,
    FilterChoices,
    SearchOptions,
    SearchRequest,
    SearchResponse,
)
from photoseek.serve.service import SearchService, hit_json
from photoseek.serve.thumbnails import CACHE_CONTROL, allowed_file, cdn_thumbnail_url, make_thumbnail

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 415, 422, 503)
}

router = APIRouter(prefix="/v1", responses=ERRORS)


def _service(request: Request) -> SearchService:
    service: SearchService | None = getattr(request.app.state, "service", None)
    if service is None:
        raise ApiError(503, "NotReady", "the service is starting", headers={"Retry-After": "5"})
    return service


def _page(hits: list[Hit], options: SearchOptions, limit: int, started: float) -> dict[str, Any]:
    return {
        "hits": [hit_json(hit, options.offset + index + 1) for index, hit in enumerate(hits)],
        "count": len(hits),
        "offset": options.offset,
        "limit": limit,
        "next_offset": options.offset + len(hits) if len(hits) >= limit else None,
        "took_ms": round((time.perf_counter() - started) * 1000.0, 3),
        **SearchService.diversity_applied(options),
    }


def _decode_base64(text: str, cap: int) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > cap * 4 // 3 + 4:
        raise ApiError(413, "PayloadTooLarge", f"the image is larger than {cap} bytes", field="image")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "ValidationError", "image: must be base64 (a data: URL works too)", field="image") from None


@router.post("/search", response_model=SearchResponse, summary="Search by text, image, vector or a similar photo")
async def search(request: Request, body: SearchRequest) -> dict[str, Any]:
    """Exactly one of ``text``, ``image`` (base64), ``vector`` or ``similar_to``, with filters and paging.

    A text search runs in ``mode`` vector, keyword or hybrid (with ``fusion`` and ``prefetch``);
    the answer says which mode (and fusion) it ran in. Any search can be reordered for variety
    (``diversity``, MMR) and leave out near-duplicates (``collapse_duplicates``); the answer says
    which of them it applied. Pages stay slices of one list: no gap, no repeat.
    """
    started = time.perf_counter()
    service = _service(request)
    limit = body.limit or service.settings.retrieval.limit
    body = body.model_copy(update={"limit": limit})
    if body.text is not None:
        modes = {"mode": body.mode, "fusion": body.fusion, "prefetch": body.prefetch}
        hits = await service.run_search("text", body.text, body, avoid=body.avoid, modes=modes)
        mode, fusion = service.search_mode(body.mode, body.fusion)
        return _page(hits, body, limit, started) | {"mode": mode, "fusion": fusion}
    if body.image is not None:
        data = _decode_base64(body.image, service.settings.serve.max_upload_bytes)
        hits = await service.run_search("image", data, body)
    elif body.vector is not None:
        hits = await service.run_search("vector", body.vector, body)
    else:
        hits = await service.run_search("similar_to", body.similar_to, body, source=body.source)
    return _page(hits, body, limit, started)


def _form_options(where: str | None, limit: int | None, offset: int, score_threshold: float | None,
                  **diverse: Any) -> SearchOptions:
    parsed: Any = {}
    if where:
        try:
            parsed = json.loads(where)
        except ValueError:
            raise ApiError(422, "ValidationError", "where: must be a JSON object", field="where") from None
        if not isinstance(parsed, dict):
            raise ApiError(422, "ValidationError", "where: must be a JSON object", field="where")
    try:
        return SearchOptions(
            where=parsed, limit=limit, offset=offset, score_threshold=score_threshold, exact=None, **diverse
        )
    except ValidationError as exc:
        # The fields are checked one by one already; what is left is a pair that does not go together.
        raise validation_error(RequestValidationError(exc.errors())) from None


@router.post("/search/image", response_model=SearchResponse, summary="Search by an uploaded example image")
async def search_image(
    request: Request,
    image: Annotated[UploadFile, File(description="the example image (JPEG, PNG, WebP, ...)")],
    where: Annotated[str | None, Form(description="keyword filters as a JSON object")] = None,
    limit: Annotated[int | None, Form(ge=1, le=1000)] = None,
    offset: Annotated[int, Form(ge=0, le=100_000)] = 0,
    score_threshold: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
    diversity: Annotated[float | None, Form(ge=0.0, le=1.0, description="MMR's lambda")] = None,
    candidates: Annotated[int | None, Form(ge=1, le=MAX_CANDIDATES)] = None,
    collapse_duplicates: Annotated[bool, Form()] = False,
    collapse_threshold: Annotated[float | None, Form(gt=0.0, le=1.0)] = None,
) -> dict[str, Any]:
    """A multipart upload (field ``image``), at most ``PHOTOSEEK_SERVE__MAX_UPLOAD_BYTES``.

    ``diversity``, ``candidates``, ``collapse_duplicates`` and ``collapse_threshold`` as in ``POST /v1/search``.
    """
    started = time.perf_counter()
    service = _service(request)
    cap = service.settings.serve.max_upload_bytes
    data = await image.read(cap + 1)
    await image.close()
    if len(data) > cap:
        raise ApiError(413, "PayloadTooLarge", f"the image is larger than {cap} bytes "
                       "(PHOTOSEEK_SERVE__MAX_UPLOAD_BYTES)", field="image")
    if not data:
        raise ApiError(422, "ValidationError", "image: the upload is empty", field="image")
    options = _form_options(where, limit, offset, score_threshold, diversity=diversity, candidates=candidates,
                            collapse_duplicates=collapse_duplicates, collapse_threshold=collapse_threshold)
    chosen = options.limit or service.settings.retrieval.limit
    options = options.model_copy(update={"limit": chosen})
    hits = await service.run_search("image", data, options)
    return _page(hits, options, chosen, started)


@router.get("/photos/{photo_id:path}/similar", response_model=SearchResponse, summary="Photos like a stored photo")
async def similar(
    request: Request,
    photo_id: str,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    score_threshold: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    where: Annotated[str | None, Query(description="keyword filters as a JSON object")] = None,
    diversity: Annotated[float | None, Query(ge=0.0, le=1.0, description="MMR's lambda")] = None,
    candidates: Annotated[int | None, Query(ge=1, le=MAX_CANDIDATES)] = None,
    collapse_duplicates: bool = False,
    collapse_threshold: Annotated[float | None, Query(gt=0.0, le=1.0)] = None,
) -> dict[str, Any]:
    """The photo itself is left out; filters and diversity as in ``POST /v1/search``."""
    started = time.perf_counter()
    service = _service(request)
    options = _form_options(where, limit, offset, score_threshold, diversity=diversity, candidates=candidates,
                            collapse_duplicates=collapse_duplicates, collapse_threshold=collapse_threshold)
    chosen = options.limit or service.settings.retrieval.limit
    options = options.model_copy(update={"limit": chosen})
    hits = await service.run_search("similar_to", photo_id, options)
    return _page(hits, options, chosen, started)


@router.get("/photos/{photo_id:path}/thumbnail.jpg", summary="The thumbnail, at a path ending in .jpg",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, 307: {}},
            operation_id="thumbnail_jpg")
@router.get("/photos/{photo_id:path}/thumbnail", summary="A small JPEG of the photo (or a redirect to the CDN's)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, 307: {}})
async def thumbnail(request: Request, photo_id: str) -> Response:
    """A local photo: its file, resized. An Unsplash photo: a redirect to the CDN's small rendition.

    The ``.jpg`` path is the one payloads record (``picture_url``): the Qdrant dashboard draws
    only URLs whose path ends in an image extension.
    """
    service = _service(request)
    record = await service.photo(photo_id)
    payload = record.payload or {}
    serve = service.settings.serve
    try:
        path = allowed_file(payload, [*serve.photo_folder_list(), *await service.ingested_folders()])
    except ApiError:
        image_url = payload.get("image_url")
        target = cdn_thumbnail_url(image_url, serve.thumbnail_size) if isinstance(image_url, str) else None
        if target is None:
            raise
        return RedirectResponse(target, status_code=307, headers={"Cache-Control": CACHE_CONTROL})
    thumb = await asyncio.to_thread(make_thumbnail, path, serve.thumbnail_size)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": thumb.etag}
    if request.headers.get("if-none-match") == thumb.etag:
        return Response(status_code=304, headers=headers)
    return Response(thumb.body, media_type="image/jpeg", headers=headers)


@router.get("/photos/{photo_id:path}", summary="One stored photo")
async def photo(request: Request, photo_id: str) -> dict[str, Any]:
    """A stored photo by its source id (Unsplash ``photo_id``, a folder's relative path) or point id."""
    service = _service(request)
    record = await service.photo(photo_id)
    return hit_json(Hit.from_record(record, score=1.0), 1) | {"score": None, "rank": None}


@router.get("/info", summary="The collection, its size, the model and the backend")
async def info(request: Request) -> dict[str, Any]:
    """What ``photoseek info`` shows, as JSON."""
    return await _service(request).info()


@router.get("/filters", response_model=FilterChoices, summary="The filter choices the collection offers")
async def filters(request: Request) -> FilterChoices:
    """Countries, keywords and orientations with their counts (from the payloads, cached a few minutes)."""
    return await _service(request).filter_choices()
