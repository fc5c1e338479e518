"""Request bodies of the HTTP service (pydantic; unknown fields are refused)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrieveRequest(_Body):
    """``POST /v1/retrieve``."""

    query: str = Field(description="the question")
    k: int = Field(5, description="number of hits (1 to the service's max_k)")
    mode: str | None = Field(None, description="retrieval mode (GET /v1/info lists them)")
    filters: dict[str, Any] | None = Field(None, description="metadata filter spec")
    group_by: str | None = Field(None, description='"document": k documents with their chunks')
    explain: bool = Field(False, description="include each hit's explanation")
    min_generation: int | None = Field(None, description="wait until this generation is served")


class BatchRequest(_Body):
    """``POST /v1/retrieve/batch``: several queries, one filter, one generation."""

    queries: list[str]
    k: int = 5
    mode: str | None = None
    filters: dict[str, Any] | None = None
    explain: bool = False
    min_generation: int | None = None


class Document(_Body):
    """One record: a document (split into passages by the index's chunking)."""

    id: str | None = Field(None, description="document id (content-derived when absent)")
    title: str = ""
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(_Body):
    """``POST /v1/documents``: insert, or upsert (replace changed documents, add new ones)."""

    documents: list[Document]
    upsert: bool = Field(True, description="true: update changed documents; false: insert only")


class DeleteRequest(_Body):
    """``DELETE /v1/documents``."""

    ids: list[str] = Field(description="document ids or passage ids")


class AnswerRequest(_Body):
    """``POST /v1/answer``: retrieve, then the QA reader answers from the passages."""

    question: str
    k: int = 5
    mode: str | None = None
    filters: dict[str, Any] | None = None
    min_generation: int | None = None


__all__ = [
    "AnswerRequest",
    "BatchRequest",
    "DeleteRequest",
    "Document",
    "DocumentsRequest",
    "RetrieveRequest",
]
