"""``hipporag serve``: two worker processes on one index, the answer endpoint, graceful shutdown."""

from __future__ import annotations

import shutil
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hipporag.index.verify import verify
from pipelines.facade import HippoRAG
from tests.plugins.fake_openai import FakeOpenAIServer
from tests.service_helpers import Server

pytestmark = pytest.mark.slow


def _doc(i: int, tag: str) -> dict:
    return {
        "id": f"{tag}-{i}",
        "title": f"Harbour {tag} {i}",
        "text": f"Harbour {tag} {i} is a small fishing harbour on the Cold Sea, built in {1800 + i}.",
    }


@pytest.fixture(scope="module")
def llm():
    server = FakeOpenAIServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def two_workers(demo_index_path, tmp_path_factory, llm):
    root = tmp_path_factory.mktemp("workers")
    index = root / "index"
    shutil.copytree(demo_index_path, index, ignore=shutil.ignore_patterns("leases"))
    srv = Server(
        str(index),
        "--workers",
        "2",
        "--llm-url",
        llm.url,
        "--llm-model",
        "fake",
        log=root / "server.log",
        env={"HOME": str(root)},  # the LLM response cache goes under the test's folder
    )
    srv.index = index
    yield srv
    srv.stop()


def test_two_workers_share_one_index(two_workers):
    url = two_workers.url

    def ready(_: int) -> int | None:
        r = httpx.get(url + "/readyz", timeout=60)
        return r.json()["pid"] if r.status_code == 200 else None

    # concurrent requests reach both workers (a busy one is not accepting); wait for both
    pids: set[int] = set()
    deadline = time.monotonic() + 300
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and time.monotonic() < deadline:
            pids |= {p for p in pool.map(ready, range(16)) if p is not None}
            time.sleep(0.5)
    assert len(pids) == 2

    # concurrent writes from both workers: ordered by the index's write lock, none lost
    def write(i: int) -> int:
        r = httpx.post(url + "/v1/documents", json={"documents": [_doc(i, "w")]}, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()["generation"]

    with ThreadPoolExecutor(4) as pool:
        gens = list(pool.map(write, range(4)))
    assert len(set(gens)) == 4  # four commits, four generations
    # every write is visible from any worker once its generation is asked for
    for i in range(len(gens)):
        for _ in range(3):
            r = httpx.get(
                f"{url}/v1/documents/w-{i}", params={"min_generation": max(gens)}, timeout=60
            )
            assert r.status_code == 200, r.text
    assert verify(two_workers.index)["ok"]


def test_answer_uses_the_llm_over_the_tenant_filtered_hits(two_workers, llm):
    # a question of its own: replies are cached by prompt, across runs
    q = f"Who directed the film that won the Golden Heron Award in 1987? ({uuid.uuid4().hex[:8]})"
    llm.script = [("ok", "Imre Valko [2] [9]", "stop")]
    r = httpx.post(two_workers.url + "/v1/answer", json={"question": q, "k": 3}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == "Imre Valko" and body["supported"]
    want = HippoRAG.open(two_workers.index).retrieve(q, k=3)
    # [2] is the second passage shown; [9] was never shown and is dropped, not trusted
    assert [c["passage_id"] for c in body["citations"]] == [want.passage_ids[1]]
    assert body["invalid_citations"] == [9]
    assert [p["passage_id"] for p in body["passages"]] == want.passage_ids
    prompt = llm.requests[-1]["messages"][-1]["content"]
    assert want[0].text[:60] in prompt and q in prompt


def test_shutdown_under_load_loses_no_acknowledged_write(demo_index_path, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(demo_index_path, index, ignore=shutil.ignore_patterns("leases"))
    srv = Server(str(index), log=tmp_path / "server.log")
    acked: list[str] = []
    stop = threading.Event()

    def writer(t: int) -> None:
        i = 0
        with httpx.Client(base_url=srv.url, timeout=300) as c:
            while not stop.is_set():
                doc = _doc(i, f"t{t}")
                try:
                    r = c.post("/v1/documents", json={"documents": [doc], "upsert": False})
                except httpx.HTTPError:
                    return  # the server went away: this write was never acknowledged
                if r.status_code == 200:
                    acked.append(doc["id"])
                i += 1

    def reader() -> None:
        with httpx.Client(base_url=srv.url, timeout=300) as c:
            while not stop.is_set():
                try:
                    c.post("/v1/retrieve", json={"query": "Which harbour is on the Cold Sea?"})
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 240
    while len(acked) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    code = srv.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(300)
    assert code in (0, -signal.SIGTERM), srv.log.read_text()[-2000:]
    assert "stopped: every queued write was committed" in srv.log.read_text()
    assert len(acked) >= 3
    assert verify(index)["ok"]
    ids = set(HippoRAG.open(index).index.passage_ids)
    missing = [d for d in acked if d not in ids]
    assert not missing, f"acknowledged but lost: {missing}"
