"""Index job specs: what to index, where to write it, how to run it.

A spec is a TOML file (or a :class:`JobSpec` built in Python) with the corpus
inputs, the output directory, the index configuration sections of
:class:`~hipporag.config.IndexConfig` and an ``[executor]`` table. It is
validated when it is built, before any work starts: unknown keys fail with a
"did you mean" suggestion, bad values with the key and how to fix it.

Example TOML (relative paths are relative to the spec file)::

    inputs = ["corpus.json"]
    output = "my-index"
    # checkpoint_dir = "my-index.checkpoints"   # the default

    [executor]
    kind = "ray"          # or "local" (in-process)
    workers = 2
    batch_size = 64       # passages per OpenIE batch (one checkpoint each)

    [openie]
    kind = "spacy"

    [graph]
    synonymy_threshold = 0.8

Example:
    >>> spec = JobSpec.from_dict({"inputs": ["corpus.json"], "output": "idx",
    ...                           "executor": {"kind": "local"}})
    >>> spec.executor.kind, spec.checkpoint_path.name
    ('local', 'idx.checkpoints')
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from hipporag.config import (
    ChunkConfig,
    EmbeddingConfig,
    GraphConfig,
    IndexConfig,
    OpenIEConfig,
)
from hipporag.errors import ConfigError, InputError, JobError
from hipporag.sections import Section as _Section
from hipporag.sections import check as _check
from pipelines.jobs.checkpoint_layout import check_claimable

EXECUTOR_KINDS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorConfig(_Section):
    """How a job runs.

    Attributes:
        kind: ``"local"`` runs every stage in this process; ``"ray"`` runs OpenIE
            and embedding on a Ray Data actor pool (graph assembly and writing
            stay on the driver).
        workers: Ray actors per parallel stage (0 = one per CPU). Also the
            ``num_cpus`` of a local Ray instance. Ignored by ``"local"``.
        batch_size: Passages per OpenIE batch; each batch is one task and one
            checkpoint file.
        embed_batch_size: Texts per embedding batch (one task, one checkpoint).
        cpus_per_worker: CPUs Ray reserves per actor (lower it for the LLM
            extractor, whose work happens on the LLM server).
        ray_address: Join an existing cluster (``"auto"`` or ``"ray://host:10001"``)
            instead of starting a local one.
        keep_checkpoints: Keep the checkpoint directory after a successful run
            (a later run with a changed graph config then reuses every batch).
            When false, only the files the job created are removed, never the
            user's (see :mod:`pipelines.jobs.checkpoint`).
        max_failed_share: The largest share of passages whose LLM extraction may
            fail (error or malformed answer) before ``hipporag index`` / ``job run``
            refuse to write the index (exit code 2; the checkpoints keep the good
            batches). 1.0 allows any share.

    Example:
        >>> ExecutorConfig(kind="ray", workers=4).workers
        4
    """

    _name: ClassVar[str] = "executor"
    kind: str = "local"
    workers: int = 0
    batch_size: int = 64
    embed_batch_size: int = 256
    cpus_per_worker: float = 1.0
    ray_address: str | None = None
    keep_checkpoints: bool = True
    max_failed_share: float = 0.2

    def validate(self) -> None:
        _check(
            self.kind in EXECUTOR_KINDS,
            f"executor.kind must be one of {EXECUTOR_KINDS}, got {self.kind!r}",
            "use 'local' for in-process runs or 'ray' for a Ray cluster",
        )
        _check(
            self.workers >= 0,
            f"executor.workers must be >= 0 (0 = one per CPU), got {self.workers}",
        )
        _check(self.batch_size >= 1, f"executor.batch_size must be >= 1, got {self.batch_size}")
        _check(
            self.embed_batch_size >= 1,
            f"executor.embed_batch_size must be >= 1, got {self.embed_batch_size}",
        )
        _check(
            self.cpus_per_worker > 0,
            f"executor.cpus_per_worker must be > 0, got {self.cpus_per_worker}",
        )
        _check(
            0.0 <= self.max_failed_share <= 1.0,
            f"executor.max_failed_share must be in [0, 1], got {self.max_failed_share}",
            "e.g. 0.2 (the default) or 1.0 to write the index whatever failed",
        )
        _check(
            not self.ray_address or self.kind == "ray",
            f"executor.ray_address is set ({self.ray_address!r}) but executor.kind is 'local'",
            "set executor.kind = 'ray' to join that cluster, or remove ray_address",
        )

    @property
    def n_workers(self) -> int:
        """``workers``, with 0 resolved to the number of CPUs."""
        return self.workers or (os.cpu_count() or 1)


@dataclass(frozen=True)
class JobSpec(_Section):
    """Everything an index job needs. Build it in Python or load it from TOML.

    Attributes:
        inputs: Corpus paths (JSON, JSONL, .txt or folders of .txt); passages
            found in several inputs are indexed once.
        output: The index directory to write (replaced atomically at the end).
        checkpoint_dir: Where per-batch results go; default ``OUTPUT.checkpoints``
            next to the output.
        executor: How to run (see :class:`ExecutorConfig`).
        embedding, openie, graph, chunking: The :class:`~hipporag.config.IndexConfig`
            sections.
        metadata_fields: Top-level record fields kept as metadata (see
            :func:`indexers.readers.read_corpus`).
        follow_symlinks: Index files of a folder corpus that link outside it.

    Example:
        >>> spec = JobSpec(inputs=("corpus.json",), output="idx",
        ...                executor=ExecutorConfig(kind="ray", workers=2))
        >>> spec.index_config.openie.kind
        'spacy'
        >>> JobSpec.from_toml(spec.to_toml()) == spec
        True
    """

    _name: ClassVar[str] = "spec"
    inputs: tuple[str, ...] = ()
    output: str = ""
    checkpoint_dir: str | None = None
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    openie: OpenIEConfig = field(default_factory=OpenIEConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    chunking: ChunkConfig = field(default_factory=ChunkConfig)
    metadata_fields: tuple[str, ...] = ()
    follow_symlinks: bool = False

    def validate(self) -> None:
        _check(
            len(self.inputs) > 0,
            "spec.inputs is empty",
            'name at least one corpus file, e.g. inputs = ["corpus.json"]',
        )
        _check(
            all(isinstance(p, str) and p.strip() for p in self.inputs),
            f"spec.inputs must be non-empty path strings, got {list(self.inputs)!r}",
        )
        _check(
            bool(self.output.strip()),
            "spec.output is empty",
            'name the index directory to write, e.g. output = "my-index"',
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = "") -> JobSpec:
        data = dict(data or {})
        if isinstance(data.get("inputs"), str):  # a single path is fine too
            data["inputs"] = [data["inputs"]]
        return super().from_dict(data, where)  # type: ignore[no-any-return]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> JobSpec:
        """Read a spec TOML file; relative paths in it are resolved against its folder."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"job spec not found: {p}", hint="pass an existing TOML file")
        try:
            spec = cls.from_toml(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{p} is not UTF-8 text", hint="save the spec as UTF-8") from None
        except ConfigError as err:
            raise ConfigError(f"{p}: {err.message}", hint=err.hint) from None
        return spec.resolved(p.parent)

    @classmethod
    def from_config(
        cls,
        inputs: list[str] | tuple[str, ...],
        output: str | os.PathLike[str],
        config: IndexConfig | None = None,
        executor: ExecutorConfig | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> JobSpec:
        """A spec from an :class:`IndexConfig` (as the ``hipporag index`` command builds it)."""
        cfg = config or IndexConfig()
        return cls(
            inputs=tuple(str(i) for i in inputs),
            output=str(output),
            checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None,
            executor=executor or ExecutorConfig(),
            embedding=cfg.embedding,
            openie=cfg.openie,
            graph=cfg.graph,
            chunking=cfg.chunking,
        )

    def resolved(self, base: str | os.PathLike[str]) -> JobSpec:
        """A copy with relative paths made absolute against ``base``."""
        b = Path(base)

        def absolute(p: str) -> str:
            q = Path(p).expanduser()
            return str(q if q.is_absolute() else (b / q).absolute())

        openie = self.openie
        if openie.path:
            openie = replace(openie, path=absolute(openie.path))
        return replace(
            self,
            inputs=tuple(absolute(i) for i in self.inputs),
            output=absolute(self.output),
            checkpoint_dir=absolute(self.checkpoint_dir) if self.checkpoint_dir else None,
            openie=openie,
        )

    # -- derived -----------------------------------------------------------
    @property
    def index_config(self) -> IndexConfig:
        """The sections that determine the index content."""
        return IndexConfig(
            embedding=self.embedding, openie=self.openie, graph=self.graph, chunking=self.chunking
        )

    @property
    def output_path(self) -> Path:
        return Path(self.output).expanduser().absolute()

    @property
    def checkpoint_path(self) -> Path:
        """The checkpoint directory (default: ``OUTPUT.checkpoints`` beside the output)."""
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir).expanduser().absolute()
        out = self.output_path
        return out.parent / f"{out.name}.checkpoints"

    def fingerprint(self) -> str:
        """A hash of what determines the job's results (not how it is executed)."""
        content = {
            "inputs": [str(Path(i).expanduser().absolute()) for i in self.inputs],
            "config": self.index_config.to_dict(),
            "batch_size": self.executor.batch_size,
            "embed_batch_size": self.executor.embed_batch_size,
        }
        return digest(content)

    def settings_fingerprint(self) -> str:
        """:meth:`fingerprint` without the inputs: another corpus is not a change of settings."""
        content = {
            "config": self.index_config.to_dict(),
            "batch_size": self.executor.batch_size,
            "embed_batch_size": self.executor.embed_batch_size,
        }
        return digest(content)

    def check_paths(self) -> None:
        """Fail early on missing inputs or an output path that may not be replaced."""
        for i in self.inputs:
            if not Path(i).expanduser().exists():
                raise InputError(f"corpus not found: {i}", hint="check the path in job.inputs")
        out = self.output_path
        if out.exists() and not out.is_dir():
            raise JobError(f"output {out} exists and is a file", hint="choose another output path")
        if out.is_dir() and any(out.iterdir()) and not (out / "meta.json").is_file():
            raise JobError(
                f"output {out} is a non-empty directory that is not a hipporag index; "
                "refusing to replace it",
                hint="choose an empty or new output directory",
            )
        ck = self.checkpoint_path
        if ck.exists() and not ck.is_dir():
            raise JobError(f"checkpoint path {ck} is a file", hint="set job.checkpoint_dir")
        if ck == out or out in ck.parents or ck in out.parents:
            raise JobError(
                f"checkpoint folder {ck} and output {out} overlap; the output is replaced "
                "as a whole at the end, so neither may hold the other",
                hint="give the checkpoints their own folder beside the output, e.g. "
                f"{out.parent / (out.name + '.checkpoints')}",
            )
        check_claimable(ck)


def digest(obj: Any, n: int = 16) -> str:
    """A short, stable sha256 hex digest of a JSON-able object."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


__all__ = ["EXECUTOR_KINDS", "ExecutorConfig", "JobSpec", "digest"]
