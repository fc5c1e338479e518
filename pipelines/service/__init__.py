"""The retrieval service: ``hipporag serve`` (HTTP JSON, FastAPI), keys and tenants.

Public entry points (stable; the MCP server and Ray Serve deployment build on them):

* :func:`pipelines.service.app.create_app` ``(indexes, keys=None, *, default=None,
  settings=None) -> fastapi.FastAPI``: ``indexes`` maps names to index
  directories (the first, or ``default``, is also served at ``/v1/...``);
  ``keys`` is a keys-file path, a :class:`~pipelines.service.keys.KeyStore` or
  None (no authentication: every request is :data:`~pipelines.service.keys.OPEN`).
* :class:`pipelines.service.state.Served` holds one index of the app: its
  :class:`~pipelines.facade.HippoRAG` (``served.rag``), the one writer
  (``await served.write(op, *args)``: insert/update/delete, queued, one at a
  time) and ``served.pin()``, the index generation a request reads (one
  generation per request). ``app.state.served`` is the ``{name: Served}`` dict;
  ``app.state.keys`` the key store (or None).
* :mod:`pipelines.service.keys`: :class:`~pipelines.service.keys.Principal`
  (name, scopes, filter, rate; ``require(scope)``, ``restrict(filter)``),
  :class:`~pipelines.service.keys.KeyStore` (``authorize(key) -> Principal``,
  constant-time compare, re-read on change), :func:`~pipelines.service.keys.authorize`
  (``OPEN`` without a store), ``add_key`` / ``revoke_key``;
  :class:`~pipelines.service.keys.AuthError` is HTTP 401,
  :class:`~pipelines.service.keys.ScopeError` 403.
* :mod:`pipelines.service.ops`: the operations behind the endpoints as plain
  functions over a ``Served`` and a ``Principal`` (``retrieve``, ``get_document``,
  ``insert``/``delete`` with the tenant rules), for other front ends to reuse.

This package imports FastAPI only in its ``app`` module: the keys and the
operations work without it.
"""
