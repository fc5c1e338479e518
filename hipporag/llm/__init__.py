"""Shared LLM plumbing: an OpenAI-compatible chat client, a response cache, JSON parsing.

Lives in the core package because both the offline indexers (LLM OpenIE) and
the online retrievers (LLM filtering, QA) use it.

Example:
    >>> from hipporag.config import LLMConfig
    >>> from hipporag.llm import LLMCache, OpenAIChatLLM, parse_json_object
    >>> llm = OpenAIChatLLM(LLMConfig(base_url="http://127.0.0.1:8080/v1", model="m"))
    >>> parse_json_object('answer: {"ok": true}', {"type": "object"})
    {'ok': True}
"""

from __future__ import annotations

from hipporag.llm.cache import CachedResponse, LLMCache, default_cache_dir
from hipporag.llm.client import FORMAT_MODES, ChatRequest, OpenAIChatLLM, UsageStats
from hipporag.llm.jsonparse import (
    ModelOutputError,
    ParsedJSON,
    parse_json,
    parse_json_object,
    validate,
)

__all__ = [
    "FORMAT_MODES",
    "CachedResponse",
    "ChatRequest",
    "LLMCache",
    "ModelOutputError",
    "OpenAIChatLLM",
    "ParsedJSON",
    "UsageStats",
    "default_cache_dir",
    "parse_json",
    "parse_json_object",
    "validate",
]
