"""Index jobs without Ray: spec validation, checkpoints, reuse, and the CLI commands.

Most tests use small deterministic stand-in components (fast); the CLI tests
run the real spaCy extractor and the real MiniLM embedder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hipporag.errors import ConfigError, InputError, JobError
from hipporag.index import FORMAT_VERSION, Index
from hipporag.types import Extraction, Triple
from pipelines.cli import main
from pipelines.jobs import CheckpointStore, ExecutorConfig, JobSpec, job_status, run_job

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo_data" / "corpus.json"


class StubExtractor:
    """Capitalised words are entities; neighbours form triples. Counts fake LLM usage."""

    def __init__(self) -> None:
        self.stats = {"passages": 0}
        self._usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}

    def warm_up(self) -> None:
        pass

    def extract(self, passages):
        out = []
        for p in passages:
            words = list(dict.fromkeys(w.strip(".,()") for w in p.text.split() if w[:1].isupper()))
            triples = [Triple(a, "near", b) for a, b in itertools.pairwise(words)]
            out.append(Extraction(p.id, words, triples))
            self._usage["calls"] += 2
            self._usage["prompt_tokens"] += 100
            self._usage["completion_tokens"] += 10
            self._usage["cost"] += 0.001
        self.stats["passages"] += len(passages)
        return out

    def usage(self):
        return dict(self._usage)

    def to_dict(self):
        return {"kind": "stub"}


class StubEmbedder:
    """Deterministic unit vectors from a hash of the text."""

    name = "stub"
    dim = 16

    def warm_up(self) -> None:
        pass

    def encode(self, texts, *, is_query: bool = False) -> np.ndarray:
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)

    def to_dict(self):
        return {"kind": "stub", "model": "stub"}


def stub_spec(tmp_path: Path, **executor) -> JobSpec:
    ex = {"kind": "local", "batch_size": 8, "embed_batch_size": 64, **executor}
    return JobSpec.from_dict(
        {"inputs": [str(DEMO)], "output": str(tmp_path / "idx"), "executor": ex}
    )


def run_stub(spec: JobSpec, **kw):
    return run_job(spec, extractor=StubExtractor(), embedder=StubEmbedder(), **kw)


def assert_same_index(a: Path, b: Path, atol: float = 1e-6) -> None:
    """Tables equal exactly; arrays equal up to ``atol`` (float rounding of batches)."""
    ia, ib = Index(a), Index(b)
    for name, df in ia.tables().items():
        assert df.equals(ib.table(name)), f"table {name} differs"
    from hipporag.index.format import ARRAYS

    for name in ARRAYS:
        x, y = ia.array(name), ib.array(name)
        assert x.shape == y.shape and x.dtype == y.dtype, name
        np.testing.assert_allclose(x, y, atol=atol, rtol=0, err_msg=name)


# -- spec validation ---------------------------------------------------------------------
def test_spec_unknown_keys_suggest_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'output'"):
        JobSpec.from_dict({"inputs": ["c.json"], "outptu": "idx"})
    with pytest.raises(ConfigError, match=r"\[spec.executor\].*\n.*did you mean 'workers'"):
        JobSpec.from_dict({"inputs": ["c.json"], "output": "idx", "executor": {"worker": 2}})
    with pytest.raises(ConfigError, match="did you mean 'synonymy_threshold'"):
        JobSpec.from_dict({"inputs": ["c.json"], "output": "i", "graph": {"synonym_threshold": 1}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"output": "idx"}, "spec.inputs is empty"),
        ({"inputs": ["c.json"]}, "spec.output is empty"),
        ({"inputs": ["c.json"], "output": "i", "executor": {"kind": "spark"}}, "executor.kind"),
        ({"inputs": ["c.json"], "output": "i", "executor": {"workers": -1}}, "executor.workers"),
        ({"inputs": ["c.json"], "output": "i", "executor": {"batch_size": 0}}, "batch_size"),
        (
            {"inputs": ["c.json"], "output": "i", "executor": {"ray_address": "auto"}},
            "ray_address is set",
        ),
        ({"inputs": ["c.json"], "output": "i", "executor": {"workers": "two"}}, "of type int"),
        (
            {"inputs": ["c.json"], "output": "i", "openie": {"kind": "hipporag"}},
            "needs openie.path",
        ),
    ],
)
def test_spec_bad_values_fail_early(data, message):
    with pytest.raises(ConfigError, match=message):
        JobSpec.from_dict(data)


def test_spec_toml_paths_roundtrip_and_fingerprint(tmp_path):
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "job.toml"
    f.write_text(
        'inputs = "corpus.json"\noutput = "out/idx"\n[executor]\nkind = "ray"\n'
        'workers = 3\n[openie]\nkind = "hipporag"\npath = "oie.json"\n'
    )
    spec = JobSpec.load(f)
    assert spec.inputs == (str(tmp_path / "sub" / "corpus.json"),)
    assert spec.output_path == tmp_path / "sub" / "out" / "idx"
    assert spec.checkpoint_path == tmp_path / "sub" / "out" / "idx.checkpoints"
    assert spec.openie.path == str(tmp_path / "sub" / "oie.json")
    assert JobSpec.from_toml(spec.to_toml()) == spec
    # how a job runs does not change what it computes; what it computes does
    import dataclasses

    other = dataclasses.replace(spec, executor=ExecutorConfig(kind="local", batch_size=64))
    assert other.fingerprint() == spec.fingerprint()
    changed = dataclasses.replace(spec, graph=dataclasses.replace(spec.graph, synonymy_k=3))
    assert changed.fingerprint() != spec.fingerprint()
    with pytest.raises(ConfigError, match="job spec not found"):
        JobSpec.load(tmp_path / "missing.toml")


def test_spec_path_checks(tmp_path):
    with pytest.raises(InputError, match="corpus not found"):
        JobSpec.from_dict({"inputs": [str(tmp_path / "nope.json")], "output": "x"}).check_paths()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    spec = JobSpec.from_dict({"inputs": [str(DEMO)], "output": str(tmp_path / "notes")})
    with pytest.raises(JobError, match="not a hipporag index"):
        run_job(spec)
    assert (tmp_path / "notes" / "a.txt").read_text() == "mine"


# -- checkpoints and reuse (stand-in components) ---------------------------------------
def test_checkpoint_dir_is_locked(tmp_path):
    a, b = CheckpointStore(tmp_path / "ck"), CheckpointStore(tmp_path / "ck")
    a.open("fp", {})
    with pytest.raises(JobError, match="another job is running"):
        b.open("fp", {})
    a.close()
    b.open("fp", {})
    b.close()


def test_job_reports_usage_stats_and_reuses_all_batches(tmp_path):
    spec = stub_spec(tmp_path)
    first = run_stub(spec)
    assert first.batches["openie"].planned == 4 == first.batches["openie"].computed
    assert first.batches["embedding"].computed == first.batches["embedding"].planned > 1
    assert first.usage == {
        "calls": 64,
        "prompt_tokens": 3200,
        "completion_tokens": 320,
        "cost": pytest.approx(0.032),
    }
    assert "llm usage calls 64" in first.summary() and "cost $0.0320" in first.summary()
    meta = Index(first.path).meta
    assert meta["components"]["extractor_stats"] == {"passages": 32}
    assert meta["job"]["llm_usage"]["prompt_tokens"] == 3200
    shutil.copytree(first.path, tmp_path / "first")
    again = run_stub(spec)
    assert again.batches["openie"].computed == again.batches["embedding"].computed == 0
    assert again.batches["openie"].reused == 4
    assert again.usage is None  # nothing was extracted by this run...
    assert again.usage_all_batches["prompt_tokens"] == 3200  # ...but the batches are recorded
    assert Index(again.path).meta["components"]["extractor_stats"] == {"passages": 32}
    assert_same_index(tmp_path / "first", again.path, atol=0)
    st = job_status(spec)
    assert st["stages"]["openie"] == {
        "namespace": st["stages"]["openie"]["namespace"],
        "planned": 4,
        "done": 4,
    }


def test_changed_config_uses_a_new_namespace(tmp_path):
    import dataclasses

    spec = stub_spec(tmp_path)
    run_stub(spec)
    # the graph is rebuilt on the driver: every batch is reused
    g = dataclasses.replace(spec, graph=dataclasses.replace(spec.graph, synonymy_threshold=0.5))
    r = run_stub(g)
    assert r.config_changed and r.batches["openie"].computed == 0
    # a changed extractor setting must not reuse old extractions; identical
    # extractions still hit the content-keyed embedding checkpoints
    o = dataclasses.replace(spec, openie=dataclasses.replace(spec.openie, batch_size=7))
    r = run_stub(o)
    assert r.batches["openie"].computed == 4 and r.batches["embedding"].computed == 0
    assert len(list(spec.checkpoint_path.glob("openie-*"))) == 2
    r = run_stub(spec, fresh=True)
    assert r.batches["openie"].computed == 4 and not r.config_changed
    assert len(list(spec.checkpoint_path.glob("openie-*"))) == 1


def test_damaged_checkpoint_is_computed_again(tmp_path):
    spec = stub_spec(tmp_path)
    run_stub(spec)
    victim = sorted(spec.checkpoint_path.glob("openie-*/*.jsonl"))[0]
    victim.write_text(victim.read_text()[:50])
    junk = victim.with_name(f".{victim.name}.tmp-1-deadbeef")
    junk.write_text("half-written by a killed run")
    r = run_stub(spec)
    assert r.batches["openie"].computed == 1 and r.batches["openie"].reused == 4
    assert not junk.exists()


def test_no_keep_checkpoints_removes_them(tmp_path):
    spec = stub_spec(tmp_path, keep_checkpoints=False)
    r = run_stub(spec)
    assert r.checkpoint_dir is None and not spec.checkpoint_path.exists()
    assert (r.path / "meta.json").is_file()


# -- CLI (real spaCy and MiniLM) ---------------------------------------------------------
@pytest.fixture(scope="module")
def cli_index(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "idx"
    assert main(["-q", "index", str(DEMO), "--out", str(out), "--batch-size", "16"]) == 0
    return out


@pytest.mark.slow
def test_cli_index_and_info(cli_index, capsys, tmp_path):
    idx = Index(cli_index)
    assert idx.counts["passages"] == 32 and idx.counts["entities"] > 50
    assert idx.meta["job"]["batches"]["openie"]["planned"] == 2
    assert main(["info", str(cli_index)]) == 0
    text = capsys.readouterr().out
    assert (
        "passages 32" in text and f"format hipporag-toolkit-index version {FORMAT_VERSION}" in text
    )
    assert "size on disk" in text and "[graph]" in text
    assert main(["info", str(cli_index), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["counts"]["passages"] == 32 and d["format_version"] == FORMAT_VERSION
    assert d["size_bytes"] == sum(d["files"].values()) > 0
    assert d["config"]["embedding"]["model"] == "all-MiniLM-L6-v2"
    assert main(["info", str(tmp_path)]) == 2
    assert "not a hipporag index" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_job_run_and_status_reuse_the_index_checkpoints(cli_index, capsys, tmp_path):
    spec = tmp_path / "job.toml"
    spec.write_text(
        f'inputs = ["{DEMO}"]\noutput = "copy"\ncheckpoint_dir = "{cli_index}.checkpoints"\n'
        "[executor]\nbatch_size = 16\n"
    )
    assert main(["job", "status", str(spec)]) == 0
    assert "openie: 2/2 batches done" in capsys.readouterr().out
    assert main(["job", "run", str(spec), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batches"]["openie"] == {
        **report["batches"]["openie"],
        "reused": 2,
        "computed": 0,
    }
    assert report["batches"]["embedding"]["computed"] == 0
    assert_same_index(cli_index, tmp_path / "copy", atol=0)
    assert main(["job", "template"]) == 0
    assert JobSpec.from_toml(capsys.readouterr().out).executor.kind == "local"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "latin1", "bad_openie", "missing_openie"])
def test_cli_bad_input_exits_2_and_keeps_the_index(case, cli_index, capsys, tmp_path):
    out = tmp_path / "idx"
    shutil.copytree(cli_index, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    meta = (out / "meta.json").read_bytes()
    corpus = tmp_path / "corpus.json"
    args = ["index", str(corpus), "--out", str(out)]
    corpus.write_text(json.dumps([{"title": "A", "text": "Paris is in France."}]))
    if case == "empty":
        corpus.write_text("[]")
        expect = "no usable passage"
    elif case == "latin1":
        corpus.write_bytes('[{"title": "Café", "text": "Crème brûlée"}]'.encode("latin-1"))
        expect = "not valid UTF-8"
    elif case == "bad_openie":
        (tmp_path / "oie.json").write_text('{"docs": [{"passage": "x",,}]}')
        args += ["--openie", f"hipporag:{tmp_path / 'oie.json'}"]
        expect = "is not valid JSON"
    else:
        args += ["--openie", f"hipporag:{tmp_path / 'none.json'}"]
        expect = "OpenIE file not found"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expect in err and "how to fix" in err and "Traceback" not in err
    assert (out / "meta.json").read_bytes() == meta
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert not (tmp_path / "idx.checkpoints").exists()


def test_cli_rejects_bad_options(capsys, tmp_path):
    assert main(["index", str(DEMO), "--out", str(tmp_path / "i"), "--openie", "gpt"]) == 2
    assert "--openie must be spacy, hipporag:PATH or llm" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text("[graph]\nsynonymy_treshold = 0.9\n")
    assert main(["index", str(DEMO), "--out", str(tmp_path / "i"), "--config", str(cfg)]) == 2
    assert "did you mean 'synonymy_threshold'" in capsys.readouterr().err
    assert (
        main(
            [
                "index",
                str(DEMO),
                "--out",
                str(tmp_path / "i"),
                "--workers",
                "-2",
                "--executor",
                "ray",
            ]
        )
        == 2
    )
    assert "executor.workers must be >= 0" in capsys.readouterr().err
