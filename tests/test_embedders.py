"""One embedder factory for every path: configured backend and device, recorded in meta.json."""

from __future__ import annotations

import json
import os
import pickle
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hipporag.embedders.device as device_mod
from hipporag.config import EmbeddingConfig, IndexConfig
from hipporag.embedders import cached_embedder, make_embedder, onnx_available
from hipporag.embedders.device import default_batch_size, resolve_device, resolve_dtype
from hipporag.embedders.onnx_backend import OnnxEmbedder
from hipporag.embedders.torch_backend import SentenceTransformerEmbedder
from hipporag.errors import ConfigError, JobError
from retrievers.config import RetrievalConfig

needs_onnx = pytest.mark.skipif(not onnx_available(), reason="onnxruntime/onnx not installed")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(device_mod, "cuda_count", lambda: 0)
    monkeypatch.setattr(device_mod, "mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(device_mod, "cuda_count", lambda: 2)


# -- device selection ----------------------------------------------------------------


def test_explicit_cuda_without_a_gpu_is_a_clear_error(no_gpu) -> None:
    for spec in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(ConfigError, match="no CUDA GPU") as info:
            resolve_device(spec)
        assert "auto" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="mps"):
        resolve_device("mps")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        make_embedder(EmbeddingConfig(device="cuda", backend="torch"))


def test_auto_falls_back_to_the_cpu(no_gpu) -> None:
    assert resolve_device("auto") == "cpu"
    emb = make_embedder(EmbeddingConfig(device="auto", backend="torch"))
    assert emb.to_dict()["device"] == "cpu"
    assert emb.to_dict()["batch_size"] == default_batch_size("torch", "cpu")


def test_auto_picks_a_gpu_when_torch_sees_one(two_gpus) -> None:
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match="sees 2 CUDA GPU"):
        resolve_device("cuda:2")
    # auto on a GPU is the torch backend, with a GPU batch size; nothing is loaded yet
    emb = make_embedder(EmbeddingConfig(device="auto", backend="auto"))
    assert isinstance(emb, SentenceTransformerEmbedder) and emb._model is None
    d = emb.to_dict()
    assert (d["backend"], d["device"], d["dtype"]) == ("torch", "cuda:0", "float32")
    assert d["batch_size"] > default_batch_size("torch", "cpu")
    half = make_embedder(EmbeddingConfig(device="cuda:1", dtype="float16"))
    assert (half.to_dict()["device"], half.to_dict()["dtype"]) == ("cuda:1", "float16")


def test_fp16_needs_a_gpu(no_gpu) -> None:
    with pytest.raises(ConfigError, match="float16"):
        resolve_dtype("float16", "cpu", explicit_device=True)
    assert resolve_dtype("float16", "cpu", explicit_device=False) == "float32"
    emb = make_embedder(EmbeddingConfig(device="auto", dtype="float16", backend="torch"))
    assert emb.to_dict()["dtype"] == "float32"  # what runs, not what was asked


def test_device_and_dtype_are_validated() -> None:
    for bad in ("gpu", "cuda:x", "tpu"):
        with pytest.raises(ConfigError, match=r"embedding\.device"):
            EmbeddingConfig(device=bad)
    with pytest.raises(ConfigError, match=r"embedding\.dtype"):
        EmbeddingConfig(dtype="bfloat8")
    with pytest.raises(ConfigError, match="query_device"):
        RetrievalConfig(query_device="gpu")
    cfg = EmbeddingConfig.from_dict({"device": "cuda:1", "dtype": "float16"})
    assert EmbeddingConfig.from_toml(cfg.to_toml()) == cfg


def test_pickled_embedder_resolves_its_device_where_it_lands(two_gpus, monkeypatch) -> None:
    emb = make_embedder(EmbeddingConfig(device="auto", backend="torch"))
    assert emb.to_dict()["device"] == "cuda:0"
    monkeypatch.setattr(device_mod, "cuda_count", lambda: 0)
    assert pickle.loads(pickle.dumps(emb)).to_dict()["device"] == "cpu"


# -- the factory on every path ------------------------------------------------------


@needs_onnx
@pytest.mark.parametrize(
    ("backend", "cls", "ran"),
    [
        ("torch", SentenceTransformerEmbedder, "torch"),
        ("onnx", OnnxEmbedder, "onnx"),
        ("onnx-int8", OnnxEmbedder, "onnx-int8"),
    ],
)
def test_every_path_gets_the_configured_backend(no_gpu, backend, cls, ran) -> None:
    from indexers.builder import IndexBuilder
    from pipelines.jobs.workers import EmbedWorker, embedding_fingerprint

    cfg = IndexConfig.from_dict({"embedding": {"backend": backend, "device": "cpu"}})
    built = [
        make_embedder(cfg.embedding),
        IndexBuilder(cfg).embedder,
        cached_embedder(cfg.embedding),
    ]
    for emb in built:
        assert isinstance(emb, cls)
        assert (emb.to_dict()["backend"], emb.to_dict()["device"]) == (ran, "cpu")
    assert cached_embedder(cfg.embedding) is cached_embedder(cfg.embedding)
    fp = embedding_fingerprint(built[0])["component"]
    assert fp["backend"] == ran and "device" not in fp
    if backend == "torch":  # a worker loads its model at once; keep to the cheap one
        assert isinstance(EmbedWorker(cfg.embedding).embedder, cls)


def test_query_backend_and_device_override_the_index(demo_index_path) -> None:
    from pipelines.facade import HippoRAG

    rag = HippoRAG.open(demo_index_path, query_backend="torch", query_device="cpu")
    emb = rag.retriever.embedder
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.to_dict()["device"] == "cpu"
    assert rag.retrieve("Where is the Eiffel Tower?", k=2).hits
    with pytest.raises(ConfigError, match="query_device"):
        HippoRAG.open(demo_index_path, query_device="tpu")


@pytest.mark.slow
def test_meta_records_what_ran(demo_index_path) -> None:
    meta = json.loads((demo_index_path / "meta.json").read_text())
    ran = meta["components"]["embedder"]
    want = "onnx" if onnx_available() else "torch"
    assert (ran["backend"], ran["device"], ran["dtype"]) == (want, "cpu", "float32")
    assert meta["config"]["embedding"]["backend"] == "auto"  # what was asked


@needs_onnx
def test_onnx_on_a_gpu_without_the_cuda_provider_is_a_clear_error(two_gpus) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    emb = make_embedder(EmbeddingConfig(backend="onnx", device="cuda"))
    with pytest.raises(ConfigError, match="CUDA provider"):
        emb.warm_up()


# -- Ray: GPU requests and joining a real cluster --------------------------------------


def test_embedding_actors_request_gpus() -> None:
    from pipelines.jobs.ray_exec import actor_resources

    gpu = actor_resources(EmbeddingConfig(device="cuda"), 2.0, 4.0, 8)
    assert gpu == {"num_cpus": 2.0, "num_gpus": 1, "size": 4}
    assert actor_resources(EmbeddingConfig(device="cuda:1"), 1.0, 8.0, 3)["num_gpus"] == 1
    assert actor_resources(EmbeddingConfig(device="auto"), 1.0, 2.0, 8)["num_gpus"] == 1
    assert "num_gpus" not in actor_resources(EmbeddingConfig(device="auto"), 1.0, 0.0, 8)
    assert "num_gpus" not in actor_resources(EmbeddingConfig(device="cpu"), 1.0, 4.0, 8)
    with pytest.raises(JobError, match="no GPU"):
        actor_resources(EmbeddingConfig(device="cuda"), 1.0, 0.0, 8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_DRIVER = """
import sys
import pytest
import ray
from hipporag.config import IndexConfig
from hipporag.errors import JobError
from pipelines.jobs.ray_exec import RayExecutor
from pipelines.jobs.spec import ExecutorConfig
from pipelines.jobs.workers import decode_vectors, plan_embedding
from tests.fakes import HashEmbedder

address = sys.argv[1]
cfg = IndexConfig.from_dict({"embedding": {"device": "cpu"}})
ex_cfg = ExecutorConfig(kind="ray", ray_address=address, workers=1)
with RayExecutor(cfg, ex_cfg, embedder=HashEmbedder()) as ex:
    assert ray.is_initialized()
    port = address.rsplit(":", 1)[1]
    assert ray.get_runtime_context().gcs_address.endswith(f":{port}")
    assert ray.cluster_resources().get("CPU") == 1.0  # the head's, not a new local one
    texts = ["Paris", "France", "the Eiffel Tower"]
    batches = plan_embedding(texts, 2, {"component": {"model": "hash"}})
    got = {key: data for key, data, _ in ex.map("embedding", batches)}
    assert sorted(got) == sorted(b.key for b in batches)
    for b in batches:
        assert decode_vectors(got[b.key], len(b.rows)).shape == (len(b.rows), 64)
assert not ray.is_initialized()
# another session already running in this process, with a different address: an error
ray.init(address=address, log_to_driver=False)
try:
    with pytest.raises(JobError, match="already connected"):
        RayExecutor(cfg, ExecutorConfig(kind="ray", ray_address="127.0.0.1:1", workers=1),
                    embedder=HashEmbedder())
finally:
    ray.shutdown()
print("DRIVER-OK")
"""


@pytest.fixture
def ray_head(tmp_path):
    """A Ray head started as a separate process on 127.0.0.1 (stopped after the test).

    Yields its address and the environment a driver needs (the cluster uses token
    authentication). Ray keeps its authentication settings per process, so the
    driver runs in a process of its own and this test process stays unaffected.
    """
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip("no ray executable")
    port = _free_port()
    temp = Path("/tmp") / f"rh{os.getpid()}"
    token = tmp_path / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "HOME": str(tmp_path),  # nothing lands in the user's ~/.ray
    }
    cmd = [str(ray_bin), "start", "--head", "--block", f"--port={port}"]
    cmd += ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--include-dashboard=false"]
    cmd += [f"--temp-dir={temp}", "--disable-usage-stats"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail("ray start --head exited")
            time.sleep(0.5)
        time.sleep(2)
        yield address, env
    finally:
        proc.terminate()  # --block: ray stops the processes it started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.ray
@pytest.mark.slow
def test_ray_address_joins_a_running_cluster(ray_head) -> None:
    """``ray_address`` joins that cluster (not a new local one); a conflicting session errs."""
    address, env = ray_head
    root = Path(__file__).resolve().parents[1]
    env = {**env, "PYTHONPATH": os.pathsep.join([str(root), env.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-c", _DRIVER, address],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "DRIVER-OK" in run.stdout, run.stderr[-3000:]


def test_index_command_with_cuda_where_there_is_none_fails_clearly(
    no_gpu, tmp_path, capsys
) -> None:
    from pipelines.cli import main
    from tests.conftest import DEMO_CORPUS

    out = tmp_path / "idx"
    assert main(["index", str(DEMO_CORPUS), "--out", str(out), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU" in err and "auto" in err
    assert not out.exists()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[embedding]\ndevice = "cuda:1"\n')
    assert main(["index", str(DEMO_CORPUS), "--out", str(out), "--config", str(cfg)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["index", str(DEMO_CORPUS), "--out", str(out), "--device", "gpu"]) == 2
    assert "embedding.device" in capsys.readouterr().err
