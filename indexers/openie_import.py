"""Import precomputed OpenIE results in HippoRAG's file format.

Users keep their costly LLM extractions: the file's ``docs`` entries are
matched to corpus passages by (title, text) — through the ``passage`` field
(``title + "\\n" + text``) or the ``title``/``text`` fields — or by an ``id``
field equal to the record's id. Chunking stays on: a chunk of a long
document is matched through its ``doc_id`` to the document's entry and gets
the entities, and the triples whose subject or object, found in the chunk's
text (case-insensitive); ``stats["matched_chunks"]`` counts those. Invalid triples
(not exactly three non-empty strings) are skipped and counted. Passages the
file does not cover get an empty extraction and are counted as ``missing``.

Example:
    >>> import json, tempfile
    >>> passages = [
    ...     Passage("p1", "Salt Harbour", "Salt Harbour is a film directed by Imre Valko."),
    ...     Passage("p2", "Paper Comets", "Paper Comets is a 1988 film."),
    ... ]
    >>> doc = {
    ...     "passage": "Salt Harbour\\nSalt Harbour is a film directed by Imre Valko.",
    ...     "extracted_entities": ["Salt Harbour", "Imre Valko"],
    ...     "extracted_triples": [["Salt Harbour", "directed by", "Imre Valko"], ["bad"]],
    ... }
    >>> path = f"{tempfile.mkdtemp()}/openie_results.json"
    >>> with open(path, "w") as f:
    ...     json.dump({"docs": [doc]}, f)
    >>> imp = HippoRAGOpenIEImporter(path)
    >>> extractions = imp.extract(passages)
    >>> [len(e.triples) for e in extractions]
    [1, 0]
    >>> imp.stats["matched"], imp.stats["missing"], imp.stats["skipped_triples"]
    (1, 1, 1)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hipporag.errors import InputError
from hipporag.log import get_logger
from hipporag.text import normalize_text, passage_id
from hipporag.types import Extraction, Passage, Triple

logger = get_logger(__name__)


def check_coverage(missing: int, n: int, operation: str, extractor: dict[str, Any]) -> None:
    """Stop an insert/update of passages the import file lacks; warn on a build.

    An index extracted from an OpenIE file cannot extract new documents from
    it: they would be indexed without entities or facts. A build counts and
    warns (``extractor_stats.missing``); an insert or update stops before
    anything is written.

    Example:
        >>> check_coverage(0, 5, "insert", {"kind": "hipporag", "path": "ie.json"})
        >>> check_coverage(2, 5, "insert", {"kind": "hipporag", "path": "ie.json"})
        Traceback (most recent call last):
        ...
        hipporag.errors.InputError: 2 of the 5 new passages are not in the OpenIE file ie.json that this index is extracted with; nothing was written
          how to fix: extract them with --openie spacy (or --openie llm): the generation's manifest records which extractor added them; or add them to the OpenIE file
    """
    if missing <= 0:
        return
    path = extractor.get("path", "?")
    if operation == "build":
        logger.warning(
            "%d of %d passages are not in the OpenIE file %s: indexed without entities or "
            "facts (extractor_stats.missing)",
            missing,
            n,
            path,
        )
        return
    raise InputError(
        f"{missing} of the {n} new passages are not in the OpenIE file {path} that this "
        "index is extracted with; nothing was written",
        hint="extract them with --openie spacy (or --openie llm): the generation's manifest "
        "records which extractor added them; or add them to the OpenIE file",
    )


def _clean_triples(raw: Any) -> tuple[list[Triple], int]:
    triples: list[Triple] = []
    skipped = 0
    if not isinstance(raw, list):
        return [], 1 if raw else 0
    for t in raw:
        if (
            isinstance(t, (list, tuple))
            and len(t) == 3
            and all(isinstance(x, str) and x.strip() for x in t)
        ):
            triples.append(Triple(*(x.strip() for x in t)))
        else:
            skipped += 1
    return triples, skipped


class HippoRAGOpenIEImporter:
    """An :class:`~hipporag.protocols.Extractor` that reads a HippoRAG OpenIE results file.

    Args:
        path: the ``openie_*.json`` file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_id: dict[str, dict[str, Any]] | None = None
        self.stats: dict[str, int] = {
            "docs": 0,
            "matched": 0,
            "missing": 0,
            "skipped_triples": 0,
            "malformed_docs": 0,
            "matched_chunks": 0,
            "triples_outside_chunk": 0,
        }

    def warm_up(self) -> None:
        if self._by_id is not None:
            return
        if not self.path.is_file():
            raise InputError(
                f"OpenIE file not found: {self.path}",
                hint="pass --openie hipporag:PATH with an existing openie_*.json",
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{self.path} is not UTF-8", hint="re-encode it as UTF-8") from None
        except json.JSONDecodeError as err:
            raise InputError(
                f"{self.path} is not valid JSON: {err.msg} (line {err.lineno})",
                hint="expected HippoRAG's OpenIE results: {'docs': [{passage, "
                "extracted_entities, extracted_triples}, ...]}",
            ) from None
        docs = data.get("docs") if isinstance(data, dict) else None
        if not isinstance(docs, list):
            raise InputError(
                f"{self.path} has no 'docs' list",
                hint="expected HippoRAG's OpenIE results format: {'docs': [...]}",
            )
        by_id: dict[str, dict[str, Any]] = {}
        for doc in docs:
            key = self._doc_key(doc)
            if key is None:
                self.stats["malformed_docs"] += 1
                continue
            by_id.setdefault(key, doc)
            if isinstance(doc.get("id"), str) and doc["id"]:
                by_id.setdefault(doc["id"], doc)
        self.stats["docs"] = len(docs)
        if not by_id:
            raise InputError(
                f"no usable entry in {self.path}",
                hint="each doc needs 'passage' (title + newline + text) or 'title' and 'text'",
            )
        self._by_id = by_id

    @staticmethod
    def _doc_key(doc: Any) -> str | None:
        if not isinstance(doc, dict):
            return None
        if isinstance(doc.get("text"), str):
            return passage_id(str(doc.get("title", "")), doc["text"])
        passage = doc.get("passage")
        if isinstance(passage, str):
            title, _, text = passage.partition("\n")
            return passage_id(title, text) if text else passage_id("", title)
        return None

    def _lookup(self, p: Passage) -> tuple[dict[str, Any] | None, bool]:
        """The file entry of ``p`` and whether it is that of ``p``'s whole document."""
        assert self._by_id is not None
        doc = self._by_id.get(p.id) or self._by_id.get(passage_id(p.title, p.text))
        if doc is not None:
            return doc, False
        if p.doc_id and p.doc_id != p.id:
            return self._by_id.get(p.doc_id), True
        return None, False

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        self.warm_up()
        out: list[Extraction] = []
        for p in passages:
            doc, whole = self._lookup(p)
            if doc is None:
                self.stats["missing"] += 1
                out.append(Extraction(p.id))
                continue
            self.stats["matched"] += 1
            triples, skipped = _clean_triples(doc.get("extracted_triples", []))
            ents = doc.get("extracted_entities", [])
            ents = [normalize_text(e) for e in ents if isinstance(e, str) and e.strip()]
            if whole:
                self.stats["matched_chunks"] += 1
                ents, triples = self._in_chunk(p, ents, triples)
            self.stats["skipped_triples"] += skipped
            out.append(Extraction(p.id, ents, triples, skipped))
        return out

    def _in_chunk(
        self, p: Passage, ents: list[str], triples: list[Triple]
    ) -> tuple[list[str], list[Triple]]:
        """The document's entities and triples that the chunk ``p`` mentions."""
        text = p.content.casefold()
        kept = [t for t in triples if t.subject.casefold() in text or t.object.casefold() in text]
        self.stats["triples_outside_chunk"] += len(triples) - len(kept)
        return [e for e in ents if e.casefold() in text], kept

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "hipporag", "path": str(self.path)}


__all__ = ["HippoRAGOpenIEImporter", "check_coverage"]
