"""``hipporag serve`` over real HTTP: results equal in-process ones; errors; limits; metrics."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from pipelines.facade import HippoRAG
from tests.service_helpers import ROOT, Server

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Who directed the film that won the Golden Heron Award in 1987?",
    "Which company manufactures the Lynx-7 camera?",
]


@pytest.fixture(scope="module")
def server(demo_index_path, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "server.log"
    srv = Server(str(demo_index_path), f"demo={demo_index_path}", "--max-k", "50", log=log)
    yield srv
    assert srv.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert "stopped: every queued write was committed" in srv.log.read_text()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def rag(demo_index_path):
    return HippoRAG.open(demo_index_path)


def _plain(obj):
    return json.loads(json.dumps(obj))


def _check_hits(got: list[dict], want: list[dict]) -> None:
    assert [h["passage_id"] for h in got] == [h["passage_id"] for h in want]
    for g, w in zip(got, want, strict=True):
        assert g["score"] == pytest.approx(w["score"], rel=1e-6, abs=1e-9)
        g, w = dict(g), dict(w)
        ge, we = g.pop("explanation", None), w.pop("explanation", None)
        g.pop("score"), w.pop("score")
        assert g == w
        if we is not None:
            assert ge["path"] == we["path"]
            assert ge["connecting_entities"] == we["connecting_entities"]
            assert [s["node"] for s in ge["seeds"]] == [s["node"] for s in we["seeds"]]


def test_http_equals_in_process_for_every_mode(client, rag):
    modes = [m for m in rag.modes() if m != "note"]  # "note" needs an LLM
    assert {"hybrid", "dense", "hipporag2"} <= set(modes)
    info = client.get("/v1/info").json()
    for mode in modes:
        for q in QUESTIONS:
            r = client.post(
                "/v1/retrieve", json={"query": q, "k": 5, "mode": mode, "explain": True}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["generation"] == info["generation"] and body["mode"] == mode
            want = _plain([h.to_dict() for h in rag.retrieve(q, k=5, mode=mode).hits])
            _check_hits(body["hits"], want)
        batch = client.post("/v1/retrieve/batch", json={"queries": QUESTIONS, "k": 3, "mode": mode})
        assert batch.status_code == 200, batch.text
        for res, want in zip(
            batch.json()["results"], rag.retrieve_batch(QUESTIONS, k=3, mode=mode), strict=True
        ):
            wanted = _plain([h.to_dict() for h in want.hits])
            for w in wanted:
                w.pop("explanation")
            _check_hits(res["hits"], wanted)


def test_grouped_filtered_and_named_index(client, rag):
    r = client.post(
        "/v1/indexes/demo/retrieve", json={"query": QUESTIONS[0], "k": 2, "group_by": "document"}
    )
    assert r.status_code == 200, r.text
    want = rag.retrieve(QUESTIONS[0], k=2, group_by="document")
    assert [d["doc_id"] for d in r.json()["documents"]] == want.doc_ids
    # a key no passage has: the CLI's "did you mean" error, as JSON with status 400
    r = client.post("/v1/retrieve", json={"query": QUESTIONS[0], "filters": {"tenant": "zz"}})
    assert r.status_code == 400 and "unknown metadata key 'tenant'" in r.json()["error"]


def test_documents_neighbourhood_info_history(client, rag):
    hit = rag.retrieve(QUESTIONS[0], k=1)[0]
    doc = client.get(f"/v1/documents/{hit.document}")
    assert doc.status_code == 200 and doc.json()["passages"][0]["text"] == hit.text
    assert client.get("/v1/documents/nope-123").status_code == 404
    nb = client.get(f"/v1/passages/{hit.passage_id}/neighbourhood").json()
    ents = rag.index.entities_of_passages([rag.index.passage_index()[hit.passage_id]])
    assert {e["name"] for e in nb["entities"]} <= set(rag.index.entity_names)
    assert len(nb["entities"]) == min(12, len(next(iter(ents.values()))))
    assert nb["facts"] and all(link["via"] for link in nb["linked"])
    info = client.get("/v1/info").json()
    assert info["counts"]["passages"] == rag.index.n_passages and "hybrid" in info["modes"]
    hist = client.get("/v1/history").json()
    assert hist["history"][-1]["generation"] == info["generation"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": "x", "k": 0}, "k must be between 1 and 50"),
        ({"query": "x", "k": -1}, "k must be between 1 and 50"),
        ({"query": "x", "k": 10**9}, "k must be between 1 and 50"),
        ({"query": "x", "mode": "nonsense"}, "unknown retrieval mode"),
        ({"query": "x", "filters": {"year": {"bogus": 1}}}, "unknown operator"),
        ({"query": "x", "group_by": "chapter"}, "unknown group_by"),
        ({"query": ""}, ""),
        ({"k": 3}, "query"),
        ({"query": "x", "surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_are_400_with_one_line_errors(client, body, fragment):
    r = client.post("/v1/retrieve", json=body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert set(err) == {"error", "hint"} and fragment in err["error"] and err["hint"]
    assert "\n" not in err["error"]


def test_malformed_json_huge_bodies_unknown_things(client, server):
    r = client.post(
        "/v1/retrieve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post(
        "/v1/retrieve", content=b'{"query": "x"}', headers={"content-type": "text/plain"}
    )
    assert r.status_code == 400 and "Content-Type" in r.json()["hint"]
    huge = b'{"query": "' + b"a" * (9 * 1024 * 1024) + b'"}'
    r = client.post("/v1/retrieve", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"].startswith("request body over")

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"query": "'
        for _ in range(10):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    with httpx.Client(base_url=server.url, timeout=60) as c:
        r = c.post("/v1/retrieve", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.post("/v1/indexes/nope/retrieve", json={"query": "x"}).status_code == 404
    assert "served indexes" in client.get("/v1/indexes/nope/info").json()["hint"]
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.post("/v1/answer", json={"question": "x"}).status_code == 501
    big_batch = client.post("/v1/retrieve/batch", json={"queries": ["q"] * 300})
    assert big_batch.status_code == 400 and "split" in big_batch.json()["hint"]


def test_health_ready_metrics_openapi_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["ready"] is True
    client.post("/v1/retrieve", json={"query": "x", "k": 0})
    client.post("/v1/retrieve", json={"query": "x", "k": 1})
    text = client.get("/metrics").text
    assert 'hipporag_requests_total{method="POST",route="/v1/retrieve",status="200"}' in text
    assert 'hipporag_request_errors_total{route="/v1/retrieve",status="400"}' in text
    assert 'hipporag_request_duration_seconds_bucket{route="/v1/retrieve",le="+Inf"}' in text
    assert 'hipporag_index_generation{index="default"}' in text
    spec = client.get("/openapi.json").json()
    assert "/v1/retrieve" in spec["paths"] and "/v1/indexes/{name}/retrieve" in spec["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "<script" in page.text and "http" not in _srcs(page.text)


def _srcs(html: str) -> str:
    """Every src=/href= value of a page (a self-contained page loads nothing from elsewhere)."""
    import re

    return " ".join(re.findall(r'(?:src|href)="([^"]*)"', html))


def test_non_loopback_without_keys_is_refused(demo_index_path):
    # A documentation address (TEST-NET-3): refused before anything binds or connects.
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "serve",
            str(demo_index_path),
            "--host",
            "203.0.113.7",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 2
    assert "refusing to serve on 203.0.113.7 without API keys" in out.stderr
    assert "--insecure" in out.stderr


def test_503_while_an_index_cannot_be_served(tmp_path, demo_index_path):
    from fastapi.testclient import TestClient

    from pipelines.service.app import create_app

    broken = tmp_path / "not-an-index"
    broken.mkdir()
    app = create_app({"default": demo_index_path, "broken": broken})
    with TestClient(app) as client:
        r = client.post("/v1/indexes/broken/retrieve", json={"query": "x"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "broken" in r.json()["error"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["indexes"]["broken"] in (
            "loading",
            "failed",
        )


def test_load_at_startup_is_ready_when_start_up_ends(demo_index_path):
    """What a Ray Serve replica uses: no request meets an index still loading."""
    from fastapi.testclient import TestClient

    from pipelines.service.app import create_app
    from pipelines.service.state import Settings

    app = create_app({"default": demo_index_path}, settings=Settings(load_at_startup=True))
    with TestClient(app) as client:  # start-up (the lifespan) has ended here
        assert client.get("/readyz").json()["indexes"] == {"default": "ready"}
        r = client.post("/v1/retrieve", json={"query": "Who directed Salt Harbour?", "k": 2})
        assert r.status_code == 200 and len(r.json()["hits"]) == 2


def test_writes_are_prepared_in_the_background(demo_index_path):
    """The extractor a first write needs is loaded once the index is (Settings.warm_writes)."""
    import asyncio

    from pipelines.service.state import Served, Settings

    async def load(warm: bool) -> tuple[object, object]:
        served = Served("default", demo_index_path, Settings(warm_writes=warm))
        await served.load()
        prepared = await served.warming if served.warming is not None else None
        await served.drain()
        return served.ready, prepared

    assert asyncio.run(load(True)) == (True, True)
    assert asyncio.run(load(False)) == (True, None)  # Ray Serve readers: nothing loaded
