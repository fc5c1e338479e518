"""Benchmark: the reader on one core: resident memory after open + warm-up, and query latency.

For each query backend (a fresh subprocess each, pinned to one core with
``sched_setaffinity``, torch and onnxruntime limited to one thread) it opens
the index with ``HippoRAG.open(index, query_backend=B, query_device="cpu")``,
warms it up, reads VmRSS, then runs every question of a MuSiQue-style file
once as a warm-up pass and once timed, and prints one JSON line per backend:
``rss_after_open_warm_mb``, ``retrieve_p50_ms`` / ``p95`` (query encoding
included), ``encode_p50_ms`` (the query encoder alone); recall comes from ``hipporag eval``::

    python bench/bench_reader.py --index /tmp/m100 --questions musique100/questions.json

Example:
    >>> percentile([3.0, 1.0, 2.0], 50)
    2.0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(index: str, questions: str, backend: str) -> dict[str, Any]:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    from pipelines.facade import HippoRAG

    qs = json.loads(Path(questions).read_text(encoding="utf-8"))
    rss0 = _rss_mb()
    t = time.perf_counter()
    rag = HippoRAG.open(index, query_backend=backend, query_device="cpu").warm_up()
    open_s = time.perf_counter() - t
    rss_warm = _rss_mb()
    emb = rag.retriever.embedder
    texts = [q["question"] for q in qs]
    for text in texts:
        rag.retrieve(text, k=5)
    lat, enc = [], []
    for text in texts:
        t = time.perf_counter()
        emb.encode_query(text)
        enc.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        res = rag.retrieve(text, k=5)
        lat.append((time.perf_counter() - t) * 1000)
        assert res.hits
    ran = emb.to_dict()
    return {
        "query_backend": backend,
        "ran": {k: ran.get(k) for k in ("backend", "device", "dtype")},
        "rss_before_open_mb": round(rss0, 1),
        "rss_after_open_warm_mb": round(rss_warm, 1),
        "rss_after_queries_mb": round(_rss_mb(), 1),
        "open_warm_s": round(open_s, 2),
        "retrieve_p50_ms": round(percentile(lat, 50), 2),
        "retrieve_p95_ms": round(percentile(lat, 95), 2),
        "encode_p50_ms": round(percentile(enc, 50), 2),
        "questions": len(texts),
        "loadavg_1m": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Reader memory and one-core latency.")
    parser.add_argument("--index", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.index, args.questions, args.child)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HIPPORAG_PROGRESS": "0"}
    for b in args.backends:
        cmd = [sys.executable, __file__, "--index", args.index, "--questions", args.questions]
        res = subprocess.run(
            [*cmd, "--child", b], capture_output=True, text=True, env=env, check=False
        )
        if res.returncode != 0:
            print(json.dumps({"query_backend": b, "error": res.stderr[-2000:]}))
            continue
        print(res.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
