"""Benchmark: build and query a synthetic index of N passages with the real index code.

The structure is realistic, the models are not: a fast deterministic fake
extractor gives each passage about ``--entities`` entity mentions drawn from a
Zipfian vocabulary (rank ``r`` with probability proportional to ``1/r``, so a
few hub entities appear in a large share of passages, as "united states" does
in real corpora) and about ``--facts`` triples between them; a fake embedder
maps each text to a unit vector from its CRC32 (``--dim`` dimensions,
vectorised numpy); for ``--synonym-share`` of the vocabulary's rank pairs
the second is named as an alias of the first (same numbers, a cosine of about
0.96, above the default synonymy threshold), so synonymy edges are built as in
a real corpus. Everything else is the toolkit's own: graph assembly,
synonymy (HNSW k-NN), the CSR graph, DuckDB tables, arrays, HNSW indexes,
through ``IndexBuilder(config, extractor=..., embedder=...).build(passages, out)``.
``--threads`` sets ``graph.hnsw_threads`` (HNSW builds and synonymy k-NN
queries; ``0`` = every usable CPU; the default ``1`` is reproducible).

The index is then opened and queried with the real
:class:`~retrievers.graph.GraphRetriever` (default retrieval config), whose
query vectors are pre-computed (a fact's vector plus a passage's), so the
query figures exclude encoding.

Prints one JSON line: ``build_s``, per-stage seconds (``stages``: the
builder's own timings, then wall and ``_cpu`` seconds of graph assembly,
synonymy, DuckDB inserts, arrays, HNSW builds and the commit), the
extraction/embedding fakes' own seconds, ``peak_rss_mb`` (this process),
``index_bytes``, ``query_p50_ms``, ``query_p95_ms``, the retriever's own
per-stage medians (``query_stage_p50_ms``: encode, link, ppr, ...) and the counts.
``--partial FILE`` rewrites FILE with the stage seconds and peak RSS so far
after each timed stage, so a run cut short still leaves figures.
``--readers`` then starts two reader processes on the built index, the second
while the first still runs, and reports each one's open time, resident memory
after warm-up and queries, and how much of it is its own (``private_mb``: what
a further reader process adds; the mmapped arrays and DuckDB pages it shares
with the page cache are ``shared_mb``; hnswlib loads its HNSW indexes into
private memory), under ``readers``::

    python bench/bench_scale.py --passages 10000 --threads 2 --json

The fakes live in :mod:`scale_fakes`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scale_fakes import HashVectors, ZipfExtractor  # noqa: E402  (beside this script)

from hipporag.types import Passage  # noqa: E402

PARTIAL: dict[str, Any] = {"path": None, "t0": 0.0}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_partial(bucket: dict[str, float], **extra: Any) -> None:
    """Rewrite the ``--partial`` file (if any) with the figures so far."""
    path = PARTIAL["path"]
    if path is None:
        return
    data = {
        "elapsed_s": round(time.perf_counter() - PARTIAL["t0"], 3),
        "peak_rss_mb": _peak_rss_mb(),
        "parts": {k: round(v, 3) for k, v in bucket.items()},
        **extra,
    }
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data) + "\n")
    os.replace(tmp, path)


def _timed(obj: Any, name: str, bucket: dict[str, float], key: str) -> None:
    """Wrap ``obj.name`` so its wall time adds to ``bucket[key]`` (skipped if absent)."""
    fn = getattr(obj, name, None)
    if fn is None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            bucket[key] = bucket.get(key, 0.0) + time.perf_counter() - t
            bucket[key + "_cpu"] = bucket.get(key + "_cpu", 0.0) + time.process_time() - c
            write_partial(bucket, done=key)

    setattr(obj, name, wrapper)


def build(
    n: int,
    entities: int,
    facts: int,
    dim: int,
    out: Path,
    threads: int = 1,
    synonym_share: float = 0.0,
    ef_construction: int | None = None,
) -> dict[str, Any]:
    import indexers.changes as changes_mod
    import indexers.commit as commit_mod
    from hipporag.config import EmbeddingConfig, GraphConfig, IndexConfig
    from hipporag.index import IndexWriter
    from indexers.builder import IndexBuilder
    from indexers.synonymy import SynonymyLists

    parts: dict[str, float] = {}
    # The stages of the one change pipeline (indexers.pipeline): graph assembly,
    # HNSW updates and synonymy lists ("search"), DuckDB tables, arrays, commit.
    _timed(changes_mod, "add_passages", parts, "assemble")
    _timed(changes_mod, "update_search", parts, "search_total")
    _timed(SynonymyLists, "add", parts, "synonymy")
    _timed(SynonymyLists, "remove", parts, "synonymy")
    _timed(commit_mod, "apply_to_db", parts, "duckdb_insert")
    _timed(commit_mod, "write_lexical", parts, "lexical")
    _timed(commit_mod, "write_passage_store", parts, "passage_store")
    _timed(IndexWriter, "write_array", parts, "arrays")
    _timed(IndexWriter, "commit", parts, "commit")
    passages = [Passage(f"p{i}", f"title {i}", f"passage {i} text") for i in range(n)]
    extractor = ZipfExtractor(n, entities, facts, synonym_share=synonym_share)
    embedder = HashVectors(dim)
    graph = GraphConfig(hnsw_threads=threads)
    if ef_construction is not None:  # a cheaper HNSW build (the config's knob)
        graph = dataclasses.replace(graph, hnsw_ef_construction=ef_construction)
    # The window is given so that no tokenizer or model is looked up (the vectors are fake).
    config = IndexConfig(graph=graph, embedding=EmbeddingConfig(max_seq_length=256))
    b = IndexBuilder(config, extractor=extractor, embedder=embedder)
    t = time.perf_counter()
    report = b.build(passages, out)
    build_s = time.perf_counter() - t
    meta = json.loads((Path(report.path) / "meta.json").read_text())
    stages = {k: round(v, 3) for k, v in b.timings.items()}
    for suffix in ("", "_cpu"):  # HNSW work = the search stage less its synonymy lists
        total = parts.pop("search_total" + suffix, 0.0)
        parts["hnsw" + suffix] = max(total - parts.get("synonymy" + suffix, 0.0), 0.0)
    stages.update({k: round(v, 3) for k, v in parts.items()})
    write_partial(parts, done="build", build_s=round(build_s, 3), stages=stages)
    return {
        "threads": config.graph.hnsw_workers,
        "hnsw_ef_construction": config.graph.hnsw_ef_construction,
        "build_s": round(build_s, 3),
        "stages": stages,
        "fake_extract_s": round(extractor.seconds, 3),
        "fake_embed_s": round(embedder.seconds, 3),
        "counts": {k: meta["counts"][k] for k in ("passages", "entities", "facts", "mentions")}
        | {f"edges_{k}": v for k, v in meta["counts"]["edges"].items()},
        "path": str(report.path),
        "_embedder": embedder,
    }


def query(
    path: Path, embedder: HashVectors, n_queries: int, seed: int = 2, hold: list | None = None
) -> dict[str, Any]:
    """Open, warm up and query the index; ``hold`` (a list) keeps the retriever alive."""
    from hipporag.index import Index
    from retrievers.config import RetrievalConfig
    from retrievers.graph import GraphRetriever

    t = time.perf_counter()
    index = Index(path)
    fvec, pvec = index.array("fact_embeddings"), index.array("passage_embeddings")
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n_queries):
        f, p = int(rng.integers(fvec.shape[0])), int(rng.integers(pvec.shape[0]))
        v = np.asarray(fvec[f], np.float32) + np.asarray(pvec[p], np.float32)
        embedder.queries[f"query {i}"] = v / np.linalg.norm(v)
        texts.append(f"query {i}")
    retriever = GraphRetriever(index, RetrievalConfig(), embedder=embedder)
    retriever.warm_up()
    open_s = time.perf_counter() - t
    for q in texts[:10]:
        retriever.retrieve(q, k=5)
    times, laps = [], []
    for q in texts:
        t = time.perf_counter()
        res = retriever.retrieve(q, k=5)
        times.append((time.perf_counter() - t) * 1000)
        laps.append(res.timings_ms)
    times.sort()
    if hold is not None:
        hold.append(retriever)
    stages = {s: round(statistics.median(x.get(s, 0.0) for x in laps), 3) for s in laps[0]}
    return {
        "open_warm_s": round(open_s, 3),
        "query_p50_ms": round(statistics.median(times), 3),
        "query_p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
        "query_stage_p50_ms": stages,
    }


def memory_mb() -> dict[str, float]:
    """This process's resident memory split into shared and private pages (smaps_rollup)."""
    fields: dict[str, float] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    private = fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)
    shared = fields.get("Shared_Clean", 0.0) + fields.get("Shared_Dirty", 0.0)
    return {
        "rss_mb": round(fields.get("Rss", 0.0), 1),
        "pss_mb": round(fields.get("Pss", 0.0), 1),
        "private_mb": round(private, 1),
        "shared_mb": round(shared, 1),
    }


def reader(path: Path, dim: int, n_queries: int) -> None:
    """A reader process: open, warm up, query; print its figures; wait for stdin to close."""
    hold: list = []  # the open index and its loaded parts, measured below
    res = query(path, HashVectors(dim), n_queries, hold=hold)
    print(json.dumps({**res, **memory_mb()}), flush=True)
    sys.stdin.read()


def readers(path: Path, dim: int, n_queries: int) -> list[dict[str, Any]]:
    """Two reader processes, the second started while the first is still alive."""
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--passages", "0", "--reader", str(path)]
    cmd += ["--dim", str(dim), "--queries", str(n_queries)]
    procs, out = [], []
    try:
        for _ in range(2):
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(p)
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"reader process failed (rc {p.wait()})")
            out.append(json.loads(line))
    finally:
        for p in procs:
            if p.stdin is not None:
                p.stdin.close()
            p.wait(60)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Synthetic scale benchmark (real index code).")
    parser.add_argument("--passages", type=int, required=True)
    parser.add_argument("--entities", type=int, default=10, help="mentions per passage")
    parser.add_argument("--facts", type=int, default=10, help="triples per passage")
    parser.add_argument("--dim", type=int, default=32, help="fake vector dimension")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--synonym-share",
        type=float,
        default=0.5,
        help="share of entity pairs that are near-synonyms (0 = no synonymy edges)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="graph.hnsw_threads (0 = all usable CPUs)"
    )
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=None,
        help="graph.hnsw_ef_construction (default: the config's)",
    )
    parser.add_argument("--partial", default=None, help="file for the figures so far")
    parser.add_argument(
        "--workdir", default=None, help="where the index goes (default: a temp dir)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--readers", action="store_true", help="also measure two reader processes")
    parser.add_argument("--reader", default=None, help=argparse.SUPPRESS)  # a reader child
    args = parser.parse_args(argv)
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")
    if args.reader:
        reader(Path(args.reader), args.dim, args.queries)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t0 = time.perf_counter()
        PARTIAL.update(path=args.partial, t0=t0)
        out = Path(tmp) / "index"
        res = build(
            args.passages,
            args.entities,
            args.facts,
            args.dim,
            out,
            args.threads,
            args.synonym_share,
            args.ef_construction,
        )
        emb = res.pop("_embedder")
        path = Path(res.pop("path"))
        res["index_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        res.update(query(path, emb, args.queries))
        write_partial({}, done="query", **res)  # the figures so far, before the readers
        if args.readers:
            res["readers"] = readers(path, args.dim, args.queries)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        res["peak_rss_mb"] = _peak_rss_mb()
        res["process_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 3)
        res["total_s"] = round(time.perf_counter() - t0, 3)
    res = {"passages": args.passages, "dim": args.dim, "synonym_share": args.synonym_share, **res}
    res["loadavg_1m"] = os.getloadavg()[0]
    if not args.json:
        print(f"# synthetic index of {args.passages} passages", file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
