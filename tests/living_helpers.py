"""Living-index histories, and comparing indexes by content (row numbers may differ
between a build and changes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hipporag.errors import InputError
from hipporag.index import Index
from hipporag.types import Passage


def snapshot(path, *, vectors: bool = True) -> dict:
    """Tables, edges and graph of an index as sets keyed by content."""
    idx = Index.open(path)
    try:
        names = idx.entity_names
        pids = idx.passage_ids
        E = idx.n_entities

        def label(node: int) -> str:
            return f"E:{names[node]}" if node < E else f"P:{pids[node - E]}"

        t = idx.tables()
        p = t["passages"]
        out: dict = {
            "passages": {
                (
                    r["passage_id"],
                    r["doc_id"],
                    r["title"],
                    r["text"],
                    json.dumps(json.loads(r["metadata"] or "{}"), sort_keys=True),
                    r["chunk"],
                    r["span_start"],
                    r["span_end"],
                )
                for r in p.iter_rows(named=True)
            },
            "entities": {(r["name"], r["n_passages"]) for r in t["entities"].iter_rows(named=True)},
            "facts": {
                (names[r["subject_idx"]], r["relation"], names[r["object_idx"]], r["text"])
                for r in t["facts"].iter_rows(named=True)
            },
        }
        ftext = dict(zip(t["facts"]["fact_idx"], t["facts"]["text"], strict=True))
        out["fact_provenance"] = {
            (ftext[f], pids[q])
            for f, q in t["fact_provenance"].select("fact_idx", "passage_idx").iter_rows()
        }
        out["mentions"] = {
            (names[e], pids[q], n)
            for e, q, n in t["mentions"].select("entity_idx", "passage_idx", "n").iter_rows()
        }
        out["edges"] = {
            (k, frozenset((label(s), label(d))), round(w, 5))
            for s, d, k, w in t["edges"].select("src", "dst", "kind", "weight").iter_rows()
        }
        g = idx.graph
        edges = set()
        for u in range(g.n_nodes):
            lo, hi = int(g.indptr[u]), int(g.indptr[u + 1])
            for v, w in zip(g.indices[lo:hi].tolist(), g.weights[lo:hi].tolist(), strict=True):
                edges.add((label(u), label(int(v)), round(float(w), 4)))
        out["graph"] = edges
        live_e = idx.live("entities")
        npass = idx.array("entity_n_passages")
        out["n_passages_array"] = {(names[i], int(npass[i])) for i in np.flatnonzero(live_e)}
        assert all(names[i] == "" for i in np.flatnonzero(~live_e))
        assert int(idx.live("passages").sum()) == p.height
        if vectors:
            pv = idx.passage_embeddings
            out["passage_vectors"] = {
                pids[i]: tuple(np.round(pv[i], 5)) for i in np.flatnonzero(idx.live("passages"))
            }
            ev = idx.entity_embeddings
            out["entity_vectors"] = {
                names[i]: tuple(np.round(ev[i], 5)) for i in np.flatnonzero(live_e)
            }
        return out
    finally:
        idx.close()


def assert_equivalent(a, b, *, vectors: bool = True) -> None:
    sa, sb = snapshot(a, vectors=vectors), snapshot(b, vectors=vectors)
    for key in sa:
        assert sa[key] == sb[key], (
            f"{key}: only in first {list(sa[key] - sb[key])[:3] if isinstance(sa[key], set) else ''}; only in second {list(sb[key] - sa[key])[:3] if isinstance(sb[key], set) else ''}"
        )


def brute_force_synonymy(path) -> set:
    """The synonymy edges a fresh build must have, computed exactly from the vectors."""
    import re

    from indexers.synonymy import eligible

    idx = Index.open(path)
    cfg = idx.config.graph
    names = idx.entity_names
    live = idx.live("entities") & eligible(names)
    ids = np.flatnonzero(live)
    v = np.asarray(idx.entity_embeddings, dtype=np.float64)[ids]
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    pairs = set()
    for r, i in enumerate(ids):
        order = np.argsort(-sims[r], kind="stable")[: cfg.synonymy_k]
        for c in order:
            if sims[r, c] >= cfg.synonymy_threshold:
                a, b = names[i], names[ids[c]]
                if re.findall(r"\d+", a) == re.findall(r"\d+", b):
                    pairs.add(frozenset((a, b)))
    idx.close()
    return pairs


def apply_history(
    builder: Callable[[], Any],
    path: Path,
    pool: Sequence[Passage],
    ops: Sequence[tuple[str, Sequence[int]]],
    *,
    check_refusal: bool = False,
) -> dict[str, Passage]:
    """Build ``pool[:6]`` at ``path``, apply ``ops``; return the corpus the index now holds.

    Each op is ``("insert" | "delete" | "update" | "compact", positions in pool)``.
    Inserting an id that is indexed with other text is refused (that is an
    update): with ``check_refusal`` the refusal is asserted and the whole insert
    skipped, otherwise the other passages are inserted. An update gives each
    passage an edited text, as a document of its own (no ``doc_id``).
    """
    current: dict[str, Passage] = {p.id: p for p in pool[:6]}
    builder().build(list(current.values()), path)
    for op, picks in ops:
        chosen = [pool[i] for i in picks]
        if op == "insert":
            changed = [p for p in chosen if p.id in current and current[p.id].text != p.text]
            if changed and check_refusal:
                with pytest.raises(InputError, match="already indexed with other text"):
                    builder().insert(chosen, path)
                continue
            same = [p for p in chosen if p not in changed]
            if same:
                builder().insert(same, path)
            for p in same:
                current.setdefault(p.id, p)
        elif op == "delete":
            builder().delete([p.id for p in chosen], path)
            for p in chosen:
                current.pop(p.id, None)
        elif op == "update":
            ups = [Passage(p.id, p.title, p.text.replace("met", "saw") + " Zed.") for p in chosen]
            builder().update(ups, path)
            current.update({p.id: p for p in ups})
        else:
            builder().compact(path)
    return current
