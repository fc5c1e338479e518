"""One hierarchy of errors. Every message says what went wrong *and* how to fix it.

Catch :class:`HippoRAGError` to handle anything this toolkit raises on purpose;
anything else escaping is a bug.

Example:
    >>> from hipporag.errors import ConfigError
    >>> try:
    ...     raise ConfigError("graph.synonymy_threshold must be in (0, 1], got 3.0",
    ...                       hint="use a cosine similarity such as 0.8")
    ... except ConfigError as err:
    ...     print(err)
    graph.synonymy_threshold must be in (0, 1], got 3.0
      how to fix: use a cosine similarity such as 0.8
"""

from __future__ import annotations


class HippoRAGError(Exception):
    """Base class of every error raised on purpose by this toolkit.

    Args:
        message: What went wrong, in one sentence.
        hint: How to fix it. Shown on its own line.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  how to fix: {self.hint}"
        return self.message


class ConfigError(HippoRAGError, ValueError):
    """A configuration value is invalid. Raised before any work starts."""


class InputError(HippoRAGError, ValueError):
    """Input data (corpus, question file, query, OpenIE file) is unusable."""


class IndexFormatError(HippoRAGError):
    """An index directory is missing, incomplete, or of an unknown format version."""


class ExtractionError(HippoRAGError):
    """Open information extraction failed for a reason that is not a single bad passage."""


class LLMError(HippoRAGError):
    """An OpenAI-compatible LLM endpoint failed, timed out or answered unusably.

    Attributes:
        transient: True when retries ran out on an error that may pass (HTTP 5xx,
            408, 429, a timeout, a malformed reply); False when asking again cannot
            help (no server at the URL, a wrong key or model, a rejected request).
    """

    transient: bool = False


class ModelOutputError(LLMError):
    """The model answered, but not with a usable JSON object (or not of the asked shape).

    Attributes:
        text: The raw model output (possibly long); kept for logging.
    """

    def __init__(self, message: str, hint: str | None = None, text: str = "") -> None:
        super().__init__(message, hint=hint)
        self.text = text


class RetrievalError(HippoRAGError, ValueError):
    """A retrieval request is invalid (empty query, bad k, unknown mode, ...)."""


class JobError(HippoRAGError):
    """An index job spec is invalid or a job cannot be resumed."""


__all__ = [
    "ConfigError",
    "ExtractionError",
    "HippoRAGError",
    "IndexFormatError",
    "InputError",
    "JobError",
    "LLMError",
    "ModelOutputError",
    "RetrievalError",
]
