"""``hipporag serve --keys``: keys, scopes, tenants, writes through the service, min_generation."""

from __future__ import annotations

import shutil

import pytest

from pipelines.service.keys import add_key
from tests.service_helpers import Server

pytestmark = pytest.mark.slow

A_DOCS = [
    {
        "id": "a-mill",
        "title": "Zorvath Mill",
        "text": "Zorvath Mill is a flour mill in Kelderhaven. The mill is run by Ilse Brand.",
        "metadata": {"tenant": "a"},
    },
    {
        "id": "a-brand",
        "title": "Ilse Brand",
        "text": "Ilse Brand is a miller who was born in Teshfield.",
        "metadata": {"tenant": "a"},
    },
]
B_DOCS = [
    {
        "id": "b-forge",
        "title": "Quenby Forge",
        "text": "Quenby Forge is a smithy in Kelderhaven. The forge is run by Otto Varn.",
        "metadata": {"tenant": "b"},
    },
    {
        "id": "b-varn",
        "title": "Otto Varn",
        "text": "Otto Varn is a blacksmith who was born in Teshfield.",
        "metadata": {"tenant": "b"},
    },
]
B_NAMES = {"quenby forge", "otto varn", "[Quenby Forge]", "[Otto Varn]", "smithy", "blacksmith"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.toml"
    return path, {
        "admin": add_key(path, "admin", scopes=["read", "write"]),
        "reader": add_key(path, "reader", scopes=["read"]),
        "a": add_key(path, "a", scopes=["read", "write"], filter={"tenant": "a"}),
        "b": add_key(path, "b", scopes=["read", "write"], filter={"tenant": "b"}),
        "slow": add_key(path, "slow", scopes=["read"], rate=1.0),
    }


@pytest.fixture(scope="module")
def server(demo_index_path, tmp_path_factory, keys):
    root = tmp_path_factory.mktemp("tenants")
    index = root / "index"
    shutil.copytree(demo_index_path, index, ignore=shutil.ignore_patterns("leases"))
    srv = Server(str(index), "--keys", str(keys[0]), log=root / "server.log")
    srv.index = index
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def c(server, keys):
    """Clients by key name (and ``none`` without a key)."""
    clients = {name: server.client(key) for name, key in keys[1].items()}
    clients["none"] = server.client()
    clients["wrong"] = server.client("hrk_" + "x" * 43)
    yield clients
    for cl in clients.values():
        cl.close()


@pytest.fixture(scope="module")
def loaded(c):
    """Tenant a's and b's documents, written through the service by the tenants' keys."""
    ra = c["a"].post("/v1/documents", json={"documents": A_DOCS})
    assert ra.status_code == 200, ra.text
    rb = c["b"].post("/v1/documents", json={"documents": B_DOCS})
    assert rb.status_code == 200, rb.text
    assert rb.json()["generation"] > ra.json()["generation"]
    return rb.json()["generation"]


def _gen(c) -> int:
    return c["admin"].get("/v1/info").json()["generation"]


def test_missing_and_wrong_keys_are_401(c, loaded):
    for who in ("none", "wrong"):
        r = c[who].post("/v1/retrieve", json={"query": "mill"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert set(r.json()) == {"error", "hint"}
        d = c[who].request("DELETE", "/v1/documents", json={"ids": ["a-mill"]})
        assert d.status_code == 401
    assert c["admin"].get("/v1/documents/a-mill").status_code == 200  # nothing changed
    assert c["none"].get("/healthz").status_code == 200  # probes need no key


def test_read_only_key_cannot_write(c, loaded):
    before = _gen(c)
    r = c["reader"].post("/v1/documents", json={"documents": [{"text": "Nope is a town."}]})
    assert r.status_code == 403 and "may not write" in r.json()["error"]
    assert (
        c["reader"].request("DELETE", "/v1/documents", json={"ids": ["a-mill"]}).status_code == 403
    )
    assert _gen(c) == before
    assert c["reader"].post("/v1/retrieve", json={"query": "mill"}).status_code == 200


def test_tenant_hits_never_name_another_tenant(c, loaded):
    for who, own in (("a", "a"), ("b", "b")):
        for q in ("Who runs the place in Kelderhaven?", "Who was born in Teshfield?"):
            r = c[who].post("/v1/retrieve", json={"query": q, "k": 50, "explain": True})
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert hits and {h["metadata"].get("tenant") for h in hits} == {own}
            batch = c[who].post("/v1/retrieve/batch", json={"queries": [q], "k": 50})
            assert {h["metadata"]["tenant"] for h in batch.json()["results"][0]["hits"]} == {own}
    # asking for the other tenant's documents by filter gives nothing
    r = c["a"].post("/v1/retrieve", json={"query": "forge", "k": 10, "filters": {"tenant": "b"}})
    assert r.status_code == 200 and r.json()["hits"] == []
    # the tenant's info counts its own passages only; the history is not for tenants
    assert c["a"].get("/v1/info").json()["counts"] == {"passages": 2}
    assert c["a"].get("/v1/history").status_code == 403
    # the admin key sees both tenants and the demo corpus
    r = c["admin"].post("/v1/retrieve", json={"query": "Who was born in Teshfield?", "k": 50})
    assert {h["metadata"].get("tenant") for h in r.json()["hits"]} >= {"a", "b", None}


def test_tenant_explanations_never_name_another_tenant(c, loaded):
    r = c["a"].post(
        "/v1/retrieve",
        json={"query": "Who runs the smithy in Kelderhaven?", "k": 5, "explain": True},
    )
    named = set()
    for h in r.json()["hits"]:
        e = h["explanation"]
        named |= set(e["path"]) | set(e["connecting_entities"]) | {s["node"] for s in e["seeds"]}
    assert not named & B_NAMES, named & B_NAMES


def test_tenant_cannot_read_or_delete_another_tenants_documents(c, loaded):
    before = _gen(c)
    assert c["a"].get("/v1/documents/a-mill").status_code == 200
    r = c["a"].get("/v1/documents/b-forge")
    assert r.status_code == 404  # as if it did not exist
    assert c["a"].get("/v1/passages/b-forge/neighbourhood").status_code == 404
    nb = c["a"].get("/v1/passages/a-mill/neighbourhood").json()
    assert all(not link["passage_id"].startswith("b-") for link in nb["linked"])
    d = c["a"].request("DELETE", "/v1/documents", json={"ids": ["a-brand", "b-forge"]})
    assert d.status_code == 403 and "outside key 'a'" in d.json()["error"]
    assert _gen(c) == before
    for doc in ("a-brand", "b-forge"):
        assert c["admin"].get(f"/v1/documents/{doc}").status_code == 200


def test_tenant_writes_must_match_its_filter(c, loaded):
    before = _gen(c)
    foreign = {**A_DOCS[0], "id": "a-new", "metadata": {"tenant": "b"}}
    r = c["a"].post("/v1/documents", json={"documents": [foreign]})
    assert r.status_code == 403 and "filter" in r.json()["error"]
    bare = {"id": "a-bare", "title": "Bare", "text": "Bare is a village."}
    assert c["a"].post("/v1/documents", json={"documents": [bare]}).status_code == 403
    hijack = {**B_DOCS[0], "metadata": {"tenant": "a"}, "text": "Quenby Forge is closed."}
    r = c["a"].post("/v1/documents", json={"documents": [hijack]})
    assert r.status_code == 403  # an id of tenant b cannot be taken over
    assert _gen(c) == before
    got = c["admin"].get("/v1/documents/b-forge").json()
    assert got["metadata"] == {"tenant": "b"} and "smithy" in got["passages"][0]["text"]


def test_write_then_read_own_writes_with_min_generation(c, loaded):
    doc = {
        "id": "a-bakery",
        "title": "Marrow Bakery",
        "text": "Marrow Bakery is a bakery in Port Aster owned by Ilse Brand.",
        "metadata": {"tenant": "a"},
    }
    w = c["a"].post("/v1/documents", json={"documents": [doc], "upsert": False})
    assert w.status_code == 200, w.text
    gen = w.json()["generation"]
    assert w.json()["added"]["passages"] == 1
    q = {"query": "Which bakery is in Port Aster?", "k": 3, "min_generation": gen}
    r = c["a"].post("/v1/retrieve", json=q)
    assert r.status_code == 200 and r.json()["generation"] >= gen
    assert r.json()["hits"][0]["passage_id"] == "a-bakery"
    got = c["a"].get("/v1/documents/a-bakery", params={"min_generation": gen})
    assert got.status_code == 200
    # a generation that does not exist yet: 409 after the wait, with the current one
    far = c["a"].post("/v1/retrieve", json={**q, "min_generation": gen + 1000}, timeout=60)
    assert far.status_code == 409 and str(gen) in far.json()["hint"]
    # upsert changes the document; delete removes it (the tenant's own)
    changed = {**doc, "text": "Marrow Bakery is a bakery in Kelderhaven owned by Ilse Brand."}
    u = c["a"].post("/v1/documents", json={"documents": [changed]})
    assert u.status_code == 200 and u.json()["generation"] > gen
    got = c["a"].get("/v1/documents/a-bakery", params={"min_generation": u.json()["generation"]})
    assert "Kelderhaven" in got.json()["passages"][0]["text"]
    d = c["a"].request("DELETE", "/v1/documents", json={"ids": ["a-bakery"]})
    assert d.status_code == 200 and d.json()["removed"]["passages"] == 1
    assert c["a"].get("/v1/documents/a-bakery").status_code == 404
    h = c["admin"].get("/v1/history").json()["history"]
    assert [x["operation"] for x in h[-3:]] == ["insert", "update", "delete"]


def test_rate_limit_is_429_with_retry_after(c, loaded):
    codes = [c["slow"].post("/v1/retrieve", json={"query": "mill", "k": 1}) for _ in range(5)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert "rate limit" in limited[0].json()["error"]
    assert codes[0].status_code == 200


def test_service_writes_hold_the_writers_lock_from_check_to_commit(server, keys, c, loaded):
    # Another service process holding the writers' lock (here: the test) keeps
    # this write, checks included, waiting: two processes cannot both pass a
    # tenant check that only one write can honour.
    import threading

    from pipelines.service.state import writers_lock

    before = _gen(c)
    doc = {"id": "a-late", "text": "Lark Mill is in Kelderhaven.", "metadata": {"tenant": "a"}}
    out: dict = {}

    def write() -> None:
        with server.client(keys[1]["a"]) as cl:
            out["r"] = cl.post("/v1/documents", json={"documents": [doc]})

    with writers_lock(server.index, 0):
        t = threading.Thread(target=write)
        t.start()
        t.join(1.5)
        assert t.is_alive() and "r" not in out  # waiting for the lock
        assert _gen(c) == before  # nothing committed meanwhile
    t.join(120)
    assert out["r"].status_code == 200, out["r"].text
    assert out["r"].json()["generation"] == before + 1
