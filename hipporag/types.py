"""Plain data types shared by every room of the toolkit.

They are small frozen dataclasses: cheap to create, hashable, picklable, and
free of behaviour beyond conversion helpers.

Example:
    >>> from hipporag.types import Passage, Triple
    >>> p = Passage.from_text("Paris", "Paris is the capital of France.")
    >>> p.id.startswith("p_")
    True
    >>> Triple("Paris", "capital of", "France").as_tuple()
    ('Paris', 'capital of', 'France')
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from hipporag.paths import PathStep, path_text
from hipporag.text import passage_id


@dataclass(frozen=True, slots=True)
class Passage:
    """A unit of retrieval: a title and a text, identified by their content.

    Attributes:
        id: the passage (chunk) id; content-derived unless the record had an id.
        title: the title (may be empty).
        text: the text that is indexed.
        doc_id: the document this passage belongs to ("" means the passage is
            its own document: :attr:`document` then returns ``id``).
        metadata: a flat JSON object of the document (strings, numbers,
            booleans, ISO dates, lists of strings). Not part of the hash.
        chunk: the position of this passage in its document (0-based).
        span: ``(start, end)`` character offsets of ``text`` in the document's
            text, or None when the passage is a whole record.
    """

    id: str
    title: str
    text: str
    doc_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    chunk: int = 0
    span: tuple[int, int] | None = None

    @property
    def document(self) -> str:
        """The document key: ``doc_id``, or the passage id for a one-passage record."""
        return self.doc_id or self.id

    @classmethod
    def from_text(cls, title: str, text: str) -> Passage:
        """Create a passage whose id is derived from its (title, text)."""
        return cls(passage_id(title, text), title, text)

    @property
    def content(self) -> str:
        """Title and text as one string, the form that is embedded."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class Triple:
    """A subject-relation-object fact, as extracted (not yet normalised)."""

    subject: str
    relation: str
    object: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.subject, self.relation, self.object)


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity node of the knowledge graph."""

    id: str
    name: str


@dataclass(slots=True)
class Extraction:
    """OpenIE output for one passage: entity mentions and triples.

    ``skipped`` counts triples dropped as invalid (wrong arity, empty parts).
    """

    passage_id: str
    entities: list[str] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_id": self.passage_id,
            "entities": list(self.entities),
            "triples": [list(t.as_tuple()) for t in self.triples],
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extraction:
        return cls(
            passage_id=data["passage_id"],
            entities=list(data.get("entities", [])),
            triples=[Triple(*t) for t in data.get("triples", [])],
            skipped=int(data.get("skipped", 0)),
        )


@dataclass(frozen=True, slots=True)
class Seed:
    """A PPR seed: a graph node with the reset weight it received and why."""

    node: str
    kind: str  # "entity" | "passage"
    weight: float
    source: str = ""  # e.g. the query mention or the matched fact

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Explanation:
    """Why a passage was retrieved.

    Attributes:
        dense_score: cosine similarity of query and passage (None if not computed).
        ppr_score: the passage's Personalized PageRank mass (None for dense-only).
        seeds: the seeds of the query with their weights.
        connecting_entities: entities adjacent to the passage that received PPR mass
            or are seeds, strongest first.
        path: one shortest seed-to-passage path, as node names.
        flags: free-form markers, e.g. ``"no_seeds"`` when the query linked to nothing.
        steps: one :class:`~hipporag.paths.PathStep` per edge of ``path``, naming the
            relation of each fact edge (empty when unknown).
    """

    dense_score: float | None = None
    ppr_score: float | None = None
    seeds: list[Seed] = field(default_factory=list)
    connecting_entities: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    steps: list[PathStep] = field(default_factory=list)

    @property
    def path_text(self) -> str:
        """The path on one line, fact edges named: ``a -[plays for]-> b -> [Title]``."""
        return path_text(self.path, self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dense_score": self.dense_score,
            "ppr_score": self.ppr_score,
            "seeds": [s.to_dict() for s in self.seeds],
            "connecting_entities": list(self.connecting_entities),
            "path": list(self.path),
            "path_steps": [s.to_dict() for s in self.steps],
            "path_text": self.path_text,
            "flags": list(self.flags),
        }


@dataclass(slots=True)
class Hit:
    """One retrieved passage (a chunk of a document, or a whole one).

    Attributes:
        doc_id: the document the passage belongs to ("" when unknown: then
            :attr:`document` is ``passage_id``).
        metadata: the document's metadata (a flat JSON object).
        span: ``(start, end)`` character offsets of ``text`` in the document,
            or None for a whole-record passage.
    """

    passage_id: str
    title: str
    text: str
    score: float
    rank: int
    explanation: Explanation | None = None
    doc_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    span: tuple[int, int] | None = None

    @property
    def document(self) -> str:
        """The document key: ``doc_id``, or ``passage_id`` when there is none."""
        return self.doc_id or self.passage_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_id": self.passage_id,
            "doc_id": self.document,
            "title": self.title,
            "text": self.text,
            "score": self.score,
            "rank": self.rank,
            "metadata": dict(self.metadata),
            "span": list(self.span) if self.span else None,
            "explanation": self.explanation.to_dict() if self.explanation else None,
        }


class RankedItems:
    """Sequence behaviour of a ranked result: ``len``, iteration, indexing, ``to_dict``.

    Subclasses are dataclasses with ``query``, ``mode``, ``flags``, ``timings_ms``
    and a list field named by ``_items`` whose elements have ``to_dict()``.
    """

    __slots__ = ()
    _items: ClassVar[str] = "hits"

    def _list(self) -> list[Any]:
        return getattr(self, self._items)

    def __len__(self) -> int:
        return len(self._list())

    def __iter__(self):
        return iter(self._list())

    def __getitem__(self, i: int) -> Any:
        return self._list()[i]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,  # type: ignore[attr-defined]
            "mode": self.mode,  # type: ignore[attr-defined]
            "flags": list(self.flags),  # type: ignore[attr-defined]
            "timings_ms": dict(self.timings_ms),  # type: ignore[attr-defined]
            self._items: [x.to_dict() for x in self._list()],
        }


@dataclass(slots=True)
class RetrievalResult(RankedItems):
    """Ranked hits for one query, plus how they were obtained.

    ``flags`` carries result-level markers such as ``"no_seeds"`` (the query
    linked to no entity, so the hits are dense only) or ``"llm_filter_failed"``.
    """

    query: str
    hits: list[Hit]
    mode: str
    flags: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def passage_ids(self) -> list[str]:
        return [h.passage_id for h in self.hits]

    def _repr_html_(self) -> str:
        """Rich display in Jupyter (see :func:`hipporag.display.result_html`)."""
        from hipporag.display import result_html

        return result_html(self)

    def to_polars(self):
        """The hits as a polars DataFrame (one row per hit).

        ``metadata`` is a JSON string column: ``pl.col("metadata").str.json_path_match("$.lang")``.
        """
        import polars as pl

        rows = []
        for h in self.hits:
            e = h.explanation
            rows.append(
                {
                    "rank": h.rank,
                    "passage_id": h.passage_id,
                    "doc_id": h.document,
                    "title": h.title,
                    "text": h.text,
                    "score": h.score,
                    "dense_score": e.dense_score if e else None,
                    "ppr_score": e.ppr_score if e else None,
                    "connecting_entities": list(e.connecting_entities) if e else [],
                    "path": list(e.path) if e else [],
                    "metadata": json.dumps(h.metadata, ensure_ascii=False, sort_keys=True),
                    "span_start": h.span[0] if h.span else None,
                    "span_end": h.span[1] if h.span else None,
                }
            )
        schema = {
            "rank": pl.Int64,
            "passage_id": pl.Utf8,
            "doc_id": pl.Utf8,
            "title": pl.Utf8,
            "text": pl.Utf8,
            "score": pl.Float64,
            "dense_score": pl.Float64,
            "ppr_score": pl.Float64,
            "connecting_entities": pl.List(pl.Utf8),
            "path": pl.List(pl.Utf8),
            "metadata": pl.Utf8,
            "span_start": pl.Int64,
            "span_end": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema)


__all__ = [
    "Entity",
    "Explanation",
    "Extraction",
    "Hit",
    "Passage",
    "RankedItems",
    "RetrievalResult",
    "Seed",
    "Triple",
]
