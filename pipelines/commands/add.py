"""``hipporag add INDEX CORPUS...``: insert passages into an existing index.

Only passages the index does not hold are extracted and embedded; OpenIE and
embedding run as a job (``--executor ray`` works) with checkpoints, and the
change is committed as a new generation that readers pick up on refresh.

The passages are extracted with the index's extractor (its config); an index
built from an OpenIE import file cannot extract documents the file lacks, so
``add`` stops with an error, and ``--openie spacy`` (or ``llm``) extracts them
instead (the new generation's manifest records which extractor added them).

Example:
    $ hipporag add my-index new_docs.json
    $ hipporag add my-index more.jsonl --executor ray --workers 4
    $ hipporag add my-index new_docs.json --openie spacy
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded
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
    if name == "update":
        p.add_argument(
            "--reextract",
            action="store_true",
            help="extract the given documents again even when unchanged (e.g. with "
            "--openie spacy after an import that lacked them)",
        )
    p.set_defaults(func=lambda args: run(args, "insert" if name == "add" else name))


def run(args: argparse.Namespace, operation: str) -> int:
    from hipporag.index import Index

    if is_sharded(args.index):
        return _sharded.change(args, operation)
    from pipelines.jobs import JobSpec, run_job

    idx = Index.open(args.index)
    config = idx.config
    idx.close()
    spec = JobSpec.from_config(
        [str(Path(c).absolute()) for c in args.corpus], str(Path(args.index).absolute()), config
    )
    spec = apply_overrides(spec, args)
    report = run_job(
        spec,
        fresh=args.fresh,
        operation=operation,
        reextract=getattr(args, "reextract", False),
    )
    if args.json:  # the change fields of 'delete --json' too: generation, added, removed...
        change = report.build.to_dict() if hasattr(report.build, "input") else {}
        print(json.dumps({**change, **report.to_dict()}, indent=2, sort_keys=True, default=str))
    else:
        print_report(report, False, getattr(args, "quiet", False))
    return 0
