"""``hipporag mcp``: serve an index to agents over the Model Context Protocol.

Example:
    $ hipporag mcp my-index                       # stdio: an MCP client spawns it
    $ hipporag mcp my-index --allow-writes        # also add_documents / delete_documents
    $ hipporag mcp my-index --transport http --port 8765 --keys keys.toml
"""

from __future__ import annotations

import argparse
from typing import Any

from hipporag.errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "mcp",
        help="serve an index to agents over MCP (tools: retrieve, explain, get_document)",
    )
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (default: the client spawns this command) or http (streamable HTTP at /mcp)",
    )
    p.add_argument(
        "--allow-writes",
        action="store_true",
        help="also offer the tools add_documents and delete_documents",
    )
    p.add_argument(
        "--keys",
        metavar="KEYS_TOML",
        help="API keys (hipporag keys add) required over http; each call acts as its key's "
        "scopes and tenant filter",
    )
    p.add_argument("--host", default="127.0.0.1", help="http: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="http: port (default 8765)")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="http: allow binding beyond 127.0.0.1 without --keys",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from hipporag.index import read_meta
    from pipelines.service.mcp_server import build_server, check_bind, serve_http, serve_stdio

    read_meta(args.index)  # a clear error now if there is no usable index there
    if args.transport == "stdio":
        if args.keys:
            raise InputError(
                "--keys applies to --transport http only",
                hint="over stdio the client runs the server as its own user: drop --keys",
            )
        server = build_server(args.index, allow_writes=args.allow_writes)
        asyncio.run(serve_stdio(server))
        return 0
    keys = None
    if args.keys:
        from pipelines.service.keys import KeyStore

        keys = KeyStore(args.keys)
    check_bind(args.host, keys, args.insecure)
    if not 0 < args.port < 65536:
        raise InputError(f"bad --port {args.port}", hint="use a port between 1 and 65535")
    server = build_server(args.index, allow_writes=args.allow_writes, keys=keys)
    serve_http(server, keys, host=args.host, port=args.port)
    return 0
