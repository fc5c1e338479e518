"""Index jobs: the offline pipeline in-process or on Ray, checkpointed and resumable.

A :class:`JobSpec` (TOML or Python) names the corpus, the output and the index
configuration; :func:`run_job` runs OpenIE and embedding batch by batch on the
chosen executor, checkpoints each batch durably and writes the index with
:class:`~indexers.builder.IndexBuilder`. A killed job started again with the
same spec computes only the missing batches.

Example:
    >>> from pipelines.jobs import ExecutorConfig, JobSpec
    >>> spec = JobSpec(inputs=("corpus.json",), output="idx",
    ...                executor=ExecutorConfig(kind="local"))
    >>> spec.checkpoint_path.name
    'idx.checkpoints'
    >>> # report = run_job(spec); print(report.summary())
"""

from pipelines.jobs.checkpoint import CheckpointStore, checkpoint_status
from pipelines.jobs.local import Executor, LocalExecutor
from pipelines.jobs.run import BatchEvent, JobReport, StageCounts, job_status, read_inputs, run_job
from pipelines.jobs.spec import ExecutorConfig, JobSpec

__all__ = [
    "BatchEvent",
    "CheckpointStore",
    "Executor",
    "ExecutorConfig",
    "JobReport",
    "JobSpec",
    "LocalExecutor",
    "StageCounts",
    "checkpoint_status",
    "job_status",
    "read_inputs",
    "run_job",
]
