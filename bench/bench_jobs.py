"""Benchmark index jobs: in-process vs Ray, spaCy OpenIE + MiniLM embedding.

Every run is a fresh job (no checkpoint reuse) in its own subprocess, so model
loading, Ray start-up and memory are measured as a user would see them. The
parent samples the memory of the child's whole process tree (driver, Ray's
own processes and its workers) every 0.5 s: RSS summed over processes (shared
pages counted once per process, an upper bound) and PSS (shared pages split).

Run (writes a JSON file with every run and prints a Markdown table)::

    .venv/bin/python bench/bench_jobs.py --limit 2000 --repeats 3 --workers 2 \\
        --json bench/results_jobs.json

Example:
    >>> summarize([{"wall_s": 2.0}, {"wall_s": 4.0}, {"wall_s": 3.0}], "wall_s")
    3.0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "2wiki_corpus" / "corpus.json"


# -- the child: one job --------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from pipelines.jobs import JobSpec, run_job

    work = Path(args.workdir)
    spec = JobSpec.from_dict(
        {
            "inputs": [str(work / "corpus.json")],
            "output": str(work / f"index-{args.variant}"),
            "executor": {
                "kind": args.variant,
                "workers": args.workers,
                "batch_size": args.batch_size,
                "embed_batch_size": args.embed_batch_size,
            },
        }
    )
    batches: list[dict[str, Any]] = []
    t = time.perf_counter()
    report = run_job(
        spec,
        fresh=True,
        on_batch=lambda e: batches.append({"stage": e.stage, "s": e.seconds, "pid": e.pid}),
    )
    wall = time.perf_counter() - t
    out = {
        "variant": args.variant,
        "workers": report.workers,
        "wall_s": wall,
        "timings_s": report.build.timings_s,
        "startup_s": report.startup_s,
        "stage_wall_s": {k: v.seconds for k, v in report.batches.items()},
        "batches": {k: v.computed for k, v in report.batches.items()},
        "compute_s": {
            st: sum(b["s"] for b in batches if b["stage"] == st) for st in report.batches
        },
        "pids": {st: len({b["pid"] for b in batches if b["stage"] == st}) for st in report.batches},
        "passages": report.counts["passages"],
        "texts_embedded": report.counts["texts_embedded"],
        "entities": report.counts["entities"],
        "facts": report.counts["facts"],
    }
    Path(args.result).write_text(json.dumps(out, indent=2))


# -- the parent: spawn, sample memory, summarise ------------------------------------------------
class TreeSampler(threading.Thread):
    """Samples summed RSS and PSS of a process and all its descendants."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss = self.peak_pss = 0
        self.peak_procs = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = pss = 0
            for p in procs:
                try:
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, len(procs))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_one(args: argparse.Namespace, variant: str, work: Path) -> dict[str, Any]:
    result = work / f"result-{variant}.json"
    cmd = [
        sys.executable, __file__, "_child", "--variant", variant, "--workdir", str(work),
        "--result", str(result), "--workers", str(args.workers),
        "--batch-size", str(args.batch_size), "--embed-batch-size", str(args.embed_batch_size),
    ]  # fmt: skip
    env = {**os.environ, "HIPPORAG_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false"}
    load0 = os.getloadavg()[0]  # other work on the machine skews the timings
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{variant} run failed:\n{err[-4000:]}")
    out = json.loads(result.read_text())
    out.update(peak_rss_mb=sampler.peak_rss / 1e6, peak_pss_mb=sampler.peak_pss / 1e6,
               peak_processes=sampler.peak_procs, load_before=load0,
               load_after=os.getloadavg()[0])  # fmt: skip
    return out


def summarize(runs: list[dict[str, Any]], key: str) -> float:
    """Median of ``key`` over runs (``a.b`` reaches into nested dicts)."""
    vals = []
    for r in runs:
        v: Any = r
        for part in key.split("."):
            v = v[part]
        vals.append(float(v))
    return statistics.median(vals)


def derive(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians of the figures in the report, per variant."""
    m = {k: summarize(runs, k) for k in ("wall_s", "startup_s", "peak_rss_mb", "peak_pss_mb")}
    r0 = runs[0]
    n, texts = r0["passages"], r0["texts_embedded"]
    for st in ("openie", "embedding"):
        m[f"{st}_wall_s"] = summarize(runs, f"stage_wall_s.{st}")
        m[f"{st}_compute_s"] = summarize(runs, f"compute_s.{st}")
    m["passages"], m["texts"] = n, texts
    m["passages_per_s"] = n / m["wall_s"]
    m["openie_passages_per_s"] = n / m["openie_wall_s"]
    m["embed_texts_per_s"] = texts / m["embedding_wall_s"]
    # per worker: work done per second of a worker's own compute time
    m["worker_openie_passages_per_s"] = n / m["openie_compute_s"]
    m["worker_embed_texts_per_s"] = texts / m["embedding_compute_s"]
    m["serial_s"] = m["wall_s"] - m["openie_wall_s"] - m["embedding_wall_s"] - m["startup_s"]
    # stage time not explained by compute spread over the workers: actor start-up
    # (imports, model loads) and scheduling; a fixed cost per job
    w = r0["workers"]
    m["workers"] = w
    m["stage_overhead_s"] = sum(
        max(0.0, m[f"{st}_wall_s"] - m[f"{st}_compute_s"] / w) for st in ("openie", "embedding")
    )
    return m


def extrapolate(m: dict[str, float], workers: int, n_passages: int) -> float:
    """Seconds for ``n_passages`` on ``workers`` workers at the measured per-worker rates.

    Fixed costs (Ray and actor start-up) stay as measured; driver-side work and
    compute scale linearly with the corpus; compute divides over the workers.
    """
    scale = n_passages / m["passages"]
    parallel = (m["openie_compute_s"] + m["embedding_compute_s"]) * scale / workers
    fixed = m["startup_s"] + m["stage_overhead_s"]
    return fixed + m["serial_s"] * scale + parallel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("_child")
    c.add_argument("--variant", required=True)
    c.add_argument("--workdir", required=True)
    c.add_argument("--result", required=True)
    for p in (ap, c):
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--embed-batch-size", type=int, default=256)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="first N passages (0 = all)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--variants", default="local,ray")
    ap.add_argument("--json", type=Path, help="write every run and the medians here")
    args = ap.parse_args()
    if args.cmd == "_child":
        child(args)
        return
    records = json.loads(args.corpus.read_text(encoding="utf-8"))
    if args.limit:
        records = records[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    (work / "corpus.json").write_text(json.dumps(records), encoding="utf-8")
    variants = args.variants.split(",")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for rep in range(args.repeats):
        for v in variants:
            r = run_one(args, v, work)
            runs[v].append(r)
            print(f"[{rep + 1}/{args.repeats}] {v}: {r['wall_s']:.1f}s "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB, load {r['load_before']:.1f}"
                  f"->{r['load_after']:.1f}", file=sys.stderr, flush=True)  # fmt: skip
    med = {v: derive(rs) for v, rs in runs.items()}
    full = 6119
    print(f"\n{len(records)} passages, {args.repeats} repeat(s), medians\n")
    print("| figure | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    rows = [
        ("wall time (s)", "wall_s", ".1f"),
        ("passages/s end to end", "passages_per_s", ".1f"),
        ("Ray start-up (s)", "startup_s", ".1f"),
        ("OpenIE stage (s)", "openie_wall_s", ".1f"),
        ("OpenIE passages/s", "openie_passages_per_s", ".1f"),
        ("embedding stage (s)", "embedding_wall_s", ".1f"),
        ("embedding texts/s", "embed_texts_per_s", ".1f"),
        ("per worker: OpenIE passages/s", "worker_openie_passages_per_s", ".1f"),
        ("per worker: embedding texts/s", "worker_embed_texts_per_s", ".1f"),
        ("driver-side serial (s)", "serial_s", ".1f"),
        ("stage overhead: actor start, scheduling (s)", "stage_overhead_s", ".1f"),
        ("peak RSS, process tree (MB)", "peak_rss_mb", ".0f"),
        ("peak PSS, process tree (MB)", "peak_pss_mb", ".0f"),
    ]
    for label, key, fmt in rows:
        print(f"| {label} | " + " | ".join(format(med[v][key], fmt) for v in variants) + " |")
    if "ray" in med:
        print(f"\nextrapolated to {full} passages with the Ray per-worker rates:")
        for w in (1, 2, 4, 8, 16):
            print(f"  {w:>2} workers: {extrapolate(med['ray'], w, full):7.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "medians": med}, indent=2))


if __name__ == "__main__":
    main()
