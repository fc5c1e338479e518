"""The app a server process builds from its environment (uvicorn's factory, Ray Serve replicas).

``hipporag serve`` writes the served indexes, keys and settings as JSON into
``$HIPPORAG_SERVE_SPEC``; each worker process (uvicorn ``--workers N``, or a
Ray Serve replica) calls :func:`app_from_env` to build the same app.

Example:
    >>> ENV
    'HIPPORAG_SERVE_SPEC'
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "HIPPORAG_SERVE_SPEC"


def app_from_env() -> Any:
    """The app described by ``$HIPPORAG_SERVE_SPEC`` (uvicorn's factory in each worker)."""
    from pipelines.service.app import create_app
    from pipelines.service.state import Settings

    spec = json.loads(os.environ[ENV])
    llm = None
    if spec.get("llm"):
        from pipelines.qa import make_llm

        llm = make_llm(spec["llm"]["base_url"], spec["llm"]["model"])
    return create_app(
        spec["indexes"], spec.get("keys"), settings=Settings(**spec.get("settings", {})), llm=llm
    )


__all__ = ["ENV", "app_from_env"]
