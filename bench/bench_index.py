"""Benchmark: build the musique100 index end to end, per OpenIE source and embedding backend.

Each variant ``OPENIE/BACKEND`` runs in a fresh subprocess, so its peak RSS
(``ru_maxrss``) and import costs are its own:

* ``OPENIE`` is ``gpt35`` (HippoRAG's precomputed GPT-3.5 triples) or
  ``spacy`` (the built-in extractor);
* ``BACKEND`` is ``embedding.backend``: ``torch``, ``onnx`` or ``onnx-int8``
  (the ONNX export, and its int8 copy, are made once before timing starts; the
  one-off export time is reported separately). The builder gets its embedder
  from the config through :func:`hipporag.embedders.make_embedder`, as
  ``hipporag index`` does, and each run reports the backend meta.json records.
  ``--threads N`` limits every run to N cores (``sched_setaffinity``).

Variants run round-robin ``--repeat`` times (so load on a shared machine hits
all of them alike) and the report gives medians of wall time per stage
(``IndexBuilder.timings``: openie, graph, embedding, write), process wall time
including imports, peak RSS, index size and the index counts. ``--profile``
adds a cProfile of the non-embedding work of one extra ``gpt35/onnx`` build::

    .venv/bin/python bench/bench_index.py --repeat 3 --profile --json /tmp/bench_index.json

Example:
    >>> parse_variant("spacy/onnx")
    ('spacy', 'onnx')
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HIPPORAG_BENCH_DATA", ROOT.parent / "shared" / "data")) / "musique100"
OPENIE = {
    "gpt35": {"kind": "hipporag", "path": str(DATA / "openie_gpt-3.5-turbo-1106.json")},
    "spacy": {"kind": "spacy"},
}
BACKENDS = ("torch", "onnx", "onnx-int8")
COUNT_KEYS = (
    "passages",
    "entities",
    "facts",
    "fact_provenance",
    "mentions",
    "passages_without_triples",
    "skipped_triples",
    "texts_embedded",
)


def parse_variant(text: str) -> tuple[str, str]:
    """``"gpt35/onnx"`` -> ``("gpt35", "onnx")``; raises ValueError on unknown parts."""
    openie, _, backend = text.partition("/")
    if openie not in OPENIE or backend not in BACKENDS:
        raise ValueError(f"unknown variant {text!r}: use {sorted(OPENIE)}/{list(BACKENDS)}")
    return openie, backend


def child(variant: str, out: Path, cache: str | None, profile: bool) -> dict[str, Any]:
    """Build one index in this process and return its measurements."""
    import resource

    sys.path.insert(0, str(ROOT))
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    openie, backend = parse_variant(variant)
    if cache:
        os.environ["HIPPORAG_ONNX_CACHE"] = cache
    cfg = IndexConfig.from_dict(
        {"openie": OPENIE[openie], "embedding": {"backend": backend, "device": "cpu"}}
    )
    passages, stats = read_corpus(DATA / "corpus.json")
    builder = IndexBuilder(cfg)
    cpu: dict[str, float] = {}
    plain_embed = builder.embed

    def timed_embed(texts: Any) -> Any:
        c = time.process_time()  # all threads of this process
        out = plain_embed(texts)
        cpu["embedding"] = time.process_time() - c
        return out

    builder.embed = timed_embed  # type: ignore[method-assign]
    t = time.perf_counter()
    if profile:
        return _profiled(builder, passages, out)
    report = builder.build(passages, out, read_stats=stats.to_dict())
    build_s = time.perf_counter() - t
    meta = json.loads((report.path / "meta.json").read_text())
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "variant": variant,
        "timings": {k: round(v, 2) for k, v in builder.timings.items()},
        "build_s": round(build_s, 2),
        "process_s": round(time.perf_counter() - T0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
        "embedding_cpu_s": round(cpu.get("embedding", 0.0), 1),
        "index_mb": round(
            sum(f.stat().st_size for f in report.path.rglob("*") if f.is_file()) / 2**20, 1
        ),
        "embedder": {
            k: meta["components"]["embedder"].get(k) for k in ("backend", "device", "dtype")
        },
        "counts": {k: meta["counts"][k] for k in COUNT_KEYS}
        | {f"edges_{k}": v for k, v in meta["counts"]["edges"].items()},
    }


def _profiled(builder: Any, passages: list[Any], out: Path) -> dict[str, Any]:
    """Profile graph assembly and writing; the embedding stage is timed, not profiled."""
    import cProfile
    import io
    import pstats

    from indexers.graph import assemble_kg

    passages = builder.prepare(passages)
    extractions = builder.extract(passages)
    prof = cProfile.Profile()
    prof.enable()
    kg = assemble_kg(passages, extractions)
    prof.disable()
    table = builder.texts_to_embed(passages, kg)
    vectors = builder.embed(table.unique)
    prof.enable()
    builder.write(out, passages, kg, vectors[table.rows], n_embedded=len(table.unique))
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
    return {"variant": "profile", "timings": builder.timings, "profile": buf.getvalue()}


def run_child(
    variant: str, out: Path, cache: str | None, profile: bool = False, threads: int | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", variant, "--out", str(out)]
    cmd += ["--threads", str(threads)] if threads else []
    cmd += ["--onnx-cache", cache] if cache else []
    cmd += ["--profile"] if profile else []
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HIPPORAG_PROGRESS": "0",
        "TOKENIZERS_PARALLELISM": "false",
    }
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def prepare_onnx(cache: str | None) -> float:
    """Export the model and its int8 copy (if not cached) in a subprocess; returns wall seconds."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "from hipporag.embedders.onnx_export import ensure_artifact; "
        f"ensure_artifact('all-MiniLM-L6-v2', {cache!r}, quantize=True)"
    )
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return time.perf_counter() - t


def summarise(runs: list[dict[str, Any]], variants: list[str]) -> str:
    """Markdown tables: medians per variant, then counts."""
    med = statistics.median
    lines = [
        "| variant | runs | openie s | graph s | embedding s | embedding CPU s | write s | "
        "build s | process s | process CPU s | peak RSS MB | index MB |",
        "|---|---:|" + "---:|" * 10,
    ]
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        if not rs:
            continue
        t = {
            k: med(r["timings"].get(k, 0.0) for r in rs)
            for k in ("openie", "graph", "embedding", "write")
        }
        cpu = {k: med(r.get(k, float("nan")) for r in rs) for k in ("embedding_cpu_s", "cpu_s")}
        lines.append(
            f"| {v} | {len(rs)} | {t['openie']:.1f} | {t['graph']:.1f} | {t['embedding']:.1f} "
            f"| {cpu['embedding_cpu_s']:.1f} | {t['write']:.1f} | {med(r['build_s'] for r in rs):.1f} "
            f"| {med(r['process_s'] for r in rs):.1f} | {cpu['cpu_s']:.1f} "
            f"| {med(r['peak_rss_mb'] for r in rs):.0f} | {rs[0]['index_mb']:.0f} |"
        )
    first = {r["variant"].split("/")[0]: r["counts"] for r in runs}
    if first:
        keys = list(next(iter(first.values())))
        lines += ["", "| count | " + " | ".join(first) + " |", "|---|" + "---:|" * len(first)]
        lines += [
            f"| {k} | " + " | ".join(f"{c[k]:,}" for c in first.values()) + " |" for k in keys
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="musique100 index build benchmark.")
    parser.add_argument(
        "--variants", nargs="+", default=["gpt35/torch", "gpt35/onnx", "spacy/torch", "spacy/onnx"]
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/bench_index")
    parser.add_argument("--onnx-cache", default=None, help="export cache (default: user cache)")
    parser.add_argument("--json", default=None, help="also write all runs here")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="cores per run")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    if args.child:
        print(json.dumps(child(args.child, Path(args.out), args.onnx_cache, args.profile)))
        return
    for v in args.variants:
        parse_variant(v)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if any("/onnx" in v for v in args.variants):
        print(
            f"onnx export (one-off, skipped when cached): {prepare_onnx(args.onnx_cache):.1f}s",
            flush=True,
        )
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for v in args.variants:
            r = run_child(v, work / v.replace("/", "-"), args.onnx_cache, threads=args.threads)
            r["load"] = os.getloadavg()[0]
            runs.append(r)
            print(f"[{rep}] {json.dumps(r)}", flush=True)
    print(summarise(runs, args.variants))
    if args.profile:
        prof = run_child("gpt35/onnx", work / "profile", args.onnx_cache, profile=True)
        print(json.dumps(prof["timings"]))
        print(prof["profile"])
        runs.append(prof)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
