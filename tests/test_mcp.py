"""``hipporag mcp``: the MCP SDK's own client against the real server process.

Over stdio (the client spawns ``python -m pipelines.cli mcp INDEX``) and over
streamable HTTP on 127.0.0.1 with API keys and a tenant filter.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipelines.facade import HippoRAG
from pipelines.service.keys import add_key

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["HIPPORAG_PROGRESS"] = "0"
    return env


def _stdio(index: Path, *extra: str):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pipelines.cli", "-q", "mcp", str(index), *extra],
        env=_env(),
        cwd=str(ROOT),
    )
    return Client(params, read_timeout_seconds=300)


def _copy(demo_index_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "idx"
    shutil.copytree(demo_index_path, path, ignore=shutil.ignore_patterns("leases"))
    return path


def test_stdio_read_tools_equal_in_process(demo_index_path):
    want = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=3)

    async def main():
        async with _stdio(demo_index_path) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            got = await client.call_tool("retrieve", {"query": QUESTION, "k": 3})
            top = got.structured_content["hits"][0]["passage_id"]
            why = await client.call_tool("explain", {"query": QUESTION, "passage_id": top})
            doc = await client.call_tool("get_document", {"id": top})
            unknown = await client.call_tool("get_document", {"id": "no-such-doc"})
            write = await client.call_tool("add_documents", {"documents": [{"text": "x"}]})
            bad_k = await client.call_tool("retrieve", {"query": QUESTION, "k": 0})
            return tools, got, why, doc, unknown, write, bad_k

    tools, got, why, doc, unknown, write, bad_k = asyncio.run(main())
    assert sorted(tools) == ["explain", "get_document", "retrieve"]
    assert "passage" in tools["retrieve"].description and "filters" in tools["retrieve"].description
    assert not got.is_error
    hits = got.structured_content["hits"]
    assert [h["passage_id"] for h in hits] == [h.passage_id for h in want.hits]
    assert [h["score"] for h in hits] == pytest.approx([h.score for h in want.hits], rel=1e-6)
    assert [h["explanation"]["path"] for h in hits] == [h.explanation.path for h in want.hits]
    assert got.structured_content["generation"] == HippoRAG.open(demo_index_path).index.generation
    assert not why.is_error and why.structured_content["rank"] == 1
    assert why.structured_content["entities"], "the neighbourhood names the passage's entities"
    assert (
        not doc.is_error
        and doc.structured_content["passages"][0]["passage_id"] == hits[0]["passage_id"]
    )
    assert unknown.is_error and "no-such-doc" in unknown.content[0].text
    assert "how to fix" in unknown.content[0].text
    assert write.is_error, "writes are refused without --allow-writes"
    assert bad_k.is_error


def test_stdio_writes_with_allow_writes(demo_index_path, tmp_path):
    path = _copy(demo_index_path, tmp_path)
    before = HippoRAG.open(path).index.generation
    record = {
        "id": "doc-lark",
        "title": "Lark Island",
        "text": "Lark Island is a small island governed by the town of Kelderhaven.",
        "metadata": {"tenant": "acme"},
    }

    async def main():
        async with _stdio(path, "--allow-writes") as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            added = await client.call_tool("add_documents", {"documents": [record]})
            found = await client.call_tool(
                "retrieve", {"query": "Which town governs Lark Island?", "k": 1}
            )
            gone = await client.call_tool("delete_documents", {"ids": ["doc-lark"]})
            after = await client.call_tool("get_document", {"id": "doc-lark"})
            return names, added, found, gone, after

    names, added, found, gone, after = asyncio.run(main())
    assert names == ["add_documents", "delete_documents", "explain", "get_document", "retrieve"]
    assert not added.is_error and added.structured_content["generation"] == before + 1
    assert found.structured_content["generation"] == before + 1, "reads see the committed write"
    assert found.structured_content["hits"][0]["doc_id"] == "doc-lark"
    assert not gone.is_error and gone.structured_content["generation"] == before + 2
    assert after.is_error
    assert "doc-lark" not in set(HippoRAG.open(path).index.passage_ids)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_transport_keys_and_tenant(demo_index_path, tmp_path):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    path = _copy(demo_index_path, tmp_path)
    keys = tmp_path / "keys.toml"
    acme = add_key(keys, "acme", scopes=["read", "write"], filter={"tenant": "acme"})
    reader = add_key(keys, "reader", scopes=["read"])
    slow = add_key(keys, "slow", scopes=["read"], rate=0.2)  # one call per 5 s, bursts of 1
    port = _free_port()
    cmd = [sys.executable, "-m", "pipelines.cli", "-q", "mcp", str(path), "--transport", "http"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--keys", str(keys), "--allow-writes"],
        cwd=ROOT,
        env=_env(),
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                no_key = httpx.post(url, json={}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)
        assert no_key.status_code == 401 and "hint" in no_key.json()

        def client(key: str) -> Client:
            import httpx2

            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300)
            return Client(streamable_http_client(url, http_client=http), read_timeout_seconds=300)

        mine = {"id": "acme-1", "title": "Lark Island", "text": "Lark Island is near Kelderhaven."}
        mine["metadata"] = {"tenant": "acme"}
        theirs = {"id": "other-1", "text": "Other text.", "metadata": {"tenant": "other"}}

        async def main():
            async with client(acme) as c:
                added = await c.call_tool("add_documents", {"documents": [mine]})
                refused = await c.call_tool("add_documents", {"documents": [theirs]})
                seen = await c.call_tool("retrieve", {"query": QUESTION, "k": 5})
                foreign = await c.call_tool("get_document", {"id": seen_all_top})
            async with client(reader) as c:
                ro = await c.call_tool("delete_documents", {"ids": ["acme-1"]})
            async with client(slow) as c:
                rated = [
                    await c.call_tool("retrieve", {"query": QUESTION, "k": 1}) for _ in range(2)
                ]
            return added, refused, seen, foreign, ro, rated

        seen_all_top = HippoRAG.open(path).retrieve(QUESTION, k=1)[0].passage_id
        added, refused, seen, foreign, ro, rated = asyncio.run(main())
        assert not added.is_error, added.content
        assert refused.is_error and "filter" in refused.content[0].text
        hits = seen.structured_content["hits"]
        assert [h["doc_id"] for h in hits] == ["acme-1"], "a tenant sees only its documents"
        assert foreign.is_error, "another tenant's document is not found"
        assert ro.is_error and "write" in ro.content[0].text
        assert not rated[0].is_error and rated[1].is_error, "the key's rate holds over MCP"
        assert "rate limit" in rated[1].content[0].text
        ids = set(HippoRAG.open(path).index.passage_ids)
        assert "acme-1" in ids and "other-1" not in ids
    finally:
        proc.terminate()
        proc.wait(timeout=60)
