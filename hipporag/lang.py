"""Which language a text is in: a small detector by script and function words.

No model and no data files: the writing system decides most languages (Han
without kana is Chinese, kana Japanese, Hangul Korean, Cyrillic Russian or
Ukrainian, Greek, Arabic, Hebrew, Devanagari, Thai, ...); Latin-script text is
told apart by its most frequent function words (English, French, German,
Spanish, Italian, Portuguese, Dutch). It is built to be conservative for
the default language: Latin text is called another language only when that
language's function words clearly outnumber the English ones, so English
text full of foreign names stays English (none of 8,009 musique100 and 2Wiki
passages called another language, see docs/languages.md).

Codes are ISO 639-1 (``"en"``, ``"fr"``, ``"zh"``, ...); ``"und"`` when a text
has no letters or no clear evidence (callers then use their default).

Example:
    >>> detect_language("Marie Curie est née à Varsovie. Elle a épousé Pierre Curie.")
    'fr'
    >>> detect_language("Мария Кюри родилась в Варшаве.")
    'ru'
    >>> detect_language("玛丽·居里出生于华沙。"), detect_language("東京は日本の首都です。")
    ('zh', 'ja')
    >>> detect_language("Paris is the capital of France."), detect_language("1987")
    ('en', 'und')
    >>> language_tag({"lang": "fr-FR"}), language_tag({"language": "ZH_hans"}), language_tag({})
    ('fr', 'zh', None)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

UNDETERMINED = "und"

# Function words: frequent and short. A word in several lists counts 1/k for each of
# its k languages, so shared words ("de", "in", "la") weigh little.
_FUNCTION_WORDS = {
    "en": "the of and to in is was for that with as by on at from his her which who were are "
    "it an be has had this not or may can also its their after into been than when during a per",
    "fr": "le la les des du de et est une un dans pour qui que sur au aux avec par il elle "
    "sont ses son se ne pas été était en a à",
    "de": "der die das und ist den dem des ein eine nicht mit von zu im in auf sich für wurde "
    "sie er auch war",
    "es": "el la los las del de es en que por una un con para se su fue como al más y a",
    "it": "il lo la gli le di del della che è un una per con non sono nel alla fu anche in e a",
    "pt": "os as do da dos das de em no na que por com para foi se ao um uma o a e é à",
    "nl": "de het een en van is in dat op te zijn met voor niet aan er werd door ook",
}


def _weights() -> dict[str, dict[str, float]]:
    langs_of: dict[str, list[str]] = {}
    for lang, ws in _FUNCTION_WORDS.items():
        for w in set(ws.split()):
            langs_of.setdefault(w, []).append(lang)
    return {w: {lang: 1.0 / len(langs) for lang in langs} for w, langs in langs_of.items()}


_WEIGHT = _weights()
# Letters that mark a language (each occurrence counts like a function word).
_MARKS = {"fr": "èêëîïûœ", "de": "äöüß", "es": "ñ¿¡", "pt": "ãõ", "it": "ìò"}
_LETTERS = re.compile(r"[^\W\d_]+")

# Scripts by code point range (start, end inclusive, script).
_RANGES = (
    (0x0041, 0x024F, "latin"),
    (0x1E00, 0x1EFF, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0E00, 0x0E7F, "thai"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x3040, 0x309F, "kana"),
    (0x30A0, 0x30FF, "kana"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"),
    (0x20000, 0x2FA1F, "han"),
)
_SCRIPT_LANG = {
    "greek": "el",
    "armenian": "hy",
    "hebrew": "he",
    "arabic": "ar",
    "devanagari": "hi",
    "bengali": "bn",
    "thai": "th",
    "georgian": "ka",
    "hangul": "ko",
}
_UKRAINIAN = frozenset("іїєґІЇЄҐ")
_RUSSIAN = frozenset("ыэъёЫЭЪЁ")


def script_of(ch: str) -> str | None:
    """The writing system of one letter (None for other characters).

    Example:
        >>> [script_of(c) for c in "aЖ中か한1"]
        ['latin', 'cyrillic', 'han', 'kana', 'hangul', None]
    """
    cp = ord(ch)
    for lo, hi, script in _RANGES:
        if lo <= cp <= hi:
            return script if ch.isalpha() else None
    return None


def script_counts(text: str) -> dict[str, int]:
    """Letters per writing system.

    Example:
        >>> script_counts("Tokyo 東京")
        {'latin': 5, 'han': 2}
    """
    out: dict[str, int] = {}
    ascii_letters = sum(1 for ch in text if ch < "\x80" and ch.isalpha())
    if ascii_letters:
        out["latin"] = ascii_letters
    for ch in text:
        if ch >= "\x80":
            s = _script_cached(ch)
            if s is not None:
                out[s] = out.get(s, 0) + 1
    return out


_CACHE: dict[str, str | None] = {}


def _script_cached(ch: str) -> str | None:
    try:
        return _CACHE[ch]
    except KeyError:
        if len(_CACHE) < 65536:
            _CACHE[ch] = script_of(ch)
        return script_of(ch)


def _latin_language(text: str) -> str:
    # Only lower-case words: capitalised ones are mostly names and titles ("El Cielo").
    hits = dict.fromkeys(_FUNCTION_WORDS, 0.0)
    lower = 0
    for w in _LETTERS.findall(text):
        lower += w.islower()
        for lang, weight in _WEIGHT.get(w, {}).items():
            hits[lang] += weight
    for lang, marks in _MARKS.items():
        hits[lang] += sum(text.count(m) for m in marks)
    best = max(sorted(hits), key=lambda lang: hits[lang])
    en = hits["en"]
    # Another language wins only clearly: English text quotes foreign names and titles.
    # (and in running text, where function words are a good share of the lower-case words).
    if best != "en" and hits[best] >= max(1.0, 0.1 * lower, 2 * en + 1):
        return best
    return "en" if en or hits[best] else UNDETERMINED


def detect_language(text: str) -> str:
    """The ISO 639-1 code of ``text``'s language, or ``"und"`` (see the module doc)."""
    text = unicodedata.normalize("NFC", text)
    counts = script_counts(text)
    if not counts:
        return UNDETERMINED
    cjk = counts.get("han", 0) + counts.get("kana", 0)
    script = max(sorted(counts), key=lambda s: counts[s])
    if cjk and cjk >= counts.get(script, 0) / 2 and script not in ("hangul",):
        # Japanese text mixes kanji and kana; Chinese has no kana.
        return "ja" if counts.get("kana", 0) >= max(1, cjk // 10) else "zh"
    if script == "cyrillic":
        chars = set(text)
        return "uk" if chars & _UKRAINIAN and not chars & _RUSSIAN else "ru"
    if script == "latin":
        return _latin_language(text)
    return _SCRIPT_LANG.get(script, UNDETERMINED)


def language_tag(metadata: Mapping[str, Any] | None) -> str | None:
    """The language a passage's metadata declares (``lang`` or ``language``), as a code.

    ``"fr-FR"``, ``"FR"`` and ``"fr_CA"`` all give ``"fr"``; None when the
    metadata names no language or not as a code (then the text decides).
    """
    if not metadata:
        return None
    for key in ("lang", "language"):
        value = metadata.get(key)
        if isinstance(value, str):
            code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
            if re.fullmatch(r"[a-z]{2,3}", code):
                return code
    return None


def passage_language(title: str, text: str, metadata: Mapping[str, Any] | None = None) -> str:
    """The language of a passage: its metadata's ``lang`` if set, else detected from its text.

    Example:
        >>> passage_language("Paris", "Paris est la capitale de la France.")
        'fr'
        >>> passage_language("Paris", "Paris est la capitale de la France.", {"lang": "en"})
        'en'
    """
    return language_tag(metadata) or detect_language(text if text.strip() else title)


__all__ = [
    "UNDETERMINED",
    "detect_language",
    "language_tag",
    "passage_language",
    "script_counts",
    "script_of",
]
