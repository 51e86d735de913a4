"""Which Qdrant server errors are worth a retry, and the retry policy around server calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from photoseek.errors import StoreUnavailable

T = TypeVar("T")

# HTTP statuses a healthy server answers with while it is busy or restarting.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# gRPC codes of the same kind (grpc.StatusCode names, so grpc need not be imported here).
TRANSIENT_GRPC_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a passing failure of the server or the network (worth a retry).

    Transient: connection errors and timeouts, HTTP 5xx / 408 / 425 / 429, gRPC UNAVAILABLE /
    DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED. Anything else (a 4xx, a bad request, an error
    of local mode) is permanent: a retry would fail the same way.
    """
    if isinstance(exc, ResourceExhaustedResponse):
        return True
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in TRANSIENT_HTTP_STATUSES
    if isinstance(exc, ResponseHandlingException):
        # qdrant-client wraps transport failures (refused, reset, timed out) in this.
        return exc.source is None or is_transient(exc.source)
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return True
    code = getattr(exc, "code", None)
    if callable(code):  # a grpc.RpcError carries its status in code()
        try:
            name = getattr(code(), "name", "")
        except Exception:  # noqa: BLE001 - an error object that cannot report its code is not retried
            return False
        return name in TRANSIENT_GRPC_CODES
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (429 with Retry-After), if it said so."""
    if isinstance(exc, ResourceExhaustedResponse):
        return float(exc.retry_after_s)
    if isinstance(exc, UnexpectedResponse) and exc.headers is not None:
        value = exc.headers.get("retry-after")
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


class BackoffWait:
    """Exponential backoff with full jitter, stretched to a Retry-After the server sent (a tenacity ``wait``)."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = wait_random_exponential(multiplier=initial, max=maximum)
        self._maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        delay = self._backoff(state)
        outcome = state.outcome
        asked = _retry_after(outcome.exception() if outcome is not None else None)
        if asked is not None:
            delay = max(delay, min(asked, self._maximum))
        return delay


def call_with_retries(
    call: Callable[[], T],
    *,
    retries: int,
    target: str,
    initial_wait: float = 0.2,
    max_wait: float = 10.0,
) -> T:
    """Run ``call``, retrying transient errors with exponential backoff and jitter.

    Args:
        call: the server request.
        retries: how many times a transient failure is retried (0 = one attempt only).
        target: the server URL, named in the error.
        initial_wait: seconds of the first backoff (it doubles, with jitter).
        max_wait: the longest wait between two attempts.

    Raises:
        StoreUnavailable: the last attempt failed with a transient error.
        Exception: a permanent error, at once and unchanged.
    """
    retrying = Retrying(**_policy(retries, initial_wait, max_wait))
    try:
        return retrying(call)
    except RetryError as exc:
        raise _unavailable(target, retries, exc) from exc.last_attempt.exception()


async def call_with_retries_async(
    make: Callable[[], Awaitable[T]],
    *,
    retries: int,
    target: str,
    initial_wait: float = 0.2,
    max_wait: float = 10.0,
) -> T:
    """``call_with_retries`` for asyncio: ``make`` starts one attempt (a fresh awaitable each time).

    The same policy, waits and errors as the synchronous one; the waits do not block the loop.
    """
    retrying = AsyncRetrying(**_policy(retries, initial_wait, max_wait))

    async def attempt() -> T:  # a coroutine function, so tenacity awaits each attempt
        return await make()

    try:
        return await retrying(attempt)
    except RetryError as exc:
        raise _unavailable(target, retries, exc) from exc.last_attempt.exception()


def _policy(retries: int, initial_wait: float, max_wait: float) -> dict[str, Any]:
    """The retry policy both ``call_with_retries`` flavours follow."""
    return {
        "retry": retry_if_exception(is_transient),
        "stop": stop_after_attempt(retries + 1),
        "wait": BackoffWait(initial_wait, max_wait),
        "reraise": False,
    }


def _unavailable(target: str, retries: int, error: RetryError) -> StoreUnavailable:
    return StoreUnavailable(
        f"Qdrant server {target} unavailable after {retries + 1} attempt(s): "
        f"{_short(error.last_attempt.exception())}; check that it runs and that PHOTOSEEK_QDRANT__URL points at it"
    )


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, ResponseHandlingException) and exc.source is not None:
        exc = exc.source
    if isinstance(exc, UnexpectedResponse):
        return f"HTTP {exc.status_code} {exc.reason_phrase}".strip()
    details, code = getattr(exc, "details", None), getattr(exc, "code", None)
    if callable(details) and callable(code):  # grpc.RpcError
        try:
            return f"gRPC {code().name}: {details()}"
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
