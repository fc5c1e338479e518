"""Benchmark: bytes the DuckDB tables cost per change, and the latency of the SQL lookups.

Copies ``--index`` (it is never changed), then runs ``--rounds`` rounds of:
delete the last ``--docs`` documents of the corpus, insert them again (the
same records, chunked as the build chunked them). For every generation it
records the bytes of the DuckDB files the generation wrote (files ending in
``.duckdb`` under its own ``data/gN/``), the number of DuckDB parts and the
wall time of the change. Before and after the rounds it times the lookups a
query makes (``Index.passages``, ``facts_of_passages``, ``entities_of_passages``
on 10 random live passages; median and min of ``--repeat`` timeit runs of
``--number`` calls). ``--rounds 0`` only times the lookups, on the index itself. It runs on
any index version (an index before DuckDB parts has one ``index.duckdb`` per
generation; ``--merge-factor`` needs parts)::

    .venv/bin/python bench/bench_db_parts.py --index /tmp/m100 \\
        --corpus ../shared/data/musique100/corpus.json --docs 20 --rounds 5 --json out.json

Example:
    >>> db_bytes({"files": {"index.duckdb": {"path": "data/g000002/index.duckdb", "size": 9},
    ...                     "arrays/x.npy": {"path": "data/g000002/arrays/x.npy", "size": 5}}}, 2)
    9
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hipporag.config import IndexConfig  # noqa: E402
from hipporag.index import Index  # noqa: E402
from indexers.builder import IndexBuilder  # noqa: E402
from indexers.readers import read_corpus  # noqa: E402


def db_bytes(meta: dict[str, Any], generation: int, *, only_db: bool = True) -> int:
    """Bytes of the DuckDB files (or all files) generation ``generation`` wrote itself."""
    prefix = f"data/g{generation:06d}/"
    return sum(
        int(e["size"])
        for name, e in meta["files"].items()
        if (name.endswith(".duckdb") or not only_db) and e["path"].startswith(prefix)
    )


def lookups(path: Path, repeat: int, number: int, seed: int = 0) -> dict[str, float]:
    """Microseconds per call of the SQL lookups a query makes (median and min of runs)."""
    idx = Index.open(path)
    try:
        live = np.flatnonzero(idx.live("passages"))
        rng = np.random.default_rng(seed)
        batches = [rng.choice(live, 10, replace=False).tolist() for _ in range(number)]
        idx.passages(batches[0])  # open the database outside the timing
        out = {}
        for name in ("passages", "facts_of_passages", "entities_of_passages"):
            fn = getattr(idx, name)
            it = iter(batches * (repeat + 1))
            runs = timeit.repeat(lambda fn=fn, it=it: fn(next(it)), repeat=repeat, number=number)
            out[name + "_us"] = round(statistics.median(runs) / number * 1e6, 1)
            out[name + "_min_us"] = round(min(runs) / number * 1e6, 1)
        t = time.perf_counter()
        other = Index.open(path)
        other.connection()
        out["open_connection_ms"] = round((time.perf_counter() - t) * 1e3, 2)
        other.close()
        return out
    finally:
        idx.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True, help="a built index (copied)")
    ap.add_argument("--corpus", type=Path, required=True, help="the corpus it was built from")
    ap.add_argument("--docs", type=int, default=20, help="documents deleted and inserted again")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=200)
    ap.add_argument(
        "--merge-factor",
        type=float,
        help="override hipporag.index.tables.MERGE_FACTOR (0: keep every delta as a part)",
    )
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    if args.merge_factor is not None:
        from hipporag.index import tables

        tables.MERGE_FACTOR = args.merge_factor
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")
    res: dict[str, Any] = {"args": vars(args), "load_avg": os.getloadavg()}
    passages, _ = read_corpus(args.corpus)
    docs = list(dict.fromkeys(p.doc_id for p in passages))[-args.docs :]
    records = [p for p in passages if p.doc_id in set(docs)]
    if args.rounds == 0:  # lookups only, on the index itself (it is only read)
        res["lookups"] = lookups(args.index, args.repeat, args.number)
        print(json.dumps(res, indent=2, default=str))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-db-parts-") as d:
        work = Path(d) / "idx"
        shutil.copytree(args.index, work, ignore=shutil.ignore_patterns("leases", "write.lock"))
        meta = json.loads((work / "meta.json").read_text())
        res["full_db_bytes"] = db_bytes(meta, int(meta["generation"]))
        res["lookups_before"] = lookups(work, args.repeat, args.number)
        builder = IndexBuilder(IndexConfig.from_dict(meta["config"]))
        builder.embedder.warm_up()
        gens = []
        for _ in range(args.rounds):
            for op, arg in (("delete", docs), ("insert", records)):
                t = time.perf_counter()
                report = getattr(builder, op)(arg, work)
                seconds = time.perf_counter() - t
                meta = json.loads((work / "meta.json").read_text())
                gens.append(
                    {
                        "generation": report.generation,
                        "operation": op,
                        "seconds": round(seconds, 3),
                        "db_bytes": db_bytes(meta, report.generation),
                        "all_bytes": db_bytes(meta, report.generation, only_db=False),
                        "parts": len(meta.get("db_parts") or [1]),
                        "added_passages": report.added.get("passages", 0),
                        "removed_passages": report.removed.get("passages", 0),
                    }
                )
                print(json.dumps(gens[-1]), file=sys.stderr)
        res["generations"] = gens
        res["lookups_after"] = lookups(work, args.repeat, args.number)
    res["load_avg_end"] = os.getloadavg()
    text = json.dumps(res, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
