"""The operations behind the service's endpoints, over a pinned reader and a principal.

No web framework here: the HTTP app, the MCP server and tests call these.
Every function takes the reader a request pinned (one generation) and the
:class:`~pipelines.service.keys.Principal` making it; a tenant principal's
filter is ANDed into each read (:meth:`Principal.restrict`) and checked on
each write (:func:`check_records`, :func:`check_ids`).

Reading another tenant's document answers as if it did not exist (HTTP 404,
nothing revealed); writing records outside the key's filter, or touching
ids that belong to passages outside it, is refused (HTTP 403), and nothing
changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipporag.errors import HippoRAGError, InputError
from pipelines.service.keys import Principal, ScopeError


class NotFound(HippoRAGError):
    """An unknown index, document or passage, or one outside the key's tenant (HTTP 404)."""


def check_k(k: int, max_k: int) -> int:
    """``k`` if it is in ``1..max_k``.

    Raises:
        InputError: out of range, with the bound.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise InputError(
            f"k must be between 1 and {max_k}, got {k!r}", hint=f"pass 1 <= k <= {max_k}"
        )
    return k


def hit_dict(hit: Any, explain: bool) -> dict[str, Any]:
    """A hit as the service returns it (``explanation`` only when asked for)."""
    d = hit.to_dict()
    if not explain:
        d.pop("explanation", None)
    return d


def result_dict(result: Any, generation: int, explain: bool) -> dict[str, Any]:
    """A ``RetrievalResult`` or ``DocumentResult`` with the generation it came from."""
    out: dict[str, Any] = {
        "generation": generation,
        "query": result.query,
        "mode": result.mode,
        "flags": list(result.flags),
    }
    if hasattr(result, "documents"):
        docs = []
        for d in result.documents:
            dd = d.to_dict()
            dd["chunks"] = [hit_dict(c, explain) for c in d.chunks]
            docs.append(dd)
        out["documents"] = docs
    else:
        out["hits"] = [hit_dict(h, explain) for h in result.hits]
    out["timings_ms"] = {k: round(float(v), 3) for k, v in result.timings_ms.items()}
    return out


async def retrieve(
    rag: Any,
    principal: Principal,
    query: str,
    *,
    k: int,
    mode: str | None = None,
    filters: Mapping[str, Any] | None = None,
    group_by: str | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """One query on the pinned reader ``rag``, restricted to the principal's tenant."""
    scope = await _scoped(rag, principal, filters)
    result = await rag.aretrieve(query, k, mode, group_by=group_by, **scope)
    return result_dict(result, int(rag.index.generation), explain)


async def retrieve_batch(
    rag: Any,
    principal: Principal,
    queries: Sequence[str],
    *,
    k: int,
    mode: str | None = None,
    filters: Mapping[str, Any] | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """Several queries, one filter, one generation."""
    if not queries or any(not isinstance(q, str) or not q.strip() for q in queries):
        raise InputError(
            "queries must be a non-empty list of non-empty strings", hint='["q1", "q2"]'
        )
    scope = await _scoped(rag, principal, filters)
    results = await rag.aretrieve_batch(list(queries), k, mode, **scope)
    gen = int(rag.index.generation)
    return {"generation": gen, "results": [result_dict(r, gen, explain) for r in results]}


async def _scoped(
    rag: Any, principal: Principal, filters: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The facade arguments that restrict a read to the principal's tenant.

    A key without a tenant passes the request's filter on. A tenant key's
    filter is ANDed in as an allow-list; keys of the request's own filter that
    no passage has are the usual "did you mean" error, while the key's own
    keys match nothing until a document carries them (a new tenant sees no
    documents, not an error).
    """
    import asyncio

    if not principal.filter:
        return {"filters": filters}

    def allow() -> np.ndarray:
        if filters:
            rag.allowed(filters)  # the request's own keys are checked as everywhere
        return _tenant_allow(rag, principal.restrict(filters))

    return {"allow": await asyncio.to_thread(allow)}


def _tenant_allow(rag: Any, spec: Mapping[str, Any] | None) -> np.ndarray:
    """The passages a tenant's filter allows (kept in the facade's cache of allow-lists)."""
    found = rag.allowed(spec, unknown_keys="match_none")
    return np.zeros(0, np.int64) if found is None else found


def _parts(rag: Any) -> list[Any]:
    """The single indexes behind ``rag``: its shards for a sharded index, else itself.

    Row numbers (``passage_idx``) and allow-lists are each part's own.
    """
    return list(getattr(rag, "shards", None) or [rag])


def _rows_of(rag: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The live passages whose passage id or document id is in ``ids`` (document order)."""
    df = rag.index.sql(
        "SELECT passage_idx, passage_id, doc_id, title, text, metadata, chunk, span_start, span_end "
        "FROM passages WHERE passage_id IN (SELECT unnest($1::VARCHAR[])) "
        "OR doc_id IN (SELECT unnest($1::VARCHAR[])) ORDER BY doc_id, chunk, passage_idx",
        [list(ids)],
    )
    return df.to_dicts()


def _visible(rag: Any, principal: Principal, idxs: Sequence[int]) -> np.ndarray:
    """Which of ``idxs`` the principal may see (a bool mask)."""
    allow = _tenant_allow(rag, principal.filter) if principal.filter else None
    arr = np.asarray(list(idxs), dtype=np.int64)
    if allow is None:
        return np.ones(arr.shape[0], dtype=bool)
    return np.isin(arr, allow)


def get_document(rag: Any, principal: Principal, doc_id: str) -> dict[str, Any]:
    """A document (or passage) by id: its passages in order, with the generation.

    Raises:
        NotFound: no such id, or it is outside the principal's tenant.
    """
    import json

    rows: list[dict[str, Any]] = []
    for part in _parts(rag):  # a document lives in one shard
        rows = _rows_of(part, [doc_id])
        mask = _visible(part, principal, [r["passage_idx"] for r in rows])
        rows = [r for r, ok in zip(rows, mask, strict=True) if ok]
        if rows:
            break
    if not rows:
        raise NotFound(
            f"no document or passage {doc_id!r} in this index",
            hint="check the id (hits carry doc_id and passage_id)",
        )
    passages = [
        {
            "passage_id": r["passage_id"],
            "chunk": r["chunk"],
            "title": r["title"],
            "text": r["text"],
            "span": [r["span_start"], r["span_end"]] if r["span_start"] is not None else None,
        }
        for r in rows
    ]
    return {
        "generation": int(rag.index.generation),
        "doc_id": rows[0]["doc_id"] or rows[0]["passage_id"],
        "title": rows[0]["title"],
        "metadata": json.loads(rows[0]["metadata"] or "{}"),
        "passages": passages,
    }


def check_records(
    rag: Any, principal: Principal, records: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """The passages of ``records``, checked against the principal's tenant.

    Each record's metadata must match the key's filter (the same predicate the
    index runs), and a record id the index holds must belong to the tenant.

    Raises:
        InputError: malformed records (the CLI's messages).
        ScopeError: a record outside the tenant.
    """
    from pipelines.facade import _passages

    if not records:
        raise InputError(
            "no documents given", hint='send {"documents": [{"id", "title", "text", "metadata"}]}'
        )
    passages, _ = _passages(list(records))
    if principal.filter:
        outside = _outside_filter(principal.filter, [p.metadata for p in passages])
        if outside:
            p = passages[outside[0]]
            raise ScopeError(
                f"document {p.document!r}: its metadata do not match key {principal.name!r}'s filter",
                hint=f"give each document metadata matching {principal.filter}",
            )
        check_ids(rag, principal, sorted({p.document for p in passages} | {p.id for p in passages}))
    return passages


def check_ids(rag: Any, principal: Principal, ids: Sequence[str]) -> None:
    """Refuse ids that name passages outside the principal's tenant (nothing is changed).

    Raises:
        ScopeError: one of the ids belongs to another tenant.
    """
    if not principal.filter or not ids:
        return
    for part in _parts(rag):
        rows = _rows_of(part, ids)
        mask = _visible(part, principal, [r["passage_idx"] for r in rows])
        for r, ok in zip(rows, mask, strict=True):
            if not ok:
                raise ScopeError(
                    f"id {r['doc_id'] or r['passage_id']!r} is outside key {principal.name!r}'s "
                    "tenant",
                    hint="write only your own documents",
                )


def _outside_filter(spec: Mapping[str, Any], metadata: Sequence[Mapping[str, Any]]) -> list[int]:
    """Positions of the metadata dicts ``spec`` does not match (the index's own SQL predicate)."""
    import duckdb

    from hipporag.filters import compile_filters
    from hipporag.metadata import metadata_json

    sql, params = compile_filters(spec)
    con = duckdb.connect(":memory:")
    try:
        con.execute("CREATE TABLE m (i INTEGER, metadata JSON)")
        con.executemany(
            "INSERT INTO m VALUES (?, ?)",
            [[i, metadata_json(dict(md))] for i, md in enumerate(metadata)],
        )
        ok = {r[0] for r in con.execute(f"SELECT i FROM m WHERE {sql}", params).fetchall()}
    finally:
        con.close()
    return [i for i in range(len(metadata)) if i not in ok]


def change_dict(report: Any) -> dict[str, Any]:
    """A ``ChangeReport`` as the service returns it (no server path)."""
    d = report.to_dict()
    d.pop("path", None)
    for shard in d.get("shards", {}).values():  # a sharded index's per-shard reports
        shard.pop("path", None)
    return d


def neighbourhood(
    rag: Any, principal: Principal, passage_id: str, limit: int = 12
) -> dict[str, Any]:
    """A passage's entities, facts and the passages linked to it through shared entities.

    Linked passages are only those the principal may see.

    Raises:
        NotFound: no such passage, or it is outside the principal's tenant.
    """
    generation = int(rag.index.generation)
    rows: list[dict[str, Any]] = []
    for part in _parts(rag):  # a passage lives in one shard; its links stay in that shard
        rows = [r for r in _rows_of(part, [passage_id]) if r["passage_id"] == passage_id]
        if rows:
            rag = part
            break
    index = rag.index
    if not rows or not _visible(rag, principal, [rows[0]["passage_idx"]])[0]:
        raise NotFound(f"no passage {passage_id!r} in this index", hint="use a hit's passage_id")
    pidx = int(rows[0]["passage_idx"])
    names = index.entity_names
    ents = index.entities_of_passages([pidx]).get(pidx, [])[:limit]
    facts = index.facts_of_passages([pidx]).get(pidx, [])[: limit * 2]
    linked: dict[int, list[int]] = {}
    if ents:
        for p, e in index._rows(
            "SELECT passage_idx, entity_idx FROM mentions WHERE entity_idx IN "
            "(SELECT unnest($1::INTEGER[])) AND passage_idx <> " + str(pidx),
            [int(e) for e in ents],
        ):
            linked.setdefault(int(p), []).append(int(e))
    cand = sorted(linked, key=lambda p: (-len(linked[p]), p))
    mask = _visible(rag, principal, cand) if cand else np.zeros(0, dtype=bool)
    cand = [p for p, ok in zip(cand, mask, strict=True) if ok][:limit]
    live = {int(r["passage_idx"]): r for r in _passages_by_idx(rag, cand)}
    return {
        "generation": generation,
        "passage": {"passage_id": passage_id, "title": rows[0]["title"], "text": rows[0]["text"]},
        "entities": [{"idx": int(e), "name": names[e]} for e in ents],
        "facts": [
            {"subject": names[f.subject], "relation": f.relation, "object": names[f.object]}
            for f in facts
        ],
        "linked": [
            {
                "passage_id": live[p]["passage_id"],
                "title": live[p]["title"],
                "via": [names[e] for e in linked[p]],
            }
            for p in cand
            if p in live
        ],
    }


def _passages_by_idx(rag: Any, idxs: Sequence[int]) -> list[dict[str, Any]]:
    if not idxs:
        return []
    return rag.index.sql(
        "SELECT passage_idx, passage_id, title FROM passages "
        "WHERE passage_idx IN (SELECT unnest($1::INTEGER[]))",
        [[int(i) for i in idxs]],
    ).to_dicts()


__all__ = [
    "NotFound",
    "change_dict",
    "check_ids",
    "check_k",
    "check_records",
    "get_document",
    "neighbourhood",
    "result_dict",
    "retrieve",
    "retrieve_batch",
]
