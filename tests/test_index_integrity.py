"""A damaged index says so: IndexFormatError with a hint, `hipporag verify` exits 1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import duckdb
import pytest

from hipporag.errors import IndexFormatError
from hipporag.index import FORMAT_VERSION, Index
from pipelines.cli import main
from tests.test_living import builder, corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def index(tmp_path):
    builder().build(corpus(8), tmp_path / "idx")
    return tmp_path / "idx"


def _file(root, logical):
    meta = json.loads((root / "meta.json").read_text())
    return root / meta["files"][logical]["path"]


def make_v1(src, dst):
    """An index in the layout of format version 1 (the previous release's), from a v2 one."""
    meta = json.loads((src / "meta.json").read_text())
    dst.mkdir()
    files = {}
    for logical, entry in meta["files"].items():
        (dst / logical).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / entry["path"], dst / logical)
    for name in ("passage_live", "entity_live", "fact_live", "synonymy_knn", "synonymy_sim"):
        (dst / "arrays" / f"{name}.npy").unlink()
    con = duckdb.connect(str(dst / "index.duckdb"))
    con.execute("DROP VIEW nodes")
    for col in ("doc_id", "metadata", "chunk", "span_start", "span_end"):
        con.execute(f"ALTER TABLE passages DROP COLUMN {col}")
    con.execute(VIEWS_V1)
    con.close()
    for p in dst.rglob("*"):
        if p.is_file():
            files[str(p.relative_to(dst))] = p.stat().st_size
    for k in ("files", "generation", "parent", "time", "operation", "change"):
        meta.pop(k, None)
    meta.update(format_version=1, files=files)
    meta["counts"].pop("live")
    (dst / "meta.json").write_text(json.dumps(meta))


VIEWS_V1 = """CREATE VIEW nodes AS SELECT entity_idx AS node, 'entity' AS kind, name, entity_id AS ref
FROM entities UNION ALL SELECT passage_idx + (SELECT count(*) FROM entities), 'passage', title,
passage_id FROM passages"""


@pytest.mark.parametrize(
    "part",
    [
        "arrays/passage_embeddings.npy",
        "index.duckdb",
        "hnsw/entities.bin",
        "arrays/graph_indices.npy",
    ],
)
def test_truncated_file_is_reported_on_open_and_by_verify(index, part, capsys):
    path = _file(index, part)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexFormatError) as err:
        Index.open(index)
    assert "damaged" in str(err.value) and "hipporag verify" in err.value.hint
    assert main(["verify", str(index)]) == 1
    assert "bytes" in capsys.readouterr().err
    assert main(["info", str(index)]) == 0
    assert "warning" in capsys.readouterr().out


def test_same_size_corruption_found_by_verify_and_later_as_format_error(index, capsys):
    path = _file(index, "hnsw/entities.bin")
    path.write_bytes(b"\0" * path.stat().st_size)
    assert main(["verify", str(index)]) == 1
    assert "checksum" in capsys.readouterr().err
    idx = Index.open(index)  # sizes match: open is cheap and succeeds
    with pytest.raises(IndexFormatError, match="damaged"):
        idx.hnsw("entities")
    arr = _file(index, "arrays/fact_embeddings.npy")
    arr.write_bytes(b"x" * arr.stat().st_size)
    with pytest.raises(IndexFormatError, match=r"damaged.*checksum"):  # checked on first use
        Index.open(index).array("fact_embeddings")


@pytest.mark.parametrize(
    "bad", ["[]", "{", '{"format": "hipporag-toolkit-index", "format_version": 2}']
)
def test_bad_meta(index, bad, capsys):
    (index / "meta.json").write_text(bad)
    with pytest.raises(IndexFormatError) as err:
        Index.open(index)
    assert err.value.hint
    assert main(["verify", str(index)]) == 1


def test_verify_ok_and_sql_has_no_file_access(index, capsys, tmp_path):
    assert main(["verify", str(index)]) == 0
    idx = Index.open(index)
    with pytest.raises(duckdb.PermissionException):
        idx.sql("SELECT * FROM read_csv('/etc/hostname')")
    with pytest.raises(duckdb.PermissionException):
        idx.sql(f"COPY passages TO '{tmp_path / 'leak.csv'}'")
    assert not (tmp_path / "leak.csv").exists()
    idx.close()
    opened = Index.open(index, external_access=True)
    opened.sql(f"COPY passages TO '{tmp_path / 'ok.csv'}'")
    assert (tmp_path / "ok.csv").is_file()


def test_v1_index_opens_read_only_and_upgrades(index, tmp_path, capsys):
    make_v1(index, tmp_path / "v1")
    old = Index.open(tmp_path / "v1")
    assert old.read_only and old.live("passages").all()
    ids = sorted(old.passage_ids)
    with pytest.raises(IndexFormatError, match="hipporag upgrade"):
        builder().insert(corpus(10), tmp_path / "v1")
    assert main(["upgrade", str(tmp_path / "v1")]) == 0
    new = Index.open(tmp_path / "v1")
    assert new.format_version == FORMAT_VERSION and sorted(new.passage_ids) == ids
    assert main(["verify", str(tmp_path / "v1")]) == 0
    assert builder().insert(corpus(10), tmp_path / "v1").added["passages"] == 2


SIGNAL_SCRIPT = """
import os, signal, sys, time
sys.path.insert(0, {root!r})
from hipporag.index import writer
orig = writer.IndexWriter.save_hnsw
def slow(self, name, index, **kw):
    orig(self, name, index, **kw)
    print("writing", flush=True)
    time.sleep(30)
writer.IndexWriter.save_hnsw = slow
from tests.test_living import builder, corpus
builder().insert(corpus(12), {target!r})
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_clean_up(index, sig):
    before = sorted(str(p) for p in index.rglob("*") if "leases" not in str(p))
    script = SIGNAL_SCRIPT.format(root=ROOT, target=str(index))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    after = sorted(str(p) for p in index.rglob("*") if "leases" not in str(p))
    assert after == before  # no temporary files, no new generation folder, no lock
    assert Index.open(index).generation == 1


@pytest.mark.parametrize("point", ["commit:before-fsync", "commit:before-pointer"])
@pytest.mark.parametrize("op", ["insert", "delete", "update", "gc"])
def test_sigkill_at_named_points(index, op, point, tmp_path):
    from tests.living_helpers import snapshot

    if op == "gc":
        builder().insert(corpus(10), index)
        point = "gc:before-unlink"
    before = snapshot(index)
    call = {
        "insert": "builder().insert(corpus(12), T)",
        "delete": "builder().delete(['p1', 'd2'], T)",
        "update": "builder().update([Passage('p1', 'T1', 'Zed met Carol.')], T)",
        "gc": "gc(T, grace_s=0)",
    }[op]
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {ROOT!r})
        from hipporag.types import Passage
        from hipporag.index.generations import gc
        from tests.test_living import builder, corpus
        T = {str(index)!r}
        {call}
    """)
    env = {**os.environ, "HIPPORAG_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert snapshot(index) == before  # still the old generation, intact
    assert main(["verify", str(index)]) == 0
    r = builder().insert(corpus(14), index)  # the next commit succeeds and sweeps leftovers
    assert r.committed
    assert not list(index.rglob(".*.tmp-*")) and not (index / "write.lock").exists()
    assert main(["verify", str(index)]) == 0


@pytest.mark.parametrize("change", ["counts", "dim"])
def test_meta_that_disagrees_with_the_arrays(index, change):
    meta = json.loads((index / "meta.json").read_text())
    if change == "counts":
        meta["counts"]["passages"] += 5
    else:
        meta["embedding"]["dim"] = 7
    (index / "meta.json").write_text(json.dumps(meta))
    idx = Index.open(index)
    with pytest.raises(IndexFormatError, match="damaged") as err:
        _ = idx.passage_embeddings
    assert "hipporag verify" in err.value.hint
