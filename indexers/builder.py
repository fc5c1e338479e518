"""The offline indexing pipeline, in-process: chunk, extract, embed, build graph, write.

Each stage is a method so that parallel executors (see ``pipelines.jobs``) can
run the expensive ones (:meth:`IndexBuilder.extract`, embedding) elsewhere
and hand the results to :meth:`IndexBuilder.write`.

Example:
    >>> from indexers.builder import IndexBuilder
    >>> from indexers.readers import read_corpus
    >>> passages, _ = read_corpus("corpus.json")                      # doctest: +SKIP
    >>> report = IndexBuilder().build(passages, "my-index")           # doctest: +SKIP
    >>> report.counts["passages"]                                     # doctest: +SKIP
    32
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hipporag.config import IndexConfig
from hipporag.embedding import SentenceTransformerEmbedder
from hipporag.errors import InputError
from hipporag.graph import CSRGraph
from hipporag.index.writer import IndexWriter
from hipporag.metadata import metadata_json
from hipporag.progress import progress
from hipporag.protocols import Embedder, Extractor
from hipporag.types import Extraction, Passage
from indexers.chunking import chunk_passages
from indexers.embed import TextTable, embed_unique
from indexers.graph import KnowledgeGraph, assemble_kg, synonymy_edges

logger = logging.getLogger("hipporag")


def make_extractor(config: IndexConfig) -> Extractor:
    """The extractor named by ``config.openie``."""
    oc = config.openie
    if oc.kind == "spacy":
        from indexers.openie_spacy import SpacyOpenIE

        return SpacyOpenIE(oc.spacy_model, batch_size=oc.batch_size)
    if oc.kind == "hipporag":
        from indexers.openie_import import HippoRAGOpenIEImporter

        return HippoRAGOpenIEImporter(oc.path or "")
    from hipporag.llm import LLMCache, OpenAIChatLLM
    from indexers.openie_llm import LLMOpenIE

    return LLMOpenIE(OpenAIChatLLM(oc.llm, LLMCache.from_config(oc.llm)), oc.llm)


@dataclass
class BuildReport:
    """What a build produced: where, counts, per-stage seconds."""

    path: Path
    counts: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        lines = [
            f"index written to {self.path}",
            f"  passages {c['passages']}  entities {c['entities']}  facts {c['facts']}",
            "  edges " + "  ".join(f"{k} {v}" for k, v in c["edges"].items()),
            f"  texts embedded {c['texts_embedded']}  skipped triples {c['skipped_triples']}",
            "  time " + "  ".join(f"{k} {v:.1f}s" for k, v in self.timings_s.items()),
        ]
        return "\n".join(lines)


class IndexBuilder:
    """Builds an index directory from passages.

    Args:
        config: what to build (validated already).
        extractor: overrides ``config.openie`` (any :class:`Extractor`).
        embedder: overrides ``config.embedding`` (any :class:`Embedder`).
    """

    def __init__(
        self,
        config: IndexConfig | None = None,
        extractor: Extractor | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config or IndexConfig()
        self.extractor = extractor or make_extractor(self.config)
        self.embedder = embedder or SentenceTransformerEmbedder(self.config.embedding)
        self.timings: dict[str, float] = {}

    # -- stages ------------------------------------------------------------
    def prepare(self, passages: Sequence[Passage]) -> list[Passage]:
        """Chunk (if configured) and check there is something to index."""
        out = chunk_passages(passages, self.config.chunking, embedding=self.config.embedding)
        if not out:
            raise InputError("no passages to index", hint="give a corpus with non-empty passages")
        return out

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """OpenIE over all passages, batch by batch."""
        t = time.perf_counter()
        self.extractor.warm_up()
        bs = self.config.openie.batch_size
        out: list[Extraction] = []
        starts = range(0, len(passages), bs)
        for s in progress(starts, total=len(starts), desc="openie", unit="batch"):
            out.extend(self.extractor.extract(passages[s : s + bs]))
        self.timings["openie"] = time.perf_counter() - t
        return out

    @staticmethod
    def texts_to_embed(passages: Sequence[Passage], kg: KnowledgeGraph) -> TextTable:
        """All texts the index embeds (passages, entities, facts), each distinct text once."""
        return TextTable([p.content for p in passages] + kg.entity_names + kg.fact_text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        vecs = embed_unique(self.embedder, texts)
        self.timings["embedding"] = time.perf_counter() - t
        return vecs

    # -- the whole pipeline --------------------------------------------------
    def build(
        self,
        passages: Sequence[Passage],
        out_dir: str | Path,
        *,
        read_stats: dict[str, Any] | None = None,
    ) -> BuildReport:
        """Run every stage in-process and write the index atomically."""
        passages = self.prepare(passages)
        extractions = self.extract(passages)
        t = time.perf_counter()
        kg = assemble_kg(passages, extractions)
        self.timings["graph"] = time.perf_counter() - t
        table = self.texts_to_embed(passages, kg)
        vectors = self.embed(table.unique)
        return self.write(
            out_dir,
            passages,
            kg,
            vectors[table.rows],
            read_stats=read_stats,
            n_embedded=len(table.unique),
        )

    def write(
        self,
        out_dir: str | Path,
        passages: Sequence[Passage],
        kg: KnowledgeGraph,
        vectors: np.ndarray,
        *,
        read_stats: dict[str, Any] | None = None,
        n_embedded: int | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> BuildReport:
        """Write the index; ``vectors`` rows are passages, then entities, then facts."""
        t0 = time.perf_counter()
        P, E, F = len(passages), kg.n_entities, len(kg.fact_text)
        if vectors.shape[0] != P + E + F:
            raise InputError(f"expected {P + E + F} vectors, got {vectors.shape[0]}")
        p_vec, e_vec, f_vec = vectors[:P], vectors[P : P + E], vectors[P + E :]
        gc = self.config.graph
        syn = synonymy_edges(kg.entity_names, e_vec, gc)
        fact_e = kg.fact_edges()
        pe = kg.passage_entity_edges(gc.passage_entity_weight)
        edges = {"fact": fact_e, "passage_entity": pe, "synonymy": syn}
        graph = CSRGraph.from_edges(
            E + P,
            np.concatenate([e[0] for e in edges.values()]),
            np.concatenate([e[1] for e in edges.values()]),
            np.concatenate([e[2] for e in edges.values()]),
        )
        self.timings["graph"] = self.timings.get("graph", 0.0) + time.perf_counter() - t0
        t1 = time.perf_counter()
        counts = {
            "passages": P,
            "entities": E,
            "facts": F,
            "fact_provenance": int(kg.provenance.shape[0]),
            "mentions": int(kg.mentions.shape[0]),
            "edges": {k: int(v[0].shape[0]) for k, v in edges.items()},
            "graph_nodes": graph.n_nodes,
            "texts_embedded": int(n_embedded if n_embedded is not None else vectors.shape[0]),
            "skipped_triples": int(kg.stats.get("skipped_triples", 0)),
            "empty_arguments": int(kg.stats.get("empty_arguments", 0)),
            "passages_without_triples": int(kg.stats.get("passages_without_triples", 0)),
        }
        with IndexWriter(out_dir) as w:
            w.insert(
                "passages",
                pl.DataFrame(
                    {
                        "passage_idx": np.arange(P, dtype=np.int32),
                        "passage_id": [p.id for p in passages],
                        "doc_id": [p.document for p in passages],
                        "title": [p.title for p in passages],
                        "text": [p.text for p in passages],
                        "metadata": [metadata_json(p.metadata) for p in passages],
                        "chunk": [p.chunk for p in passages],
                        "span_start": [p.span[0] if p.span else None for p in passages],
                        "span_end": [p.span[1] if p.span else None for p in passages],
                    },
                    schema_overrides={"span_start": pl.Int64, "span_end": pl.Int64},
                ).to_arrow(),
            )
            w.insert(
                "entities",
                pl.DataFrame(
                    {
                        "entity_idx": np.arange(E, dtype=np.int32),
                        "entity_id": [_eid(n) for n in kg.entity_names],
                        "name": kg.entity_names,
                        "n_passages": kg.entity_n_passages,
                    },
                    schema_overrides={"name": pl.Utf8, "entity_id": pl.Utf8},
                ).to_arrow(),
            )
            w.insert(
                "facts",
                pl.DataFrame(
                    {
                        "fact_idx": np.arange(F, dtype=np.int32),
                        "subject_idx": kg.fact_subject,
                        "relation": kg.fact_relation,
                        "object_idx": kg.fact_object,
                        "text": kg.fact_text,
                    },
                    schema_overrides={"relation": pl.Utf8, "text": pl.Utf8},
                ).to_arrow(),
            )
            w.insert(
                "fact_provenance",
                pl.DataFrame(
                    {"fact_idx": kg.provenance[:, 0], "passage_idx": kg.provenance[:, 1]}
                ).to_arrow(),
            )
            w.insert(
                "mentions",
                pl.DataFrame(
                    {
                        "entity_idx": kg.mentions[:, 0],
                        "passage_idx": kg.mentions[:, 1],
                        "n": kg.mentions[:, 2],
                    }
                ).to_arrow(),
            )
            for kind, (src, dst, wt) in edges.items():
                w.insert(
                    "edges",
                    pl.DataFrame(
                        {
                            "src": src.astype(np.int32),
                            "dst": dst.astype(np.int32),
                            "kind": [kind] * src.shape[0],
                            "weight": wt,
                        },
                        schema_overrides={"kind": pl.Utf8},
                    ).to_arrow(),
                )
            for name, arr in {
                "passage_embeddings": p_vec,
                "entity_embeddings": e_vec,
                "fact_embeddings": f_vec,
                "entity_n_passages": kg.entity_n_passages.astype(np.int32),
                "fact_subject": kg.fact_subject.astype(np.int32),
                "fact_object": kg.fact_object.astype(np.int32),
                "graph_indptr": graph.indptr,
                "graph_indices": graph.indices,
                "graph_weights": graph.weights,
            }.items():
                w.write_array(name, arr)
            hp = {
                "m": gc.hnsw_m,
                "ef_construction": gc.hnsw_ef_construction,
                "ef_search": gc.hnsw_ef_search,
            }
            w.write_hnsw("passages", p_vec, **hp)
            w.write_hnsw("entities", e_vec, **hp)
            w.write_hnsw("facts", f_vec, **hp)
            self.timings["write"] = time.perf_counter() - t1
            meta = {
                "config": self.config.to_dict(),
                "components": {
                    "extractor": self.extractor.to_dict(),
                    "embedder": self.embedder.to_dict(),
                    "extractor_stats": _as_dict(getattr(self.extractor, "stats", None)),
                },
                "embedding": {"model": self.embedder.name, "dim": int(vectors.shape[1])},
                "counts": counts,
                "read_stats": read_stats or {},
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                **(extra_meta or {}),
            }
            path = w.commit(meta)
        logger.info("index written to %s", path)
        return BuildReport(path, counts, dict(self.timings))


def _as_dict(stats: Any) -> dict[str, Any]:
    """Extractor stats as a plain dict (they may be a dict or a dataclass)."""
    if stats is None:
        return {}
    if is_dataclass(stats) and not isinstance(stats, type):
        return asdict(stats)
    return dict(stats)


def _eid(name: str) -> str:
    from hipporag.text import entity_id

    return entity_id(name)


__all__ = ["BuildReport", "IndexBuilder", "make_extractor"]
