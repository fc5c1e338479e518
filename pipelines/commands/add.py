"""``hipporag add INDEX CORPUS...``: insert passages into an existing index.

Only passages the index does not hold are extracted and embedded; OpenIE and
embedding run as a job (``--executor ray`` works) with checkpoints, and the
change is committed as a new generation that readers pick up on refresh.

Example:
    $ hipporag add my-index new_docs.json
    $ hipporag add my-index more.jsonl --executor ray --workers 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipelines.commands.index import add_job_options, apply_overrides, print_report


def register(subparsers: Any) -> None:
    _register(subparsers, "add", "insert the passages of a corpus into an index")


def _register(subparsers: Any, name: str, help_text: str) -> None:
    p = subparsers.add_parser(
        name, help=help_text, description=help_text[0].upper() + help_text[1:]
    )
    p.add_argument("index", metavar="INDEX_DIR", help="an index written by 'hipporag index'")
    p.add_argument("corpus", nargs="+", help="corpus file(s): .json, .jsonl, .txt or a folder")
    add_job_options(p)
    p.set_defaults(func=lambda args: run(args, "insert" if name == "add" else name))


def run(args: argparse.Namespace, operation: str) -> int:
    from hipporag.index import Index
    from pipelines.jobs import JobSpec, run_job

    idx = Index.open(args.index)
    config = idx.config
    idx.close()
    spec = JobSpec.from_config(
        [str(Path(c).absolute()) for c in args.corpus], str(Path(args.index).absolute()), config
    )
    spec = apply_overrides(spec, args)
    report = run_job(spec, fresh=args.fresh, operation=operation)
    if args.json:  # the change fields of 'delete --json' too: generation, added, removed...
        change = report.build.to_dict() if hasattr(report.build, "input") else {}
        print(json.dumps({**change, **report.to_dict()}, indent=2, sort_keys=True, default=str))
    else:
        print_report(report, False)
    return 0
