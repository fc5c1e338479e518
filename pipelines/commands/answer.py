"""``hipporag answer``: answer a question, citing the passages the answer rests on.

By default (``--mode note``) runs the note loop over the index, then, when an
LLM endpoint is given, the reader answers from the best note and the top
passages, citing them as ``[1]``, ``[2]``. Without an LLM the LLM-free note
policy runs and the best note is printed instead of an answer. Always prints
the passages and the loop's trace.

``--mode hybrid`` (or any retrieval mode) is the plain path: retrieve ``-k``
passages (reranked when ``--rerank`` is given), then answer from them with
citations; it needs an LLM. Either path refuses ("not supported by the
retrieved passages") when the model says so or cites no passage it was shown.
``--json`` maps each citation to its passage id, document id and span.

Example:
    $ hipporag answer my-index "Who directed the film that won the Golden Heron Award in 1987?"
    $ hipporag answer my-index "..." --llm-base-url http://127.0.0.1:8080/v1 --llm-model gemma3
    $ hipporag answer my-index "..." --mode hybrid --llm-base-url URL --llm-model M --json
    $ hipporag answer my-index "..." --no-llm --max-step 2 --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import textwrap
from collections.abc import Iterator
from typing import Any

from hipporag.errors import ConfigError, LLMError
from pipelines.commands._rerank_args import add_rerank_options, apply_rerank
from pipelines.termsafe import json_safe, printable
from retrievers.config import RetrievalConfig
from retrievers.note.config import NOTE_POLICIES, NoteConfig

_OVERRIDES = ("top_k", "max_step", "max_fail_step", "max_top_k")


def _note_params() -> type[NoteConfig]:
    """The parameter section of the registered ``note`` retriever."""
    from retrievers import registry

    return registry.spec("note").params  # type: ignore[return-value]


def add_note_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``answer`` and ``eval --mode note``: LLM endpoint and loop budgets."""
    g = p.add_argument_group("note loop")
    g.add_argument(
        "--note-config",
        metavar="TOML",
        help="TOML with the parameters of the registered 'note' retriever (top level or a "
        "[note] table); keys: " + ", ".join(_note_params().field_names()),
    )
    g.add_argument("--top-k", type=int, help="passages per retrieval (default 5)")
    g.add_argument("--max-step", type=int, help="iterations after the first retrieval (default 3)")
    g.add_argument("--max-fail-step", type=int, help="stop after this many rejected notes (1)")
    g.add_argument("--max-top-k", type=int, help="budget of distinct passages seen (default 15)")
    g.add_argument("--policy", choices=NOTE_POLICIES, help="note policy (default auto)")
    g = p.add_argument_group("LLM (OpenAI-compatible)")
    g.add_argument("--llm-base-url", metavar="URL", help="e.g. http://127.0.0.1:8080/v1")
    g.add_argument("--llm-model", metavar="M", help="model name as the server knows it")
    g.add_argument("--llm-cache-dir", metavar="DIR", help="response cache (default ~/.cache)")
    g.add_argument("--no-llm", action="store_true", help="LLM-free policy, no reader")


def note_config_from_args(args: argparse.Namespace) -> NoteConfig:
    """A :class:`NoteConfig` from ``--note-config`` plus the command-line overrides."""
    data = _load_note_toml(args.note_config) if getattr(args, "note_config", None) else {}
    params = _note_params()
    data = params.from_dict(data).to_dict()
    for name in _OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    if getattr(args, "policy", None):
        data["policy"] = args.policy
    return params.from_dict(data)


def _load_note_toml(path: str) -> dict[str, Any]:
    """NoteConfig keys from a TOML file, at top level or in a ``[note]`` table."""
    import tomllib
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"note config file not found: {p}", hint="pass an existing TOML file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML in {p}: {err}", hint="check the file's syntax") from None
    note = data.get("note")
    return dict(note) if isinstance(note, dict) and len(data) == 1 else data


def llm_from_args(args: argparse.Namespace) -> Any:
    """The LLM named by ``--llm-base-url``/``--llm-model``, or None (``--no-llm`` or unset)."""
    if getattr(args, "no_llm", False) or not getattr(args, "llm_base_url", None):
        if getattr(args, "llm_model", None) and not getattr(args, "no_llm", False):
            raise ConfigError(
                "--llm-model needs --llm-base-url",
                hint="e.g. --llm-base-url http://127.0.0.1:8080/v1",
            )
        return None
    if not args.llm_model:
        raise ConfigError(
            "--llm-base-url needs --llm-model",
            hint="name the model as the server lists it at /v1/models",
        )
    from pipelines.qa import make_llm

    over: dict[str, Any] = {}
    if getattr(args, "llm_timeout", None) is not None:
        over["timeout_s"] = _positive(args.llm_timeout, "--llm-timeout")
    if getattr(args, "llm_retries", None) is not None:
        over["max_retries"] = max(0, int(args.llm_retries))
    return make_llm(args.llm_base_url, args.llm_model, cache_dir=args.llm_cache_dir, **over)


def _positive(value: float, flag: str) -> float:
    if not value > 0 or value == float("inf"):
        raise ConfigError(
            f"{flag} must be a positive number of seconds, got {value}",
            hint=f"pass e.g. {flag} 30",
        )
    return float(value)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "answer",
        help="answer a question with the adaptive note loop (LLM reader optional)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="passages to print (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="retrieve only passages whose metadata match (as for 'hipporag retrieve')",
    )
    p.add_argument(
        "--mode",
        default="note",
        metavar="MODE",
        help="note (the note loop, default) or a retrieval mode for the plain "
        "retrieve-then-read path (hybrid, hipporag2, hipporag1, dense)",
    )
    add_note_arguments(p)
    add_rerank_options(p)
    g = p.add_argument_group("time limits")
    g.add_argument(
        "--llm-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds one LLM request may take (default 60)",
    )
    g.add_argument("--llm-retries", type=int, metavar="N", help="retries of a failed request (4)")
    g.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="bound on the whole answer, LLM calls and retries included (default: none)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.facade import HippoRAG
    from pipelines.qa import NoteQA

    if args.timeout is not None:
        _positive(args.timeout, "--timeout")  # before any model loads
    if args.mode != "note":
        from pipelines.commands._answer_plain import run_plain

        llm = llm_from_args(args)
        with time_limit(args.timeout):
            return run_plain(args, llm)
    config = note_config_from_args(args)
    llm = llm_from_args(args)
    rag = HippoRAG.open(args.index, apply_rerank(RetrievalConfig(), args))
    qa = NoteQA(rag, config, llm)
    from pipelines.commands.retrieve import filters_from_args

    with time_limit(args.timeout):
        out = qa.ask(args.question, filters=filters_from_args(getattr(args, "filter", None)))
    if args.json:
        data = out.to_dict()
        data["reader"] = qa.reader is not None
        print(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))
        return 0
    print(printable(render(out, k=args.k, has_reader=qa.reader is not None)))
    return 0


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`LLMError` when the block runs longer than ``seconds`` (main thread)."""
    if seconds is None:
        yield
        return
    seconds = _positive(seconds, "--timeout")

    def expired(signum: int, frame: Any) -> None:
        raise LLMError(
            f"no answer within --timeout {seconds:g} s (the LLM server is slow or stalled)",
            hint="check the LLM server, or raise --timeout / lower --llm-timeout",
        )

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def render(out: Any, *, k: int = 5, has_reader: bool = True) -> str:
    """The human-readable report of ``hipporag answer``."""
    result, trace = out.result, out.result.trace
    lines = []
    if has_reader and getattr(out, "cited", None) is not None:
        from pipelines.commands._answer_plain import render_cited

        lines.append(render_cited(out.cited))
    elif has_reader:
        lines.append(f"answer: {out.answer or '(the reader gave no usable answer)'}")
    else:
        lines.append(
            "answer: no reader is configured (pass --llm-base-url URL --llm-model M); "
            "showing the best note instead"
        )
    lines.append(f"\nbest note (step {trace.best_step}, policy {trace.policy}):")
    note = result.note.text if result.note and not result.note.empty else "(empty)"
    lines.append(textwrap.indent(note, "  "))
    lines.append(f"\npassages ({len(result.seen_ids)} seen, top {min(k, len(result.hits))}):")
    for hit in result.hits[:k]:
        lines.append(f"  {hit.rank}. [{hit.score:.4f}] {hit.title}  ({hit.passage_id})")
        lines.append(textwrap.indent(textwrap.shorten(hit.text, 160), "       "))
    lines.append("\ntrace:")
    lines.append(textwrap.indent(str(trace), "  "))
    lines.append(
        f"\ncalls: {trace.retrieval_calls} retrieval, {out.llm_calls} LLM "
        f"({trace.llm_calls} loop + {out.reader_calls} reader)"
    )
    return "\n".join(lines)


__all__ = ["add_note_arguments", "llm_from_args", "note_config_from_args", "register", "run"]
