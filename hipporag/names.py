"""Names in text of any script, for linking queries and notes without a parser.

Query linking matches the words of a question against entity names. Two
things differ across writing systems:

* Chinese, Japanese and Thai write no spaces between words, so a name is any
  substring of a run of letters: :func:`find_names` looks the substrings of
  such runs up in a table of known names (longest first).
* In cased scripts (Latin, Cyrillic, Greek, ...) names are capitalised:
  :func:`capitalised_runs` gives the runs of capitalised words, without
  single letters (the Russian prepositions ``в``, ``с``, ``к``) and without a
  question word that only starts the sentence (``Где``, ``Qui``).

Example:
    >>> match_key("Марии  Кюри's"), match_key("玛丽·居里")
    ('марии кюри s', '玛丽 居里')
    >>> find_names(match_key("玛丽·居里的丈夫是谁？"), {"玛丽 居里": 7, "丈夫": 8, "是": 9})
    ['玛丽 居里', '丈夫']
    >>> capitalised_runs("Где родилась Мария Кюри? В Варшаве.")
    ['Мария Кюри', 'Варшаве']
    >>> capitalised_runs("Qui a épousé Marie Curie en 1895 ?")
    ['Marie Curie']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from hipporag.text import normalize_entity, normalize_text

MAX_NAME_CHARS = 24
# Question words, pronouns and function words that start sentences in the languages
# the detector knows (English questions go through spaCy); lower case.
_QUESTION_WORDS = (
    "where who what when which why how whom whose is was are did does do in the a an "
    "où qui que quoi quand quel quelle quels quelles comment pourquoi combien est le la les "
    "wo wer was wann welche welcher welches wie warum wieviel ist der die das "
    "dónde quién qué cuándo cuál cuáles cómo cuántos cuántas por el los las "
    "dove chi cosa quando quale quali come perché quanti il "
    "onde quem quando qual quais como porque quantos o os as "
    "waar wie wat wanneer welke hoe waarom het "
    "где кто что когда какой какая какое какие каков сколько почему зачем как чей куда "
    "откуда ли это в на и с к о у а он она оно они его её их "
    "il elle ils elles er sie es él ella lui lei "
    "де хто що коли який яка яке які скільки чому навіщо як чий куди звідки чи"
)
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
_CONNECTOR_WORDS = "de da di du von van der den del della la le y bin ibn al"
_CONNECTORS = frozenset(_CONNECTOR_WORDS.split())


def is_uncased(ch: str) -> bool:
    """Whether a character is a letter of a script without case (CJK, Thai, Arabic, ...)."""
    return ch.isalpha() and ch.lower() == ch.upper()


def words(text: str) -> list[str]:
    """The words of a text: runs of letters, marks and digits of any script (case kept).

    Example:
        >>> words("G. Stanley Hall's 東京-Москва")
        ['G', 'Stanley', 'Hall', 's', '東京', 'Москва']
    """
    text = normalize_text(text)
    return "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text).split()


def match_key(text: str) -> str:
    """The key names are matched on: :func:`hipporag.text.normalize_entity`, then its words.

    Example:
        >>> match_key("G. Stanley  Hall's"), match_key("Zürich"), match_key("東京")
        ('g stanley hall s', 'zürich', '東京')
    """
    return " ".join(words(normalize_entity(text)))


def find_names(key: str, names: Mapping[str, Any], *, max_chars: int = MAX_NAME_CHARS) -> list[str]:
    """Keys of ``names`` written in unspaced script that occur in ``key``, in text order.

    ``key`` and the names are :func:`match_key` keys. Only names holding a
    letter of a script without case are looked for (others match on whole
    words elsewhere); they may start and end inside a run of such letters,
    but not inside a word of a cased script. Longer matches win where they
    overlap; names of one character are left out.
    """
    n = len(key)
    starts = [
        i for i in range(n) if key[i] != " " and (i == 0 or key[i - 1] == " " or is_uncased(key[i]))
    ]
    found: list[tuple[int, int]] = []
    for i in starts:
        for j in range(min(n, i + max_chars), i + 1, -1):
            if key[j - 1] == " " or not (j == n or key[j] == " " or is_uncased(key[j - 1])):
                continue
            sub = key[i:j]
            if sub in names and any(is_uncased(c) for c in sub):
                found.append((i, j))
    found.sort(key=lambda ij: (ij[0] - ij[1], ij[0]))
    taken = [False] * n
    kept: list[tuple[int, int]] = []
    for i, j in found:
        if not any(taken[i:j]):
            taken[i:j] = [True] * (j - i)
            kept.append((i, j))
    return [key[i:j] for i, j in sorted(kept)]


def capitalised_runs(text: str) -> list[str]:
    """Runs of capitalised words of cased scripts: the candidate names of a sentence.

    A run may hold one lower-case particle between capitalised words
    (``Charles de Gaulle``). Single letters are never names; a question or
    function word (:data:`QUESTION_WORDS`) is dropped where it starts a run.
    """
    tokens = re.findall(r"[^\W\d_][\w'’-]*|[.!?;:]", normalize_text(text))
    runs: list[list[str]] = []
    current: list[str] = []
    for tok in [*tokens, "."]:
        if tok[0].isupper() and len(tok) > 1 and not is_uncased(tok[0]):
            current.append(tok)
            continue
        if current and tok in _CONNECTORS:
            current.append(tok)
            continue
        while current and current[-1] in _CONNECTORS:
            current.pop()
        if current:
            runs.append(current)
        current = []
    out: list[str] = []
    for run in runs:
        while run and run[0].lower() in QUESTION_WORDS:
            run = run[1:]
        if run:
            out.append(" ".join(run))
    return out


__all__ = [
    "QUESTION_WORDS",
    "capitalised_runs",
    "find_names",
    "is_uncased",
    "match_key",
    "words",
]
