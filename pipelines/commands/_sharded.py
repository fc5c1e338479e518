"""The index commands on a sharded index (``hipporag index --shards N`` and friends).

Each command that takes an index checks :func:`hipporag.index.shardset.is_sharded`
first and hands a sharded index to the function of the same name here:
``add`` / ``update`` / ``delete`` route documents to their shards and commit
the shard set; ``verify``, ``history``, ``gc`` and ``compact`` run on every
shard (``gc`` keeps the generations the current shard set names, whatever
their age); ``retrieve`` and ``eval`` need nothing here, since
``HippoRAG.open`` returns a :class:`~pipelines.sharded.ShardedHippoRAG`.

Example:
    $ hipporag index corpus.json --out my-index --shards 4
    $ hipporag index corpus.json --out my-index --shards 8 --shard-by metadata:tenant
    $ hipporag add my-index new_docs.json
    $ hipporag verify my-index
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hipporag.index.shardset import read_shardset, shard_name


def add_options(p: argparse.ArgumentParser) -> None:
    """``--shards`` and ``--shard-by`` of ``hipporag index``."""
    p.add_argument(
        "--shards", type=int, metavar="N", help="write a sharded index of N shards (see docs)"
    )
    p.add_argument(
        "--shard-by",
        metavar="HOW",
        default="document",
        help="route documents by 'document' id hash (default) or 'metadata:KEY' (e.g. tenant)",
    )


def _emit(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else text)


def index(args: argparse.Namespace, spec: Any) -> int:
    """``hipporag index --shards N``: route, build each shard, commit the shard set."""
    from hipporag.index.shardset import ShardSpec
    from indexers.readers import read_corpus
    from pipelines.facade import HippoRAG

    shard_spec = ShardSpec.parse(args.shards, args.shard_by)
    passages: list[Any] = []
    for path in spec.inputs:
        got, _ = read_corpus(path, metadata_fields=spec.metadata_fields)
        passages.extend(got)
    rag = HippoRAG.build(passages, spec.output, spec.index_config, shards=shard_spec)
    state = rag.state
    data = {
        "path": str(rag.path),
        "shards": state["shards"],
        "shard_generations": state["shard_generations"],
        "passages": {s.path.name: int(s.index.n_live("passages")) for s in rag.shards},
        "generation": rag.generation,
    }
    sizes = ", ".join(f"{k} {v}" for k, v in data["passages"].items())
    _emit(data, args.json, f"sharded index {rag.path}: {len(state['shards'])} shards ({sizes})")
    rag.close()
    return 0


def change(args: argparse.Namespace, operation: str, ids: list[str] | None = None) -> int:
    """``add`` / ``update`` / ``delete`` on a sharded index."""
    from pipelines.facade import HippoRAG

    rag = HippoRAG.open(args.index)
    try:
        if operation == "delete":
            report = rag.delete(ids or [])
        else:
            passages: list[Any] = []
            from indexers.readers import read_corpus

            for path in args.corpus:
                got, _ = read_corpus(path)
                passages.extend(got)
            report = rag.insert(passages) if operation == "insert" else rag.update(passages)
    finally:
        rag.close()
    _emit(report.to_dict(), getattr(args, "json", False), report.summary())
    return 0


def verify(args: argparse.Namespace) -> int:
    """Every shard verified at the generation the shard set names."""
    from hipporag.index.verify import verify as verify_one

    root = Path(args.index)
    state = read_shardset(root)
    out: dict[str, Any] = {"path": str(root.absolute()), "generation": state["generation"]}
    problems: list[str] = []
    for name, gen in zip(state["shards"], state["shard_generations"], strict=True):
        if gen == 0:
            continue
        got = verify_one(root / name)
        out[name] = got
        problems += [f"{name}: {p}" for p in got["problems"]]
        if got.get("generation") != gen:
            problems.append(
                f"{name} is at generation {got.get('generation')}, the shard set names {gen} "
                "(an interrupted write; the next change rolls it back)"
            )
    out.update(ok=not problems, problems=problems)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    elif problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
    else:
        print(f"{out['path']}: ok (shard set {state['generation']}, {len(state['shards'])} shards)")
    return 0 if not problems else 1


def history(args: argparse.Namespace) -> int:
    """The shard sets, oldest first (each names its shards' generations)."""
    from pipelines.generation_rows import shard_set_rows

    rows = shard_set_rows(args.index)
    lines = [
        f"{r['generation']:>5} {r['operation'] or '-':9} shards {r['shard_generations']}"
        + (" *" if r["current"] else "")
        for r in rows
    ]
    _emit(rows, args.json, "\n".join(lines))
    return 0


def gc(args: argparse.Namespace) -> int:
    """gc on every shard; a shard's generation named by the current set is always kept."""
    from hipporag.index.generations import gc as gc_one
    from hipporag.index.shardset import rollback_shard, set_lock

    root = Path(args.index)
    out: dict[str, Any] = {}
    freed = 0
    with set_lock(root):  # no shard-set commit while shards are swept
        state = read_shardset(root)
        for name, gen in zip(state["shards"], state["shard_generations"], strict=True):
            if gen == 0:
                continue
            rollback_shard(root / name, gen)  # the set's generation must stay the current one
            got = gc_one(root / name, grace_s=args.grace)
            out[name] = got
            freed += int(got.get("bytes_freed", 0))
    _emit(out, args.json, f"gc on {len(out)} shards: {freed / 1e6:.1f} MB freed")
    return 0


def compact(args: argparse.Namespace) -> int:
    """Compact every shard, then commit the shard set."""
    from pipelines.facade import HippoRAG

    with HippoRAG.open(args.index) as rag:
        report = rag.compact()
    _emit(report.to_dict(), args.json, report.summary())
    return 0


def info(args: argparse.Namespace) -> int:
    """Shard set, routing and per-shard counts."""
    root = Path(args.index)
    state = read_shardset(root)
    from hipporag.index import Index

    shards = {}
    for name, gen in zip(state["shards"], state["shard_generations"], strict=True):
        if gen == 0:
            shards[name] = {"generation": 0, "passages": 0}
            continue
        idx = Index.open(root / name, generation=gen)
        shards[name] = {"generation": gen, "passages": int(idx.n_live("passages"))}
        idx.close()
    data = {
        "path": str(root.absolute()),
        "generation": state["generation"],
        "spec": state["spec"],
        "shards": shards,
    }
    text = [
        f"{data['path']}: sharded index, shard set {state['generation']}, routing {state['spec']}"
    ]
    text += [
        f"  {k}: generation {v['generation']}, {v['passages']} passages" for k, v in shards.items()
    ]
    _emit(data, getattr(args, "json", False), "\n".join(text))
    return 0


__all__ = [
    "add_options",
    "change",
    "compact",
    "gc",
    "history",
    "index",
    "info",
    "shard_name",
    "verify",
]
