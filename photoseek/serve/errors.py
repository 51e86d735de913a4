"""Every error the API answers, in one JSON shape: ``{"error": {"type": ..., "message": ...}}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from photoseek.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ModelError,
    PhotoNotFound,
    PhotoseekError,
    QueryError,
    StoreError,
    StoreLocked,
    StoreUnavailable,
)

# Seconds a client should wait before asking again when the store or the collection is not there.
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error answered as JSON with a status code (and headers such as Retry-After)."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Describe the error.

        Args:
            status: the HTTP status code.
            type: a short name clients can branch on (``QueryError``, ``PhotoNotFound``, ...).
            message: one sentence that says what is wrong and what to do.
            field: the request field at fault, when one is.
            headers: extra response headers.
        """
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_response(error: ApiError) -> JSONResponse:
    """The JSON response of an ``ApiError``."""
    body: dict[str, Any] = {"type": error.type, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


def from_photoseek(exc: PhotoseekError) -> ApiError:
    """The API error for an error of photoseek's tree."""
    name = type(exc).__name__
    message = str(exc)
    if isinstance(exc, PhotoNotFound):
        return ApiError(404, name, message)
    if isinstance(exc, QueryError):
        field = "where" if message.startswith("where:") else None
        return ApiError(400, name, message, field=field)
    if isinstance(exc, (CollectionNotFound, StoreUnavailable, StoreLocked)):
        return ApiError(503, name, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, (CollectionMismatch, ModelError)):
        return ApiError(500, name, message)
    if isinstance(exc, StoreError):
        return ApiError(503, name, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return ApiError(500, name, message)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "form")]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> ApiError:
    """A 422 naming the first bad field, what it takes and (for a choice) the valid choices."""
    errors = exc.errors()
    if not errors:
        return ApiError(422, "ValidationError", "the request is not valid")
    first = errors[0]
    field = _location(tuple(first.get("loc", ())))
    # A validator's own ValueError reads "Value error, <its message>": the message alone is the sentence.
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = f"unknown field {field!r}"
    elif first.get("type") == "json_invalid":
        message = "the body is not valid JSON"
        field = "body"
    if "got" not in message and "input" in first and first.get("type") not in ("missing", "json_invalid"):
        message += f" (got {_short(first['input'])})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(422, "ValidationError", f"{field}: {message}{more}", field=field)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for ``ApiError``."""
    assert isinstance(exc, ApiError)
    request.state.error_type = exc.type
    return error_response(exc)


async def handle_photoseek_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for photoseek's own errors raised by the library."""
    assert isinstance(exc, PhotoseekError)
    return await handle_api_error(request, from_photoseek(exc))


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for request bodies and parameters FastAPI could not validate."""
    assert isinstance(exc, RequestValidationError)
    return await handle_api_error(request, validation_error(exc))


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for Starlette's own errors (unknown route, wrong method)."""
    assert isinstance(exc, StarletteHTTPException)
    names = {404: "NotFound", 405: "MethodNotAllowed"}
    message = str(exc.detail) if exc.detail else "error"
    if exc.status_code == 404:
        message = f"no route {request.url.path!r}; see /docs for the API"
    return await handle_api_error(
        request,
        ApiError(exc.status_code, names.get(exc.status_code, "HTTPError"), message, headers=dict(exc.headers or {})),
    )


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a bug answered as a 500 in the same shape (the traceback goes to the log)."""
    return await handle_api_error(request, ApiError(500, "InternalError", "internal error; see the service log"))
