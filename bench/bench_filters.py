"""Filtered retrieval latency: no filter vs a selective and a broad metadata filter.

Builds (once, or reuses with ``--index``) an index of a corpus whose records get
synthetic metadata: ``tenant`` = one of 20 values (a 5% filter), ``year`` =
2000..2023 (``year >= 2012``: about 50%). For each mode, the variants are
interleaved question by question (none, selective, broad, ...) so machine noise
hits them alike; medians of the whole ``HippoRAG.retrieve`` call (filter
compilation, the allow-list query in DuckDB, retrieval) are reported, with the
allow-list query alone. Every filtered result is checked: k hits, all matching.

Usage (the figures in docs/benchmarks.md)::

    .venv/bin/python bench/bench_filters.py \\
        --corpus ../shared/data/musique100/corpus.json \\
        --openie ../shared/data/musique100/openie_gpt-3.5-turbo-1106.json \\
        --questions ../shared/data/musique100/questions.json --out /tmp/m100_meta
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hipporag.config import IndexConfig, OpenIEConfig
from hipporag.filters import allowed_passages
from indexers.builder import IndexBuilder
from indexers.readers import passages_from_records
from pipelines.evaluate import load_questions
from pipelines.facade import HippoRAG

FILTERS = {
    "none": None,
    "selective (tenant = t3, ~5%)": {"tenant": "t3"},
    "broad (year >= 2012, ~50%)": {"year": {"gte": 2012}},
}


def build(corpus: Path, openie: Path | None, out: Path) -> None:
    records = json.loads(corpus.read_text(encoding="utf-8"))
    for i, r in enumerate(records):
        r["metadata"] = {"tenant": f"t{i % 20}", "year": 2000 + i % 24}
    passages, stats = passages_from_records(records, source=str(corpus))
    config = IndexConfig()
    if openie is not None:
        config = IndexConfig(openie=OpenIEConfig(kind="hipporag", path=str(openie)))
    IndexBuilder(config).build(passages, out, read_stats=stats.to_dict())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--openie", type=Path)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="index directory (built if missing)")
    ap.add_argument("-n", type=int, default=100, help="questions")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--modes", default="dense,hybrid,hipporag2")
    args = ap.parse_args()
    if not (args.out / "meta.json").is_file():
        if args.corpus is None:
            ap.error("--corpus is needed to build the index")
        t = time.perf_counter()
        build(args.corpus, args.openie, args.out)
        print(f"built {args.out} in {time.perf_counter() - t:.0f} s")
    rag = HippoRAG.open(args.out).warm_up()
    qs = [q.question for q in load_questions(args.questions)][: args.n]
    n_allowed = {}
    for name, spec in FILTERS.items():
        allow = allowed_passages(rag.index, spec)
        n_allowed[name] = rag.index.n_passages if allow is None else len(allow)
    print(f"index: {rag.index.n_passages} passages, {len(qs)} questions, k={args.k}")
    for mode in args.modes.split(","):
        rag.retrieve(qs[0], k=args.k, mode=mode)  # untimed warm-up of the mode
        times: dict[str, list[float]] = {name: [] for name in FILTERS}
        sql_ms: dict[str, list[float]] = {name: [] for name in FILTERS}
        for q in qs:
            for name, spec in FILTERS.items():
                t0 = time.perf_counter()
                allowed_passages(rag.index, spec)
                sql_ms[name].append((time.perf_counter() - t0) * 1e3)
                t0 = time.perf_counter()
                res = rag.retrieve(q, k=args.k, mode=mode, filters=spec)
                times[name].append((time.perf_counter() - t0) * 1e3)
                assert len(res) == min(args.k, n_allowed[name]), (mode, name, len(res))
                if spec and "tenant" in spec:
                    assert all(h.metadata["tenant"] == "t3" for h in res)
                if spec and "year" in spec:
                    assert all(h.metadata["year"] >= 2012 for h in res)
        for name in FILTERS:
            print(
                f"{mode:10s} {name:30s} allowed {n_allowed[name]:5d}  "
                f"retrieve median {statistics.median(times[name]):7.2f} ms  "
                f"allow-list query median {statistics.median(sql_ms[name]):6.2f} ms"
            )


if __name__ == "__main__":
    main()
