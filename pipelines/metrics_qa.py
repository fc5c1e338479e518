"""Answer metrics: exact match and token F1 with SQuAD answer normalisation.

Normalisation (as in the SQuAD v1.1 evaluation): lowercase, drop punctuation,
drop the articles "a", "an", "the", collapse whitespace. Scores take the best
over the gold answer and its aliases.

Example:
    >>> exact_match("The Eiffel Tower!", ["eiffel tower"])
    1.0
    >>> round(f1_score("Stanley Hall", ["G. Stanley Hall"]), 4)
    0.8
    >>> qa_scores("Hall", "G. Stanley Hall", ["Stanley Hall"])
    {'em': 0.0, 'f1': 0.6667}
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, no punctuation, no articles, single spaces.

    Example:
        >>> normalize_answer("  The  Anglican Communion. ")
        'anglican communion'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(golds: str | Iterable[str]) -> list[str]:
    items = [golds] if isinstance(golds, str) else list(golds)
    return [g for g in items if isinstance(g, str)]


def exact_match(prediction: str, golds: str | Iterable[str]) -> float:
    """1.0 if the normalised prediction equals a normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(golds)))


def _f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: str | Iterable[str]) -> float:
    """Best token F1 of the prediction against the gold answers (0.0 if there are none).

    Example:
        >>> f1_score("", [""])
        1.0
        >>> f1_score("Paris", [])
        0.0
    """
    return max((_f1(prediction, g) for g in _golds(golds)), default=0.0)


def qa_scores(prediction: str, answer: str, aliases: Sequence[str] = ()) -> dict[str, float]:
    """EM and F1 of one prediction against ``answer`` and ``aliases`` (rounded to 4 places)."""
    golds = [answer, *aliases]
    return {
        "em": round(exact_match(prediction, golds), 4),
        "f1": round(f1_score(prediction, golds), 4),
    }


def citation_scores(answer: Any, gold: Iterable[str]) -> dict[str, float]:
    """``cited_gold`` (1.0 when a citation names a gold passage or document) and ``supported``.

    ``answer`` has ``cited_ids``, ``cited_documents`` and ``supported`` (a
    :class:`~pipelines.answers.Answer`); a refusal cites nothing, so it scores 0.

    Example:
        >>> from types import SimpleNamespace
        >>> a = SimpleNamespace(cited_ids=["p1"], cited_documents=["d1"], supported=True)
        >>> citation_scores(a, ["d1", "d9"]), citation_scores(a, ["d2"])["cited_gold"]
        ({'cited_gold': 1.0, 'supported': 1.0}, 0.0)
    """
    cited = {*answer.cited_ids, *answer.cited_documents}
    return {
        "cited_gold": float(bool(cited & set(gold))),
        "supported": float(bool(answer.supported)),
    }


def mean_scores(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean EM and F1 over per-question scores (0.0 for none).

    Example:
        >>> mean_scores([{"em": 1.0, "f1": 1.0}, {"em": 0.0, "f1": 0.5}])
        {'em': 0.5, 'f1': 0.75}
    """
    rows = list(rows)
    n = len(rows) or 1
    return {
        "em": round(sum(r["em"] for r in rows) / n, 4),
        "f1": round(sum(r["f1"] for r in rows) / n, 4),
    }


__all__ = [
    "citation_scores",
    "exact_match",
    "f1_score",
    "mean_scores",
    "normalize_answer",
    "qa_scores",
]
