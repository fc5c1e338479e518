"""``hipporag eval``: passage recall@k and latency on a MuSiQue-style question file.

Example:
    $ hipporag eval my-index --questions questions.json
    $ hipporag eval my-index --questions questions.json --mode hipporag2 --json --limit 50
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipelines.commands._retrieval_args import add_retrieval_options, mode_help, retrieval_config
from pipelines.commands.answer import add_note_arguments, llm_from_args, note_config_from_args


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help="recall@k and latency on a question file")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--questions", required=True, metavar="QUESTIONS.json")
    p.add_argument("--mode", metavar="MODE", help=mode_help(rankers_only=False))
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_retrieval_options(p)
    add_note_arguments(p)  # used by --mode note
    p.set_defaults(func=run)


def with_recognition_llm(config: Any, mode: str, args: argparse.Namespace) -> Any:
    """Give ``--llm-base-url``/``--llm-model`` to the one thing that uses an LLM in a ranker.

    A ranking mode uses an LLM only as the recognition filter of the fact-seeded
    modes (``--set recognition=true``); an LLM given for a mode that would not
    use it is an error, never silently ignored.
    """
    from dataclasses import replace

    from hipporag.errors import ConfigError
    from retrievers import registry

    if not getattr(args, "llm_base_url", None) or getattr(args, "no_llm", False):
        llm_from_args(args)  # --llm-model alone: the usual error
        return config
    fields = registry.spec(mode).params.field_names()
    if "recognition" not in fields or not config.recognition:
        where = (
            "add --set recognition=true to filter the linked facts with it"
            if "recognition" in fields
            else "use a fact-seeded mode (hipporag2, hybrid) with --set recognition=true"
        )
        raise ConfigError(
            f"--llm-base-url is not used by eval --mode {mode}: a ranking mode calls an LLM "
            "only as the recognition filter, which is off",
            hint=f"{where}; or use --mode note (LLM policy and reader); or drop --llm-base-url",
        )
    llm_from_args(args)  # --llm-base-url without --llm-model: the usual error
    llm = replace(config.llm, base_url=args.llm_base_url, model=args.llm_model)
    if getattr(args, "llm_cache_dir", None):
        llm = replace(llm, cache_dir=args.llm_cache_dir)
    return replace(config, llm=llm)


def run(args: argparse.Namespace) -> int:
    from hipporag.errors import InputError
    from pipelines.evaluate import RUNNERS, evaluate, get_runner, load_questions
    from pipelines.facade import HippoRAG

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    config = retrieval_config(args)
    mode = args.mode or config.mode
    runner = None
    if mode == "note" and mode not in RUNNERS:
        from pipelines.qa import NoteRunner

        runner = NoteRunner(note_config_from_args(args), llm_from_args(args))
    else:
        runner = get_runner(mode)  # unknown mode: fail before loading anything
        config = with_recognition_llm(config, mode, args)
    questions = load_questions(args.questions, args.limit)
    rag = HippoRAG.open(args.index, config)
    show = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

    report = evaluate(rag, questions, mode=mode, progress=progress, runner=runner)
    if show:
        print(file=sys.stderr)
    if args.json:
        out = report.to_dict()
        if mode == "note":
            from pipelines.qa import note_report

            out = note_report(out)
        out["index"] = str(rag.path)
        print(json.dumps(out))
    else:
        print(report.table())
    return 0
