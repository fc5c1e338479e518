"""The ``hipporag`` command line.

Each subcommand lives in ``pipelines/commands/NAME.py`` and exposes
``register(subparsers)``; it sets ``func`` to a callable taking the parsed
args and returning an exit code.

Error policy: every failure prints exactly one line on stderr,
``error: WHAT; how to fix: HINT``, and exits with

* 2 for anything the user can fix: bad input or configuration, an unusable
  path, an unreachable LLM server (:class:`~hipporag.errors.HippoRAGError`,
  and :class:`OSError` such as a full disk or a permission problem);
* 1 for an internal error (a bug: anything else);
* 130 when interrupted.

The traceback is printed only with ``-v``. Arguments that are not valid
UTF-8 are rejected before anything runs.

Example:
    $ hipporag index corpus.json --out my-index
    $ hipporag info my-index
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from hipporag.errors import HippoRAGError, InputError
from pipelines.cli_faults import (
    as_os_error,
    interrupted_message,
    is_interrupt,
    watching_ctrl_c,
)
from pipelines.termsafe import printable

COMMANDS = (
    "index",
    "add",
    "delete",
    "update",
    "history",
    "gc",
    "compact",
    "upgrade",
    "verify",
    "info",
    "retrieve",
    "eval",
    "answer",
    "job",
    "export",
    "cache",
    "keys",
    "serve",
    "mcp",
)

EXIT_INTERNAL = 1
EXIT_USER = 2

_OS_HINTS = {
    errno.ENOSPC: "free some disk space, or write to another file system",
    errno.EDQUOT: "free some disk space (quota exceeded), or write elsewhere",
    errno.EACCES: "check the permissions of that path, or choose another one",
    errno.EPERM: "check the permissions of that path, or choose another one",
    errno.EROFS: "that file system is read-only: choose a writable path",
    errno.ENOENT: "check that the path exists",
    errno.ENOTDIR: "a part of that path is a file, not a folder: check the path",
    errno.EISDIR: "that path is a folder; pass a file",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as the one-line error of every other failure."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = f"see `{self.prog} --help`"
        print(one_line(message, hint), file=sys.stderr)
        raise SystemExit(EXIT_USER)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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


def one_line(message: str, hint: str | None) -> str:
    r"""The single stderr line of a failure: control characters escaped, no newlines.

    Example:
        >>> one_line("bad value\n in x", "use 1")
        'error: bad value in x; how to fix: use 1'
    """
    text = " ".join(str(message).split())
    if hint:
        text += f"; how to fix: {' '.join(str(hint).split())}"
    return printable(f"error: {text}")


def _check_argv(argv: Sequence[str]) -> None:
    """Reject arguments that were not valid UTF-8 (Python decodes them to lone surrogates)."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise InputError(
                f"argument {i} ({shown!r}) is not valid UTF-8",
                hint="pass paths and queries as UTF-8 (rename the file, or check the "
                "terminal's encoding)",
            ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    raw = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in raw)
    try:
        with watching_ctrl_c(process_exit=argv is None):
            return _main(raw)
    except HippoRAGError as err:
        return _fail(one_line(err.message, err.hint), EXIT_USER, verbose)
    except BrokenPipeError:  # e.g. `hipporag info IDX | head`
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        print(interrupted_message(), file=sys.stderr)
        return 130
    except OSError as err:
        what = err.strerror or str(err)
        where = f": {err.filename}" if err.filename else ""
        hint = _OS_HINTS.get(err.errno or 0, "check the path and the free disk space")
        return _fail(one_line(f"{what}{where}", hint), EXIT_USER, verbose)
    except MemoryError:
        hint = "index in smaller parts, lower executor.batch_size, or use a larger machine"
        return _fail(one_line("out of memory", hint), EXIT_USER, verbose)
    except RecursionError as err:
        line = one_line(f"input nested too deeply ({err})", "simplify the input")
        return _fail(line, EXIT_USER, verbose)
    except Exception as err:  # a bug: one line, and the traceback with -v
        if is_interrupt(err):  # Ctrl-C inside DuckDB
            print(interrupted_message(), file=sys.stderr)
            return 130
        os_err = as_os_error(err)  # e.g. a full disk under DuckDB
        if os_err is not None:
            hint = _OS_HINTS.get(os_err.errno or 0, "check the path and the free disk space")
            return _fail(one_line(os_err.strerror or str(os_err), hint), EXIT_USER, verbose)
        msg = f"internal error: {type(err).__name__}: {err}"
        hint = "run again with -v for the traceback and report it"
        return _fail(one_line(msg, hint), EXIT_INTERNAL, verbose)


def _fail(line: str, code: int, verbose: bool) -> int:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    print(line, file=sys.stderr)
    return code


def _quiet_stdout() -> None:
    """After a closed pipe, make the interpreter's final flush silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _main(argv: list[str]) -> int:
    _check_argv(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hipporag").setLevel(level)
    for noisy in (
        "sentence_transformers",
        "transformers",
        "httpx",
        "httpx2",
        "httpcore",
        "httpcore2",
        "openai",
        "filelock",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
