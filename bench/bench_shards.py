"""Benchmark: what sharding costs in recall and latency on musique100.

Builds musique100 once unsharded and once per shard count (documents routed
by a stable hash of their id, the toolkit's default), with the same
extraction and embeddings for every build (each passage is extracted and
embedded once, then reused: only the graph, the HNSW indexes and the tables
are rebuilt per shard count), then evaluates recall@2/5 (HippoRAG's protocol,
``pipelines.evaluate``) and per-query latency for each merge strategy and for
the two-hop fix, with the fan-out over threads and, with ``--ray``, over Ray
actors on this machine.

    python bench/bench_shards.py --data ../shared/data --openie hipporag --shards 1 2 4 8 --json
    python bench/bench_shards.py --data ../shared/data --openie spacy --shards 1 2 4 8

Prints one JSON line per (shards, merge, hops, fanout) with ``r2``, ``r5``,
``p50_ms``, ``p95_ms`` and a markdown table.

Example:
    >>> memo = MemoEncoder(lambda texts: [[float(len(t))] for t in texts])
    >>> memo(["ab", "abc", "ab"]), memo.calls
    ([[2.0], [3.0], [2.0]], 1)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class MemoEncoder:
    """``encode(texts)`` computed once per distinct text (bench-only)."""

    def __init__(self, fn: Callable[[list[str]], Any]) -> None:
        self.fn, self.memo, self.calls = fn, {}, 0

    def __call__(self, texts: Sequence[str]) -> Any:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.calls += 1
            for t, v in zip(todo, self.fn(todo), strict=True):
                self.memo[t] = v
        return [self.memo[t] for t in texts]


class CachedEmbedder:
    """An embedder that remembers document vectors across builds (queries pass through)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._docs = MemoEncoder(lambda ts: list(inner.encode(ts)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: Sequence[str], is_query: bool = False, **kw: Any) -> np.ndarray:
        if is_query:
            return self.inner.encode(texts, is_query=True, **kw)
        return np.asarray(self._docs(list(texts)), dtype=np.float32)


class CachedExtractor:
    """An extractor that remembers each passage's extraction across builds."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.memo = inner, {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def extract(self, passages: Sequence[Any]) -> list[Any]:
        todo = [p for p in passages if (p.id, p.text) not in self.memo]
        if todo:
            for p, e in zip(todo, self.inner.extract(todo), strict=True):
                self.memo[(p.id, p.text)] = e
        return [self.memo[(p.id, p.text)] for p in passages]


def build_all(args: argparse.Namespace, out: Path) -> dict[int, Path]:
    from hipporag.config import IndexConfig, OpenIEConfig
    from indexers.builder import IndexBuilder, make_extractor
    from indexers.readers import read_corpus
    from pipelines.facade import HippoRAG, shared_embedder
    from pipelines.sharded import ShardedHippoRAG

    data = Path(args.data) / "musique100"
    openie = (
        OpenIEConfig(kind="hipporag", path=str(data / "openie_gpt-3.5-turbo-1106.json"))
        if args.openie == "hipporag"
        else OpenIEConfig()
    )
    config = IndexConfig(openie=openie)
    passages, _ = read_corpus(data / "corpus.json")
    extractor = CachedExtractor(make_extractor(config))
    embedder = CachedEmbedder(shared_embedder(config.embedding))
    paths: dict[int, Path] = {}
    for n in args.shards:
        t = time.perf_counter()
        path = out / f"{args.openie}-{n}"
        if n == 1:
            IndexBuilder(config, extractor=extractor, embedder=embedder).build(passages, path)
        else:
            ShardedHippoRAG.build(
                passages,
                path,
                n,
                config,
                extractor=extractor,
                embedder=embedder,
                single=HippoRAG,
            ).close()
        print(f"built {n} shard(s) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        paths[n] = path
    return paths


def measure(rag: Any, questions: Sequence[Any], mode: str) -> dict[str, float]:
    from pipelines.evaluate import evaluate

    rep = evaluate(rag, questions, mode=mode, ks=(2, 5)).to_dict()
    lat = rep["latency_ms"]
    return {
        "r2": round(rep["recall"]["2"], 4),
        "r5": round(rep["recall"]["5"], 4),
        "p50_ms": round(float(lat["p50"]), 2),
        "p95_ms": round(float(lat["p95"]), 2),
        "n": rep["n"],
        "missing_gold": rep["n_missing_gold"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--openie", choices=("hipporag", "spacy"), default="hipporag")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--merges", nargs="+", default=["calibrated", "score", "rrf"])
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--ray", action="store_true", help="also time the Ray fan-out")
    parser.add_argument("--out", default=None, help="where to build (default: a temp folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")
    from pipelines.evaluate import load_questions
    from pipelines.facade import HippoRAG

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-shards-"))
    paths = build_all(args, out)
    questions = load_questions(Path(args.data) / "musique100" / "questions.json")
    rows = []
    for n, path in paths.items():
        runs: list[tuple[str, int, str]] = [("-", 1, "threads")]
        if n > 1:
            runs = [(m, 1, "threads") for m in args.merges] + [("calibrated", 2, "threads")]
            runs += [("calibrated", 1, "ray")] if args.ray else []
        for merge, hops, fanout in runs:
            rag = (
                HippoRAG.open(path)
                if n == 1
                else HippoRAG.open(path, merge=merge, hops=hops, fanout=fanout)
            )
            row = {
                "openie": args.openie,
                "shards": n,
                "merge": merge,
                "hops": hops,
                "fanout": fanout,
                "mode": args.mode,
                **measure(rag, questions, args.mode),
            }
            row["load_1m"] = round(os.getloadavg()[0], 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if hasattr(rag, "close"):
                rag.close()
    if not args.json:
        print("| shards | merge | hops | fan-out | R@2 | R@5 | p50 ms | p95 ms |")
        print("|---:|---|---:|---|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['shards']} | {r['merge']} | {r['hops']} | {r['fanout']} | {r['r2']:.3f} "
                f"| {r['r5']:.3f} | {r['p50_ms']} | {r['p95_ms']} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
