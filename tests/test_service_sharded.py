"""``hipporag serve`` of a sharded index over real HTTP: reads, tenants, routed writes, history."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hipporag.errors import InputError
from hipporag.index.shardset import ShardSpec
from hipporag.types import Passage
from pipelines.cli import main
from pipelines.facade import HippoRAG
from pipelines.service.keys import add_key
from pipelines.shard_parts import route
from tests.service_helpers import Server

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Who directed the film that won the Golden Heron Award in 1987?",
    "Where was the miller born?",
]


def _tenant_docs(tenant: str, trade: str, n: int = 4) -> list[dict]:
    return [
        {
            "id": f"{tenant}-{i}",
            "title": f"{trade.title()} {tenant.upper()}{i}",
            "text": f"{trade.title()} {tenant.upper()}{i} is a {trade} in Kelderhaven, born in "
            f"Teshfield, who works with {trade.title()} {tenant.upper()}{(i + 1) % n}.",
            "metadata": {"tenant": tenant},
        }
        for i in range(n)
    ]


A_DOCS, B_DOCS = _tenant_docs("a", "miller"), _tenant_docs("b", "smith")


@pytest.fixture(scope="module")
def index(tmp_path_factory, demo_corpus_path):
    root = tmp_path_factory.mktemp("sharded-serve")
    corpus = root / "corpus.jsonl"
    docs = json.loads(demo_corpus_path.read_text()) + A_DOCS + B_DOCS
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    out = root / "index"
    assert main(["-q", "index", str(corpus), "--out", str(out), "--shards", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.toml"
    return path, {
        "admin": add_key(path, "admin", scopes=["read", "write"]),
        "a": add_key(path, "a", scopes=["read", "write"], filter={"tenant": "a"}),
    }


@pytest.fixture(scope="module")
def server(index, keys, tmp_path_factory):
    srv = Server(str(index), "--keys", str(keys[0]), log=tmp_path_factory.mktemp("log") / "s.log")
    yield srv
    assert srv.stop() in (0, -15)


@pytest.fixture(scope="module")
def c(server, keys):
    clients = {name: server.client(key) for name, key in keys[1].items()}
    yield clients
    for cl in clients.values():
        cl.close()


def test_tenant_documents_span_both_shards():
    spec = ShardSpec(2)
    for docs in (A_DOCS, B_DOCS):
        groups = route(spec, [Passage(d["id"], d["title"], d["text"]) for d in docs])
        assert all(groups[i] for i in range(2))  # the tenant tests cross shards


def test_reads_equal_in_process(c, index):
    rag = HippoRAG.open(index)
    info = c["admin"].get("/v1/info").json()
    assert info["generation"] == rag.generation
    assert info["counts"]["passages"] == rag.index.n_passages
    for mode in ("hybrid", "dense", "hipporag2"):
        for q in QUESTIONS:
            r = c["admin"].post("/v1/retrieve", json={"query": q, "k": 5, "mode": mode})
            assert r.status_code == 200, r.text
            want = rag.retrieve(q, k=5, mode=mode)
            got = r.json()["hits"]
            assert [h["passage_id"] for h in got] == [h.passage_id for h in want.hits]
            assert [h["score"] for h in got] == pytest.approx([h.score for h in want.hits])
            assert "shards=2" in r.json()["flags"]


def test_tenant_key_sees_its_documents_only(c, index):
    rag = HippoRAG.open(index)
    for q in ("Who is the miller born in Teshfield?", "Which smith works in Kelderhaven?"):
        r = c["a"].post("/v1/retrieve", json={"query": q, "k": 6})
        assert r.status_code == 200, r.text
        got = r.json()["hits"]
        assert got and all(h["passage_id"].startswith("a-") for h in got)
        want = rag.retrieve(q, k=6, filters={"tenant": "a"})  # the same view, by filter
        assert [h["passage_id"] for h in got] == [h.passage_id for h in want.hits]
        assert [h["score"] for h in got] == pytest.approx([h.score for h in want.hits])
    assert c["a"].get("/v1/info").json()["counts"] == {"passages": len(A_DOCS)}
    assert c["a"].get("/v1/documents/b-0").status_code == 404  # in the other tenant
    assert c["a"].get("/v1/documents/a-1").json()["doc_id"] == "a-1"
    assert c["a"].get("/v1/passages/b-1/neighbourhood").status_code == 404
    hood = c["a"].get("/v1/passages/a-1/neighbourhood").json()
    assert {x["passage_id"] for x in hood["linked"]} <= {d["id"] for d in A_DOCS}
    bad = c["a"].request("DELETE", "/v1/documents", json={"ids": ["b-2"]})
    assert bad.status_code == 403, bad.text  # another tenant's document: nothing changed
    assert c["admin"].get("/v1/documents/b-2").status_code == 200


def test_writes_route_to_shards_and_move_the_set(c, index):
    before = c["admin"].get("/v1/info").json()["generation"]
    doc = {
        "id": "a-new",
        "text": "Miller Zorblax founded the Vellmar Observatory in Teshfield.",
        "metadata": {"tenant": "a"},
    }
    r = c["a"].post("/v1/documents", json={"documents": [doc]})
    assert r.status_code == 200, r.text
    body = r.json()
    home = route(ShardSpec(2), [Passage("a-new", "", doc["text"])])
    shard = next(f"s{i:03d}" for i, g in home.items() if g)
    assert body["generation"] == before + 1 and list(body["shards"]) == [shard]
    assert "path" not in json.dumps(body)  # no server paths, per shard either
    q = {"query": "Who founded the Vellmar Observatory?", "k": 1, "min_generation": before + 1}
    assert c["a"].post("/v1/retrieve", json=q).json()["hits"][0]["passage_id"] == "a-new"
    gone = c["admin"].request("DELETE", "/v1/documents", json={"ids": ["a-new", "nope"]})
    assert gone.status_code == 200 and gone.json()["unknown_ids"] == ["nope"]
    hist = c["admin"].get("/v1/history").json()["history"]
    assert [h["operation"] for h in hist][-2:] == ["update", "delete"]
    assert hist[-1]["current"] and hist[-2]["changed_shards"] == [shard]
    assert HippoRAG.open(index).generation == before + 2


def test_sharded_allow_is_checked(index):
    rag = HippoRAG.open(index)
    allow = rag.allowed({"tenant": "b"})
    assert allow.size == len(B_DOCS) and len(allow.parts) == 2
    hits = rag.retrieve("smith", k=10, allow=allow).hits
    assert {h.passage_id for h in hits} == {d["id"] for d in B_DOCS}
    with pytest.raises(InputError, match="allowed"):
        rag.retrieve("smith", allow=np.arange(3))  # one index's rows mean nothing here
    with pytest.raises(InputError, match="did you mean"):
        rag.allowed({"tenat": "b"})
    with pytest.raises(TypeError):
        rag.retrieve("smith", extra_seeds={0: 1.0})  # entity rows are each shard's own
