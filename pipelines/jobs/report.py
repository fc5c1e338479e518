"""What a job reports: batch counts per stage, executor, LLM token usage and cost.

Example:
    >>> c = StageCounts(planned=10, reused=4, computed=6)
    >>> c.planned == c.reused + c.computed
    True
    >>> merge_stats([{"baseline": {"docs": 5}, "stats": {"matched": 2}},
    ...              {"baseline": {"docs": 5}, "stats": {"matched": 3}}])
    {'matched': 5, 'docs': 5}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hipporag.errors import ExtractionError
from indexers.builder import BuildReport
from indexers.openie_lang import skipped_summary


@dataclass
class StageCounts:
    """Batches of one stage: planned = reused (from checkpoints) + computed.

    Example:
        >>> StageCounts(planned=4, reused=3, computed=1).computed
        1
    """

    planned: int = 0
    reused: int = 0
    computed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BatchEvent:
    """Passed to ``on_batch`` after a computed batch is durably checkpointed.

    Example:
        >>> def show(e: BatchEvent) -> None:
        ...     print(f"{e.stage} {e.done}/{e.total} ({e.seconds:.1f}s)")
        >>> show(BatchEvent("openie", "k", 3, 10, 3, 1.25))
        openie 3/10 (1.2s)
        >>> # run_job(spec, on_batch=show)
    """

    stage: str
    key: str
    done: int  # batches of this stage finished so far (reused included)
    total: int  # batches of this stage
    computed: int  # batches computed by this run so far, all stages
    seconds: float = 0.0  # the worker's compute time for this batch
    pid: int | None = None  # the worker process that computed it


@dataclass
class JobReport:
    """What a job did: the build report plus batch counts, executor and LLM usage.

    ``usage`` counts the LLM tokens and cost of the batches this run computed
    (None when the extractor has no ``usage()``); ``usage_all_batches`` covers
    every batch of the index, reused ones included.

    Example:
        >>> report = run_job(spec)                                   # doctest: +SKIP
        >>> report.batches["openie"].reused, report.usage["cost"]    # doctest: +SKIP
        (40, 0.81)
        >>> print(report.summary())                                  # doctest: +SKIP
    """

    build: BuildReport
    batches: dict[str, StageCounts]
    executor: str
    workers: int
    startup_s: float
    checkpoint_dir: Path | None
    usage: dict[str, float] | None = None
    usage_all_batches: dict[str, float] | None = None
    config_changed: bool = False
    stale_namespaces: list[str] = field(default_factory=list)
    extractor_stats: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.build.path

    @property
    def counts(self) -> dict[str, Any]:
        return self.build.counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.build.path),
            "counts": self.build.counts,
            "timings_s": {k: round(v, 3) for k, v in self.build.timings_s.items()},
            "batches": {k: asdict(v) for k, v in self.batches.items()},
            "executor": self.executor,
            "workers": self.workers,
            "startup_s": round(self.startup_s, 3),
            "checkpoint_dir": str(self.checkpoint_dir) if self.checkpoint_dir else None,
            "usage": self.usage,
            "usage_all_batches": self.usage_all_batches,
            "extractor_stats": self.extractor_stats,
            "change": {
                k: v
                for k, v in self.build.to_dict().items()
                if k in ("operation", "generation", "committed", "added", "removed", "input")
            },
        }

    def summary(self) -> str:
        lines = [self.build.summary()]
        lines.append(
            "  batches "
            + "  ".join(
                f"{k} {c.planned} (reused {c.reused}, computed {c.computed})"
                for k, c in self.batches.items()
            )
        )
        start = f", start-up {self.startup_s:.1f}s" if self.executor == "ray" else ""
        lines.append(f"  executor {self.executor} ({self.workers} workers{start})")
        if self.usage is not None:
            lines.append("  llm usage " + _fmt_usage(self.usage))
        skipped = skipped_summary(self.extractor_stats)
        if skipped:
            lines.append(f"  warning: {skipped}")
        failed = failed_passages(self.extractor_stats)
        if failed:
            lines.append(
                f"  openie failed for {failed} passages (indexed without triples); run the "
                "job again to retry only their batches"
            )
        if self.checkpoint_dir is not None:
            lines.append(f"  checkpoints kept in {self.checkpoint_dir}")
        if self.config_changed:
            lines.append(
                "  note: the settings changed since the checkpoints were written; "
                "only batches of unchanged stages were reused"
            )
        return "\n".join(lines)


def _fmt_usage(u: dict[str, float]) -> str:
    keys = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "failures")
    parts = [f"{k} {int(u.get(k, 0))}" for k in keys if k in u]
    if "cost" in u:
        parts.append(f"cost ${u['cost']:.4f}")
    return "  ".join(parts) or "none"


def add_counts(total: dict[str, float], delta: dict[str, float]) -> None:
    for k, v in delta.items():
        total[k] = total.get(k, 0) + v


def merge_stats(headers: list[dict]) -> dict[str, float]:
    """Extractor counters over all batches: summed deltas on top of the load-time baseline."""
    baseline: dict[str, float] = {}
    out: dict[str, float] = {}
    for h in headers:
        for k, v in (h.get("baseline") or {}).items():
            baseline[k] = max(baseline.get(k, 0), v)
        add_counts(out, h.get("stats") or {})
    for k, v in baseline.items():
        out[k] = out.get(k, 0) + v
    return out


def failed_passages(stats: dict[str, float]) -> int:
    """Passages whose extraction failed: LLM errors plus malformed answers."""
    return int(stats.get("failed_passages", 0)) + int(stats.get("malformed_passages", 0))


def check_failure_share(stats: dict[str, float], max_share: float | None) -> None:
    """Raise when more than ``max_share`` of the passages failed extraction.

    Example:
        >>> check_failure_share({"passages": 10, "failed_passages": 2}, 0.2)
        >>> check_failure_share({"passages": 10, "malformed_passages": 3}, 0.2)
        Traceback (most recent call last):
        ...
        hipporag.errors.ExtractionError: OpenIE failed for 3 of 10 passages (30%, more than the 20% allowed); the index was not written
          how to fix: fix the LLM server or model and run the same command again (only the failed batches are redone), or allow it with --max-failed-share 1.0 (executor.max_failed_share)
    """
    if max_share is None:
        return
    total = int(stats.get("passages", 0))
    failed = failed_passages(stats)
    if total <= 0 or failed / total <= max_share:
        return
    raise ExtractionError(
        f"OpenIE failed for {failed} of {total} passages ({failed / total:.0%}, more than "
        f"the {max_share:.0%} allowed); the index was not written",
        hint="fix the LLM server or model and run the same command again (only the "
        "failed batches are redone), or allow it with --max-failed-share 1.0 "
        "(executor.max_failed_share)",
    )


def sum_usage(headers: list[dict]) -> dict[str, float] | None:
    total: dict[str, float] = {}
    seen = False
    for h in headers:
        if h.get("usage") is not None:
            seen = True
            add_counts(total, h["usage"])
    return total if seen else None


__all__ = [
    "BatchEvent",
    "JobReport",
    "StageCounts",
    "add_counts",
    "check_failure_share",
    "failed_passages",
    "merge_stats",
    "sum_usage",
]
