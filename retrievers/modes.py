"""The built-in retrievers: importing this module registers them (one line each).

A new retriever is one module with a ``@register(...)``-decorated class plus
one import line here (see :mod:`retrievers.registry`; modes import
:func:`retrievers.registration.register`, never the registry).
"""

from retrievers import dense, hipporag1, hipporag2, hybrid, lexical  # noqa: F401
from retrievers.note import retriever as note  # noqa: F401
