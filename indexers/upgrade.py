"""Converting an older index to the current format (``hipporag upgrade INDEX``).

A format version 2 or 3 index made before the lexical (BM25) part or the
passage store existed gets them as a new generation that shares every other
file (:func:`add_parts`); :func:`drop_part` is its inverse, for comparing an
index with and without a part (benchmarks, tests of the older path).

The tables, vectors and extractions are kept; what version 2 adds is
computed once: live masks (all rows live), the per-entity synonymy lists, the
passage columns ``doc_id``, ``metadata``, ``chunk`` and spans (defaults), and
HNSW indexes over the same vectors. The directory is replaced atomically.

Example:
    >>> upgrade("/no/such/index")                               # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hipporag.errors.IndexFormatError: no index at /no/such/index...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.errors import IndexFormatError
from hipporag.index import FORMAT_VERSION, Index, IndexWriter
from indexers import changes
from indexers.changes import Delta
from indexers.commit import write_generation
from indexers.state import GraphState


def upgrade(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Convert the index at ``path`` in place; returns ``{"from": 1, "to": 2, ...}``."""
    root = Path(path).absolute()
    old = Index.open(root)
    if old.format_version != 1:
        old.close()
        out = {"path": str(root), "from": old.format_version, "to": old.format_version}
        if any(part not in old.meta for part in PARTS):
            out["added"] = add_parts(root)
        return out
    state = GraphState.load(old)
    state.base = None
    d = Delta(
        passages=old.passages(list(range(old.n_passages))),
        passage_rows=np.arange(old.n_passages),
        new_entities=np.arange(old.n_entities),
        new_facts=np.arange(old.n_facts),
    )
    changes.update_search(state, d, old.config.graph)
    meta = {k: v for k, v in old.meta.items() if k not in ("files", "counts", "format_version")}
    extra = {k: v for k, v in old.counts.items() if k not in ("passages", "entities", "facts")}
    extra.pop("edges", None)
    old.close()
    with IndexWriter(root, operation="upgrade") as w:
        if not w.staged:
            raise IndexFormatError(f"{root} changed during the upgrade", hint="run it again")
        write_generation(w, state, d, old.config, meta=meta, extra_counts=extra)
    return {"path": str(root), "from": 1, "to": FORMAT_VERSION}


def add_parts(path: str | os.PathLike[str]) -> list[str]:
    """Add the parts an older index lacks (``PARTS``) as one new generation; those added."""
    from indexers.lexical import write_lexical
    from indexers.passagestore import write_passage_store

    writers = {"lexical": write_lexical, "passage_store": write_passage_store}
    with IndexWriter(Path(path).absolute(), operation="upgrade") as w:
        base = Index.open(w.target)
        try:
            missing = [part for part in PARTS if part not in base.meta]
            if base.generation != int(w.base["generation"]) or not missing:
                return []
            for logical in w.base["files"]:
                w.share(logical)
            live = np.array(base.live("passages"))
            none = np.zeros(0, np.int64)
            entries = {part: writers[part](w, base, live, [], none) for part in missing}
            meta = {k: v for k, v in w.base.items() if k not in _COMMIT_KEYS}
            w.commit({**meta, **entries})
        finally:
            base.close()
    return missing


def drop_part(path: str | os.PathLike[str], part: str) -> bool:
    """Commit a generation of ``path`` without ``part`` (one of ``PARTS``); whether it had one.

    Every other file is shared, so the new generation is what an index made
    before the part existed looks like; :func:`add_parts` puts it back.

    Example:
        >>> drop_part("/no/such/index", "tables")
        Traceback (most recent call last):
        ...
        ValueError: unknown part 'tables': use one of lexical, passage_store
    """
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}: use one of {', '.join(PARTS)}")
    with IndexWriter(Path(path).absolute(), operation="upgrade") as w:
        if part not in w.base:
            return False
        for logical in w.base["files"]:
            if not logical.rsplit("/", 1)[-1].startswith(part + "_"):
                w.share(logical)
        w.commit({k: v for k, v in w.base.items() if k not in (*_COMMIT_KEYS, part)})
    return True


PARTS = ("lexical", "passage_store")
_COMMIT_KEYS = ("files", "generation", "parent", "time", "operation", "format", "format_version")

__all__ = ["PARTS", "add_parts", "drop_part", "upgrade"]
