"""``--rerank`` for ``hipporag retrieve`` and ``hipporag answer``: the optional rerank stage.

``--rerank cross-encoder:MODEL`` (a sentence-transformers CrossEncoder name or
local folder), ``--rerank llm`` (the endpoint of ``--llm-base-url`` /
``--llm-model``, or the config's ``[llm]`` table) or ``--rerank none``;
``--rerank-top-n N`` reranks the N best hits (default 20).
"""

from __future__ import annotations

import argparse
from typing import Any

from retrievers.config import RetrievalConfig


def add_rerank_options(p: argparse.ArgumentParser) -> None:
    """Add ``--rerank`` and ``--rerank-top-n`` (and the LLM endpoint options if missing)."""
    g = p.add_argument_group("rerank (optional stage after retrieval)")
    g.add_argument(
        "--rerank",
        metavar="SPEC",
        help="cross-encoder:MODEL (name or local path), llm, llm:MODEL or none "
        "(default: the config's [rerank] table, off)",
    )
    g.add_argument("--rerank-top-n", type=int, metavar="N", help="hits reranked (default 20)")
    if "--llm-base-url" not in p._option_string_actions:
        g.add_argument("--llm-base-url", metavar="URL", help="LLM endpoint for --rerank llm")
        g.add_argument("--llm-model", metavar="M", help="model name as the server knows it")
        g.add_argument("--llm-cache-dir", metavar="DIR", help="response cache (default ~/.cache)")


def apply_rerank(config: RetrievalConfig, args: argparse.Namespace) -> RetrievalConfig:
    """``config`` with ``--rerank``/``--rerank-top-n`` and the ``--llm-*`` endpoint applied."""
    from retrievers.rerank import RerankConfig

    data = config.to_dict()
    data["llm"] = {**data.get("llm", {}), "base_url": config.llm.base_url}
    rerank = dict(data.get("rerank", {}))
    if getattr(args, "rerank", None):
        rerank = RerankConfig.parse(args.rerank).to_dict()
    if getattr(args, "rerank_top_n", None) is not None:
        rerank["top_n"] = args.rerank_top_n
    data["rerank"] = rerank
    for option, key in (("llm_base_url", "base_url"), ("llm_model", "model")):
        value: Any = getattr(args, option, None)
        if value:
            data["llm"][key] = value
    if getattr(args, "llm_cache_dir", None):
        data["llm"]["cache_dir"] = args.llm_cache_dir
    return RetrievalConfig.from_dict(data)


__all__ = ["add_rerank_options", "apply_rerank"]
