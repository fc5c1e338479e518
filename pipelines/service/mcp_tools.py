"""The MCP tools of ``hipporag mcp``: what each does, for an agent to pick the right one.

Each tool is a thin call into :mod:`pipelines.service.ops` (the operations
behind the HTTP endpoints) over a :class:`~pipelines.service.state.Served`
index and the :class:`~pipelines.service.keys.Principal` of the call: the
same tenant rules, the same one-generation reads, the same one writer. No
retrieval logic lives here.

A failure becomes a tool error (``isError``) whose text is the one-line
message and its fix, as the CLI prints them.

Example:
    >>> sorted(READ_TOOLS), sorted(WRITE_TOOLS)
    (['explain', 'get_document', 'retrieve'], ['add_documents', 'delete_documents'])
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from hipporag.errors import HippoRAGError, InputError

RETRIEVE = """Search the indexed documents for passages that answer a question.

Use this first for any question about the documents' content. Ranking is
graph-based (knowledge-graph entities and facts plus dense similarity), so it
finds passages for multi-hop questions ("Who directed the film that won X?")
that plain keyword or vector search misses. Returns up to k passages, best
first, each with passage_id, doc_id, title, text, metadata, score and an
explanation (the query's seed entities, the graph path to the passage and the
entities connecting it). Pass the question in natural language; narrow with
`filters` on document metadata, e.g. {"lang": "en", "year": {"gte": 2020}}
(operators: eq, ne, in, nin, gt, gte, lt, lte, exists, not, all). The result
carries the index generation it was read from."""

EXPLAIN = """Explain why one passage does or does not rank for a question.

Use after `retrieve` when you need to justify or debug a result: give the
question and a passage_id from a hit. Returns the passage's rank and score
for that question among the first `depth` results (null when it is not among
them), its explanation (seed entities, graph path, connecting entities, dense
and PageRank scores), and its neighbourhood in the knowledge graph: the
entities and facts extracted from it and the passages linked to it through
shared entities."""

GET_DOCUMENT = """Fetch a whole document (all its passages, in order) by id.

Use when a retrieved passage is a chunk and you need the surrounding text, or
to read a document whose id you know. Accepts a doc_id or a passage_id (as
returned by `retrieve`). Returns the document's title, metadata and passages
(passage_id, chunk number, character span, text). An unknown id is an error."""

ADD_DOCUMENTS = """Add documents to the index, or replace documents with the same id.

Each document is {"id": optional stable id, "title": optional, "text":
required, "metadata": optional flat JSON object}. A document whose id is
already indexed is replaced (unchanged ones cost nothing). The call returns
after the change is committed: the report counts what was added and removed
and gives the new generation, which the next `retrieve` reads."""

DELETE_DOCUMENTS = """Delete documents (or single passages) from the index by id.

Give doc_ids or passage_ids as returned by `retrieve`. Unknown ids are listed
in the report, not an error. Returns after the change is committed, with the
new generation."""

READ_TOOLS = {"retrieve": RETRIEVE, "explain": EXPLAIN, "get_document": GET_DOCUMENT}
WRITE_TOOLS = {"add_documents": ADD_DOCUMENTS, "delete_documents": DELETE_DOCUMENTS}

Query = Annotated[str, Field(description="the question, in natural language", min_length=1)]
Filters = Annotated[
    dict[str, Any] | None,
    Field(description='metadata filter, e.g. {"lang": "en", "year": {"gte": 2020}}'),
]
Mode = Annotated[
    str | None,
    Field(description="retrieval mode: hybrid (default), hipporag2, hipporag1 or dense"),
]


def error_text(err: HippoRAGError) -> str:
    """``WHAT; how to fix: HINT`` on one line, as the CLI prints it.

    Example:
        >>> error_text(HippoRAGError("no such passage", hint="use a hit's passage_id"))
        "no such passage; how to fix: use a hit's passage_id"
    """
    text = " ".join(str(err.message).split())
    return f"{text}; how to fix: {' '.join(str(err.hint).split())}" if err.hint else text


def make_tools(
    served: Callable[[], Any],
    principal: Callable[[Any], Any],
    *,
    allow_writes: bool,
) -> dict[str, tuple[str, Callable[..., Awaitable[Any]]]]:
    """The tools, by name: ``(description, async function)``.

    Args:
        served: returns the :class:`~pipelines.service.state.Served` index.
        principal: maps the call's MCP ``Context`` to its ``Principal``
            (raises ``AuthError`` for a bad key).
        allow_writes: also the write tools.
    """
    from pipelines.service import ops

    def _max_k() -> int:
        return int(served().settings.max_k)

    async def retrieve(
        query: Query,
        ctx: Context,
        k: Annotated[int, Field(description="number of passages to return", ge=1)] = 5,
        filters: Filters = None,
        mode: Mode = None,
    ) -> dict[str, Any]:
        who = principal(ctx)
        who.require("read")
        ops.check_k(k, _max_k())
        rag = served().pin()
        return await ops.retrieve(rag, who, query, k=k, mode=mode, filters=filters, explain=True)

    async def explain(
        query: Query,
        passage_id: Annotated[str, Field(description="a passage_id from a retrieve hit")],
        ctx: Context,
        depth: Annotated[int, Field(description="how many results to search", ge=1)] = 100,
        filters: Filters = None,
        mode: Mode = None,
    ) -> dict[str, Any]:
        who = principal(ctx)
        who.require("read")
        rag = served().pin()
        # NotFound for an unknown id (or one outside the key's tenant)
        graph = await asyncio.to_thread(ops.neighbourhood, rag, who, passage_id)
        result = await ops.retrieve(
            rag,
            who,
            query,
            k=ops.check_k(min(depth, _max_k()), _max_k()),
            mode=mode,
            filters=filters,
            explain=True,
        )
        hit = next((h for h in result["hits"] if h["passage_id"] == passage_id), None)
        return {
            "generation": result["generation"],
            "query": query,
            "mode": result["mode"],
            "passage_id": passage_id,
            "rank": None if hit is None else hit["rank"],
            "score": None if hit is None else hit["score"],
            "searched": len(result["hits"]),
            "explanation": None if hit is None else hit.get("explanation"),
            "entities": graph["entities"],
            "facts": graph["facts"],
            "linked": graph["linked"],
        }

    async def get_document(
        id: Annotated[str, Field(description="a doc_id or passage_id", min_length=1)],
        ctx: Context,
    ) -> dict[str, Any]:
        who = principal(ctx)
        who.require("read")
        return await asyncio.to_thread(ops.get_document, served().pin(), who, id)

    async def add_documents(
        documents: Annotated[
            list[dict[str, Any]],
            Field(description='records {"id"?, "title"?, "text", "metadata"?}', min_length=1),
        ],
        ctx: Context,
    ) -> dict[str, Any]:
        who = principal(ctx)
        who.require("write")
        s = served()
        if len(documents) > s.settings.max_documents:
            raise InputError(
                f"{len(documents)} documents in one call (at most {s.settings.max_documents})",
                hint="send them in several calls",
            )
        await asyncio.to_thread(ops.check_records, s.pin(), who, documents)  # fail fast
        report = await s.write(
            "update",
            documents,
            check=lambda rag: ops.check_records(rag, who, documents),  # decided in the writer
        )
        return ops.change_dict(report)

    async def delete_documents(
        ids: Annotated[list[str], Field(description="doc_ids or passage_ids", min_length=1)],
        ctx: Context,
    ) -> dict[str, Any]:
        who = principal(ctx)
        who.require("write")
        s = served()
        ids = list(ids)
        await asyncio.to_thread(ops.check_ids, s.pin(), who, ids)  # fail fast

        def check(rag: Any) -> list[str]:  # decided again in the writer, on the newest state
            ops.check_ids(rag, who, ids)
            return ids

        return ops.change_dict(await s.write("delete", ids, check=check))

    fns: dict[str, Callable[..., Awaitable[Any]]] = {
        "retrieve": retrieve,
        "explain": explain,
        "get_document": get_document,
    }
    if allow_writes:
        fns |= {"add_documents": add_documents, "delete_documents": delete_documents}
    texts = READ_TOOLS | WRITE_TOOLS
    return {name: (texts[name], guarded(fn)) for name, fn in fns.items()}


def guarded(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``fn`` with the toolkit's errors turned into tool errors (one line, with the fix)."""
    import functools

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except HippoRAGError as err:
            raise ToolError(error_text(err)) from None

    return call


__all__ = ["READ_TOOLS", "WRITE_TOOLS", "error_text", "guarded", "make_tools"]
