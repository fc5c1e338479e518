"""``hipporag serve --ray``: read replicas and one writer on a local Ray, over real HTTP."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time

import httpx
import pytest

from pipelines.facade import HippoRAG

pytestmark = [pytest.mark.ray, pytest.mark.slow]
QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise TimeoutError("the Serve deployment never became ready")


@pytest.mark.parametrize("shards", [0, 2], ids=["one-index", "two-shards"])
def test_replicas_read_and_one_writer(demo_index_path, demo_corpus_path, tmp_path, shards):
    pytest.importorskip("ray.serve")
    from ray import serve

    from pipelines.cli import main
    from pipelines.service import ray_serve

    path = tmp_path / "idx"
    if shards:  # each replica holds every shard; the writer commits the shard set
        out = ["-q", "index", str(demo_corpus_path), "--out", str(path), "--shards", str(shards)]
        assert main(out) == 0
    else:
        shutil.copytree(demo_index_path, path, ignore=shutil.ignore_patterns("leases"))
    rag = HippoRAG.open(path)
    want, before = rag.retrieve(QUESTION, k=3), rag.index.generation
    spec = {"indexes": {"default": str(path)}, "keys": None, "settings": {}, "llm": None}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # short: Ray's socket paths are bounded
    try:
        ray_serve.start(spec, replicas=2, port=port, temp_dir=temp)
        status = serve.status().applications
        readers = status[ray_serve.READER_APP].deployments["HippoRAGReader"]
        assert readers.replica_states.get("RUNNING") == 2
        _ready(url)
        for _ in range(8):  # every replica (requests spread over both) loaded its index
            assert httpx.get(url + "/readyz", timeout=30).status_code == 200
        got = httpx.post(url + "/v1/retrieve", json={"query": QUESTION, "k": 3}, timeout=120)
        assert got.status_code == 200, got.text
        assert [h["passage_id"] for h in got.json()["hits"]] == [h.passage_id for h in want.hits]

        doc = {"id": "ray-doc", "title": "Lark Island", "text": "Lark Island lies off Kelderhaven."}
        added = httpx.post(url + "/v1/documents", json={"documents": [doc]}, timeout=600)
        assert added.status_code == 200, added.text
        gen = added.json()["generation"]
        assert gen == before + 1
        # Every replica (requests spread over both) serves the write once committed.
        for _ in range(8):
            r = httpx.get(
                url + "/v1/documents/ray-doc", params={"min_generation": gen}, timeout=120
            )
            assert r.status_code == 200 and r.json()["generation"] >= gen, r.text
        gone = httpx.request(
            "DELETE", url + "/v1/documents", json={"ids": ["ray-doc"]}, timeout=600
        )
        assert gone.status_code == 200 and gone.json()["generation"] == gen + 1
        assert "ray-doc" not in set(HippoRAG.open(path).index.passage_ids)
    finally:
        ray_serve.stop()
        shutil.rmtree(temp, ignore_errors=True)
