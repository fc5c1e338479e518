"""A reader process querying in a loop while a writer process commits 20 changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from hipporag.index import Index
from tests.test_living import builder, corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

READER = """
import json, sys, time, traceback
sys.path.insert(0, {root!r})
import numpy as np
from hipporag.index import Index

def check(idx):
    live = idx.counts["live"]
    n = int(idx.sql("SELECT count(*) AS n FROM passages")["n"][0])
    assert n == live["passages"] == int(idx.live("passages").sum()), (n, live)
    assert idx.graph.n_nodes == idx.n_entities + idx.n_passages
    labels, _ = idx.hnsw("passages").knn_query(idx.passage_embeddings[:1] * 0 + 0.1, k=5)
    assert idx.live("passages")[labels[0]].all()
    ids = np.flatnonzero(idx.live("passages"))
    got = [p.id for p in idx.passages(ids)]
    assert got == [idx.passage_ids[i] for i in ids]
    n_e = int(idx.sql("SELECT count(*) AS n FROM entities")["n"][0])
    assert n_e == live["entities"]
    return sorted(got)

pinned = Index.open({path!r})
first = check(pinned)
errors, seen, queries = [], set(), 0
deadline = time.time() + 300
while time.time() < deadline:
    try:
        assert check(pinned) == first  # a pinned reader never changes
        idx = Index.open({path!r})
        check(idx)
        seen.add(idx.generation)
        idx.close()
        queries += 1
    except Exception:
        errors.append(traceback.format_exc()[-800:])
    if open({done!r}).read() == "done" and queries > 5:
        break
    time.sleep(0.01)
fresh = pinned.refresh()
print(json.dumps({{"errors": errors, "seen": sorted(seen), "queries": queries,
                   "first": first, "after_refresh": check(fresh), "gen": fresh.generation}}))
"""

WRITER = """
import sys
sys.path.insert(0, {root!r})
from tests.test_living import builder, corpus
pool = corpus(30)
for i in range(20):
    if i % 2 == 0:
        builder().insert(pool[6 + i : 8 + i], {path!r})
    else:
        builder().delete([pool[i].id], {path!r})
open({done!r}, "w").write("done")
"""


def test_reader_and_writer_processes(tmp_path):
    path = tmp_path / "idx"
    builder().build(corpus(6), path)
    done = tmp_path / "done"
    done.write_text("")
    fmt = {"root": ROOT, "path": str(path), "done": str(done)}
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(READER.format(**fmt))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WRITER.format(**fmt))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert writer.returncode == 0, writer.stderr[-2000:]
    out, err = reader.communicate(timeout=600)
    assert reader.returncode == 0, err[-2000:]
    res = json.loads(out.strip().splitlines()[-1])
    assert res["errors"] == [] and res["queries"] > 5
    assert len(res["seen"]) >= 2  # the reader saw several generations, each consistent
    final = Index.open(path)
    assert final.generation == 21 and res["gen"] == 21
    assert res["after_refresh"] == sorted(
        final.passage_ids[i] for i in final.live("passages").nonzero()[0]
    )
    assert set(res["after_refresh"]) - set(res["first"])  # refresh sees the new passages
