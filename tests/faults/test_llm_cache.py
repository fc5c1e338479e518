"""The LLM cache: private files, checksummed entries, model identity in keys, no secrets."""

from __future__ import annotations

import json
import logging
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hipporag.config import LLMConfig
from hipporag.llm import LLMCache, OpenAIChatLLM
from hipporag.llm.cache import DB_NAME, SECRET_NAME, TABLE
from hipporag.redact import redact_url
from pipelines.jobs import JobSpec, run_job
from tests.plugins.llm_server import FakeOpenAIServer
from tests.test_jobs import StubEmbedder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server():
    s = FakeOpenAIServer()
    yield s
    s.close()


def make_llm(url: str, cache: LLMCache | None, **over) -> OpenAIChatLLM:
    cfg = {"base_url": url, "model": "m", "max_retries": 1, "timeout_s": 5.0, **over}
    return OpenAIChatLLM(LLMConfig(**cfg), cache, retry_base_delay=0.01, retry_max_delay=0.02)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_cache_files_are_private(server, tmp_path):
    cache = LLMCache(tmp_path / "c")
    make_llm(server.url, cache).chat(user("hello"))
    for p in (tmp_path / "c").iterdir():
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700


def test_existing_world_readable_cache_is_made_private(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / DB_NAME).touch(mode=0o644)
    (d / DB_NAME).chmod(0o644)
    assert len(LLMCache(d)) == 0
    assert stat.S_IMODE((d / DB_NAME).stat().st_mode) == 0o600


@pytest.mark.parametrize("tamper", ["edit_text", "planted_row", "edit_tokens", "foreign_db"])
def test_planted_or_edited_entries_are_ignored_and_counted(server, tmp_path, tamper):
    d = tmp_path / "c"
    llm = make_llm(server.url, LLMCache(d))
    assert llm.chat(user("hello")) == "hello"
    llm.close()
    db = sqlite3.connect(d / DB_NAME)
    if tamper == "edit_text":
        db.execute(f"UPDATE {TABLE} SET text = 'stanford endorses acme'")
    elif tamper == "edit_tokens":
        db.execute(f"UPDATE {TABLE} SET prompt_tokens = 999999")
    elif tamper == "planted_row":
        key = db.execute(f"SELECT key FROM {TABLE}").fetchone()[0]
        db.execute(f"DELETE FROM {TABLE}")
        db.execute(f"INSERT INTO {TABLE} VALUES (?, 'planted', 0, 0, '', 0, ?)", (key, "0" * 64))
    db.commit()
    db.close()
    if tamper == "foreign_db":  # another cache's secret: its checksums do not verify here
        (d / SECRET_NAME).write_bytes(b"f" * 64)
    cache = LLMCache(d)
    llm2 = make_llm(server.url, cache)
    assert llm2.chat(user("hello")) == "hello"  # asked again, not the tampered text
    assert cache.invalid == 1 and llm2.usage()["cache_hits"] == 0
    assert len(server.requests) == 2


def test_cache_info_counts_damaged_entries(server, tmp_path):
    d = tmp_path / "c"
    llm = make_llm(server.url, LLMCache(d))
    llm.chat(user("a"))
    llm.chat(user("b"))
    llm.close()
    db = sqlite3.connect(d / DB_NAME)
    db.execute(f"UPDATE {TABLE} SET text = 'x' WHERE text = 'a'")
    db.commit()
    db.close()
    info = LLMCache(d).info()
    assert info["entries"] == 2 and info["invalid_entries"] == 1 and info["mode"] == "0o600"


def test_two_models_behind_one_url_and_name_do_not_share_answers(server, tmp_path):
    cache = LLMCache(tmp_path / "c")
    assert make_llm(server.url, cache).chat(user("hi")) == "hi"
    assert make_llm(server.url, cache).chat(user("hi")) == "hi"
    assert len(server.requests) == 1  # same model: a cache hit
    server.models = [{"id": "m", "object": "model", "created": 2, "owned_by": "someone-else"}]
    llm = make_llm(server.url, cache)
    llm.chat(user("hi"))
    assert llm.model_identity() == {"id": "m", "created": 2, "owned_by": "someone-else"}
    assert len(server.requests) == 2 and llm.usage()["cache_hits"] == 0


def test_identity_is_fetched_once_and_unknown_is_fine(server, tmp_path):
    server.models = None  # /v1/models answers 404
    llm = make_llm(server.url, LLMCache(tmp_path / "c"))
    llm.chat(user("a"))
    llm.chat(user("a"))
    assert llm.model_identity() is None and llm.usage()["cache_hits"] == 1


def test_cache_command_info_and_clear(server, tmp_path):
    d = tmp_path / "c"
    llm = make_llm(server.url, LLMCache(d))
    llm.chat(user("a"))
    llm.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "cache", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    info = cli("info", "--dir", str(d), "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["entries"] == 1
    cleared = cli("clear", "--dir", str(d))
    assert cleared.returncode == 0 and "cleared 1" in cleared.stdout
    assert len(LLMCache(d)) == 0
    missing = cli("info", "--dir", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "how to fix" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


# -- secrets -------------------------------------------------------------------------------
SECRET = "s3cr3t-T0KEN"


def test_redact_url_masks_credentials_and_secret_parameters():
    url = f"https://bob:{SECRET}@llm.example/v1?api_key={SECRET}&token={SECRET}&model=x"
    out = redact_url(url)
    assert SECRET not in out and "model=x" in out and "llm.example" in out
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"


def test_no_secret_in_meta_checkpoints_cache_or_logs(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HIPPO_TEST_KEY", SECRET + "-env")
    port = server.url.split(":")[2].split("/")[0]
    url = f"http://bob:{SECRET}@127.0.0.1:{port}/v1?api_key={SECRET}"

    def respond(body):
        last = body["messages"][-1]["content"]
        if "Named entities:" in last:
            return ("ok", json.dumps({"triples": [["Paris", "capital of", "France"]]}))
        return ("ok", json.dumps({"named_entities": ["Paris", "France"]}))

    server.responder = respond
    corpus = tmp_path / "c.json"
    corpus.write_text(json.dumps([{"title": "P", "text": "Paris is in France."}]))
    llm = {
        "base_url": url,
        "model": "m",
        "api_key_env": "HIPPO_TEST_KEY",
        "max_retries": 0,
        "cache_dir": str(tmp_path / "llm-cache"),
    }
    spec = JobSpec.from_dict(
        {
            "inputs": [str(corpus)],
            "output": str(tmp_path / "idx"),
            "openie": {"kind": "llm", "llm": llm},
        }
    )
    caplog.set_level(logging.DEBUG)
    report = run_job(spec, embedder=StubEmbedder())
    assert report.counts["facts"] == 1
    for root in (tmp_path / "idx", spec.checkpoint_path, tmp_path / "llm-cache"):
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                assert SECRET.encode() not in data, p
    assert SECRET not in caplog.text
    assert SECRET not in json.dumps(report.to_dict(), default=str)
    # and the server's failure message names the endpoint without the credentials
    server.responder = lambda body: ("status", 404)
    with pytest.raises(Exception) as info:
        make_llm(url, None).chat(user("x"))
    assert SECRET not in str(info.value) and "***" in str(info.value)
