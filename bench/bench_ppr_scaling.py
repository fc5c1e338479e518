"""Benchmark: PPR latency and push accuracy on heavy-tailed graphs of growing size.

For each size a Chung-Lu graph (power-law expected degrees, weighted edges, a
few isolated nodes and self-loops) is built with numpy. Each query has a handful
of random seeds with random weights, and is answered by:

* ``push``   -- :meth:`retrievers.ppr.PPR.push` (local forward push) for each eps,
  once with the dense reset vector the retriever builds (an O(n) scan finds the
  seeds) and once with a ``{node: weight}`` dict (fully local);
* ``power``  -- :meth:`retrievers.ppr.PPR.power` (exact, tol 1e-10), the ground
  truth of the accuracy columns;
* ``igraph`` -- python-igraph prpack, the reference (skipped when building its
  graph takes longer than ``--igraph-max-build`` seconds, or with ``--no-igraph``;
  at most ``--igraph-queries`` queries above 10^5 nodes, as each takes seconds).

Latencies are medians (``time.perf_counter``). Run it on one core::

    OMP_NUM_THREADS=1 taskset -c 0 python bench/bench_ppr_scaling.py

Example:
    >>> g = chung_lu(1000, edges_per_node=4, rng=np.random.default_rng(0))
    >>> g.n_nodes, count_edges(g) > 3000
    (1000, True)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hipporag.graph import CSRGraph
from retrievers.ppr import PPR
from tests.comparison.igraph_ppr import IgraphPPR


def chung_lu(
    n_nodes: int, edges_per_node: float, rng: np.random.Generator, exponent: float = 2.3
) -> CSRGraph:
    """A Chung-Lu random graph with power-law expected degrees (tail exponent ``exponent``).

    Both endpoints of ``n_nodes * edges_per_node`` edges are drawn in proportion
    to Pareto weights capped at the structural cutoff ``sqrt(sum of weights)``.
    Parallel edges merge (weights add); self-loops stay; weights are U[0.5, 2).
    """
    expected = (1.0 - rng.random(n_nodes)) ** (-1.0 / (exponent - 1.0))
    expected = np.minimum(expected, np.sqrt(expected.sum()))
    cdf = np.cumsum(expected)
    cdf /= cdf[-1]
    n_draws = int(n_nodes * edges_per_node)
    src, dst = np.minimum(np.searchsorted(cdf, rng.random((2, n_draws))), n_nodes - 1)
    return CSRGraph.from_edges(n_nodes, src, dst, rng.uniform(0.5, 2.0, n_draws))


def count_edges(graph: CSRGraph) -> int:
    """Undirected edges (a self-loop is stored once, any other edge twice)."""
    rows = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    return (graph.n_stored_edges + int(np.sum(rows == graph.indices))) // 2


def make_queries(
    graph: CSRGraph, n_queries: int, n_seeds: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Dense reset vectors, each with ``n_seeds`` random non-isolated seeds."""
    candidates = np.flatnonzero(np.diff(graph.indptr) > 0)
    queries = []
    for _ in range(n_queries):
        reset = np.zeros(graph.n_nodes)
        reset[rng.choice(candidates, n_seeds, replace=False)] = rng.uniform(0.5, 1.5, n_seeds)
        queries.append(reset)
    return queries


def timed_map(
    fn: Callable[[Any], Any], inputs: list[Any], warmup: bool = True
) -> tuple[float, list[Any]]:
    """Median latency in ms of ``fn`` over ``inputs``, and its outputs."""
    if warmup:
        fn(inputs[0])
    times, outputs = [], []
    for item in inputs:
        start = time.perf_counter()
        outputs.append(fn(item))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), outputs


def top_overlap(approx: np.ndarray, exact: np.ndarray, k: int) -> float:
    top_a = np.argpartition(-approx, k)[:k]
    top_e = np.argpartition(-exact, k)[:k]
    return np.intersect1d(top_a, top_e).size / k


def bench_size(n_nodes: int, args: argparse.Namespace, rng: np.random.Generator) -> list[dict]:
    start = time.perf_counter()
    graph = chung_lu(n_nodes, args.edges_per_node, rng)
    gen_s = time.perf_counter() - start
    start = time.perf_counter()
    ppr = PPR(graph)
    init_s = time.perf_counter() - start
    queries = make_queries(graph, args.queries, args.seeds, rng)
    seed_dicts = [{int(i): float(q[i]) for i in np.flatnonzero(q)} for q in queries]
    degree = np.diff(graph.indptr)
    info: dict[str, Any] = {
        "n_nodes": n_nodes,
        "n_edges": count_edges(graph),
        "isolated": int(np.sum(degree == 0)),
        "max_degree": int(degree.max()),
        "generate_s": gen_s,
        "ppr_init_s": init_s,
    }
    print(f"# {info}", file=sys.stderr, flush=True)

    info["power_ms"], exact = timed_map(ppr.power, queries, warmup=False)

    info["igraph_ms"] = info["power_vs_igraph_max_abs"] = None
    if args.no_igraph:
        info["igraph_note"] = "skipped (--no-igraph)"
    else:
        start = time.perf_counter()
        reference = IgraphPPR(graph)
        info["igraph_build_s"] = build_s = time.perf_counter() - start
        if build_s > args.igraph_max_build:
            info["igraph_note"] = f"skipped: build took {build_s:.0f} s > {args.igraph_max_build} s"
        else:
            n_ig = args.queries if n_nodes <= 10**5 else min(args.queries, args.igraph_queries)
            info["igraph_ms"], ref = timed_map(reference.run, queries[:n_ig], warmup=False)
            info["power_vs_igraph_max_abs"] = max(
                float(np.abs(a - b).max()) for a, b in zip(ref, exact, strict=False)
            )
            info["igraph_note"] = f"graph built in {build_s:.1f} s, {n_ig} queries"
        del reference

    rows = []
    for eps in args.eps:
        push_ms, results = timed_map(lambda q, e=eps: ppr.push(q, eps=e), queries)
        push_dict_ms, _ = timed_map(lambda q, e=eps: ppr.push(q, eps=e), seed_dicts)
        dense = [res.to_dense(n_nodes) for res in results]
        pairs = list(zip(dense, exact, strict=True))
        rows.append(
            {
                **info,
                "eps": eps,
                "push_ms": push_ms,
                "push_dict_ms": push_dict_ms,
                "push_work": float(np.median([res.work for res in results])),
                "top10": float(np.mean([top_overlap(a, b, 10) for a, b in pairs])),
                "top100": float(np.mean([top_overlap(a, b, 100) for a, b in pairs])),
                "l1_error": float(np.median([np.abs(a - b).sum() for a, b in pairs])),
                "l1_bound": float(np.median([res.l1_bound for res in results])),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| nodes | edges | eps | push ms | push ms (dict seeds) | push work | power ms "
        "| igraph ms | top-10 | top-100 | L1 err | L1 bound |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ig = "n/a" if r["igraph_ms"] is None else f"{r['igraph_ms']:.1f}"
        lines.append(
            f"| {r['n_nodes']:,} | {r['n_edges']:,} | {r['eps']:.0e} | {r['push_ms']:.2f} "
            f"| {r['push_dict_ms']:.2f} | {r['push_work']:,.0f} | {r['power_ms']:.1f} | {ig} "
            f"| {r['top10']:.3f} | {r['top100']:.3f} | {r['l1_error']:.3f} | {r['l1_bound']:.3f} |"
        )
    lines.append("")
    for r in {r["n_nodes"]: r for r in rows}.values():
        diff = r["power_vs_igraph_max_abs"]
        lines.append(
            f"- {r['n_nodes']:,} nodes: {r['isolated']:,} isolated, max degree "
            f"{r['max_degree']:,}; igraph {r['igraph_note']}"
            + ("" if diff is None else f"; max |power - igraph| = {diff:.1e}")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="PPR latency/accuracy vs graph size.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    parser.add_argument("--edges-per-node", type=float, default=8.0)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--eps", type=float, nargs="+", default=[1e-5, 1e-6, 1e-7])
    parser.add_argument("--igraph-max-build", type=float, default=60.0)
    parser.add_argument("--igraph-queries", type=int, default=5)
    parser.add_argument("--no-igraph", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write all rows as JSON to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    rows = [row for n in args.sizes for row in bench_size(n, args, rng)]
    print(
        f"PPR, damping 0.5, {args.seeds} random seeds per query, medians over {args.queries} "
        "queries. Accuracy: push vs exact power iteration (mean top-k overlap, median L1).\n"
    )
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
