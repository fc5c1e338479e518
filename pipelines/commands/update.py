"""``hipporag update INDEX CORPUS...``: upsert documents by id.

A document whose passages differ from the index is replaced (delete + insert);
an unchanged one costs nothing; an unknown one is inserted and reported.
Nothing changed: no new generation.

``--reextract`` replaces the given documents even when unchanged, so they are
extracted again (with ``--openie``: by another extractor).

Example:
    $ hipporag update my-index edited_docs.json
    $ hipporag update my-index docs.json --reextract --openie spacy
"""

from __future__ import annotations

from typing import Any

from pipelines.commands.add import _register


def register(subparsers: Any) -> None:
    _register(subparsers, "update", "upsert the documents of a corpus into an index (by id)")
