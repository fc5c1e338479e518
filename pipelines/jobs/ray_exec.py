"""The Ray executor: OpenIE and embedding batches on a Ray Data actor pool.

Each planned batch is one row of a Ray dataset (one block), mapped with
``map_batches(Worker, batch_size=1, compute=ActorPoolStrategy(size=N))``: every
actor loads spaCy / the embedding model / the LLM client once in ``__init__``
and then streams batches. Results come back to the driver as they finish, and
the driver checkpoints them, so no shared filesystem is needed.

Ray is imported lazily, only here. A Ray session that is already running in
this process (e.g. started by a notebook or a test) is reused and left
running. Otherwise the job joins a cluster when there is one: ``ray_address``
("auto", "HOST:6379" or "ray://head:10001"), else ``RAY_ADDRESS``, else the
cluster that ``ray start`` last started on this machine; joining passes no
resource arguments (the cluster has its own). With no cluster, a local Ray
instance is started with ``num_cpus = workers`` (no dashboard, worker logs not
forwarded) and shut down at the end. Every node needs hipporag-toolkit and its
models installed. A cluster with token authentication (``ray start`` turns it
on when ``~/.ray/auth_token`` exists) is joined in token mode when a token is
at hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``);
a refused token is one error line that says what to set. Ray does not restart
the actors (``max_restarts = 0``): a worker that dies fails the job, and
running it again resumes from the checkpoints.

Example:
    >>> from pipelines.jobs.spec import ExecutorConfig
    >>> ex = RayExecutor(IndexConfig(), ExecutorConfig(kind="ray", workers=2))  # doctest: +SKIP
    >>> ex.startup_s                                                             # doctest: +SKIP
    11.3
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hipporag.config import EmbeddingConfig, IndexConfig
from hipporag.errors import HippoRAGError, JobError
from hipporag.log import get_logger
from hipporag.protocols import Embedder, Extractor
from pipelines.jobs.spec import ExecutorConfig
from pipelines.jobs.workers import Batch, EmbedWorker, OpenIEWorker

logger = get_logger(__name__)


class RayExecutor:
    """Runs the parallel stages on Ray Data actor pools.

    Args:
        config: The index configuration.
        executor: Worker count, CPUs per worker and the cluster address.
        extractor: Custom extractor, pickled to each actor (default: each actor
            builds the one named by ``config.openie``).
        embedder: Custom embedder, pickled to each actor.

    Example:
        >>> ex = RayExecutor(IndexConfig(), ExecutorConfig(kind="ray"))  # doctest: +SKIP
        >>> for key, data, info in ex.map("embedding", batches): ...      # doctest: +SKIP
        >>> ex.close()                                                    # doctest: +SKIP
    """

    name = "ray"

    def __init__(
        self,
        config: IndexConfig,
        executor: ExecutorConfig,
        extractor: Extractor | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        import ray

        self.config = config
        self.settings = executor
        self._extractor = extractor
        self._embedder = embedder
        self._owns_ray = False
        t = time.perf_counter()
        if ray.is_initialized():
            check_session(executor.ray_address, _session_address())
        else:
            quiet = logger.getEffectiveLevel() > logging.DEBUG
            if quiet:  # Ray's own notes on token auth and start-up are not ours to print
                for name in ("ray._private.authentication.authentication_token_setup", "ray"):
                    logging.getLogger(name).setLevel(logging.ERROR)
            kwargs: dict[str, Any] = {
                "ignore_reinit_error": True,
                "log_to_driver": False,
                "logging_level": logging.WARNING if quiet else logging.INFO,
                "runtime_env": {"env_vars": _worker_env()},
            }
            address = executor.ray_address or existing_cluster()
            try:
                if address:
                    logger.info("joining the Ray cluster at %s", address)
                    use_token_if_available()
                    ray.init(address=address, **kwargs)  # the cluster has its resources
                else:
                    ray.init(num_cpus=executor.n_workers, include_dashboard=False, **kwargs)
            except Exception as err:  # connection errors come in many types
                raise join_error(err, address) from None
            self._owns_ray = True
        self.startup_s = time.perf_counter() - t
        self.workers = executor.workers or max(
            1, int(ray.cluster_resources().get("CPU", 1) // executor.cpus_per_worker)
        )

    def map(self, stage: str, batches: Sequence[Batch]) -> Iterator[tuple[str, bytes, dict]]:
        """Run ``batches`` of ``stage`` on an actor pool; yield results as they finish."""
        if not batches:
            return
        import ray.data

        _quiet_ray_data()
        if stage == "openie":
            fn: type = OpenIEWorker
            ctor: dict[str, Any] = {"config": self.config, "extractor": self._extractor}
            res: dict[str, Any] = {"num_cpus": self.settings.cpus_per_worker, "size": self.workers}
        else:
            fn = EmbedWorker
            ctor = {"config": self.config.embedding, "embedder": self._embedder}
            res = actor_resources(
                self.config.embedding,
                self.settings.cpus_per_worker,
                float(ray.cluster_resources().get("GPU", 0)),
                self.workers,
            )
        rows = [{"key": b.key, "payload": b.payload} for b in batches]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            fn,
            fn_constructor_kwargs=ctor,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=max(1, min(len(rows), res.pop("size")))),
            max_restarts=0,  # no actor restarts: checkpoints make a rerun cheap instead
            **res,
        )
        try:
            for row in ds.iter_rows():
                yield str(row["key"]), bytes(row["data"]), json.loads(str(row["info"]))
        except Exception as err:
            raise _unwrap(err) from None

    def close(self) -> None:
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def actor_resources(
    embedding: EmbeddingConfig, cpus_per_worker: float, cluster_gpus: float, workers: int
) -> dict[str, Any]:
    """Ray resources of one embedding actor, and the pool size.

    An embedding device of ``cuda``/``cuda:N`` asks for one GPU per actor (so
    Ray places the actors on GPU nodes), ``auto`` does when the cluster has
    GPUs, ``cpu`` never does. The pool is no larger than the GPUs there are.

    Example:
        >>> from hipporag.config import EmbeddingConfig
        >>> actor_resources(EmbeddingConfig(device="cuda"), 1.0, 4.0, 8)
        {'num_cpus': 1.0, 'num_gpus': 1, 'size': 4}
        >>> actor_resources(EmbeddingConfig(device="auto"), 1.0, 0.0, 8)
        {'num_cpus': 1.0, 'size': 8}

    Raises:
        JobError: a CUDA device is configured but the cluster has no GPU.
    """
    device = embedding.device.strip().lower()
    wants = device.startswith("cuda") or (device == "auto" and cluster_gpus >= 1)
    if not wants:
        return {"num_cpus": cpus_per_worker, "size": workers}
    if cluster_gpus < 1:
        raise JobError(
            f"embedding.device = {embedding.device!r} but the Ray cluster has no GPU",
            hint="start the Ray nodes with GPUs (ray start --num-gpus N), or set "
            "embedding.device = 'auto' or 'cpu'",
        )
    return {"num_cpus": cpus_per_worker, "num_gpus": 1, "size": min(workers, int(cluster_gpus))}


def existing_cluster() -> str | None:
    """The cluster to join without ``executor.ray_address``: ``RAY_ADDRESS``, else the
    one ``ray start`` last started on this machine (Ray's address file), else None."""
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env:
        return env
    try:
        from ray._private.utils import read_ray_address

        found = read_ray_address()
    except Exception:  # an internal helper of Ray: absent or changed, so no cluster is known
        return None
    return str(found) if found else None


def use_token_if_available() -> bool:
    """Join in token-auth mode when a token is at hand and ``RAY_AUTH_MODE`` is unset.

    ``ray start`` turns token authentication on when a token exists, so a
    driver on the same machine (or with the token) must send it.
    """
    if os.environ.get("RAY_AUTH_MODE"):
        return os.environ["RAY_AUTH_MODE"].strip().lower() == "token"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    if not (os.environ.get("RAY_AUTH_TOKEN") or Path(path).is_file()):
        return False
    os.environ["RAY_AUTH_MODE"] = "token"
    try:  # Ray reads its config once per process: make it see the mode
        from ray._raylet import Config

        Config.initialize("")
    except Exception:  # an older Ray without token auth: the variable is harmless
        pass
    return True


def join_error(err: BaseException, address: str | None) -> JobError:
    """The one-line error of a failed ``ray.init``; for a join it says what auth needs.

    A cluster that refuses a driver's token (or gets none) shows as a failed
    connection, so the hint of every failed join names the token settings.
    """
    text = f"{type(err).__name__}: {err}".strip()
    first = text.splitlines()[0] if text else type(err).__name__
    if address:
        sent = os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "token"
        token = (
            "the cluster may have refused this driver's token: set RAY_AUTH_TOKEN"
            if sent
            else "a cluster with token authentication needs RAY_AUTH_MODE=token and RAY_AUTH_TOKEN"
        )
        return JobError(
            f"could not join the Ray cluster at {address} ({first})",
            hint=f"{token} to the cluster's token (`ray get-auth-token` on the head node prints "
            "it); check executor.ray_address / RAY_ADDRESS and that the cluster is up (`ray "
            "status`); or unset RAY_ADDRESS, or use executor.kind = 'local'",
        )
    return JobError(
        f"could not start a local Ray instance ({first})",
        hint="check free memory and /tmp space, or use executor.kind = 'local'",
    )


def _session_address() -> str | None:
    """The GCS address of the Ray session this process is connected to (None if unknown)."""
    import ray

    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # an old Ray or a client-mode session
        return None


def check_session(wanted: str | None, current: str | None) -> None:
    """Raise when ``executor.ray_address`` names another cluster than the running session's.

    Example:
        >>> check_session("127.0.0.1:6379", "127.0.0.1:6379")
        >>> check_session(None, "10.0.0.1:6379")     # no address asked for: reuse it
        >>> check_session("10.0.0.2:6379", "10.0.0.1:6379")
        Traceback (most recent call last):
        ...
        hipporag.errors.JobError: executor.ray_address is '10.0.0.2:6379' but this process is already connected to the Ray cluster at '10.0.0.1:6379'
          how to fix: run the job in a fresh process, call ray.shutdown() first, or set executor.ray_address to that cluster's address
    """
    if not wanted or wanted == "auto":
        return
    if current is not None and _norm(wanted) == _norm(current):
        return
    raise JobError(
        f"executor.ray_address is {wanted!r} but this process is already connected to the "
        f"Ray cluster at {current or 'an unknown address'!r}",
        hint="run the job in a fresh process, call ray.shutdown() first, or set "
        "executor.ray_address to that cluster's address",
    )


def _norm(address: str) -> str:
    """``host:port`` with this machine's own addresses (loopback or not) spelt ``local``."""
    host, _, port = address.strip().removeprefix("ray://").rpartition(":")
    return f"{'local' if _is_local(host) else host}:{port}"


def _is_local(host: str) -> bool:
    import socket

    try:
        ip = socket.gethostbyname(host)
        own = {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return host in ("localhost", "127.0.0.1")
    return ip.startswith("127.") or ip in own


def _worker_env() -> dict[str, str]:
    """Environment of Ray workers: quiet tokenizers and bars; this source tree importable."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"TOKENIZERS_PARALLELISM": "false", "HIPPORAG_PROGRESS": "0", "PYTHONPATH": path}


def _quiet_ray_data() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.raise_original_map_exception = True  # our errors, not a generic UserCodeException
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    ctx.enable_auto_log_stats = False
    if logger.getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)


def _unwrap(err: BaseException) -> BaseException:
    """The toolkit error inside a Ray error, or a JobError that says what failed."""
    from ray.exceptions import RayError

    seen: set[int] = set()
    e: BaseException | None = err
    root = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, HippoRAGError) and not isinstance(e, RayError):
            return e
        root = e
        e = getattr(e, "cause", None) or e.__cause__
    text = str(root).strip().splitlines()
    return JobError(
        f"a Ray worker failed: {type(root).__name__}: {text[-1] if text else ''}",
        hint="rerun with -vv to see the worker logs; finished batches are checkpointed "
        "and are reused when the job is started again",
    )


__all__ = ["RayExecutor"]
