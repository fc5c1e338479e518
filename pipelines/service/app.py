"""The FastAPI app of ``hipporag serve``: a thin JSON layer over the facade.

:func:`create_app` serves one or several indexes: the default one at
``/v1/...`` and each by name at ``/v1/indexes/{name}/...``. Endpoints:
``POST retrieve``, ``POST retrieve/batch``, ``POST documents`` (insert or
upsert), ``DELETE documents``, ``GET documents/{id}``,
``GET passages/{id}/neighbourhood``, ``GET info``, ``GET history``,
``POST answer`` (with an LLM); and ``GET /healthz``, ``/readyz``,
``/metrics``, ``/`` (a page to try queries), ``/docs``, ``/openapi.json``.

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> with TestClient(create_app({"default": DEMO_INDEX})) as client:  # doctest: +SKIP
    ...     client.post("/v1/retrieve", json={"query": "Who directed Salt Harbour?", "k": 3})
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from hipporag.errors import InputError
from hipporag.log import get_logger
from pipelines.service import ops
from pipelines.service.auth import RateLimiter, reader, writer
from pipelines.service.http import Loading, NoLLM, install
from pipelines.service.keys import KeyStore, Principal, ScopeError
from pipelines.service.metrics import Metrics
from pipelines.service.models import (
    AnswerRequest,
    BatchRequest,
    DeleteRequest,
    DocumentsRequest,
    RetrieveRequest,
)
from pipelines.service.state import Served, Settings

DEFAULT = "default"
logger = get_logger(__name__)


def served(request: Request) -> Served:
    """The index a request addresses (``{name}`` in the path, else the default one).

    Raises:
        NotFound: no index of that name.
        Loading: it is still loading (HTTP 503).
    """
    all_served: dict[str, Served] = request.app.state.served
    name = request.path_params.get("name", request.app.state.default)
    s = all_served.get(name)
    if s is None:
        known = ", ".join(sorted(all_served))
        raise ops.NotFound(f"no index named {name!r} is served", hint=f"served indexes: {known}")
    if not s.ready:
        if s.error is not None:
            raise Loading(f"index {name!r} failed to load: {s.error}", hint="see the server's log")
        raise Loading(
            f"index {name!r} is still loading", hint="retry in a few seconds (see /readyz)"
        )
    return s


ServedIndex = Annotated[Served, Depends(served)]
ReadKey = Annotated[Principal, Depends(reader)]
WriteKey = Annotated[Principal, Depends(writer)]


def _router() -> APIRouter:
    r = APIRouter()

    @r.post("/retrieve", summary="The k best passages (or documents) for a query")
    async def retrieve(body: RetrieveRequest, s: ServedIndex, p: ReadKey) -> JSONResponse:
        k = ops.check_k(body.k, s.settings.max_k)
        rag = await s.at_least(body.min_generation)
        out = await ops.retrieve(
            rag,
            p,
            body.query,
            k=k,
            mode=body.mode,
            filters=body.filters,
            group_by=body.group_by,
            explain=body.explain,
        )
        return JSONResponse(out)

    @r.post("/retrieve/batch", summary="Several queries, one filter, one generation")
    async def retrieve_batch(body: BatchRequest, s: ServedIndex, p: ReadKey) -> JSONResponse:
        k = ops.check_k(body.k, s.settings.max_k)
        if len(body.queries) > s.settings.max_batch:
            raise InputError(
                f"{len(body.queries)} queries in one batch (at most {s.settings.max_batch})",
                hint="split the batch",
            )
        rag = await s.at_least(body.min_generation)
        out = await ops.retrieve_batch(
            rag, p, body.queries, k=k, mode=body.mode, filters=body.filters, explain=body.explain
        )
        return JSONResponse(out)

    @r.post("/documents", summary="Insert or upsert documents; answers once committed")
    async def add_documents(body: DocumentsRequest, s: ServedIndex, p: WriteKey) -> JSONResponse:
        if len(body.documents) > s.settings.max_documents:
            raise InputError(
                f"{len(body.documents)} documents in one request (at most {s.settings.max_documents})",
                hint="send them in several requests",
            )
        records = [d.model_dump(exclude_none=True) for d in body.documents]
        await asyncio.to_thread(ops.check_records, s.pin(), p, records)  # fail fast
        report = await s.write(
            "update" if body.upsert else "insert",
            records,
            check=lambda rag: ops.check_records(rag, p, records),  # decided in the writer
        )
        return JSONResponse(ops.change_dict(report))

    @r.delete("/documents", summary="Delete documents or passages by id; answers once committed")
    async def delete_documents(body: DeleteRequest, s: ServedIndex, p: WriteKey) -> JSONResponse:
        if not body.ids:
            raise InputError("nothing to delete", hint='send {"ids": ["doc-1", ...]}')
        ids = list(body.ids)
        await asyncio.to_thread(ops.check_ids, s.pin(), p, ids)  # fail fast

        def check(rag: Any) -> list[str]:  # decided again in the writer, on the newest state
            ops.check_ids(rag, p, ids)
            return ids

        report = await s.write("delete", ids, check=check)
        return JSONResponse(ops.change_dict(report))

    @r.get("/documents/{doc_id:path}", summary="A document's passages and metadata")
    async def get_document(
        doc_id: str,
        s: ServedIndex,
        p: ReadKey,
        min_generation: int | None = None,
    ) -> JSONResponse:
        rag = await s.at_least(min_generation)
        return JSONResponse(await asyncio.to_thread(ops.get_document, rag, p, doc_id))

    @r.get("/passages/{passage_id:path}/neighbourhood", summary="A passage's graph neighbourhood")
    async def neighbourhood(passage_id: str, s: ServedIndex, p: ReadKey) -> JSONResponse:
        rag = s.pin()
        return JSONResponse(await asyncio.to_thread(ops.neighbourhood, rag, p, passage_id))

    @r.get("/info", summary="Counts, generation, configs and retrieval modes")
    async def info(request: Request, s: ServedIndex, p: ReadKey) -> JSONResponse:
        rag = s.pin()
        index = rag.index
        counts = index.counts
        if p.filter:  # a tenant sees the size of its own view only
            allow = await asyncio.to_thread(rag.allowed, p.filter)
            counts = {"passages": index.n_passages if allow is None else int(allow.size)}
        return JSONResponse(
            {
                "name": s.name,
                "generation": int(index.generation),
                "counts": counts,
                "index_config": index.config.to_dict(),
                "retrieval_config": rag.config.to_dict(),
                "modes": list(rag.modes()),
                "tenant_filter": p.filter,
                "answer": request.app.state.llm is not None,
            }
        )

    @r.get("/history", summary="The index's generations, oldest first")
    async def history(s: ServedIndex, p: ReadKey) -> JSONResponse:
        from pipelines.generation_rows import rows

        if p.filter:
            raise ScopeError(
                f"key {p.name!r} has a tenant filter; the history counts every tenant's documents",
                hint="read the history with a key without a filter",
            )
        return JSONResponse(
            {"generation": s.generation, "history": await asyncio.to_thread(rows, str(s.path))}
        )

    @r.post("/answer", summary="Retrieve, then answer with the LLM (when one is configured)")
    async def answer(
        body: AnswerRequest,
        request: Request,
        s: ServedIndex,
        p: ReadKey,
    ) -> JSONResponse:
        llm = request.app.state.llm
        if llm is None:
            raise NoLLM(
                "this service has no LLM configured",
                hint="start it with hipporag serve ... --llm-url URL --llm-model NAME",
            )
        k = ops.check_k(body.k, s.settings.max_k)
        rag = await s.at_least(body.min_generation)
        scope = await ops._scoped(rag, p, body.filters)
        result = await rag.aretrieve(body.question, k, body.mode, **scope)
        from pipelines.answers import CitingReader

        # The citing reader of `hipporag answer`: [n] maps to passage ids, documents, spans.
        ans = await asyncio.to_thread(
            CitingReader(llm, max_passages=k).answer, body.question, None, result.hits
        )
        return JSONResponse(
            {
                "generation": int(rag.index.generation),
                "question": body.question,
                **ans.to_dict(),
                "hits": [ops.hit_dict(h, False) for h in result.hits],
            }
        )

    return r


def create_app(
    indexes: Mapping[str, str | os.PathLike[str]],
    keys: str | os.PathLike[str] | KeyStore | None = None,
    *,
    default: str | None = None,
    settings: Settings | None = None,
    llm: Any = None,
) -> FastAPI:
    """The service over ``indexes`` (``{name: index_dir}``).

    Args:
        indexes: names and index directories; the first (or ``default``) is
            also served at ``/v1/...``.
        keys: a keys file (see :mod:`pipelines.service.keys`), a ``KeyStore``,
            or None: no authentication (bind to 127.0.0.1 only).
        default: which index ``/v1/...`` serves.
        settings: limits (:class:`~pipelines.service.state.Settings`).
        llm: an :class:`~hipporag.llm.LLM` for ``/v1/answer`` (None: 501).

    The indexes load in the background after start-up (``/readyz`` says when;
    requests meanwhile get 503), or during it with ``settings.load_at_startup``.
    """
    if not indexes:
        raise InputError("no index to serve", hint="give an index directory: hipporag serve INDEX")
    settings = settings or Settings()
    store = keys if isinstance(keys, KeyStore) or keys is None else KeyStore(Path(keys))
    names = list(indexes)
    default = default or names[0]
    if default not in indexes:
        raise InputError(f"no index named {default!r}", hint=f"choose one of {names}")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = [asyncio.create_task(s.load()) for s in app.state.served.values()]
        app.state.loading = loading
        if settings.load_at_startup:  # a failed load is served as 503 "failed", as usual
            await asyncio.gather(*loading, return_exceptions=True)
        try:
            yield
        finally:
            await asyncio.gather(*loading, return_exceptions=True)
            for s in app.state.served.values():
                await s.drain()  # every queued (acknowledged-to-be) write commits first
            logger.info("stopped: every queued write was committed")

    app = FastAPI(
        title="hipporag retrieval service",
        description="Graph RAG retrieval with explanations over HippoRAG indexes.",
        version="1",
        lifespan=lifespan,
    )
    app.state.served = {name: Served(name, path, settings) for name, path in indexes.items()}
    app.state.default = default
    app.state.keys = store
    app.state.limiter = RateLimiter()
    app.state.metrics = Metrics()
    app.state.settings = settings
    app.state.llm = llm
    install(app, settings.max_body_bytes)
    router = _router()
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v1/indexes/{name}")

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "pid": os.getpid()}

    @app.get("/readyz", summary="Every index is loaded (503 until then)")
    async def readyz() -> JSONResponse:
        state = {
            n: ("ready" if s.ready else "failed" if s.error else "loading")
            for n, s in app.state.served.items()
        }
        ok = all(v == "ready" for v in state.values())
        body = {"ready": ok, "indexes": state, "pid": os.getpid()}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        gens = {n: s.generation for n, s in app.state.served.items() if s.ready}
        return PlainTextResponse(
            app.state.metrics.render(gens), media_type="text/plain; version=0.0.4"
        )

    @app.get("/", summary="A page to try queries", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        html = (Path(__file__).with_name("page.html")).read_text(encoding="utf-8")
        return HTMLResponse(html)

    return app


__all__ = ["DEFAULT", "create_app", "served"]
