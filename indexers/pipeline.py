"""The one indexing pipeline: every build, insert, delete and update runs through here.

A build is an insert into an empty index. :func:`run_change` takes the writer
lock, loads the current generation, decides what changes (passages new to
the index, passages or documents to remove), runs OpenIE only on the new
passages, embeds only texts the index lacks, updates the graph, the HNSW
indexes and the synonymy lists, and commits one new generation. The
expensive stages are callables, so the in-process builder and the job
executor (local or Ray, with checkpoints) share everything else.

Example:
    >>> r = ChangeReport("idx", "insert", 3, {}, {"passages": 2}, {"passages": 0}, {})
    >>> r.summary().splitlines()[0]
    'insert: generation 3 of idx'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.errors import InputError
from hipporag.index import Index, IndexWriter
from hipporag.log import get_logger
from hipporag.types import Extraction, Passage
from indexers import changes
from indexers.commit import write_generation
from indexers.embed import TextTable
from indexers.state import GraphState

logger = get_logger(__name__)
OPERATIONS = ("build", "insert", "delete", "update", "compact")


@dataclass
class ChangeReport:
    """What a build, insert, delete or update did.

    Attributes:
        path: the index directory.
        operation: ``build``, ``insert``, ``delete`` or ``update``.
        generation: the generation committed (the unchanged current one when
            nothing changed).
        counts: the index's counts after the change.
        added / removed: rows added and removed per table.
        timings_s: seconds per stage.
        input: what happened to the input (``given``, ``duplicates``,
            ``already_indexed``, ``unchanged``, ``unknown_ids``, ``replaced``).
        warnings: what the user should know, one line each (e.g. passages
            indexed without triples because no spaCy model reads their language).
    """

    path: Path | str
    operation: str
    generation: int
    counts: dict[str, Any]
    added: dict[str, int]
    removed: dict[str, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    committed: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "operation": self.operation,
            "generation": self.generation,
            "committed": self.committed,
            "counts": self.counts,
            "added": self.added,
            "removed": self.removed,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "input": self.input,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        c = self.counts
        live = c.get("live", {})
        head = f"{self.operation}: generation {self.generation} of {self.path}"
        if not self.committed:
            head += " (nothing changed: no new generation)"
        lines = [head]
        if c:
            lines += [
                f"  passages {live.get('passages', c.get('passages'))}  entities "
                f"{live.get('entities', c.get('entities'))}  facts "
                f"{live.get('facts', c.get('facts'))}",
                "  edges " + "  ".join(f"{k} {v}" for k, v in c.get("edges", {}).items()),
            ]
            if "texts_embedded" in c:
                lines.append(
                    f"  texts embedded {c['texts_embedded']}  skipped triples "
                    f"{c.get('skipped_triples', 0)}"
                )
        lines.append("  added " + "  ".join(f"{k} {v}" for k, v in self.added.items()))
        lines.append("  removed " + "  ".join(f"{k} {v}" for k, v in self.removed.items()))
        notes = {k: v for k, v in self.input.items() if v and k != "given"}
        if notes:
            lines.append(
                "  input "
                + "  ".join(f"{k} {len(v) if isinstance(v, list) else v}" for k, v in notes.items())
            )
        if self.timings_s:
            lines.append("  time " + "  ".join(f"{k} {v:.1f}s" for k, v in self.timings_s.items()))
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    # BuildReport compatibility ------------------------------------------------
    @property
    def unknown_ids(self) -> list[str]:
        return list(self.input.get("unknown_ids", []))


def _dedupe(passages: Sequence[Passage]) -> tuple[list[Passage], int]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out, len(passages) - len(out)


def _refuse_changed_texts(index: Index | None, known: Sequence[Passage]) -> None:
    """An insert of an indexed id with other text or title is an error: that is an update."""
    if index is None or not known:
        return
    rows = index.sql(
        "SELECT passage_id, title, text FROM passages WHERE passage_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [[p.id for p in known]],
    ).rows()
    stored = {pid: (title, text) for pid, title, text in rows}
    changed = [p.id for p in known if p.id in stored and stored[p.id] != (p.title, p.text)]
    if changed:
        raise InputError(
            f"{len(changed)} passage(s) are already indexed with other text "
            f"(first: {changed[0]!r:.60}); add does not replace them",
            hint="use 'hipporag update' (IndexBuilder.update) to replace changed passages",
        )


def plan_delete(
    index: Index | None, state: GraphState, ids: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Live passage rows whose passage id or document id is in ``ids``; unknown ids."""
    want = set(ids)
    rows, hit = [], set()
    for i, (pid, doc) in enumerate(zip(state.passage_ids, state.passage_docs, strict=True)):
        if not state.live_p[i]:
            continue
        key = doc or pid
        if pid in want or key in want:
            rows.append(i)
            hit.update({pid, key} & want)
    return np.array(rows, dtype=np.int64), sorted(want - hit)


def plan_update(
    index: Index | None,
    state: GraphState,
    passages: Sequence[Passage],
    reextract: bool = False,
) -> tuple[np.ndarray, list[Passage], dict[str, Any]]:
    """Documents whose passages differ from the index: their rows to delete, passages to add.

    With ``reextract`` every given document the index holds is replaced, so its
    passages are extracted again (counted as ``reextracted``).
    """
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.document, []).append(p)
    doc_of_id = {p.id: p.document for p in passages}
    rows_of: dict[str, list[int]] = {}
    for i, (pid, doc) in enumerate(zip(state.passage_ids, state.passage_docs, strict=True)):
        if not state.live_p[i]:
            continue
        if (doc or pid) in by_doc:
            rows_of.setdefault(doc or pid, []).append(i)
        elif pid in doc_of_id:  # the same passage id, now in another document
            rows_of.setdefault(doc_of_id[pid], []).append(i)
    have: dict[int, Passage] = {}
    if index is not None and rows_of:
        all_rows = [r for rs in rows_of.values() for r in rs]
        have = dict(zip(all_rows, index.passages(all_rows), strict=True))
    rows: list[int] = []
    add: list[Passage] = []
    info: dict[str, Any] = {"unchanged": 0, "replaced": 0, "unknown_ids": []}
    for doc, ps in by_doc.items():
        old = rows_of.get(doc, [])
        if not old:
            info["unknown_ids"].append(doc)
            add.extend(ps)
            continue
        same = sorted((p.id, p.content, p.doc_id, p.chunk) for p in ps) == sorted(
            (have[r].id, have[r].content, have[r].doc_id, have[r].chunk) for r in old
        ) and all(
            have[r].metadata == next(p for p in ps if p.id == have[r].id).metadata for r in old
        )
        if same and reextract:
            info["reextracted"] = info.get("reextracted", 0) + 1
        elif same:
            info["unchanged"] += 1
            continue
        info["replaced"] += 1
        rows.extend(old)
        add.extend(ps)
    return np.array(sorted(rows), dtype=np.int64), add, info


def run_change(
    target: str | Path,
    config: IndexConfig,
    *,
    operation: str,
    extract: Callable[[list[Passage]], list[Extraction]],
    embed: Callable[[list[str]], np.ndarray],
    meta: Callable[[dict[str, float]], dict[str, Any]],
    passages: Sequence[Passage] = (),
    ids: Sequence[str] = (),
    dim: int = 0,
    timings: dict[str, float] | None = None,
    reextract: bool = False,
) -> ChangeReport:
    """Run one change against ``target`` and commit it as a new generation.

    Args:
        target: the index directory (created by a build or a first insert).
        config: the index's config.
        operation: one of :data:`OPERATIONS`.
        extract: OpenIE over a list of passages (called once, new passages only).
        embed: vectors of a list of distinct texts (called once).
        meta: builds the manifest's extra fields from the timings.
        passages: passages to insert (build, insert) or upsert (update).
        ids: passage or document ids to delete (delete).
        dim: the embedding dimension (for an empty index).
        timings: stage seconds measured by the caller so far (updated in place).
        reextract: ``update`` replaces unchanged documents too (extracted again).

    The generation's manifest records, under ``change.extracted``, how many
    passages it extracted and with which extractor.
    """
    if operation not in OPERATIONS:
        raise InputError(f"unknown operation {operation!r}", hint=f"one of {OPERATIONS}")
    timings = timings if timings is not None else {}
    t = time.perf_counter()
    target = Path(target).absolute()
    if operation in ("delete", "compact"):
        from hipporag.index.format import read_meta

        read_meta(target)  # no index there: a clear error, nothing created
    w = IndexWriter(target, operation=operation)
    try:
        base = None
        if w.base is not None and operation != "build":
            base = Index.open(target)
        state = (
            GraphState.load(base)
            if base is not None
            else GraphState.empty(dim, config.graph.synonymy_k)
        )
        info: dict[str, Any] = {"given": len(passages) if operation != "delete" else len(ids)}
        rows = np.zeros(0, np.int64)
        add: list[Passage] = []
        if operation == "delete":
            rows, info["unknown_ids"] = plan_delete(base, state, ids)
            for u in info["unknown_ids"]:
                logger.warning("delete: no passage or document with id %r", u)
        elif operation == "update":
            uniq, info["duplicates"] = _dedupe(passages)
            rows, add, more = plan_update(base, state, uniq, reextract)
            info.update(more)
        else:
            uniq, info["duplicates"] = _dedupe(passages)
            live_ids = {p for p, ok in zip(state.passage_ids, state.live_p, strict=True) if ok}
            add = [p for p in uniq if p.id not in live_ids]
            info["already_indexed"] = len(uniq) - len(add)
            _refuse_changed_texts(base, [p for p in uniq if p.id in live_ids])
        timings["plan"] = time.perf_counter() - t
        compact = operation == "compact"
        if not add and rows.shape[0] == 0 and base is not None and not compact:
            w.abort()
            none = {k: 0 for k in ("passages", "entities", "facts", "fact_provenance", "mentions")}
            return ChangeReport(
                target,
                operation,
                base.generation,
                base.counts,
                none,
                dict(none),
                timings,
                info,
                committed=False,
            )
        if not add and base is None and operation in ("build", "insert", "update"):
            raise InputError("no passages to index", hint="give a corpus with non-empty passages")
        d_del = changes.delete_rows(state, rows)
        extractions = extract(add) if add else []
        t = time.perf_counter()
        d = changes.merge(d_del, changes.add_passages(state, add, extractions))
        table = TextTable(d.texts)
        timings["graph"] = time.perf_counter() - t
        vectors = embed(table.unique) if table.unique else np.zeros((0, state.dim), np.float32)
        t = time.perf_counter()
        changes.set_vectors(state, d, vectors[table.rows] if len(d.texts) else vectors)
        changes.update_search(state, d, config.graph, rebuild=compact)
        timings["search"] = time.perf_counter() - t
        t = time.perf_counter()
        extra = {
            "texts_embedded": len(table.unique),
            "skipped_triples": int(d.stats.get("skipped_triples", 0)),
            "empty_arguments": int(d.stats.get("empty_arguments", 0)),
            "passages_without_triples": int(d.stats.get("passages_without_triples", 0)),
        }
        delta = d.counts()
        full_meta = meta(timings)
        full_meta["embedding"] = {**full_meta.get("embedding", {}), "dim": int(state.dim)}
        extracted = {"passages": len(add)}
        if add:
            extracted["extractor"] = full_meta.get("components", {}).get("extractor")
        full_meta["change"] = {**delta, "input": info, "extracted": extracted}
        path, counts = write_generation(
            w, state, d, config, meta=full_meta, extra_counts=extra, rewrite=compact
        )
        timings["write"] = time.perf_counter() - t
        if base is not None:
            base.close()
        return ChangeReport(
            path, operation, w.generation, counts, delta["added"], delta["removed"], timings, info
        )
    finally:
        if not w._done:
            w.abort()


__all__ = ["OPERATIONS", "ChangeReport", "plan_delete", "plan_update", "run_change"]
