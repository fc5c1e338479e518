"""``hipporag job``: run an index job described by a TOML spec, or show its progress.

Example:
    $ hipporag job template > job.toml      # an annotated example spec
    $ hipporag job run job.toml             # resumes from checkpoints if any
    $ hipporag job status job.toml          # batches done per stage
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pipelines.commands.index import add_failure_option, apply_overrides, print_report
from pipelines.jobs import JobSpec, job_status, run_job
from pipelines.preflight import check_job_paths

TEMPLATE = """\
# An index job. Relative paths are relative to this file.
inputs = ["corpus.json"]          # one or more corpus files or folders
output = "my-index"               # replaced atomically when the job finishes
# checkpoint_dir = "my-index.checkpoints"

[executor]
kind = "local"                    # "local" (in-process) or "ray"
workers = 0                       # Ray actors per stage; 0 = one per CPU
batch_size = 64                   # passages per OpenIE batch (one checkpoint each)
embed_batch_size = 256            # texts per embedding batch
# ray_address = "auto"            # join a running cluster instead of starting one
keep_checkpoints = true
max_failed_share = 0.2            # LLM OpenIE: refuse to write if more passages failed

[openie]
kind = "spacy"                    # "spacy", "hipporag" (with path = ...) or "llm"

[embedding]
model = "all-MiniLM-L6-v2"

[graph]
synonymy_threshold = 0.8

[chunking]
max_words = 0
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("job", help="run an index job from a TOML spec, or show progress")
    sub = p.add_subparsers(dest="job_command", metavar="ACTION", required=True)

    r = sub.add_parser("run", help="run or resume the job")
    r.add_argument("spec", metavar="SPEC.toml")
    r.add_argument("--executor", choices=("local", "ray"), help="override executor.kind")
    r.add_argument("--workers", type=int, metavar="N", help="override executor.workers")
    r.add_argument("--ray-address", metavar="ADDR", help="override executor.ray_address")
    r.add_argument("--fresh", action="store_true", help="ignore and delete earlier checkpoints")
    add_failure_option(r)
    r.add_argument("--json", action="store_true", help="print the report as JSON")
    r.set_defaults(
        func=run, openie=None, batch_size=None, keep_checkpoints=None, checkpoint_dir=None
    )

    s = sub.add_parser("status", help="show checkpoint progress of the job")
    s.add_argument("spec", metavar="SPEC.toml")
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.set_defaults(func=status)

    t = sub.add_parser("template", help="print an example spec")
    t.set_defaults(func=template)


def run(args: argparse.Namespace) -> int:
    spec = apply_overrides(JobSpec.load(args.spec), args)
    check_job_paths(spec)
    report = run_job(spec, fresh=args.fresh, max_failed_share=spec.executor.max_failed_share)
    print_report(report, args.json, getattr(args, "quiet", False))
    return 0


def status(args: argparse.Namespace) -> int:
    spec = JobSpec.load(args.spec)
    st = job_status(spec)
    if args.json:
        print(json.dumps(st, indent=2, sort_keys=True))
        return 0
    print(f"job {args.spec}")
    print(
        f"  output {spec.output_path} ({'written' if st['output_exists'] else 'not written yet'})"
    )
    if not st["exists"]:
        print(f"  checkpoints {st['path']}: none yet (job not started)")
        return 0
    print(f"  checkpoints {st['path']} (last run started {st.get('started')})")
    if not st["spec_matches"]:
        print("  note: the spec changed since that run; stages with changed settings restart")
    for stage in ("openie", "embedding"):
        info = st["stages"].get(stage)
        if info is None:
            print(f"  {stage}: not started")
        else:
            print(f"  {stage}: {info['done']}/{info['planned']} batches done")
    for name, ns in st["namespaces"].items():
        print(f"  {name}: {ns['batches']} batch files, {ns['bytes'] / 1e6:.1f} MB")
    return 0


def template(args: argparse.Namespace) -> int:
    print(TEMPLATE, end="")
    return 0
