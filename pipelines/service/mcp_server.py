"""``hipporag mcp``: an index as a Model Context Protocol server, for agents.

Built on the official ``mcp`` SDK (:class:`mcp.server.mcpserver.MCPServer`).
Tools (see :mod:`pipelines.service.mcp_tools`): ``retrieve``, ``explain``,
``get_document`` and, with ``allow_writes``, ``add_documents`` and
``delete_documents``. They are thin calls into :mod:`pipelines.service.ops`
over one :class:`~pipelines.service.state.Served` index, exactly as the HTTP
service's endpoints: every answer from one generation, writes queued to one
writer, other processes' commits followed.

Transports:

* ``stdio`` (default): the client spawns the server; the call is trusted as
  the local user (every scope, no tenant filter).
* ``http`` (streamable HTTP at ``/mcp``): with a keys file, every request
  must send ``Authorization: Bearer KEY`` (HTTP 401 otherwise) and each tool
  call acts as that key: its scopes and rate are checked and its tenant filter is
  ANDed into every read and checked on every write, as in ``hipporag
  serve``. Without a keys file it binds to 127.0.0.1 only.

Example:
    >>> server = build_server(DEMO_INDEX)
    >>> sorted(t.name for t in server._tool_manager.list_tools())
    ['explain', 'get_document', 'retrieve']
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hipporag.errors import HippoRAGError, InputError
from hipporag.log import get_logger

logger = get_logger(__name__)

INSTRUCTIONS = (
    "A HippoRAG index of documents. Call `retrieve` with the user's question to get "
    "ranked passages with explanations (graph paths through entities); call "
    "`get_document` to read a whole document by id, and `explain` to see why a "
    "passage ranks for a question. Cite passages by passage_id or doc_id."
)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServedIndex:
    """The one :class:`~pipelines.service.state.Served` of the server, loaded in the background.

    Loading (opening the index, loading the models) starts with the server, so
    a client's ``initialize`` is answered at once and the first tool call waits
    for it.
    """

    def __init__(self, index: str | os.PathLike[str], settings: Any = None) -> None:
        from pipelines.service.state import Served, Settings

        self.served = Served("default", Path(index), settings or Settings())
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin loading on the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.served.load())

    async def get(self) -> Any:
        """The loaded ``Served`` (waits for the load; its error if it failed)."""
        self.start()
        assert self._task is not None
        await asyncio.shield(self._task)
        return self.served

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServedIndex]:
        """Load in the background; at exit finish queued writes (none is lost)."""
        self.start()
        try:
            yield self
        finally:
            if self._task is not None and self._task.done() and not self._task.exception():
                await self.served.drain()
            elif self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)


def _bearer(headers: Any) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def build_server(
    index: str | os.PathLike[str],
    *,
    allow_writes: bool = False,
    keys: Any = None,
    settings: Any = None,
) -> Any:
    """The MCP server of one index (not started).

    Args:
        index: the index directory.
        allow_writes: also offer ``add_documents`` and ``delete_documents``.
        keys: a :class:`~pipelines.service.keys.KeyStore` (HTTP transport): each
            call acts as the key it sends; None: every call is the local user.
        settings: the service's :class:`~pipelines.service.state.Settings`.

    Returns:
        An :class:`mcp.server.mcpserver.MCPServer`; its ``hipporag_index``
        attribute is the :class:`ServedIndex` to run it with.
    """
    from mcp.server.mcpserver import MCPServer

    from pipelines.service.auth import RateLimiter
    from pipelines.service.keys import authorize
    from pipelines.service.mcp_tools import make_tools
    from pipelines.service.state import Settings

    # Without --allow-writes nothing is written: the extractor is not loaded ahead.
    base = settings or Settings()
    holder = ServedIndex(
        index, dataclasses.replace(base, warm_writes=base.warm_writes and allow_writes)
    )
    current: dict[str, Any] = {}
    limiter = RateLimiter()  # a key's rate holds over MCP as over HTTP

    def principal(ctx: Any) -> Any:
        p = authorize(keys, _bearer(ctx.headers) if keys is not None else None)
        limiter.take(p)
        return p

    def served() -> Any:
        return current["served"]

    server = MCPServer(
        "hipporag",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )
    for name, (description, fn) in make_tools(served, principal, allow_writes=allow_writes).items():
        server.add_tool(_loading(fn, holder, current), name=name, description=description)
    server.hipporag_index = holder  # type: ignore[attr-defined]
    return server


def _loading(fn: Any, holder: ServedIndex, current: dict[str, Any]) -> Any:
    """``fn`` waiting, before it runs, for the index to be loaded."""
    import functools

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if "served" not in current:
            try:
                current["served"] = await holder.get()
            except HippoRAGError as err:
                from mcp.server.mcpserver.exceptions import ToolError

                from pipelines.service.mcp_tools import error_text

                raise ToolError(error_text(err)) from None
        return await fn(*args, **kwargs)

    return call


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hipporag-toolkit")
    except PackageNotFoundError:
        return "0"


async def serve_stdio(server: Any) -> None:
    """Serve over stdin/stdout until the client closes them."""
    async with server.hipporag_index.running():
        await server.run_stdio_async()


def http_app(server: Any, keys: Any = None, *, host: str = "127.0.0.1") -> Any:
    """The streamable-HTTP ASGI app (``/mcp``), behind the key check when ``keys`` is given."""
    mcp_app = server.streamable_http_app(host=host)
    inner = mcp_app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with server.hipporag_index.running(), inner(app):
            yield

    mcp_app.router.lifespan_context = lifespan
    return mcp_app if keys is None else KeyCheck(mcp_app, keys)


class KeyCheck:
    """ASGI middleware: HTTP requests without a valid ``Authorization: Bearer KEY`` get 401."""

    def __init__(self, app: Any, keys: Any) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            try:
                self.keys.authorize(_bearer(headers))
            except HippoRAGError as err:
                body = json.dumps({"error": err.message, "hint": err.hint}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def check_bind(host: str, keys: Any, insecure: bool) -> None:
    """Refuse to serve beyond this machine without keys (unless ``insecure``).

    Example:
        >>> check_bind("127.0.0.1", None, False)
        >>> try:
        ...     check_bind("0.0.0.0", None, False)
        ... except InputError as err:
        ...     print(err.message)
        refusing to serve MCP on 0.0.0.0 without API keys
    """
    if keys is None and host not in LOCAL_HOSTS and not insecure:
        raise InputError(
            f"refusing to serve MCP on {host} without API keys",
            hint="pass --keys keys.toml (see hipporag keys add), bind to 127.0.0.1, "
            "or add --insecure",
        )


def serve_http(server: Any, keys: Any = None, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve streamable HTTP at ``http://HOST:PORT/mcp`` until interrupted."""
    import uvicorn

    if keys is None:
        logger.warning("no keys file: MCP over HTTP for this machine only (%s)", host)
    app = http_app(server, keys, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")


__all__ = [
    "INSTRUCTIONS",
    "KeyCheck",
    "ServedIndex",
    "build_server",
    "check_bind",
    "http_app",
    "serve_http",
    "serve_stdio",
]
