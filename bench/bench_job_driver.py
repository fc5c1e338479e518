"""What the driver of a Ray index job pays per embedded text, apart from the GPUs.

Once the embedding is spread over several GPUs, every vector still goes
through the driver: it arrives from an actor through Ray's object store (the
``.npy`` bytes of one batch), is checkpointed (atomic write + fsync), is read
back and decoded, and is put into the ``[n, dim]`` matrix in text order. This
script measures those steps on the CPU, with random unit vectors, so the
driver's share of a GPU job can be estimated without a GPU:

* ``checkpoint``: :class:`pipelines.jobs.checkpoint.CheckpointStore` ``put`` of
  every batch, then ``read`` + ``decode_vectors`` + ``assemble_vectors``, as
  :class:`pipelines.jobs.stages.StageRunner` does;
* ``object_store`` (with ``--ray``): a local Ray instance with one actor that
  returns the same bytes per batch through ``map_batches``, consumed with
  ``iter_rows`` as :class:`pipelines.jobs.ray_exec.RayExecutor` does (the
  actor's own work is a ``np.save`` of a ready matrix).

Run::

    python bench/bench_job_driver.py --texts 200000 --batch 1024 --ray

Example:
    >>> r = measure_checkpoint(2048, 512, 384)
    >>> r["texts"], r["mb"] > 3
    (2048, True)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _npy(n: int, dim: int, seed: int) -> bytes:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    buf = io.BytesIO()
    np.save(buf, v, allow_pickle=False)
    return buf.getvalue()


def measure_checkpoint(texts: int, batch: int, dim: int) -> dict[str, Any]:
    """Seconds for the driver's checkpoint path of ``texts`` vectors in batches of ``batch``."""
    from pipelines.jobs.checkpoint import CheckpointStore
    from pipelines.jobs.stages import assemble_vectors
    from pipelines.jobs.workers import Batch, decode_vectors

    sizes = [min(batch, texts - s) for s in range(0, texts, batch)]
    blobs = [_npy(n, dim, i) for i, n in enumerate(sizes)]
    plan, start = [], 0
    for i, n in enumerate(sizes):
        plan.append(Batch(f"k{i:06d}", tuple(range(start, start + n)), ""))
        start += n
    with tempfile.TemporaryDirectory(prefix="bench-driver-") as tmp:
        store = CheckpointStore(Path(tmp) / "ck")
        store.open("fp", {}, clear=True)
        ns = store.namespace("embedding", {"bench": True})
        t = time.perf_counter()
        for b, data in zip(plan, blobs, strict=True):
            ns.put(b.key, data)
        put_s = time.perf_counter() - t
        t = time.perf_counter()
        parts = [decode_vectors(ns.read(b.key) or b"", len(b.rows)) for b in plan]
        mat = assemble_vectors(plan, parts, texts)  # type: ignore[arg-type]
        load_s = time.perf_counter() - t
        store.close()
    mb = sum(len(b) for b in blobs) / 1e6
    return {
        "texts": int(mat.shape[0]),
        "batches": len(plan),
        "mb": round(mb, 1),
        "put_s": round(put_s, 3),
        "read_decode_assemble_s": round(load_s, 3),
        "us_per_text": round((put_s + load_s) / texts * 1e6, 2),
    }


class _Echo:
    """A Ray Data actor that returns a ready ``.npy`` blob of the batch's size."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.mat = np.zeros((4096, dim), np.float32)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out = []
        for n in batch["n"]:
            buf = io.BytesIO()
            np.save(buf, self.mat[: int(n)], allow_pickle=False)
            out.append(buf.getvalue())
        return {"key": [str(k) for k in batch["key"]], "data": out}


def measure_object_store(texts: int, batch: int, dim: int) -> dict[str, Any]:
    """Seconds to bring ``texts`` vectors' bytes to the driver through a Ray actor pool."""
    import ray

    os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="rbd"))
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        start_s = time.perf_counter() - t
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [
            {"key": i, "n": min(batch, texts - s)} for i, s in enumerate(range(0, texts, batch))
        ]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            _Echo,
            fn_constructor_kwargs={"dim": dim},
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=1,
        )
        t = time.perf_counter()
        got, first_s = 0, 0.0
        for r in ds.iter_rows():
            got += len(bytes(r["data"]))
            first_s = first_s or time.perf_counter() - t  # actor start-up and first batch
        run_s = time.perf_counter() - t
    finally:
        ray.shutdown()
    return {
        "ray_start_s": round(start_s, 2),
        "mb": round(got / 1e6, 1),
        "first_batch_s": round(first_s, 3),
        "transfer_s": round(run_s, 3),
        "mb_per_s_after_first": round(got / 1e6 / max(run_s - first_s, 1e-9), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--ray", action="store_true", help="also measure the object store path")
    args = ap.parse_args()
    out: dict[str, Any] = {"load_1m": os.getloadavg()[0]}
    out["checkpoint"] = measure_checkpoint(args.texts, args.batch, args.dim)
    if args.ray:
        out["object_store"] = measure_object_store(args.texts, args.batch, args.dim)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
