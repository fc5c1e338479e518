"""The retrieval service: ``hipporag serve`` (HTTP JSON, FastAPI), keys and tenants.

Public entry points (stable; the MCP server and Ray Serve deployment build on them):

* :func:`pipelines.service.app.create_app` ``(indexes, keys=None, *, default=None,
  settings=None, llm=None) -> fastapi.FastAPI``: ``indexes`` maps names to index
  directories (the first, or ``default``, is also served at ``/v1/...``);
  ``keys`` is a keys-file path, a :class:`~pipelines.service.keys.KeyStore` or
  None (no authentication: every request is :data:`~pipelines.service.keys.OPEN`).
* :class:`pipelines.service.state.Served` holds one index of the app:
  ``served.pin()`` is the :class:`~pipelines.facade.HippoRAG` of the current
  generation (a request takes it once and uses only it: one generation per
  response; a new object replaces it after each commit, never refreshed in
  place); ``await served.at_least(min_generation)`` waits for a generation;
  ``await served.write(op, payload, check=None)`` queues a write (``op``:
  ``"insert"``, ``"update"`` or ``"delete"``; ``payload``: records or ids;
  ``check(reader) -> payload`` runs in the writer just before it, e.g. the
  tenant checks of :mod:`~pipelines.service.ops`) and returns the committed
  ``ChangeReport``. ``app.state.served`` is the ``{name: Served}`` dict,
  ``app.state.default`` the default name, ``app.state.keys`` the key store
  (or None), ``app.state.settings`` the :class:`~pipelines.service.state.Settings`.
* :mod:`pipelines.service.keys`: :class:`~pipelines.service.keys.Principal`
  (name, scopes, filter, rate; ``require(scope)``, ``restrict(filter)``),
  :class:`~pipelines.service.keys.KeyStore` (``authorize(key) -> Principal``,
  constant-time compare, re-read on change), :func:`~pipelines.service.keys.authorize`
  (``OPEN`` without a store), ``add_key`` / ``revoke_key``;
  :class:`~pipelines.service.keys.AuthError` is HTTP 401,
  :class:`~pipelines.service.keys.ScopeError` 403.
* :mod:`pipelines.service.ops`: the operations behind the endpoints as plain
  functions over a pinned reader and a ``Principal`` (``retrieve``,
  ``retrieve_batch``, ``get_document``, ``neighbourhood``, ``check_records``,
  ``check_ids``, ``change_dict``, ``check_k``), for other front ends (MCP) to
  reuse; ``ops.NotFound`` is HTTP 404.
* :func:`pipelines.commands.serve.spec_from_args` / ``app_from_env``: how
  ``hipporag serve`` describes the app to each worker process (JSON in
  ``$HIPPORAG_SERVE_SPEC``).

FastAPI is imported only by the ``app``, ``auth`` and ``http`` modules: the
keys, the state and the operations work without it.
"""
