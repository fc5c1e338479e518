"""``hipporag eval``: passage recall@k and latency on a MuSiQue-style question file.

With an LLM (``--llm-base-url``/``--llm-model``) every question is also answered
from its top passages, with citations: ``--json`` then reports ``answers``
(``em``, ``f1``, ``cited_gold``, ``supported``; see :mod:`pipelines.answer_eval`).

Example:
    $ hipporag eval my-index --questions questions.json
    $ hipporag eval my-index --questions questions.json --mode hipporag2 --json --limit 50
    $ hipporag eval my-index --questions q.json --llm-base-url URL --llm-model M --json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipelines.commands._rerank_args import add_rerank_options, apply_rerank
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
    add_rerank_options(p)
    p.set_defaults(func=run)


def with_recognition_llm(config: Any, mode: str, args: argparse.Namespace) -> Any:
    """Give ``--llm-base-url``/``--llm-model`` to the recognition filter when it is on.

    A ranking mode uses an LLM only as the recognition filter of the fact-seeded
    modes (``--set recognition=true``); with an LLM, every retrieval mode also
    answers each question from its hits (EM/F1 and citations in the report),
    so the LLM is never silently ignored.
    """
    from dataclasses import replace

    from retrievers import registry

    if not getattr(args, "llm_base_url", None) or getattr(args, "no_llm", False):
        llm_from_args(args)  # --llm-model alone: the usual error
        return config
    fields = registry.spec(mode).params.field_names()
    if "recognition" not in fields or not config.recognition:
        return config  # the LLM answers (see run); the ranking itself calls none
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
    config = apply_rerank(retrieval_config(args), args)
    mode = args.mode or config.mode
    runner = None
    llm = llm_from_args(args)
    if mode == "note" and mode not in RUNNERS:
        from pipelines.qa import NoteRunner

        runner = NoteRunner(note_config_from_args(args), llm)
    else:
        runner = get_runner(mode)  # unknown mode: fail before loading anything
        if llm is not None:  # with an LLM, a retrieval mode also answers (EM/F1, citations)
            from pipelines.answer_eval import answer_runner

            runner = answer_runner(runner, llm)
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
        elif llm is not None:
            from pipelines.answer_eval import answer_report

            out = answer_report(out)
        out["index"] = str(rag.path)
        print(json.dumps(out))
    else:
        print(report.table())
    return 0
