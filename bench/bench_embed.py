"""Benchmark: the embedder component on one device (CPU or GPU), from a self-contained bundle.

Two steps, so the device run needs only torch, sentence-transformers and this
package's ``hipporag`` core (no DuckDB, spaCy or index code):

``bundle --out DIR``
    writes ``texts.json`` (the distinct texts a musique100 index with the
    GPT-3.5 triples embeds: passages, entity names, facts), a float16
    safetensors copy of the model (``model/``), and reference vectors of a
    seeded sample made here on the CPU in float32 with the original weights
    (``ref_idx.npy``, ``ref_vecs.npy``).

``run --bundle DIR --device cuda``
    loads the copy through :func:`hipporag.embedders.make_embedder` on the
    device in float32 and float16 and prints one JSON object: cosine of the
    sample against the CPU reference (min, median), the single-query path
    (``encode_query``) on the device and its agreement with the batch path,
    fp16-vs-fp32 cosine error over all texts, and throughput (texts/s,
    median of ``--repeat`` full passes over all texts; ``--batch-sizes``
    adds a sweep of the batch size).

Example:
    >>> sample_indices(10, 3, seed=0).tolist()
    [5, 6, 9]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HIPPORAG_BENCH_DATA", ROOT.parent / "shared" / "data")) / "musique100"
QUERIES = [
    "Who founded the company that made the Walkman?",
    "When was the composer of The Magic Flute born?",
    "What is the capital of the country where the Nile ends?",
]


def sample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """A sorted seeded sample of ``k`` of ``n`` indices."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


def musique_texts() -> list[str]:
    """The distinct texts the musique100 index (GPT-3.5 triples) embeds, in build order."""
    sys.path.insert(0, str(ROOT))
    from indexers.builder import IndexBuilder
    from indexers.graph import assemble_kg
    from indexers.openie_import import HippoRAGOpenIEImporter
    from indexers.readers import read_corpus

    passages, _ = read_corpus(DATA / "corpus.json")
    ie = HippoRAGOpenIEImporter(DATA / "openie_gpt-3.5-turbo-1106.json")
    kg = assemble_kg(passages, ie.extract(passages))
    return IndexBuilder.texts_to_embed(passages, kg).unique


def make_bundle(out: Path, n_ref: int) -> None:
    sys.path.insert(0, str(ROOT))
    import torch
    from safetensors.torch import load_file, save_file

    from hipporag.config import EmbeddingConfig
    from hipporag.embedders import make_embedder
    from hipporag.embedders.loading import resolve_embedding_model

    out.mkdir(parents=True, exist_ok=True)
    texts = musique_texts()
    (out / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    src = Path(resolve_embedding_model("all-MiniLM-L6-v2"))
    dst = out / "model"
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.safetensors"))
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(torch.float16) for k, v in weights.items()}, str(dst / "model.safetensors"))
    idx = sample_indices(len(texts), n_ref)
    emb = make_embedder(EmbeddingConfig(backend="torch", device="cpu"))
    ref = emb.encode([texts[i] for i in idx])
    np.save(out / "ref_idx.npy", idx)
    np.save(out / "ref_vecs.npy", ref)
    q = np.stack([emb.encode_query(t) for t in QUERIES])
    np.save(out / "ref_queries.npy", q)
    print(json.dumps({"texts": len(texts), "ref": len(idx), "out": str(out)}))


def run(bundle: Path, device: str, repeat: int, sweep: list[int]) -> dict[str, Any]:
    import torch

    from hipporag.config import EmbeddingConfig
    from hipporag.embedders import make_embedder

    texts = json.loads((bundle / "texts.json").read_text(encoding="utf-8"))
    idx, ref = np.load(bundle / "ref_idx.npy"), np.load(bundle / "ref_vecs.npy")
    ref_q = np.load(bundle / "ref_queries.npy")
    model = str(bundle / "model")
    out: dict[str, Any] = {
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "texts": len(texts),
        "ref_sample": len(idx),
    }
    order = np.argsort([len(t) for t in texts], kind="stable")
    sorted_texts = [texts[i] for i in order]
    full: dict[str, np.ndarray] = {}
    for dtype in ("float32", "float16"):
        cfg = EmbeddingConfig(model=model, backend="torch", device=device, dtype=dtype)
        t = time.perf_counter()
        emb = make_embedder(cfg)
        emb.warm_up()
        load_s = time.perf_counter() - t
        emb.encode(sorted_texts[:2048])  # warm kernels
        times = []
        for _ in range(repeat):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t = time.perf_counter()
            vecs_sorted = emb.encode(sorted_texts)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        vecs = np.empty_like(vecs_sorted)
        vecs[order] = vecs_sorted
        full[dtype] = vecs
        cos_ref = (vecs[idx] * ref).sum(1)
        q_times, q_vecs = [], []
        for _ in range(5):
            for text in QUERIES:
                t = time.perf_counter()
                q_vecs.append(emb.encode_query(text))
                q_times.append(time.perf_counter() - t)
        qv = np.stack(q_vecs[-len(QUERIES) :])
        batch_q = emb.encode(QUERIES, is_query=True)
        med = statistics.median(times)
        out[dtype] = {
            "embedder": {k: emb.to_dict()[k] for k in ("backend", "device", "dtype", "batch_size")},
            "load_s": round(load_s, 2),
            "encode_all_s": [round(x, 3) for x in times],
            "encode_all_median_s": round(med, 3),
            "texts_per_s": round(len(texts) / med),
            "cos_vs_cpu_ref_min": round(float(cos_ref.min()), 6),
            "cos_vs_cpu_ref_median": round(float(np.median(cos_ref)), 6),
            "query_fast_path_ms_median": round(statistics.median(q_times) * 1000, 2),
            "query_cos_vs_cpu_ref_min": round(float((qv * ref_q).sum(1).min()), 6),
            "query_cos_vs_batch_min": round(float((qv * batch_q).sum(1).min()), 6),
            "query_vector_type": type(q_vecs[0]).__name__ + "/" + str(q_vecs[0].dtype),
        }
        del emb
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    for dtype in ("float32", "float16") if sweep else ():
        rows = {}
        for bs in sweep:
            cfg = EmbeddingConfig(
                model=model, backend="torch", device=device, dtype=dtype, batch_size=bs
            )
            emb = make_embedder(cfg)
            emb.encode(sorted_texts[:2048])
            times = []
            for _ in range(repeat):
                torch.cuda.synchronize()
                t = time.perf_counter()
                emb.encode(sorted_texts)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            rows[str(bs)] = round(len(texts) / statistics.median(times))
            del emb
        out[f"{dtype}_texts_per_s_by_batch_size"] = rows
    err = (full["float16"] * full["float32"]).sum(1)
    out["fp16_vs_fp32_cos"] = {
        "min": round(float(err.min()), 6),
        "median": round(float(np.median(err)), 6),
        "p001": round(float(np.quantile(err, 0.001)), 6),
    }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Embedder benchmark on one device.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundle")
    b.add_argument("--out", required=True)
    b.add_argument("--ref", type=int, default=2000)
    r = sub.add_parser("run")
    r.add_argument("--bundle", required=True)
    r.add_argument("--device", default="cuda")
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="throughput sweep")
    args = parser.parse_args(argv)
    if args.cmd == "bundle":
        make_bundle(Path(args.out), args.ref)
    else:
        print(json.dumps(run(Path(args.bundle), args.device, args.repeat, args.batch_sizes)))


if __name__ == "__main__":
    main()
