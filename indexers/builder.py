"""The offline indexing pipeline: chunk, extract, embed, change the index.

:meth:`IndexBuilder.change` is the one way through: it chunks the passages,
runs the expensive stages (OpenIE, embedding) through a :class:`Stages` object
-- in-process by default, or an executor's (``pipelines.jobs`` runs them batch
by batch, checkpointed, locally or on Ray) -- and leaves everything else to
:func:`indexers.pipeline.run_change` (a build is an insert into an empty index).
Passages the index's extractor does not cover (an OpenIE import file without
them) stop an insert or update with an error that names the fix (see
:func:`indexers.openie_import.check_coverage`).

Example:
    >>> from indexers.builder import IndexBuilder
    >>> from indexers.readers import read_corpus
    >>> import tempfile
    >>> passages, _ = read_corpus(DEMO_CORPUS)
    >>> report = IndexBuilder().build(passages, f"{tempfile.mkdtemp()}/my-index")
    >>> report.counts["passages"] == len(passages)
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hipporag.config import IndexConfig
from hipporag.embedders import make_embedder
from hipporag.errors import InputError
from hipporag.log import get_logger
from hipporag.progress import progress
from hipporag.protocols import Embedder, Extractor
from hipporag.types import Extraction, Passage
from indexers.chunking import chunk_passages
from indexers.embed import embed_unique
from indexers.openie_import import check_coverage
from indexers.openie_lang import skipped_summary
from indexers.pipeline import ChangeReport, run_change

logger = get_logger(__name__)


def make_extractor(config: IndexConfig) -> Extractor:
    """The extractor named by ``config.openie``."""
    oc = config.openie
    if oc.kind == "spacy":
        from indexers.openie_spacy import SpacyOpenIE

        return SpacyOpenIE(oc.spacy_model, batch_size=oc.batch_size, models=oc.spacy_models)
    if oc.kind == "hipporag":
        from indexers.openie_import import HippoRAGOpenIEImporter

        return HippoRAGOpenIEImporter(oc.path or "")
    from hipporag.llm import LLMCache, OpenAIChatLLM
    from indexers.openie_llm import LLMOpenIE

    return LLMOpenIE(OpenAIChatLLM(oc.llm, LLMCache.from_config(oc.llm)), oc.llm)


BuildReport = ChangeReport  # a build is a change: an insert into an empty index


class Stages(Protocol):
    """Where the expensive stages of a change run (in-process or an executor's).

    ``extractor_stats`` are the extractor's counters summed over this change's
    ``extract`` call(s); ``meta`` may add fields to the generation's manifest.
    """

    def extract(self, passages: list[Passage]) -> list[Extraction]: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def extractor_stats(self) -> dict[str, Any]: ...

    def meta(self, manifest: dict[str, Any]) -> dict[str, Any]: ...


class InProcessStages:
    """The builder's own extractor and embedder, in this process."""

    def __init__(self, builder: IndexBuilder) -> None:
        self.builder = builder

    def extract(self, passages: list[Passage]) -> list[Extraction]:
        return self.builder.extract(passages)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.builder.embed(texts)

    def extractor_stats(self) -> dict[str, Any]:
        return _as_dict(getattr(self.builder.extractor, "stats", None))

    def meta(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return manifest


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
        self.embedder = embedder or make_embedder(self.config.embedding)
        self.timings: dict[str, float] = {}

    # -- stages ------------------------------------------------------------
    def prepare(self, passages: Sequence[Passage], *, allow_empty: bool = False) -> list[Passage]:
        """Chunk (if configured) and check there is something to index."""
        out = chunk_passages(passages, self.config.chunking, embedding=self.config.embedding)
        if not out and not allow_empty:
            raise InputError("no passages to index", hint="give a corpus with non-empty passages")
        return out

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """OpenIE over all passages, batch by batch."""
        t = time.perf_counter()
        if not passages:
            return []
        self.extractor.warm_up()
        bs = self.config.openie.batch_size
        out: list[Extraction] = []
        starts = range(0, len(passages), bs)
        for s in progress(starts, total=len(starts), desc="openie", unit="batch"):
            out.extend(self.extractor.extract(passages[s : s + bs]))
        self.timings["openie"] = time.perf_counter() - t
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        vecs = embed_unique(self.embedder, texts)
        self.timings["embedding"] = time.perf_counter() - t
        return vecs

    # -- the whole pipeline --------------------------------------------------
    def _meta(
        self, read_stats: dict[str, Any] | None, stages: Stages
    ) -> Callable[[dict[str, float]], dict]:
        def meta(timings: dict[str, float]) -> dict[str, Any]:
            return stages.meta(
                {
                    "config": self.config.to_dict(),
                    "components": {
                        "extractor": self.extractor.to_dict(),
                        "embedder": self.embedder.to_dict(),
                        "extractor_stats": stages.extractor_stats(),
                    },
                    "embedding": {"model": self.embedder.name},
                    "read_stats": read_stats or {},
                    "timings_s": {k: round(v, 3) for k, v in timings.items()},
                }
            )

        return meta

    def change(
        self,
        operation: str,
        target: str | Path,
        passages: Sequence[Passage] = (),
        ids: Sequence[str] = (),
        *,
        read_stats: dict[str, Any] | None = None,
        stages: Stages | None = None,
        prepared: bool = False,
        reextract: bool = False,
    ) -> ChangeReport:
        """Run one change (build, insert, delete, update, compact) and commit it.

        Args:
            operation: one of :data:`indexers.pipeline.OPERATIONS`.
            target: the index directory.
            passages: records to insert or upsert (chunked here unless ``prepared``).
            ids: passage or document ids to delete.
            read_stats: what reading the corpus counted (kept in the manifest).
            stages: where extraction and embedding run (default: in this process).
            prepared: the passages are chunked already (:meth:`prepare`).
            reextract: ``update`` extracts the given documents again even when
                they are unchanged (e.g. with another extractor).

        Raises:
            InputError: nothing to index, or an insert/update of passages that
                the index's OpenIE import file does not cover.
        """
        if operation not in ("delete", "compact") and not prepared:
            passages = self.prepare(passages, allow_empty=operation != "build")
        stages = stages or InProcessStages(self)
        kind = self.extractor.to_dict().get("kind")

        def extract(new: list[Passage]) -> list[Extraction]:
            missing0 = stages.extractor_stats().get("missing", 0)
            out = stages.extract(new)
            if kind == "hipporag":
                missing = int(stages.extractor_stats().get("missing", 0) - missing0)
                check_coverage(missing, len(new), operation, self.extractor.to_dict())
            return out

        before = dict(stages.extractor_stats())
        report = run_change(
            target,
            self.config,
            operation=operation,
            extract=extract,
            embed=stages.embed,
            meta=self._meta(read_stats, stages),
            passages=passages,
            ids=ids,
            timings=self.timings,
            reextract=reextract,
        )
        after = dict(stages.extractor_stats())
        delta = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int | float)}
        note = skipped_summary(delta)  # passages of a language no configured model reads
        if note:
            report.warnings.append(note)
        return report

    def _run(
        self,
        operation: str,
        target: str | Path,
        passages: Sequence[Passage] = (),
        ids: Sequence[str] = (),
        read_stats: dict[str, Any] | None = None,
    ) -> ChangeReport:
        return self.change(operation, target, passages, ids, read_stats=read_stats)

    def build(
        self,
        passages: Sequence[Passage],
        out_dir: str | Path,
        *,
        read_stats: dict[str, Any] | None = None,
    ) -> ChangeReport:
        """Index ``passages`` as a new generation replacing the content at ``out_dir``."""
        return self._run("build", out_dir, passages, read_stats=read_stats)

    def insert(self, passages: Sequence[Passage], index_dir: str | Path) -> ChangeReport:
        """Add the passages the index does not hold yet (by id); others are counted."""
        return self._run("insert", index_dir, passages)

    def delete(self, ids: Sequence[str], index_dir: str | Path) -> ChangeReport:
        """Remove passages by passage id or document id; unknown ids are reported."""
        return self._run("delete", index_dir, ids=list(ids))

    def update(
        self, passages: Sequence[Passage], index_dir: str | Path, *, reextract: bool = False
    ) -> ChangeReport:
        """Upsert by document: changed documents are replaced, unchanged ones skipped.

        ``reextract`` replaces the given documents even when unchanged, so they
        are extracted again (with this builder's extractor).
        """
        return self.change("update", index_dir, passages, reextract=reextract)

    def compact(self, index_dir: str | Path) -> ChangeReport:
        """Rewrite the index as one piece per file, deleted vectors zeroed (no model runs)."""
        return self._run("compact", index_dir)


def _as_dict(stats: Any) -> dict[str, Any]:
    """Extractor stats as a plain dict (they may be a dict or a dataclass)."""
    if stats is None:
        return {}
    if is_dataclass(stats) and not isinstance(stats, type):
        return asdict(stats)
    return dict(stats)


__all__ = [
    "BuildReport",
    "ChangeReport",
    "InProcessStages",
    "IndexBuilder",
    "Stages",
    "make_extractor",
]
