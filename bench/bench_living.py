"""Benchmark: the cost of changing a living index against a full build.

Part ``musique`` (musique100 with the GPT-3.5 triples): build 1,800 passages,
insert the other 90 and compare time and bytes written with a full build of
all 1,890; delete those 90 again; update 20 passages with edited text.
Part ``scale``: insert the same 20 passages (spaCy OpenIE) into indexes of
about 2k passages (musique100), 6k (2wiki corpus) and a larger synthetic one
(2wiki passages with renamed entities), to show that an insert costs what the
insert holds, not what the index holds.

Models are loaded once and warmed up before timing (one builder per index
config); times are medians over ``--repeat`` runs of each change (each run
on a fresh copy of the index), wall clock, on whatever machine this runs on::

    .venv/bin/python bench/bench_living.py --part musique --json /tmp/living_musique.json
    .venv/bin/python bench/bench_living.py --part scale --synthetic 20000 --json /tmp/living_scale.json
    .venv/bin/python bench/bench_living.py --part musique --build 300 --insert 30   # a quick check

Example:
    >>> edit(Passage("a", "T", "One. Two."))[0].text
    'One. Two. (edited)'
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from hipporag.config import IndexConfig  # noqa: E402
from hipporag.types import Passage  # noqa: E402
from indexers.builder import IndexBuilder  # noqa: E402
from indexers.readers import read_corpus  # noqa: E402

OPENIE = "openie_gpt-3.5-turbo-1106.json"


def edit(p: Passage) -> list[Passage]:
    return [Passage(p.id, p.title, p.text + " (edited)", p.doc_id, p.metadata)]


def new_bytes(path: Path, generation: int) -> int:
    """Bytes of the files a generation wrote (shared files are not counted)."""
    d = path / "data" / f"g{generation:06d}"
    return (
        sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        + (path / "generations" / f"{generation:06d}.json").stat().st_size
    )


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def change(builder: IndexBuilder, op: str, base: Path, arg: Any, repeat: int) -> dict[str, Any]:
    """Median wall time of one change applied to fresh copies of ``base``."""
    times, report, work = [], None, None
    for i in range(repeat):
        work = base.parent / f"{base.name}-{op}-{i}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work, ignore=shutil.ignore_patterns("leases", "write.lock"))
        builder.timings = {}
        t, report = timed(getattr(builder, op), arg, work)
        times.append(t)
    assert report is not None and work is not None
    return {
        "seconds": statistics.median(times),
        "runs": [round(t, 3) for t in times],
        "bytes_written": new_bytes(work, report.generation) if report.committed else 0,
        "stages_s": {k: round(v, 3) for k, v in report.timings_s.items()},
        "added": report.added,
        "removed": report.removed,
        "work": work,
    }


def build(builder: IndexBuilder, passages: list[Passage], out: Path) -> dict[str, Any]:
    builder.timings = {}
    t, report = timed(builder.build, passages, out)
    return {
        "seconds": t,
        "bytes_written": new_bytes(out, report.generation),
        "passages": len(passages),
        "stages_s": {k: round(v, 3) for k, v in report.timings_s.items()},
    }


def warm(builder: IndexBuilder, sample: list[Passage]) -> None:
    builder.extractor.warm_up()
    builder.embedder.encode([p.content for p in sample[:8]])


def part_musique(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    passages, _ = read_corpus(args.data / "musique100" / "corpus.json")
    passages = passages[: args.build + args.insert]
    a, b = passages[: args.build], passages[args.build :]
    config = IndexConfig.from_dict(
        {"openie": {"kind": "hipporag", "path": str(args.data / "musique100" / OPENIE)}}
    )
    builder = IndexBuilder(config)
    warm(builder, passages)
    out: dict[str, Any] = {"build_a": build(builder, a, tmp / "a")}
    out["full_build"] = build(builder, passages, tmp / "full")
    ins = change(builder, "insert", tmp / "a", b, args.repeat)
    out["insert"] = {k: v for k, v in ins.items() if k != "work"}
    dele = change(builder, "delete", ins["work"], [p.id for p in b], args.repeat)
    out["delete"] = {k: v for k, v in dele.items() if k != "work"}
    ups = [q for p in a[: args.update] for q in edit(p)]
    upd = change(builder, "update", tmp / "a", ups, args.repeat)
    out["update"] = {k: v for k, v in upd.items() if k != "work"}
    full = out["full_build"]
    out["insert_vs_full"] = {
        "time_share": round(out["insert"]["seconds"] / full["seconds"], 4),
        "bytes_share": round(out["insert"]["bytes_written"] / full["bytes_written"], 4),
    }
    return out


def synthetic(passages: list[Passage], n: int) -> list[Passage]:
    """``n`` passages: copies of real ones with every capitalised word suffixed per copy."""
    out = []
    for i in range(n):
        p = passages[i % len(passages)]
        k = i // len(passages)
        if k == 0:
            out.append(p)
            continue
        words = [w + f"{k}x" if w[:1].isupper() else w for w in p.text.split()]
        out.append(Passage.from_text(f"{p.title} {k}", " ".join(words)))
    return out


def part_scale(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    mus, _ = read_corpus(args.data / "musique100" / "corpus.json")
    wiki, _ = read_corpus(args.data / "2wiki_corpus" / "corpus.json")
    ins = mus[-args.update :]
    sizes = {
        "musique": mus[: -args.update][: args.scale_cap],
        "2wiki": wiki[: args.scale_cap],
        "synthetic": synthetic(wiki, args.synthetic),
    }
    builder = IndexBuilder(IndexConfig())
    warm(builder, ins)
    out: dict[str, Any] = {}
    for name, ps in sizes.items():
        b = build(builder, ps, tmp / name)
        r = change(builder, "insert", tmp / name, ins, args.repeat)
        out[name] = {
            "passages": len(ps),
            "build_s": round(b["seconds"], 2),
            **{k: v for k, v in r.items() if k != "work"},
        }
    times = [v["seconds"] for v in out.values()]
    out["max_over_min"] = round(max(times) / min(times), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("musique", "scale", "all"), default="all")
    ap.add_argument("--build", type=int, default=1800, help="passages of the first build")
    ap.add_argument("--insert", type=int, default=90, help="passages inserted after it")
    ap.add_argument("--update", type=int, default=20, help="passages updated / inserted (scale)")
    ap.add_argument("--synthetic", type=int, default=20000, help="passages of the synthetic index")
    ap.add_argument("--scale-cap", type=int, default=10**9, help="cap the scale indexes' sizes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")
    res: dict[str, Any] = {"args": vars(args), "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-living-") as d:
        if args.part in ("musique", "all"):
            res["musique"] = part_musique(args, Path(d))
        if args.part in ("scale", "all"):
            res["scale"] = part_scale(args, Path(d))
    res["load_avg_end"] = os.getloadavg()
    text = json.dumps(res, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
