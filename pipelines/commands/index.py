"""``hipporag index``: build an index from a corpus, in-process or on Ray, resumably.

Runs an index job (:mod:`pipelines.jobs`): per-batch results are checkpointed
in ``OUT.checkpoints``, so running the same command again after a crash or a
kill computes only the missing batches. An existing index at ``--out`` gets
its new content as a new generation, committed atomically at the very end
(open readers keep theirs until they refresh); bad input fails before
anything is written. ``hipporag add`` / ``update`` change an index instead.

Example:
    $ hipporag index corpus.json --out my-index
    $ hipporag index corpus.json --out my-index --executor ray --workers 4
    $ hipporag index corpus.json --out my-index --openie hipporag:openie_results.json
    $ hipporag index corpus.json --out my-index --config index.toml --openie llm
"""

from __future__ import annotations

import argparse
import json
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from hipporag.errors import ConfigError
from pipelines.commands import _sharded
from pipelines.jobs import JobSpec, run_job
from pipelines.preflight import check_job_paths


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "index",
        help="build an index from a corpus",
        description="Build an index: OpenIE, knowledge graph, embeddings. Resumable.",
    )
    p.add_argument(
        "corpus",
        nargs="+",
        help="corpus file(s): .json, .jsonl, .parquet, .csv, .txt, .md or a folder",
    )
    p.add_argument("--out", required=True, metavar="INDEX_DIR", help="index directory to write")
    p.add_argument(
        "--metadata-fields",
        metavar="A,B",
        help="top-level record fields to keep as document metadata (others are left out)",
    )
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="index files of a folder corpus that link outside the folder (skipped by default)",
    )
    add_job_options(p)
    _sharded.add_options(p)
    p.set_defaults(func=run)


def add_job_options(p: argparse.ArgumentParser) -> None:
    """Options shared with ``hipporag job run`` (executor overrides)."""
    p.add_argument("--openie", metavar="KIND", help="spacy (default) | hipporag:PATH | llm")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML with [embedding] [openie] [graph] [chunking] [executor] tables",
    )
    p.add_argument("--executor", choices=("local", "ray"), help="where OpenIE/embedding run")
    p.add_argument("--workers", type=int, metavar="N", help="Ray workers (default: one per CPU)")
    p.add_argument("--ray-address", metavar="ADDR", help="join this Ray cluster (implies ray)")
    p.add_argument("--batch-size", type=int, metavar="N", help="passages per OpenIE batch")
    p.add_argument(
        "--device", metavar="DEV", help="embedding device: auto | cpu | cuda | cuda:N | mps"
    )
    p.add_argument(
        "--embedding-backend",
        metavar="B",
        help="embedding backend: auto | torch | onnx | onnx-int8",
    )
    p.add_argument("--checkpoint-dir", metavar="DIR", help="default: INDEX_DIR.checkpoints")
    p.add_argument("--fresh", action="store_true", help="ignore and delete earlier checkpoints")
    p.add_argument(
        "--no-keep-checkpoints",
        dest="keep_checkpoints",
        action="store_false",
        default=None,
        help="delete the checkpoints after a successful run",
    )
    add_failure_option(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def add_failure_option(p: argparse.ArgumentParser) -> None:
    """``--max-failed-share`` (shared with ``hipporag job run``)."""
    p.add_argument(
        "--max-failed-share",
        type=float,
        metavar="SHARE",
        help="largest share of passages whose LLM extraction may fail before the index "
        "is not written (default 0.2; 1.0 allows any)",
    )


def _openie_override(value: str) -> dict[str, Any]:
    if value in ("spacy", "llm"):
        return {"kind": value}
    if value.startswith("hipporag:") and len(value) > len("hipporag:"):
        return {"kind": "hipporag", "path": str(Path(value.split(":", 1)[1]).absolute())}
    raise ConfigError(
        f"--openie must be spacy, hipporag:PATH or llm, got {value!r}",
        hint="e.g. --openie hipporag:openie_gpt-3.5-turbo-1106.json",
    )


def _read_toml(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}", hint="pass an existing TOML file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p} is not valid TOML: {err}", hint="check the file's syntax") from None


def apply_overrides(spec: JobSpec, args: argparse.Namespace) -> JobSpec:
    """Command-line options on top of a spec (each re-validated)."""
    if getattr(args, "openie", None):
        spec = replace(spec, openie=replace(spec.openie, **_openie_override(args.openie)))
    emb: dict[str, Any] = {}
    if getattr(args, "device", None):
        emb["device"] = args.device
    if getattr(args, "embedding_backend", None):
        emb["backend"] = args.embedding_backend
    if emb:
        spec = replace(spec, embedding=replace(spec.embedding, **emb))
    ex: dict[str, Any] = {}
    if args.ray_address:
        ex.update(kind="ray", ray_address=args.ray_address)
    if args.executor:
        ex["kind"] = args.executor
        if args.executor == "local" and not args.ray_address:
            ex["ray_address"] = None
    if args.workers is not None:
        ex["workers"] = args.workers
    if args.batch_size is not None:
        ex["batch_size"] = args.batch_size
    if args.keep_checkpoints is not None:
        ex["keep_checkpoints"] = args.keep_checkpoints
    if getattr(args, "max_failed_share", None) is not None:
        ex["max_failed_share"] = args.max_failed_share
    if ex:
        spec = replace(spec, executor=replace(spec.executor, **ex))
    if args.checkpoint_dir:
        spec = replace(spec, checkpoint_dir=str(Path(args.checkpoint_dir).absolute()))
    return spec


def spec_from_args(args: argparse.Namespace) -> JobSpec:
    """The job the ``index`` command runs: config file, then command-line options."""
    data: dict[str, Any] = _read_toml(args.config) if args.config else {}
    data["inputs"] = [str(Path(c).absolute()) for c in args.corpus]
    data["output"] = str(Path(args.out).absolute())
    data.pop("checkpoint_dir", None)
    where = args.config or "--config"
    try:
        spec = JobSpec.from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err.message}", hint=err.hint) from None
    base = Path(args.config).parent if args.config else Path.cwd()
    spec = apply_overrides(spec.resolved(base), args)
    if getattr(args, "metadata_fields", None):
        fields = tuple(f.strip() for f in args.metadata_fields.split(",") if f.strip())
        spec = replace(spec, metadata_fields=fields)
    if getattr(args, "follow_symlinks", False):
        spec = replace(spec, follow_symlinks=True)
    return spec


def print_report(report: Any, as_json: bool, quiet: bool = False) -> None:
    """The report on stdout: JSON with ``--json``, nothing with ``-q``, else the summary."""
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str))
    elif not quiet:
        print(report.summary())


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    if getattr(args, "shards", None):
        return _sharded.index(args, spec)
    check_job_paths(spec)
    report = run_job(spec, fresh=args.fresh, max_failed_share=spec.executor.max_failed_share)
    print_report(report, args.json, getattr(args, "quiet", False))
    return 0
