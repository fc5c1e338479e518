"""``hipporag serve --ray``: the service's FastAPI app as Ray Serve deployments.

Two Serve applications share one index directory (a path every Ray node
sees, e.g. a shared volume):

* ``hipporag`` (HTTP ingress, ``route_prefix="/"``): ``--replicas N`` read
  replicas, each a separate process running the same app as ``hipporag
  serve`` (:func:`pipelines.service.app.create_app` through
  ``serve.ingress``). Each opens the index from the shared path (arrays
  memory-mapped) and follows new generations as other processes commit
  them (within ``follow_s``; at once for a read with ``min_generation``).
* ``hipporag-writer`` (no route): one replica holding the same app; every
  write request (``POST`` / ``DELETE .../documents``) that reaches a reader
  is forwarded to it whole (method, path, headers, body) through a
  deployment handle, so writes are applied one at a time by one process,
  with the same key checks, tenant rules, errors and change report.

Ray is imported only here, and only when ``--ray`` is given.

Example:
    >>> is_write("POST", "/v1/documents"), is_write("POST", "/v1/indexes/docs/documents")
    (True, True)
    >>> is_write("GET", "/v1/documents/doc-1"), is_write("POST", "/v1/retrieve")
    (False, False)
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from hipporag.log import get_logger

logger = get_logger(__name__)

READER_APP = "hipporag"
WRITER_APP = "hipporag-writer"
WRITER = "HippoRAGWriter"
_WRITE_PATH = re.compile(r"^/v1/(indexes/[^/]+/)?documents/?$")


def add_ray_options(p: Any) -> None:
    """``--ray``, ``--replicas`` and ``--ray-address`` of ``hipporag serve``."""
    p.add_argument(
        "--ray",
        action="store_true",
        help="deploy on Ray Serve: --replicas read replicas and one writer",
    )
    p.add_argument("--replicas", type=int, default=2, help="--ray: read replicas (default 2)")
    p.add_argument(
        "--replica-cpus",
        type=float,
        default=0.0,
        help="--ray: CPUs each replica reserves from Ray (default 0: no reservation)",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="--ray: join this Ray cluster (HEAD:6379 or 'auto'); default: start a local one",
    )


def is_write(method: str, path: str) -> bool:
    """Whether a request changes an index (it is forwarded to the writer)."""
    return method in ("POST", "DELETE", "PUT") and bool(_WRITE_PATH.match(path))


def build_app(spec: dict[str, Any], **settings: Any) -> Any:
    """The service app of ``spec`` (what ``hipporag serve`` builds in each worker).

    A replica loads its indexes during start-up: Serve sends it requests once
    start-up is done, so none meets an index still loading. ``settings``
    override the spec's (:class:`~pipelines.service.state.Settings` fields).
    """
    from pipelines.service.factory import ENV, app_from_env

    settings = {**spec.get("settings", {}), "load_at_startup": True, **settings}
    os.environ[ENV] = json.dumps({**spec, "settings": settings})
    return app_from_env()


class ForwardWrites:
    """ASGI middleware of a reader: write requests go to the writer deployment, whole.

    Args:
        app: the reader's app (serves everything else).
        writer: a handle of the writer deployment (its ``forward`` method).
        max_body: the largest body forwarded (larger: HTTP 413, as the app answers).
    """

    def __init__(self, app: Any, writer: Any, max_body: int) -> None:
        self.app, self.writer, self.max_body = app, writer, max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_write(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await _send(send, 413, [(b"content-type", b"application/json")], _too_large())
                return
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length")
        ]
        status, out_headers, body = await self.writer.forward.remote(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode(),
            headers,
            b"".join(chunks),
        )
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out_headers]
        await _send(send, status, raw, body)


def _too_large() -> bytes:
    return json.dumps(
        {"error": "request body too large", "hint": "send fewer documents per request"}
    ).encode()


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length",)]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_HEALTH = {"health_check_period_s": 10, "health_check_timeout_s": 120}


def deployments(spec: dict[str, Any], replicas: int, cpus: float = 0.0) -> tuple[Any, Any]:
    """The writer and reader Serve applications (bound, not yet run).

    ``cpus`` is what each replica reserves from Ray (0: none, so any number of
    replicas fits a small machine; Serve still spreads them over the nodes).
    """
    from ray import serve

    actor = {"ray_actor_options": {"num_cpus": cpus}} | _HEALTH

    @serve.deployment(name=WRITER, num_replicas=1, max_ongoing_requests=64, **actor)
    @serve.ingress()
    class HippoRAGWriter:
        """The one writer: the app, called in-process for each forwarded write."""

        def __init__(self, spec: dict[str, Any]) -> None:
            self.spec = spec

        def __serve_build_asgi_app__(self) -> Any:
            self.service_app = build_app(self.spec)  # not `app`: Serve's wrapper owns that name
            return self.service_app

        async def forward(
            self, method: str, path: str, query: str, headers: list[Any], body: bytes
        ) -> tuple[int, list[tuple[str, str]], bytes]:
            import httpx

            transport = httpx.ASGITransport(app=self.service_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://writer") as c:
                url = f"{path}?{query}" if query else path
                r = await c.request(method, url, headers=headers, content=body, timeout=None)
            return r.status_code, list(r.headers.items()), r.content

    @serve.deployment(
        name="HippoRAGReader", num_replicas=replicas, max_ongoing_requests=32, **actor
    )
    @serve.ingress()
    class HippoRAGReader:
        """A read replica: the app, with writes forwarded to the writer."""

        def __init__(self, spec: dict[str, Any]) -> None:
            self.spec = spec

        def __serve_build_asgi_app__(self) -> Any:
            writer = serve.get_deployment_handle(WRITER, app_name=WRITER_APP)
            max_body = int(self.spec.get("settings", {}).get("max_body_bytes", 8 << 20))
            app = build_app(self.spec, warm_writes=False)  # writes go to the writer
            return ForwardWrites(app, writer, max_body)

    return HippoRAGWriter.bind(spec), HippoRAGReader.bind(spec)


# Serve's proxy checks answer within 5-10 s by default; a busy machine (replicas
# loading models) misses that and the proxy is killed. Patient defaults instead.
PATIENT = {
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
    "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "60",
    "RAY_worker_register_timeout_seconds": "120",
    "RAY_enable_worker_prestart": "0",  # no idle workers competing with start-up
}


def worker_env() -> dict[str, str]:
    """Environment of the replicas: this source tree importable, quiet tokenizers."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = {"TOKENIZERS_PARALLELISM": "false", "HIPPORAG_PROGRESS": "0", "PYTHONPATH": path}
    return env | {k: os.environ.get(k, v) for k, v in PATIENT.items()}


def start(
    spec: dict[str, Any],
    *,
    replicas: int = 2,
    host: str = "127.0.0.1",
    port: int = 8000,
    address: str | None = None,
    temp_dir: str | None = None,
    cpus: float = 0.0,
) -> None:
    """Join (``address``) or start a local Ray, then deploy the writer and ``replicas`` readers.

    Returns once every replica is ready (its index loaded). Stop with :func:`stop`.
    """
    import ray
    from ray import serve

    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "runtime_env": {"env_vars": worker_env()},
    }
    if address:
        ray.init(address=address, **kwargs)
    else:
        for k, v in PATIENT.items():  # the local cluster's processes inherit them
            os.environ.setdefault(k, v)
        for attempt in range(3):  # a busy machine may miss Ray's 30 s start-up wait
            try:
                ray.init(include_dashboard=False, _temp_dir=temp_dir, **kwargs)
                break
            except Exception as err:
                if "timed out during startup" not in str(err) or attempt == 2:
                    raise
                logger.warning("local Ray did not start in time; trying again")
                ray.shutdown()
    serve.start(http_options={"host": host, "port": port})
    writer, reader = deployments(spec, replicas, cpus)
    serve.run(writer, name=WRITER_APP, route_prefix=None)
    serve.run(reader, name=READER_APP, route_prefix="/")


def stop() -> None:
    """Delete the deployments, stop Serve and leave (or stop) Ray."""
    import ray
    from ray import serve

    try:
        if ray.is_initialized():
            serve.shutdown()
    finally:
        ray.shutdown()


def run(spec: dict[str, Any], args: Any) -> int:
    """``hipporag serve --ray``: deploy, print the address, serve until interrupted."""
    import sys

    from hipporag.errors import InputError

    replicas = int(getattr(args, "replicas", 2))
    if replicas < 1:
        raise InputError(f"--replicas {replicas}", hint="give at least one read replica")
    t = time.perf_counter()
    try:
        start(
            spec,
            replicas=replicas,
            host=args.host,
            port=args.port,
            address=getattr(args, "ray_address", None),
            cpus=float(getattr(args, "replica_cpus", 0.0)),
        )
        print(
            f"serving on http://{args.host}:{args.port} with Ray Serve: {replicas} read "
            f"replicas and one writer (ready in {time.perf_counter() - t:.0f} s); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


__all__ = [
    "ForwardWrites",
    "add_ray_options",
    "build_app",
    "deployments",
    "is_write",
    "run",
    "start",
    "stop",
]
