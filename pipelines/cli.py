"""The ``hipporag`` command line.

Each subcommand lives in ``pipelines/commands/NAME.py`` and exposes
``register(subparsers)``; it sets ``func`` to a callable taking the parsed
args and returning an exit code. Errors raised on purpose
(:class:`~hipporag.errors.HippoRAGError`) print as one clear message and
exit 2, never as a traceback.

Example:
    $ hipporag index corpus.json --out my-index
    $ hipporag info my-index
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from hipporag.errors import HippoRAGError

COMMANDS = (
    "index",
    "add",
    "delete",
    "update",
    "history",
    "gc",
    "upgrade",
    "verify",
    "info",
    "retrieve",
    "eval",
    "answer",
    "job",
    "export",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipporag",
        description="Graph-based RAG with hippocampal indexing: build indexes, retrieve, evaluate.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"pipelines.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"pipelines.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hipporag").setLevel(level)
    for noisy in ("sentence_transformers", "transformers", "httpx", "httpx2", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except HippoRAGError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `hipporag info IDX | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; any index at the target path is unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
