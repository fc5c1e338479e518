"""One stage of an index job against its checkpoints: reuse, compute, load.

:class:`StageRunner` takes a stage's plan (batches with content keys), reuses
the batches already checkpointed, has the executor compute the rest (each one
stored durably as it arrives), then loads and decodes every batch, computing
again any stored file that turns out unusable. :func:`had_failures` marks
OpenIE batches worth another try; :func:`assemble_vectors` puts embedding
batches back in text order.

Example:
    >>> had_failures(b'{"info": {"stats": {"failed_passages": 1}}}\\n')
    True
    >>> had_failures(b'{"info": {"stats": {}}}\\n')
    False
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hipporag.errors import JobError
from hipporag.log import get_logger
from hipporag.progress import progress
from pipelines.jobs.checkpoint import CheckpointStore, Namespace
from pipelines.jobs.local import Executor
from pipelines.jobs.report import BatchEvent, StageCounts
from pipelines.jobs.workers import Batch

logger = get_logger(__name__)


class StageRunner:
    """Plans against the checkpoints, computes what is missing, loads every batch.

    Args:
        executor: Computes batches (in-process or on Ray).
        store: The job's checkpoint folder (records each stage's plan in ``job.json``).
        counts: Per-stage counters, updated in place.
        on_batch: Called after each computed batch is checkpointed.
    """

    def __init__(
        self,
        executor: Executor,
        store: CheckpointStore,
        counts: dict[str, StageCounts],
        on_batch: Callable[[BatchEvent], None] | None,
    ) -> None:
        self.executor = executor
        self.store = store
        self.counts = counts
        self.on_batch = on_batch

    def run(
        self,
        stage: str,
        ns: Namespace,
        plan: list[Batch],
        decode: Callable[[Batch, bytes], tuple[Any, dict] | None],
        on_info: Callable[[dict[str, Any]], None] | None,
        retry: Callable[[bytes], bool] | None = None,
    ) -> tuple[list[Any], list[dict]]:
        """Every batch of ``plan`` decoded, in order, and the batches' infos.

        A batch already in ``ns`` is reused unless ``retry(data)`` says to compute it
        again. A stored batch that ``decode`` rejects (None) is discarded and computed
        once more.

        Raises:
            JobError: A batch could still not be computed and stored.
        """
        t = time.perf_counter()
        c = self.counts[stage]
        done = ns.keys()
        if retry is not None:  # e.g. batches with failed LLM calls: try those again
            done = {b.key for b in plan if b.key in done and not retry(ns.read(b.key) or b"")}
        todo = [b for b in plan if b.key not in done]
        c.planned, c.reused = len(plan), len(plan) - len(todo)
        self.store.record_stage(stage, ns, [b.key for b in plan], c.reused)
        logger.info(
            "%s: %d batches (%d reused from checkpoints, %d to compute)",
            stage,
            len(plan),
            c.reused,
            len(todo),
        )
        for attempt in range(2):
            self._compute(stage, ns, todo, on_info, len(plan))
            results: list[Any] = []
            infos: list[dict] = []
            bad = []
            for b in plan:
                data = ns.read(b.key)
                got = decode(b, data) if data is not None else None
                if got is None:
                    bad.append(b)
                    continue
                results.append(got[0])
                infos.append(got[1])
            if not bad:
                c.seconds = time.perf_counter() - t
                return results, infos
            if attempt == 1:
                break
            logger.warning(
                "%s: %d checkpoint files were unusable; computing them again", stage, len(bad)
            )
            for b in bad:
                ns.discard(b.key)
            todo = bad
        raise JobError(
            f"{stage}: {len(bad)} batches could not be computed and stored in {ns.root}",
            hint="check free disk space and permissions of the checkpoint directory",
        )

    def _compute(
        self,
        stage: str,
        ns: Namespace,
        todo: list[Batch],
        on_info: Callable[[dict[str, Any]], None] | None,
        total: int,
    ) -> None:
        c = self.counts[stage]
        stream = self.executor.map(stage, todo)
        for key, data, info in progress(stream, total=len(todo), desc=stage, unit="batch"):
            ns.put(key, data)
            c.computed += 1
            if on_info is not None:
                on_info(info)
            if self.on_batch is not None:
                run_total = sum(x.computed for x in self.counts.values())
                self.on_batch(
                    BatchEvent(
                        stage,
                        key,
                        c.reused + c.computed,
                        total,
                        run_total,
                        float(info.get("seconds", 0.0)),
                        info.get("pid"),
                    )
                )


def had_failures(data: bytes) -> bool:
    """True for an OpenIE batch whose extractor reported failed passages (LLM errors)."""
    try:
        header = json.loads(data.split(b"\n", 1)[0])
        stats = header["info"]["stats"]
        return int(stats.get("failed_passages", 0)) + int(stats.get("malformed_passages", 0)) > 0
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def assemble_vectors(plan: list[Batch], parts: list[np.ndarray], n: int) -> np.ndarray:
    """The ``[n, dim]`` float32 matrix of all texts from the batches' vectors.

    Example:
        >>> from pipelines.jobs.workers import Batch
        >>> plan = [Batch("a", (0, 2), ""), Batch("b", (1,), "")]
        >>> parts = [np.array([[0.0], [2.0]]), np.array([[1.0]])]
        >>> assemble_vectors(plan, parts, 3).ravel().tolist()
        [0.0, 1.0, 2.0]
    """
    dim = parts[0].shape[1] if parts else 0
    out = np.empty((n, dim), dtype=np.float32)
    for b, vecs in zip(plan, parts, strict=True):
        out[list(b.rows)] = vecs
    return out


__all__ = ["StageRunner", "assemble_vectors", "had_failures"]
