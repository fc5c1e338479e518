"""HTTP plumbing of the service: JSON errors with status codes, body limit, metrics.

Every error is ``{"error": WHAT, "hint": HOW_TO_FIX}`` (the CLI's one-line
message and hint) with its status: 400 bad input, 401 no or bad key, 403
scope or tenant, 404 unknown index/document/route, 409 ``min_generation`` not
reached, 413 body too large, 429 over the key's rate, 501 no LLM configured,
502 the LLM failed, 503 loading or the index is busy, 500 a bug.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hipporag.errors import HippoRAGError, LLMError
from hipporag.log import get_logger
from pipelines.service.auth import RateLimited
from pipelines.service.keys import AuthError, ScopeError
from pipelines.service.ops import NotFound
from pipelines.service.state import GenerationNotReached

logger = get_logger(__name__)


class Loading(HippoRAGError):
    """The index is still loading (HTTP 503)."""


class NoLLM(HippoRAGError):
    """``/v1/answer`` without an LLM configured (HTTP 501)."""


def error_response(status: int, message: str, hint: str | None, **headers: str) -> JSONResponse:
    """A JSON error: one line, and how to fix it."""
    body = {
        "error": " ".join(str(message).split()),
        "hint": " ".join(str(hint or "").split()) or None,
    }
    return JSONResponse(body, status_code=status, headers=headers or None)


def status_of(err: BaseException) -> int:
    """The HTTP status of an error raised while serving a request."""
    from hipporag.index.generations import IndexLockedError

    for cls, status in (
        (AuthError, 401),
        (ScopeError, 403),
        (NotFound, 404),
        (RateLimited, 429),
        (Loading, 503),
        (IndexLockedError, 503),
        (NoLLM, 501),
        (LLMError, 502),
    ):
        if isinstance(err, cls):
            return status
    return 400


def install(app: FastAPI, max_body_bytes: int) -> None:
    """Error handlers, the body limit and the metrics middleware."""

    @app.exception_handler(HippoRAGError)
    async def _hippo(request: Request, err: HippoRAGError) -> JSONResponse:
        status = status_of(err)
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(err, RateLimited):
            headers["Retry-After"] = str(max(1, round(err.retry_after + 0.5)))
        if status == 503:
            headers["Retry-After"] = "1"
        return error_response(status, err.message, err.hint, **headers)

    @app.exception_handler(GenerationNotReached)
    async def _generation(request: Request, err: GenerationNotReached) -> JSONResponse:
        return error_response(
            409,
            str(err),
            f"retry later, or pass a min_generation <= {err.current}",
            **{"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        ctype = request.headers.get("content-type", "")
        if request.method in ("POST", "DELETE") and "json" not in ctype:
            return error_response(
                400,
                f"the request body is not JSON (Content-Type {ctype or 'missing'!r})",
                "send a JSON object with the header Content-Type: application/json",
            )
        if first.get("type") == "json_invalid":
            return error_response(400, "the request body is not valid JSON", "send a JSON object")
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        return error_response(
            400,
            f"bad request field {where!r}: {first.get('msg', 'invalid')}",
            "see /docs for the request schema",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 404:
            return error_response(
                404, f"no such endpoint {request.url.path!r}", "see /docs for the endpoints"
            )
        return error_response(err.status_code, str(err.detail), "see /docs")

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:
        logger.exception("internal error on %s", request.url.path)
        return error_response(
            500, f"internal error: {type(err).__name__}: {err}", "report it with the server's log"
        )

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.middleware("http")
    async def _metrics(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            request.app.state.metrics.observe(
                request.method, route_label(request), status, time.perf_counter() - start
            )


def route_label(request: Request) -> str:
    """The route template of a request (``/v1/indexes/{name}/retrieve``), for metrics."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    url = request.url.path
    if url.startswith("/v1/indexes/") and not path.startswith("/v1/"):
        return "/v1/indexes/{name}" + path
    if url.startswith("/v1/") and not path.startswith("/v1/"):
        return "/v1" + path
    return path


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0
        responded = False

        async def limited() -> dict[str, Any]:
            nonlocal seen, responded
            message = await receive()
            if message["type"] == "http.request" and not responded:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # answer now; the app sees the client go away
                    responded = True
                    await self._too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict[str, Any]) -> None:
            if not responded:
                await send(message)

        await self.app(scope, limited, guarded)

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = error_response(
            413,
            f"request body over {self.max_bytes} bytes",
            "send fewer documents or queries per request (or raise --max-body-mb)",
            Connection="close",
        )
        await response(scope, receive, send)


__all__ = ["Loading", "NoLLM", "error_response", "install", "status_of"]
