"""The soak part of ``bench/bench_serve.py``: queries while a writer changes the index.

A real ``hipporag serve`` (``--workers`` the largest of the run's) on a copy
of the index. ``--soak-clients`` closed-loop clients query; every fourth
query names one of the writer's documents, so writes show up in hits. A
writer cycles through insert, update (new text) and delete of documents
``soak-N`` every ``--write-every`` seconds and, after each commit, reads the
document back with ``min_generation`` set to the committed generation.

Counted:

* errors: any non-200 answer to a query, or a failed write;
* responses mixing generations: every response carries one ``generation``;
  a hit of ``soak-N`` with text version ``v`` is consistent only if that
  version was committed at or before the generation and not replaced or
  deleted by then;
* writes not visible after their commit: the read-back with
  ``min_generation`` does not show the write (missing document after an
  insert, old text after an update, still present after a delete).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def _doc(n: int, version: int) -> dict[str, Any]:
    name = f"Soakville {n}"
    return {
        "id": f"soak-{n}",
        "title": name,
        "text": f"{name} is a river town; its mayor in version {version} was Mayor V{version}x{n}.",
        "metadata": {"version": version},
    }


async def _writer(http: Any, stop: float, every: float, log: dict[str, Any]) -> None:
    """Insert, update, delete ``soak-N`` in turn; read each change back at its generation."""
    n = 0
    while time.perf_counter() < stop:
        n += 1
        doc_id = f"soak-{n}"
        for step, version in (("insert", 1), ("update", 2), ("delete", None)):
            t = time.perf_counter()
            if step == "delete":
                r = await http.request("DELETE", "/v1/documents", json={"ids": [doc_id]})
            else:
                r = await http.post("/v1/documents", json={"documents": [_doc(n, version)]})
            took = time.perf_counter() - t
            if r.status_code != 200:
                log["write_errors"].append(f"{step} {doc_id}: {r.status_code} {r.text[:200]}")
                await asyncio.sleep(every)
                continue
            gen = int(r.json()["generation"])
            log["commits"].append({"doc": doc_id, "step": step, "version": version, "gen": gen})
            log["write_s"].append(took)
            back = await http.get(f"/v1/documents/{doc_id}", params={"min_generation": gen})
            if step == "delete":
                visible = back.status_code == 404
            else:
                visible = (
                    back.status_code == 200 and back.json()["metadata"].get("version") == version
                )
            if not visible:
                log["not_visible"].append(f"{step} {doc_id} at {gen}: {back.status_code}")
            await asyncio.sleep(every)


async def _client(
    http: Any, i: int, questions: list[str], stop: float, log: dict[str, Any]
) -> None:
    n = i
    while time.perf_counter() < stop:
        commits = log["commits"]
        if n % 4 == 0 and commits:
            doc = commits[-1]["doc"].split("-")[1]
            query = f"Who was the mayor of Soakville {doc}?"
        else:
            query = questions[n % len(questions)]
        n += 1
        try:
            r = await http.post("/v1/retrieve", json={"query": query, "k": 5, "mode": "hybrid"})
        except Exception as err:  # a dropped connection is an error too
            log["query_errors"].append(type(err).__name__)
            continue
        if r.status_code != 200:
            log["query_errors"].append(f"{r.status_code} {query!r}: {r.text[:300]}")
            continue
        log["queries"] += 1
        out = r.json()
        for h in out["hits"]:
            if h["doc_id"].startswith("soak-"):
                version = (h.get("metadata") or {}).get("version")
                log["soak_hits"].append((out["generation"], h["doc_id"], version))


def _mixed(log: dict[str, Any]) -> list[str]:
    """Hits whose document version was not the live one at the response's generation."""
    spans: dict[tuple[str, int], tuple[int, float]] = {}
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for c in log["commits"]:
        by_doc.setdefault(c["doc"], []).append(c)
    for doc, cs in by_doc.items():
        cs.sort(key=lambda c: c["gen"])
        for a, b in zip(cs, [*cs[1:], None], strict=True):
            if a["version"] is not None:
                spans[(doc, a["version"])] = (a["gen"], b["gen"] if b else float("inf"))
    bad = []
    for gen, doc, version in log["soak_hits"]:
        span = spans.get((doc, version))
        if span is None or not span[0] <= gen < span[1]:
            bad.append(f"{doc} v{version} in a response of generation {gen} (live {span})")
    return bad


def soak(args: Any, questions: list[str]) -> dict[str, Any]:
    """Run the soak for ``args.soak`` seconds on a copy of ``args.index``; counts and checks."""
    import httpx

    from bench.bench_serve import Server, memory, percentile

    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    index = tmp / "index"
    shutil.copytree(args.index, index, ignore=shutil.ignore_patterns("leases"))
    log: dict[str, Any] = {
        "commits": [],
        "write_s": [],
        "write_errors": [],
        "not_visible": [],
        "query_errors": [],
        "queries": 0,
        "soak_hits": [],
    }
    workers = max(args.workers)
    try:
        with Server(str(index), workers, args.threads) as srv:
            srv.wait_ready()
            before = [memory(p)["rss_mb"] for p in srv.worker_pids()]

            async def main() -> None:
                limits = httpx.Limits(max_connections=args.soak_clients + 2)
                async with httpx.AsyncClient(base_url=srv.url, timeout=600, limits=limits) as http:
                    stop = time.perf_counter() + args.soak
                    await asyncio.gather(
                        _writer(http, stop, args.write_every, log),
                        *(_client(http, i, questions, stop, log) for i in range(args.soak_clients)),
                    )

            t0 = time.perf_counter()
            asyncio.run(main())
            wall = time.perf_counter() - t0
            after = [memory(p)["rss_mb"] for p in srv.worker_pids()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mixed = _mixed(log)
    summary = {
        "seconds": round(wall, 1),
        "workers": workers,
        "clients": args.soak_clients,
        "queries": log["queries"],
        "query_errors": len(log["query_errors"]),
        "writes_committed": len(log["commits"]),
        "write_errors": len(log["write_errors"]),
        "hits_of_written_docs": len(log["soak_hits"]),
        "responses_mixing_generations": len(mixed),
        "writes_not_visible_after_commit": len(log["not_visible"]),
        "write_p50_s": round(percentile(log["write_s"], 50), 3),
        "write_max_s": round(max(log["write_s"], default=float("nan")), 3),
        "rss_mb_before_after": [[round(b), round(a)] for b, a in zip(before, after, strict=False)],
    }
    return {
        "summary": summary,
        "examples": {
            "query_errors": log["query_errors"][:5],
            "write_errors": log["write_errors"][:5],
            "mixed": mixed[:5],
            "not_visible": log["not_visible"][:5],
        },
    }


__all__ = ["soak"]
