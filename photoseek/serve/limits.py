"""Request bounds as pure ASGI middleware: a body size cap and the API key."""

from __future__ import annotations

import hmac
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photoseek.serve.errors import ApiError, error_response

# Routes that need the key when one is set; /healthz, /readyz and /metrics stay open for orchestrators and scrapers.
PROTECTED_PREFIXES = ("/v1/",)


class BodyLimitMiddleware:
    """Refuse a body larger than ``max_bytes`` with a 413, by its Content-Length or while it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            # Past the cap, answer 413 here and tell the app the client went away: raising would
            # reach the framework's body parser, which turns any error into its own 400.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["error_type"] = "PayloadTooLarge"
        error = ApiError(
            413, "PayloadTooLarge",
            f"the request body is larger than {self.max_bytes} bytes (PHOTOSEEK_SERVE__MAX_UPLOAD_BYTES)",
            headers={"Connection": "close"},
        )
        await error_response(error)(scope, receive, send)


class ApiKeyMiddleware:
    """When a key is set, every ``/v1`` route needs ``Authorization: Bearer <key>``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        if scope.get("method") == "OPTIONS" or hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["error_type"] = "Unauthorized"
        message = "this service needs an API key: send `Authorization: Bearer <key>`"
        if given:
            message = "the API key is not valid"
        error = ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
        await error_response(error)(scope, receive, send)
