"""Unit tests of OpenAIChatLLM and LLMCache against an in-process fake OpenAI-compatible server."""

from __future__ import annotations

import json
import pickle
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hipporag.config import LLMConfig
from hipporag.errors import LLMError
from hipporag.llm import ChatRequest, LLMCache, OpenAIChatLLM, UsageStats
from tests.plugins.llm_server import Action, FakeOpenAIServer

SCHEMA = {
    "type": "object",
    "properties": {"named_entities": {"type": "array", "items": {"type": "string"}}},
    "required": ["named_entities"],
}


@pytest.fixture
def fake(fake_llm_server: FakeOpenAIServer) -> FakeOpenAIServer:
    return fake_llm_server


def make_llm(url: str, cache: LLMCache | None = None, **overrides: Any) -> OpenAIChatLLM:
    cfg = {"base_url": url, "model": "fake", "max_retries": 3, "timeout_s": 5.0, **overrides}
    return OpenAIChatLLM(LLMConfig(**cfg), cache, retry_base_delay=0.01, retry_max_delay=0.05)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- basics ------------------------------------------------------------------------------


def test_chat_sends_config_and_counts_usage(fake):
    llm = make_llm(fake.url, price_per_1k_prompt=1.0, price_per_1k_completion=2.0)
    assert llm.chat(user("hello"), top_p=0.5, seed=7) == "hello"
    body = fake.requests[0]
    assert body["model"] == "fake"
    assert body["temperature"] == 0.0 and body["max_tokens"] == 512
    assert body["top_p"] == 0.5 and body["seed"] == 7
    assert "response_format" not in body
    usage = llm.usage()
    assert usage["calls"] == 1 and usage["cache_hits"] == 0
    assert usage["prompt_tokens"] == 10 and usage["completion_tokens"] == 5
    assert usage["cost"] == pytest.approx(10 / 1000 * 1.0 + 5 / 1000 * 2.0)
    assert isinstance(llm.stats, UsageStats)


def test_per_call_params_override_config(fake):
    llm = make_llm(fake.url)
    llm.chat(user("x"), temperature=0.7, max_tokens=12)
    assert fake.requests[0]["temperature"] == 0.7
    assert fake.requests[0]["max_tokens"] == 12


def test_api_key_from_env_or_dummy(fake, monkeypatch):
    seen: list[str] = []
    orig = fake._handle

    def spy(h, body, action):
        seen.append(h.headers["Authorization"])
        return orig(h, body, action)

    fake._handle = spy
    monkeypatch.delenv("HIPPO_TEST_KEY", raising=False)
    make_llm(fake.url, api_key_env="HIPPO_TEST_KEY").chat(user("a"))
    monkeypatch.setenv("HIPPO_TEST_KEY", "sk-secret")
    make_llm(fake.url, api_key_env="HIPPO_TEST_KEY").chat(user("a"))
    assert seen[0].startswith("Bearer ") and seen[0] != "Bearer sk-secret"
    assert seen[1] == "Bearer sk-secret"


def test_finish_reason_length_is_counted(fake):
    fake.script = [("ok", '{"named_', "length")]
    llm = make_llm(fake.url)
    assert llm.chat(user("x")) == '{"named_'
    assert llm.usage()["truncated"] == 1


@pytest.mark.parametrize("messages", [[], "hello", [{"content": "no role"}], [1]])
def test_invalid_messages_fail_before_any_http(fake, messages):
    llm = make_llm(fake.url)
    with pytest.raises(LLMError, match="messages"):
        llm.chat(messages)
    assert fake.requests == []


# -- retries -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 408])
def test_retryable_status_then_success(fake, status):
    fake.script = [("status", status), ("status", status)]
    llm = make_llm(fake.url)
    assert llm.chat(user("ok")) == "ok"
    usage = llm.usage()
    assert usage["calls"] == 3 and usage["retries"] == 2 and usage["failures"] == 0


def test_retry_after_header_is_honoured_up_to_the_cap(fake):
    fake.script = [("status", 429, {"Retry-After": "0.4"}), ("status", 429, {"Retry-After": "60"})]
    cfg = LLMConfig(base_url=fake.url, model="fake")
    llm = OpenAIChatLLM(cfg, retry_base_delay=0.01, retry_max_delay=0.5)
    t0 = time.monotonic()
    assert llm.chat(user("ok")) == "ok"
    elapsed = time.monotonic() - t0
    assert 0.4 + 0.5 * 0.9 <= elapsed < 3.0  # 0.4 s as asked, then 60 s clipped to 0.5 s
    assert llm.usage()["retries"] == 2


def test_timeout_is_retried(fake):
    fake.script = [("sleep", 3.0)]
    llm = make_llm(fake.url, timeout_s=0.5)
    assert llm.chat(user("late")) == "late"
    assert llm.usage()["retries"] == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "rejected"), (401, "HIPPO_KEY"), (403, "HIPPO_KEY"), (404, "llm.model"), (422, "")],
)
def test_other_4xx_are_not_retried(fake, status, hint):
    fake.script = [("status", status)] * 5
    llm = make_llm(fake.url, api_key_env="HIPPO_KEY")
    with pytest.raises(LLMError) as info:
        llm.chat(user("x"))
    assert f"HTTP {status}" in str(info.value)
    assert hint in (info.value.hint or "")
    usage = llm.usage()
    assert usage["calls"] == 1 and usage["retries"] == 0 and usage["failures"] == 1


def test_retries_exhausted(fake):
    fake.script = [("status", 500)] * 10
    llm = make_llm(fake.url, max_retries=2)
    with pytest.raises(LLMError, match="after 3 attempts") as info:
        llm.chat(user("x"))
    assert "server is running" in info.value.hint
    usage = llm.usage()
    assert usage["calls"] == 3 and usage["retries"] == 2 and usage["failures"] == 1


def test_connection_refused_is_retried_then_fails():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nobody listens
    llm = make_llm(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(LLMError, match="APIConnectionError"):
        llm.chat(user("x"))
    assert llm.usage()["retries"] == 2


# -- response_format fallback --------------------------------------------------------------


def test_json_schema_is_sent(fake):
    make_llm(fake.url).chat(user("x"), json_schema=SCHEMA)
    fmt = fake.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == SCHEMA and fmt["json_schema"]["name"]


def test_fallback_is_remembered(fake):
    fake.reject_formats = {"json_schema"}
    llm = make_llm(fake.url)
    llm.chat(user("a"), json_schema=SCHEMA)
    llm.chat(user("b"), json_schema=SCHEMA)
    sent = [r.get("response_format") for r in fake.requests]
    assert sent[0]["type"] == "json_schema"
    assert sent[1] == {"type": "json_object", "schema": SCHEMA}
    assert sent[2] == {"type": "json_object", "schema": SCHEMA}  # no second rejection
    assert llm.response_format_mode == "json_object_schema"
    assert llm.usage()["format_fallbacks"] == 1 and llm.usage()["retries"] == 0


def test_fallback_down_to_no_format(fake):
    fake.reject_formats = {"json_schema", "json_object_schema", "json_object"}
    fake.reject_status = 422
    llm = make_llm(fake.url)
    assert llm.chat(user("a"), json_schema=SCHEMA) == "a"
    assert [r.get("response_format", {}).get("type") for r in fake.requests] == [
        "json_schema",
        "json_object",
        "json_object",
        None,
    ]
    assert llm.response_format_mode == "none"
    llm.chat(user("b"), json_schema=SCHEMA)
    assert "response_format" not in fake.requests[-1] and len(fake.requests) == 5


def test_llama_cpp_style_500_rejection_is_a_fallback_not_a_retry(fake):
    fake.reject_formats = {"json_schema"}
    fake.reject_status = 500  # llama-cpp-python answers 500 naming response_format
    llm = make_llm(fake.url)
    assert llm.chat(user("a"), json_schema=SCHEMA) == "a"
    assert llm.usage()["retries"] == 0 and llm.usage()["calls"] == 2


def test_plain_500_with_schema_is_retried(fake):
    fake.script = [("status", 500)]
    llm = make_llm(fake.url)
    llm.chat(user("a"), json_schema=SCHEMA)
    assert llm.usage()["retries"] == 1 and llm.response_format_mode == "json_schema"


def test_nothing_remembered_when_every_form_fails(fake):
    fake.script = [("status", 400)] * 4
    llm = make_llm(fake.url)
    with pytest.raises(LLMError, match="HTTP 400"):
        llm.chat(user("a"), json_schema=SCHEMA)
    assert len(fake.requests) == 4
    assert llm.response_format_mode == "json_schema"


def test_json_schema_disabled_in_config(fake):
    make_llm(fake.url, json_schema=False).chat(user("a"), json_schema=SCHEMA)
    assert "response_format" not in fake.requests[0]


# -- cache ---------------------------------------------------------------------------------


def test_second_run_makes_zero_calls(fake, tmp_path):
    prompts = ["one", "two", "three"]
    first = make_llm(fake.url, LLMCache(tmp_path))
    answers = [first.chat(user(p), json_schema=SCHEMA) for p in prompts]
    assert first.usage()["calls"] == 3
    second = make_llm(fake.url, LLMCache(tmp_path))
    assert [second.chat(user(p), json_schema=SCHEMA) for p in prompts] == answers
    assert second.usage()["calls"] == 0 and second.usage()["cache_hits"] == 3
    assert second.usage()["prompt_tokens"] == 0  # nothing new was spent
    assert len(fake.requests) == 3


def test_cache_key_covers_sampling_and_format(fake, tmp_path):
    llm = make_llm(fake.url, LLMCache(tmp_path))
    llm.chat(user("a"))
    llm.chat(user("a"), temperature=0.5)
    llm.chat(user("a"), max_tokens=7)
    llm.chat(user("a"), json_schema=SCHEMA)
    llm.chat(user("a"), seed=3)
    assert len(fake.requests) == 5
    other_model = make_llm(fake.url, LLMCache(tmp_path), model="other")
    other_model.chat(user("a"))
    assert len(fake.requests) == 6


def test_failures_are_not_cached(fake, tmp_path):
    cache = LLMCache(tmp_path)
    fake.script = [("status", 400)]
    llm = make_llm(fake.url, cache)
    with pytest.raises(LLMError):
        llm.chat(user("a"))
    assert len(cache) == 0
    assert llm.chat(user("a")) == "a"
    assert len(cache) == 1


def test_cache_is_wal_and_shared_by_processes(tmp_path):
    writer = (
        "import sys\n"
        "from hipporag.llm.cache import LLMCache\n"
        "c = LLMCache(sys.argv[1])\n"
        "for i in range(200):\n"
        "    c.put(f'{sys.argv[2]}-{i}', 'x' * 100, prompt_tokens=i)\n"
    )
    root = Path(__file__).resolve().parents[1]
    procs = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), tag], cwd=root)
        for tag in ("a", "b", "c")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    cache = LLMCache(tmp_path)
    assert len(cache) == 600
    assert cache.get("b-199").prompt_tokens == 199
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_pickles_as_its_directory(tmp_path):
    cache = LLMCache(tmp_path)
    cache.put("k", "v")
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.directory == cache.directory and clone.get("k").text == "v"


def test_unwritable_cache_dir_gives_a_hint(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LLMError, match="cache") as info:
        len(LLMCache(blocker / "sub"))
    assert "cache_dir" in info.value.hint


# -- concurrency ---------------------------------------------------------------------------


def test_chat_many_bounds_concurrency_and_keeps_order(fake):
    fake.delay = 0.15
    llm = make_llm(fake.url, concurrency=3)
    prompts = [f"p{i}" for i in range(9)]
    t0 = time.monotonic()
    assert llm.chat_many([{"messages": user(p)} for p in prompts]) == prompts
    assert 2 <= fake.max_inflight <= 3
    assert time.monotonic() - t0 < 9 * 0.15  # really concurrent


def test_semaphore_bounds_direct_chat_calls_from_many_threads(fake):
    fake.delay = 0.1
    llm = make_llm(fake.url, concurrency=2)
    threads = [threading.Thread(target=llm.chat, args=(user(str(i)),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= fake.max_inflight <= 2 and llm.usage()["calls"] == 8


def test_chat_many_returns_errors_in_place(fake):
    def responder(body: dict[str, Any]) -> Action | None:
        return ("status", 400) if body["messages"][-1]["content"] == "bad" else None

    fake.responder = responder
    llm = make_llm(fake.url, concurrency=4)
    requests = [
        ChatRequest(user("a")),
        {"messages": user("bad")},
        {"messages": user("c"), "json_schema": SCHEMA, "max_tokens": 9},
    ]
    out = llm.chat_many(requests)
    assert out[0] == "a" and out[2] == "c"
    assert isinstance(out[1], LLMError)
    assert llm.chat_many([]) == []


def test_counters_are_exact_under_concurrency(fake):
    llm = make_llm(fake.url, concurrency=8)
    out = llm.chat_many([{"messages": user(str(i))} for i in range(64)])
    assert out == [str(i) for i in range(64)]
    usage = llm.usage()
    assert usage["calls"] == 64 and usage["prompt_tokens"] == 640


# -- pickling ------------------------------------------------------------------------------


def test_pickles_as_config_only(fake, tmp_path):
    llm = make_llm(fake.url, LLMCache(tmp_path))
    llm.chat(user("a"))
    clone = pickle.loads(pickle.dumps(llm))
    assert clone.config == llm.config
    assert clone.usage()["calls"] == 0
    assert clone.chat(user("a")) == "a"  # from the shared cache
    assert clone.usage()["cache_hits"] == 1
    assert clone.chat(user("b")) == "b"
    assert b"sk-" not in pickle.dumps(llm)
    llm.close()
    clone.close()


def test_to_dict_has_no_secrets(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    llm = make_llm(fake.url)
    llm.chat(user("a"))
    assert "sk-very-secret" not in json.dumps(llm.to_dict())
    assert llm.to_dict()["model"] == "fake"


def test_cache_location_from_config_or_default(tmp_path, monkeypatch):
    cfg = LLMConfig(cache_dir=str(tmp_path / "c"))
    assert LLMCache.from_config(cfg).directory == tmp_path / "c"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert LLMCache.from_config(LLMConfig()).directory == tmp_path / "xdg" / "hipporag" / "llm"
