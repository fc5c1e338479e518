"""The registry of retrievers: every retrieval mode by name, with its parameters.

A retriever is a class with a ``name``, a ``Params`` section (its validated
init parameters, see :mod:`retrievers.params`), ``to_dict()``/``from_dict()``
(Haystack-2 style: ``{"type": name, "init_parameters": {...}}``) and
``retrieve(query, k, *, allow=None)``. A *ranker* (``ranker=True``) also has
``from_parts(parts, params)`` (built over the shared
:class:`~retrievers.walk.Parts` of an index), ``run(query, qvec, k, *, extra,
allow, exclude, watch)`` (an encoded query) and ``accepts`` (the options it
takes: ``"extra_seeds"``, ``"exclude"``, ``"allow"``); subclassing
:class:`~retrievers.walk.WalkRetriever` (a PPR retriever: implement ``link``
and ``reset``) or :class:`~retrievers.dense.DenseRetriever` gives all of that.
It registers itself with :func:`~retrievers.registration.register` (a lower
module, so that this registry can import the built-in modes, through
:mod:`retrievers.modes`, without an import circle).
The facade, the CLI (``--mode`` choices, ``--help`` and errors), evaluation
and the adapters ask this registry for the list of modes and their parameters.

Adding a retriever: write ``retrievers/my_mode.py`` with a class decorated by
``@register("my_mode", params=MyParams, summary="...")`` (``from
retrievers.registration import register``) and add one import line to
:mod:`retrievers.modes`. If it reads new keys, add them to
:class:`~retrievers.config.RetrievalConfig` too.

Example:
    >>> names()
    ('dense', 'hipporag1', 'hipporag2', 'hybrid', 'lexical', 'note')
    >>> spec("hipporag2").params.__name__
    'HippoRAG2Params'
    >>> spec("hybird")
    Traceback (most recent call last):
    ...
    hipporag.errors.RetrievalError: unknown retrieval mode 'hybird'
      how to fix: did you mean 'hybrid'?
"""

from __future__ import annotations

import retrievers.modes  # noqa: F401  (registers the built-in retrievers)
from hipporag.errors import RetrievalError
from hipporag.sections import suggest
from retrievers.registration import REGISTRY as _REGISTRY
from retrievers.registration import RetrieverSpec, register


def names(*, rankers_only: bool = False) -> tuple[str, ...]:
    """Registered mode names, sorted (``rankers_only``: those usable in ``retrieve``)."""
    return tuple(sorted(n for n, s in _REGISTRY.items() if s.ranker or not rankers_only))


def spec(name: str) -> RetrieverSpec:
    """The registered retriever ``name``.

    Raises:
        RetrievalError: Unknown name (with a "did you mean" hint).
    """
    found = _REGISTRY.get(name)
    if found is None:
        raise RetrievalError(f"unknown retrieval mode {name!r}", hint=suggest(str(name), _REGISTRY))
    return found


def check_mode(mode: str | None, default: str, *, rankers_only: bool = True) -> str:
    """The mode to use (``default`` when None); raise a clear error for an unknown one."""
    mode = default if mode is None else mode
    found = spec(mode)
    if rankers_only and not found.ranker:
        raise RetrievalError(
            f"mode {mode!r} is not a single-call ranker",
            hint=f"use one of {names(rankers_only=True)}; run {mode!r} through its own API",
        )
    return mode


def describe(*, rankers_only: bool = False) -> str:
    """One line per mode for ``--help``: ``name: summary``."""
    return "; ".join(f"{n}: {spec(n).summary}" for n in names(rankers_only=rankers_only))


__all__ = ["RetrieverSpec", "check_mode", "describe", "names", "register", "spec"]
