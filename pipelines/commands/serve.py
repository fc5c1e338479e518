"""``hipporag serve INDEX [NAME=INDEX ...]``: the HTTP JSON retrieval service.

The first index is served as ``default`` at ``/v1/...`` and every index by
name at ``/v1/indexes/{name}/...``; ``/docs`` shows the endpoints. Without
``--keys`` there is no authentication, so the service binds to 127.0.0.1
only (another address is refused unless ``--insecure``).

``--workers N`` starts N processes (uvicorn's workers) on one port; they
share the index files (arrays memory-mapped), each follows the others'
commits within half a second, and their writes are ordered by the index's
write lock.

Example:
    $ hipporag keys add keys.toml --name app --scope read --scope write
    $ hipporag serve my-index --port 8000 --keys keys.toml
    $ curl -s localhost:8000/v1/retrieve -H "Authorization: Bearer $KEY" \\
        -d '{"query": "Who directed Salt Harbour?", "k": 3}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from hipporag.errors import InputError
from pipelines.service.factory import ENV, app_from_env  # noqa: F401  (re-exported)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="serve indexes over HTTP (JSON API, page at /)")
    p.add_argument("indexes", nargs="+", metavar="INDEX|NAME=INDEX", help="index directories")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument("--keys", metavar="KEYS_FILE", help="API keys (see `hipporag keys add`)")
    p.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback address without --keys"
    )
    p.add_argument("--max-k", type=int, default=1000, help="largest k a request may ask for")
    p.add_argument("--max-body-mb", type=float, default=8.0, help="largest request body (MiB)")
    p.add_argument("--threads", type=int, default=4, help="retrievals at once per index")
    p.add_argument("--llm-url", help="OpenAI-compatible base URL for POST /v1/answer")
    p.add_argument("--llm-model", help="model name at --llm-url")
    from pipelines.service.ray_serve import add_ray_options

    add_ray_options(p)
    p.set_defaults(func=run)


def parse_indexes(words: list[str]) -> dict[str, str]:
    """``{name: path}`` from ``INDEX`` / ``NAME=INDEX`` words; the first unnamed one is ``default``.

    Example:
        >>> parse_indexes(["idx", "docs=/data/docs-index"])
        {'default': 'idx', 'docs': '/data/docs-index'}
    """
    out: dict[str, str] = {}
    for w in words:
        name, sep, path = w.partition("=")
        if not sep or os.path.exists(w) or not name or "/" in name:
            name, path = ("default" if "default" not in out else Path(w).name), w
        if name in out:
            raise InputError(f"two indexes named {name!r}", hint="give each index its own NAME=")
        out[name] = path
    return out


def spec_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """What every worker process needs to build the same app (JSON-able)."""
    indexes = parse_indexes(args.indexes)
    for name, path in indexes.items():
        if not Path(path).is_dir():
            raise InputError(
                f"index {name!r}: no directory {path}", hint="build it with hipporag index"
            )
    if args.host not in LOOPBACK and not args.keys and not args.insecure:
        raise InputError(
            f"refusing to serve on {args.host} without API keys",
            hint="add --keys keys.toml (hipporag keys add ...), bind 127.0.0.1, or pass --insecure",
        )
    if bool(args.llm_url) != bool(args.llm_model):
        raise InputError("--llm-url and --llm-model go together", hint="give both, or neither")
    if args.workers < 1 or args.max_k < 1 or args.threads < 1 or args.max_body_mb <= 0:
        raise InputError(
            "--workers, --max-k, --threads and --max-body-mb must be positive",
            hint="e.g. --workers 2",
        )
    return {
        "indexes": {n: str(Path(p).absolute()) for n, p in indexes.items()},
        "keys": str(Path(args.keys).absolute()) if args.keys else None,
        "settings": {
            "max_k": args.max_k,
            "max_body_bytes": int(args.max_body_mb * 1024 * 1024),
            "threads": args.threads,
        },
        "llm": {"base_url": args.llm_url, "model": args.llm_model} if args.llm_url else None,
    }


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.service.keys import KeyStore

    spec = spec_from_args(args)
    if spec["keys"]:
        KeyStore(Path(spec["keys"]))  # fail now on a missing or malformed keys file
        auth = f"API keys from {spec['keys']}"
    else:
        auth = "no keys file: no authentication, so bound to this machine only"
    names = ", ".join(f"{n}={p}" for n, p in spec["indexes"].items())
    print(
        f"serving {names} on http://{args.host}:{args.port} ({auth})", file=sys.stderr, flush=True
    )
    if getattr(args, "ray", False):  # Ray Serve replicas (pipelines/service/ray_serve.py)
        from pipelines.service.ray_serve import run as run_ray

        return run_ray(spec, args)
    os.environ[ENV] = json.dumps(spec)
    uvicorn.run(
        "pipelines.service.factory:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        timeout_graceful_shutdown=60,
        # uvicorn's supervisor kills a worker that misses a 5 s ping; a busy machine
        # (models loading, every core taken) misses it and workers get restarted.
        timeout_worker_healthcheck=120,
    )
    return 0
