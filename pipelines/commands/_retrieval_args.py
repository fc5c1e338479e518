"""Options shared by ``hipporag retrieve`` and ``hipporag eval``: mode and retrieval config."""

from __future__ import annotations

import argparse
from typing import Any

from retrievers.config import RetrievalConfig


def mode_help(*, rankers_only: bool = True) -> str:
    """``--mode`` help text listing the registered retrievers."""
    from retrievers import registry

    text = registry.describe(rankers_only=rankers_only)
    return "retrieval mode (default: the config's, hybrid): " + text.replace("%", "%%")


def add_retrieval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="TOML",
        help="retrieval parameters as TOML (the fields of RetrievalConfig)",
    )
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one retrieval parameter, e.g. --set top_facts=5 (repeatable); "
        "keys: "
        + ", ".join(k for k in RetrievalConfig.field_names() if k not in ("llm", "rerank")),
    )
    p.add_argument("--no-explain", action="store_true", help="skip explanations (faster)")


def _value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


def retrieval_config(args: argparse.Namespace) -> RetrievalConfig:
    """The RetrievalConfig of the parsed options (validated; clear errors)."""
    from hipporag.errors import ConfigError

    base = RetrievalConfig.load(args.config) if args.config else RetrievalConfig()
    data = base.to_dict()
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not KEY=VALUE", hint="e.g. --set damping=0.5")
        data[key.strip()] = _value(value.strip())
    if getattr(args, "no_explain", False):
        data["explain"] = False
    from retrievers import registry

    mode = getattr(args, "mode", None)
    if mode in registry.names(rankers_only=True):
        data["mode"] = mode
    return RetrievalConfig.from_dict(data)
