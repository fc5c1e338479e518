"""``hipporag serve`` start-up arguments: uvicorn's worker health check, ``--ray`` options."""

from __future__ import annotations

import pytest

from pipelines.cli import build_parser


def test_workers_get_a_patient_health_check(monkeypatch, tmp_path):
    # uvicorn's supervisor restarts a worker that misses its ping (5 s by default): on a
    # busy machine that restarted workers in the middle of a load test (bench_serve).
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    (tmp_path / "idx").mkdir()
    args = build_parser().parse_args(["serve", str(tmp_path / "idx"), "--workers", "2"])
    assert args.func(args) == 0
    assert seen["workers"] == 2 and seen["timeout_worker_healthcheck"] >= 60


def test_ray_options_parse_and_bad_replicas_are_refused(tmp_path):
    from hipporag.errors import InputError
    from pipelines.service import ray_serve

    (tmp_path / "idx").mkdir()
    args = build_parser().parse_args(
        ["serve", str(tmp_path / "idx"), "--ray", "--replicas", "0", "--ray-address", "auto"]
    )
    assert args.ray and args.replicas == 0 and args.ray_address == "auto"
    with pytest.raises(InputError, match="replicas"):
        ray_serve.run({"indexes": {}}, args)
