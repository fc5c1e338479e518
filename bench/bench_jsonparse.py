"""Benchmark: :func:`hipporag.llm.jsonparse.parse_json` on large and typical model replies.

Times the current module and, with ``--baseline FILE``, another copy of it
(e.g. an earlier commit's) side by side: the two alternate within each repeat,
so machine load hits both alike. Prints a Markdown table of medians (ms per
parse) and checks that both copies return the same value and repairs.

Usage::

    git show 73a43e8:hipporag/llm/jsonparse.py > /tmp/jsonparse_before.py
    PYTHONPATH=. .venv/bin/python bench/bench_jsonparse.py --baseline /tmp/jsonparse_before.py

Example:
    >>> sorted(replies(triples=3))[:2]
    ['large clean (fenced)', 'large long strings']
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import timeit
from types import ModuleType
from typing import Any

from hipporag.llm import jsonparse


def replies(triples: int = 2000) -> dict[str, str]:
    """Model replies by name: triples with escapes and brackets in strings, prose, damage."""
    rows = [[f'Entity "{i}" \\ né', "is {related} to [x]", f"Other, {i}"] for i in range(triples)]
    body = json.dumps({"triples": rows}, ensure_ascii=False)
    prose = {"answer": "word, [x] " * 10_000, "notes": ["a sentence, with {braces} " * 5] * 200}
    return {
        "large clean (fenced)": "Sure! Here it is:\n```json\n" + body + "\n```\n",
        "large trailing commas": "```json\n" + body.replace("]]}", "],],}") + "\n```",
        "large truncated": body[:-37],
        "large long strings": json.dumps(prose),
        "typical (20 triples)": json.dumps({"triples": rows[:20]}),
    }


def load(path: str) -> ModuleType:
    """A copy of the parser module from a file."""
    spec = importlib.util.spec_from_file_location("jsonparse_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(modules: dict[str, Any], text: str, repeat: int) -> dict[str, float]:
    """Median ms per ``parse_json(text)`` of each module, alternating within each repeat."""
    results = {name: m.parse_json(text) for name, m in modules.items()}
    shapes = {(json.dumps(r.value), tuple(r.repairs)) for r in results.values()}
    if len(shapes) != 1:
        raise SystemExit("the modules parse this reply differently")
    number = max(1, 200_000 // len(text))
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(repeat):
        for name, m in modules.items():
            seconds = timeit.timeit(lambda m=m: m.parse_json(text), number=number)
            times[name].append(seconds / number * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="another jsonparse.py to time side by side")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    modules: dict[str, Any] = {"current": jsonparse}
    if args.baseline:
        modules = {"baseline": load(args.baseline), **modules}
    print("| reply | chars | " + " | ".join(f"{n} ms" for n in modules) + " |")
    print("| --- | --- |" + " --- |" * len(modules))
    for name, text in replies().items():
        ms = measure(modules, text, args.repeat)
        cells = " | ".join(f"{v:.3f}" for v in ms.values())
        print(f"| {name} | {len(text):,} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
