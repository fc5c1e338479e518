"""Benchmark: ``hipporag serve`` under closed-loop load, its memory, and a soak with writes.

In one run, on whatever machine this runs on:

1. the in-process rate: one thread calling ``HippoRAG.retrieve`` (hybrid,
   k = 5, query encoding included) over the questions for ``--seconds``;
2. for each ``--workers`` value, a real ``hipporag serve`` on 127.0.0.1 (a
   subprocess) and closed-loop HTTP clients (asyncio + httpx; each sends its
   next ``POST /v1/retrieve`` when the last one answered) at each
   ``--clients`` level: QPS, p50 / p95 / p99 latency, errors; then the RSS,
   PSS and USS of each worker process (the index's arrays are memory-mapped
   and shared, so PSS/USS tell what a second worker really adds);
3. with ``--soak SECONDS``: clients query while a writer inserts, updates and
   deletes documents every ``--write-every`` seconds (see ``bench/serve_soak.py``);
4. ``--write-sizes``: time from ``POST /v1/documents`` to its commit for
   small writes, beside the write's own extract + embed time.

Commands::

    .venv/bin/python bench/bench_serve.py --index /tmp/m100 --json /tmp/serve.json
    .venv/bin/python bench/bench_serve.py --index /tmp/m100 --workers 2 --clients 4 \\
        --soak 600 --json /tmp/soak.json
    .venv/bin/python bench/bench_serve.py --index DEMO --smoke      # a few requests

Example:
    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of ``values``."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load_questions(path: Path | None, index: str) -> list[str]:
    """Questions from a JSON list (``question`` fields or strings); else the index's titles."""
    if path is not None and path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return [q["question"] if isinstance(q, dict) else str(q) for q in data]
    from hipporag.index import Index

    titles = [t for t in Index.open(index).passage_titles if t]
    return [f"What is known about {t}?" for t in titles[:50]]


def inprocess_rate(index: str, questions: list[str], seconds: float, k: int, mode: str) -> dict:
    """Queries per second of one thread calling ``retrieve`` (models warmed up first)."""
    from pipelines.facade import HippoRAG

    rag = HippoRAG.open(index).warm_up()
    for q in questions[:3]:
        rag.retrieve(q, k=k, mode=mode)
    n, lat, t0 = 0, [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        rag.retrieve(questions[n % len(questions)], k=k, mode=mode)
        lat.append(time.perf_counter() - t)
        n += 1
    wall = time.perf_counter() - t0
    return {"queries": n, "qps": n / wall, "p50_ms": 1000 * percentile(lat, 50)}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``hipporag serve INDEX`` in a subprocess on a free 127.0.0.1 port (a context manager)."""

    def __init__(self, index: str, workers: int, threads: int = 4, extra: tuple = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        cmd = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "-q",
            "serve",
            index,
            "--port",
            str(self.port),
        ]
        cmd += ["--workers", str(workers), "--threads", str(threads), *extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        self.started = time.perf_counter()

    def wait_ready(self, timeout: float = 600.0) -> float:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise TimeoutError("server not ready")

    def worker_pids(self) -> list[int]:
        """The processes serving requests (uvicorn's workers, or the server itself)."""
        import psutil

        me = psutil.Process(self.proc.pid)
        kids = [p for p in me.children() if "spawn_main" in " ".join(p.cmdline())]
        return [p.pid for p in kids] or [me.pid]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of a process in MB (``/proc/PID/smaps_rollup``)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    mb = 1024.0
    return {
        "rss_mb": fields.get("Rss", 0) / mb,
        "pss_mb": fields.get("Pss", 0) / mb,
        "uss_mb": uss / mb,
    }


async def closed_loop(
    url: str, questions: list[str], clients: int, seconds: float, k: int, mode: str
) -> dict[str, Any]:
    """``clients`` concurrent loops of ``POST /v1/retrieve`` for ``seconds``."""
    import httpx

    lat: list[float] = []
    errors: dict[str, int] = {}
    generations: set[int] = set()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        stop = time.perf_counter() + seconds

        async def one(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                body = {"query": questions[n % len(questions)], "k": k, "mode": mode}
                t = time.perf_counter()
                try:
                    r = await http.post("/v1/retrieve", json=body)
                    if r.status_code == 200:
                        lat.append(time.perf_counter() - t)
                        generations.add(r.json()["generation"])
                    else:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                except httpx.HTTPError as err:
                    errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                n += clients

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": len(lat),
        "qps": len(lat) / wall,
        "p50_ms": 1000 * percentile(lat, 50),
        "p95_ms": 1000 * percentile(lat, 95),
        "p99_ms": 1000 * percentile(lat, 99),
        "errors": errors,
        "generations": sorted(generations),
    }


def write_latency(url: str, sizes: list[int]) -> list[dict[str, Any]]:
    """``POST /v1/documents`` of ``n`` new documents: wall time to commit vs the write's stages."""
    import httpx

    out = []
    for n in sizes:
        tag = f"w{n}x{random.randrange(10**6)}"
        docs = [
            {
                "id": f"bench-{tag}-{i}",
                "title": f"Benchmark town {tag} {i}",
                "text": f"Benchmark town {tag} {i} lies on the river Ossel and was founded in {1500 + i}.",
            }
            for i in range(n)
        ]
        t = time.perf_counter()
        r = httpx.post(url + "/v1/documents", json={"documents": docs}, timeout=600)
        wall = time.perf_counter() - t
        r.raise_for_status()
        rep = r.json()
        stages = rep.get("timings_s", {})
        own = sum(v for s, v in stages.items() if s in ("openie", "embedding"))
        out.append(
            {"documents": n, "wall_s": wall, "extract_embed_s": own, "overhead_s": wall - own}
            | {"stages_s": stages, "generation": rep.get("generation")}
        )
        httpx.request(
            "DELETE", url + "/v1/documents", json={"ids": [d["id"] for d in docs]}, timeout=600
        )
    return out


def run_server_part(args: argparse.Namespace, questions: list[str], workers: int) -> dict:
    """Load levels and memory of one ``--workers`` setting."""
    res: dict[str, Any] = {"workers": workers, "levels": []}
    with Server(args.index, workers, args.threads) as srv:
        res["ready_s"] = srv.wait_ready()
        pids = srv.worker_pids()
        asyncio.run(
            closed_loop(srv.url, questions, max(2, workers), args.warmup, args.k, args.mode)
        )
        for c in args.clients:
            level = asyncio.run(closed_loop(srv.url, questions, c, args.seconds, args.k, args.mode))
            res["levels"].append(level)
            print(json.dumps({"workers": workers} | level), flush=True)
        res["memory"] = [memory(p) | {"pid": p} for p in srv.worker_pids()]
        res["worker_restarts"] = len(set(srv.worker_pids()) - set(pids))
        if args.write_sizes and workers == max(args.workers):
            res["writes"] = write_latency(srv.url, args.write_sizes)
    return res


def summary(report: dict[str, Any]) -> list[str]:
    """Markdown tables of a report, with the targets checked."""
    ip = report["inprocess"]["qps"]
    lines = [f"in-process retrieve, one thread: {ip:.2f} q/s", ""]
    lines += [
        "| workers | clients | QPS | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for part in report["server"]:
        for lv in part["levels"]:
            err = sum(lv["errors"].values())
            lines.append(
                f"| {part['workers']} | {lv['clients']} | {lv['qps']:.2f} | {lv['p50_ms']:.0f} | "
                f"{lv['p95_ms']:.0f} | {lv['p99_ms']:.0f} | {err} |"
            )
    lines += ["", "| workers | worker RSS MB | PSS MB | USS MB |", "| --- | --- | --- | --- |"]
    for part in report["server"]:
        m = part["memory"]
        cells = [" + ".join(f"{x[f]:.0f}" for x in m) for f in ("rss_mb", "pss_mb", "uss_mb")]
        lines.append(f"| {part['workers']} | {' | '.join(cells)} |")
    for part in report["server"]:
        for w in part.get("writes", []):
            lines.append(
                f"write of {w['documents']} documents: {w['wall_s']:.2f} s to commit, of which "
                f"extract + embed {w['extract_embed_s']:.2f} s (rest {w['overhead_s']:.2f} s)"
            )
    for part in report["server"]:
        lines.append(f"workers {part['workers']}: {part['worker_restarts']} worker restarts")
    lines += [f"target: {t}" for t in report.get("targets", [])]
    return lines


def targets(report: dict[str, Any]) -> list[str]:
    """The issue's targets, each with its measured value and met / not met."""
    out = []
    ip = report["inprocess"]["qps"]
    by = {p["workers"]: p for p in report["server"]}
    if 2 in by:
        best = max(lv["qps"] for lv in by[2]["levels"])
        out.append(
            f"2 workers {best:.2f} q/s >= 0.8 x 2 x {ip:.2f} = {1.6 * ip:.2f}: {'met' if best >= 1.6 * ip else 'NOT met'}"
        )
    for w, p in by.items():
        for lv in p["levels"]:
            if lv["clients"] == 16:
                ok = lv["p99_ms"] <= 3 * lv["p50_ms"]
                out.append(
                    f"{w} worker(s), 16 clients: p99 {lv['p99_ms']:.0f} ms <= 3 x p50 {lv['p50_ms']:.0f} ms: {'met' if ok else 'NOT met'}"
                )
    if 1 in by and 2 in by:
        one = sum(m["pss_mb"] for m in by[1]["memory"])
        two = sum(m["pss_mb"] for m in by[2]["memory"])
        rss2 = [m["rss_mb"] for m in by[2]["memory"]]
        out.append(
            f"second worker adds {two - one:.0f} MB (PSS sum {two:.0f} vs {one:.0f}; RSS each {', '.join(f'{r:.0f}' for r in rss2)}) <= 150 MB: {'met' if two - one <= 150 else 'NOT met'}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", required=True, help="index directory (musique100: /tmp/m100)")
    p.add_argument("--questions", type=Path, default=DATA / "musique100" / "questions.json")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seconds", type=float, default=20.0, help="per load level")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=4, help="serve --threads")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--mode", default="hybrid")
    p.add_argument("--write-sizes", type=int, nargs="*", default=[1, 5, 20])
    p.add_argument("--soak", type=float, default=0.0, help="soak seconds (0: none)")
    p.add_argument("--soak-clients", type=int, default=4)
    p.add_argument("--write-every", type=float, default=3.0)
    p.add_argument("--smoke", action="store_true", help="a few requests only (tests)")
    p.add_argument("--json", type=Path, help="write the report here")
    args = p.parse_args(argv)
    if args.smoke:
        args.clients, args.workers, args.seconds, args.warmup = [1, 4], [1], 1.0, 0.5
        args.write_sizes = [1]
    questions = load_questions(args.questions, args.index)
    random.Random(0).shuffle(questions)
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    report["load_before"] = os.getloadavg()
    report["inprocess"] = inprocess_rate(args.index, questions, args.seconds, args.k, args.mode)
    print(json.dumps({"inprocess": report["inprocess"]}), flush=True)
    report["server"] = []
    for w in args.workers:  # the report so far is written after each part
        report["server"].append(run_server_part(args, questions, w))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
    report["targets"] = targets(report)
    print("\n".join(summary(report)), flush=True)
    if args.soak > 0:
        from bench.serve_soak import soak

        report["soak"] = soak(args, questions)
    report["load_after"] = os.getloadavg()
    if "soak" in report:
        print(json.dumps(report["soak"]["summary"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
