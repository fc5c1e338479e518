"""A sharded index: several living indexes under one commit point.

A sharded index directory holds ``N`` shards (``s000/``, ``s001/``, ...), each
a complete living index, plus a top-level commit point ``shards.json`` that
names the generation of every shard a reader must use::

    INDEX/
      shards.json            # commit point: the current shard set
      shardsets/000003.json  # every committed shard set (history)
      shards.lock            # one writer for the whole set
      s000/ s001/ ...        # ordinary index directories

Documents go to shards by a stable hash (BLAKE2b, never Python's salted
``hash``) of the document id, or of one metadata value (``by="metadata"``,
``key="tenant"``: all of a tenant's documents share a shard). Shards commit
independently; the shard set is committed last, atomically (a durable
``shardsets/N.json``, then ``shards.json`` replaced by rename), so a reader
sees either the old or the new set of shard generations. A shard whose own
commit point is ahead of the set (a writer killed between the two commits) is
rolled back to the set's generation by the next writer.

Example:
    >>> spec = ShardSpec(4)
    >>> spec.route_key("doc-1") == spec.route_key("doc-1"), 0 <= spec.route_key("doc-1") < 4
    (True, True)
    >>> ShardSpec(2, by="metadata", key="tenant").to_dict()
    {'n': 2, 'by': 'metadata', 'key': 'tenant'}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError, InputError
from hipporag.fsio import atomic_write_text
from hipporag.index.format import GENERATIONS_DIR, META_FILE, generation_dir

SHARDS_FILE = "shards.json"
SETS_DIR = "shardsets"
SHARDS_LOCK = "shards"  # a WriteLock directory name under the root
FORMAT = "hipporag-shards"
VERSION = 1
MAX_SHARDS = 1024


@dataclass(frozen=True)
class ShardSpec:
    """How documents are assigned to shards.

    Args:
        n: Number of shards (1..1024).
        by: ``"document"`` (hash of the document id) or ``"metadata"``.
        key: The metadata key whose value is hashed when ``by="metadata"``.
    """

    n: int
    by: str = "document"
    key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or not 1 <= self.n <= MAX_SHARDS:
            raise InputError(
                f"shard count must be 1..{MAX_SHARDS}, got {self.n!r}", hint="pass --shards N"
            )
        if self.by not in ("document", "metadata"):
            raise InputError(
                f"unknown shard routing {self.by!r}",
                hint="use --shard-by document or --shard-by metadata:KEY",
            )
        if self.by == "metadata" and not self.key:
            raise InputError("routing by metadata needs a key", hint="use --shard-by metadata:KEY")

    @classmethod
    def parse(cls, n: int, by: str | None) -> ShardSpec:
        """From CLI words: ``by`` is ``document`` or ``metadata:KEY``."""
        if not by or by == "document":
            return cls(n)
        if by.startswith("metadata:"):
            return cls(n, "metadata", by.split(":", 1)[1])
        raise InputError(
            f"unknown --shard-by {by!r}", hint="use document or metadata:KEY (e.g. metadata:tenant)"
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShardSpec:
        return cls(int(d["n"]), str(d.get("by", "document")), d.get("key"))

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "by": self.by, "key": self.key}

    def route_key(self, value: str) -> int:
        """The shard of a routing value (stable across processes and versions)."""
        digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.n

    def route(self, doc_id: str, metadata: dict[str, Any] | None = None) -> int:
        """The shard of a document (by id, or by its metadata value under ``key``)."""
        if self.by == "document":
            return self.route_key(doc_id)
        value = (metadata or {}).get(self.key)  # type: ignore[arg-type]
        if value is None:
            raise InputError(
                f"document {doc_id!r} has no metadata {self.key!r} to route it to a shard",
                hint=f"give every document a {self.key!r} metadata value",
            )
        return self.route_key(json.dumps(value, sort_keys=True, ensure_ascii=False))


def shard_name(i: int) -> str:
    """The folder of shard ``i``: ``s000``, ``s001``, ..."""
    return f"s{i:03d}"


def is_sharded(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a sharded index (it holds ``shards.json``)."""
    return (Path(path) / SHARDS_FILE).is_file()


def committed_generation(root: str | os.PathLike[str]) -> int | None:
    """The generation a reader opening ``root`` now gets (None: nothing committed).

    The shard set's for a sharded index, else the index's own.
    """
    if is_sharded(root):
        return int(read_shardset(root)["generation"])
    from hipporag.index.generations import current_generation

    return current_generation(root)


def _parse(text: str, where: Path) -> dict[str, Any]:
    try:
        state = json.loads(text)
    except ValueError as err:
        raise IndexFormatError(
            f"{where} is corrupt: {err}", hint="restore it from shardsets/ or rebuild the index"
        ) from None
    ok = (
        isinstance(state, dict)
        and state.get("format") == FORMAT
        and isinstance(state.get("generation"), int)
        and isinstance(state.get("shards"), list)
        and isinstance(state.get("shard_generations"), list)
        and len(state["shards"]) == len(state["shard_generations"])
        and all(isinstance(g, int) for g in state["shard_generations"])
    )
    if not ok:
        raise IndexFormatError(
            f"{where} is not a valid shard set", hint="restore it from shardsets/ or rebuild"
        )
    if int(state.get("version", 0)) > VERSION:
        raise IndexFormatError(
            f"{where} was written by a newer version (shard set format {state['version']})",
            hint="upgrade hipporag-toolkit",
        )
    return state


def read_shardset(root: str | os.PathLike[str], generation: int | None = None) -> dict[str, Any]:
    """The committed shard set (or an older one by number).

    Raises:
        IndexFormatError: Not a sharded index, or a damaged/unknown shard set.
    """
    root = Path(root)
    path = root / SHARDS_FILE if generation is None else set_path(root, generation)
    if not path.is_file():
        raise IndexFormatError(
            f"no shard set at {path}",
            hint="build one with: hipporag index CORPUS --out DIR --shards N",
        )
    return _parse(path.read_text(encoding="utf-8"), path)


def set_path(root: Path, generation: int) -> Path:
    return root / SETS_DIR / f"{generation:06d}.json"


def shardset_history(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every stored shard set, oldest first."""
    d = Path(root) / SETS_DIR
    return [_parse(p.read_text("utf-8"), p) for p in sorted(d.glob("*.json"))] if d.is_dir() else []


def commit_shardset(
    root: str | os.PathLike[str],
    spec: ShardSpec,
    shard_generations: list[int],
    *,
    operation: str,
    parent: int | None,
    change: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write shard set ``parent + 1`` durably, then make it current (atomic rename)."""
    root = Path(root)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "generation": (parent or 0) + 1,
        "parent": parent,
        "time": time.time(),
        "operation": operation,
        "spec": spec.to_dict(),
        "shards": [shard_name(i) for i in range(spec.n)],
        "shard_generations": [int(g) for g in shard_generations],
        "change": change or {},
    }
    text = json.dumps(state, indent=2, sort_keys=True) + "\n"
    (root / SETS_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_text(set_path(root, state["generation"]), text)
    _crash_point("shards:before-pointer")
    atomic_write_text(root / SHARDS_FILE, text)
    return state


def _crash_point(name: str) -> None:
    """Kill this process at a named point when HIPPORAG_CRASH_AT says so (fault tests)."""
    if os.environ.get("HIPPORAG_CRASH_AT") == name:
        os.kill(os.getpid(), 9)


def set_lock(root: str | os.PathLike[str]) -> Any:
    """The one-writer lock of a shard set (``ROOT/shards/write.lock``; ROOT must exist)."""
    from hipporag.index.generations import WriteLock

    lock_dir = Path(root) / SHARDS_LOCK
    if Path(root).is_dir():
        lock_dir.mkdir(exist_ok=True)
    return WriteLock(lock_dir)


def rollback_shard(shard_root: Path, generation: int) -> list[int]:
    """Move a shard's commit point back to ``generation``, dropping the newer ones.

    Used by a writer (holding the shard-set lock) when a shard committed a
    generation the shard set never named: that change was never visible
    through the set, so it is undone. Only generation files the toolkit wrote
    (``generations/N.json`` and ``data/gN/``) are removed.

    Returns:
        The generation numbers dropped.
    """
    from hipporag.index.generations import WriteLock, current_generation, manifest_path

    current = current_generation(shard_root)
    if current is None or current == generation:
        return []
    keep = manifest_path(shard_root, generation)
    if not keep.is_file():
        raise IndexFormatError(
            f"shard {shard_root.name} lacks generation {generation} named by the shard set",
            hint="run 'hipporag verify' on the index; restore it or rebuild",
        )
    dropped = []
    with WriteLock(shard_root):
        atomic_write_text(shard_root / META_FILE, keep.read_text(encoding="utf-8"))
        for p in sorted((shard_root / GENERATIONS_DIR).glob("*.json")):
            try:
                number = int(p.stem)
            except ValueError:
                continue
            if number > generation:
                data = shard_root / generation_dir(number)
                if data.is_dir():
                    shutil.rmtree(data)
                p.unlink()
                dropped.append(number)
    return dropped


__all__ = [
    "SHARDS_FILE",
    "ShardSpec",
    "commit_shardset",
    "committed_generation",
    "is_sharded",
    "read_shardset",
    "rollback_shard",
    "set_lock",
    "shard_name",
    "shardset_history",
]
