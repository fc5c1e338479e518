"""The embedded OpenIE default: spaCy named entities + dependency-parse triples.

No LLM, no network. Entities are spaCy's named entities (numbers and
quantities dropped) plus the passage title. Triples come from the dependency
parse: ``subject --verb[+preposition]--> object``, with these refinements:

* arguments are snapped to the named entity or noun chunk around their head
  word, leading determiners removed;
* a personal-pronoun subject (he, she, it, they) is resolved to the passage
  title, which in encyclopedic text is almost always the referent;
* when the object is a common noun with an ``of/in/...`` phrase holding an
  entity ("is the capital of France"), the noun moves into the relation and
  the entity becomes the object (``Paris --is capital of--> France``);
* passive agents (``directed by X``), relative clauses and appositions
  (``X, the mayor of Y,``) give triples too.

Both dependency schemes of spaCy's pipelines are read: the English one
(``dobj``, ``prep``/``pobj``) and Universal Dependencies (``obj``,
``obl`` with its ``case`` preposition, ``nmod``, ``cop``) used by the French,
German, Spanish, ... pipelines. Each passage is read by the pipeline of its
language (:mod:`indexers.openie_lang`); one in a language with no pipeline is
skipped and counted (``stats``), never parsed by the wrong one.

Example:
    >>> ie = SpacyOpenIE()
    >>> [t.as_tuple() for t in ie.extract([Passage.from_text("Paris", "Paris is the capital of France.")])[0].triples]
    [('Paris', 'be', 'capital'), ('Paris', 'be capital of', 'France')]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hipporag.config import DEFAULT_SPACY_MODEL
from hipporag.types import Extraction, Passage, Triple
from indexers.openie_lang import LanguageRouter, count_skipped

SKIP_LABELS = {"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY", "TIME"}
SUBJ_DEPS = {"nsubj", "nsubjpass", "csubj", "nsubj:pass", "csubj:pass"}
OBJ_DEPS = {"dobj", "attr", "oprd", "dative", "obj"}
PASSIVE_DEPS = {"nsubjpass", "auxpass", "nsubj:pass", "aux:pass"}
# Third-person pronouns resolved to the passage title (English; French, German,
# Spanish, Italian subject pronouns; other languages through their morphology).
PRONOUNS = {"he", "she", "it", "they", "his", "her", "its", "their", "him", "them"}
OTHER_PRONOUNS = {"il", "elle", "ils", "elles", "er", "sie", "él", "ella", "lui", "lei"}
# The copula of an apposition ("X, the mayor of Y," -> X be mayor of Y), by language.
BE = {"fr": "être", "de": "sein", "es": "ser", "it": "essere", "pt": "ser", "nl": "zijn"}
STRIP_LEFT = {"DET", "PRON", "PUNCT", "CCONJ"}


class SpacyOpenIE:
    """Named entities and subject-relation-object triples with spaCy.

    Args:
        model: spaCy pipeline name or path (default: the bundled small English
            model); it reads passages of its own language and of undetermined one.
        batch_size: documents per ``nlp.pipe`` batch.
        models: pipelines for other languages, ``{"fr": "fr_core_news_sm"}``.

    The pipelines are loaded once per process, on first use or :meth:`warm_up`.
    ``stats`` counts the passages read and those skipped for their language.
    """

    def __init__(
        self,
        model: str = DEFAULT_SPACY_MODEL,
        batch_size: int = 64,
        models: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.models = dict(models or {})
        self.router = LanguageRouter(model, self.models)
        self.stats: dict[str, int] = {"passages": 0}

    def warm_up(self) -> None:
        self.router.warm_up()

    def to_dict(self) -> dict[str, Any]:
        import spacy

        out: dict[str, Any] = {"kind": "spacy", "model": self.model, "spacy": spacy.__version__}
        if self.models:
            out["models"] = dict(sorted(self.models.items()))
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size, "models": self.models}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        self.warm_up()
        out: list[Extraction | None] = [None] * len(passages)
        groups: dict[int, tuple[Any, list[int]]] = {}
        skipped: dict[str, int] = {}
        for i, p in enumerate(passages):
            lang, nlp = self.router.route(p)
            if nlp is None:
                skipped[lang] = skipped.get(lang, 0) + 1
                out[i] = Extraction(p.id, [p.title] if p.title else [], [])
            else:
                groups.setdefault(id(nlp), (nlp, []))[1].append(i)
        for nlp, idxs in groups.values():
            docs = nlp.pipe((passages[i].text for i in idxs), batch_size=self.batch_size)
            for i, doc in zip(idxs, docs, strict=True):
                out[i] = self._extract_doc(passages[i], doc)
        self.stats["passages"] += len(passages)
        count_skipped(self.stats, skipped)
        return [e for e in out if e is not None]

    # -- one document ----------------------------------------------------
    def _extract_doc(self, passage: Passage, doc: Any) -> Extraction:
        ents = [e for e in doc.ents if e.label_ not in SKIP_LABELS and e.text.strip()]
        if not doc.has_annotation("DEP"):  # an NER-only pipeline: entities, no triples
            names = [_strip_det(e) for e in ents] + ([passage.title] if passage.title else [])
            return Extraction(passage.id, list(dict.fromkeys(names)), [])
        ent_of = {}
        for e in ents:
            for tok in e:
                ent_of[tok.i] = e
        chunk_of = {}
        for ch in doc.noun_chunks:
            for tok in ch:
                chunk_of[tok.i] = ch
        ctx = _Ctx(passage.title, ent_of, chunk_of)
        triples: list[Triple] = []
        seen: set[tuple[str, str, str]] = set()
        for t in _triples(doc, ctx):
            key = (t.subject.casefold(), t.relation, t.object.casefold())
            if key not in seen and t.subject.casefold() != t.object.casefold():
                seen.add(key)
                triples.append(t)
        names = [_strip_det(e) for e in ents]
        if passage.title:
            names.append(passage.title)
        return Extraction(passage.id, list(dict.fromkeys(names)), triples)


class _Ctx:
    def __init__(self, title: str, ent_of: dict[int, Any], chunk_of: dict[int, Any]) -> None:
        self.title = title
        self.ent_of = ent_of
        self.chunk_of = chunk_of

    def arg(self, tok: Any, subject: bool) -> str | None:
        """The text of the argument headed by ``tok``, or None if unusable."""
        if _is_pronoun(tok):
            return self.title or None if subject else None
        span = self.ent_of.get(tok.i)
        if span is None:
            span = self.chunk_of.get(tok.i)
        if span is None:
            if tok.pos_ not in ("PROPN", "NOUN") or tok.is_stop:
                return None
            return tok.text
        words = [w for w in span]
        while words and (words[0].pos_ in STRIP_LEFT or words[0].is_stop):
            words = words[1:]
        if not words:
            return None
        text = span.doc[words[0].i : span.end].text.strip()
        return text or None

    def is_entity(self, tok: Any) -> bool:
        return tok.i in self.ent_of or tok.pos_ == "PROPN"


def _is_pronoun(tok: Any) -> bool:
    """A personal pronoun that stands for the passage's topic (third person)."""
    if tok.lower_ in PRONOUNS:
        return True
    if tok.doc.lang_ == "en":
        return False
    if tok.lower_ in OTHER_PRONOUNS:
        return True
    m = tok.morph
    return tok.pos_ == "PRON" and "Prs" in m.get("PronType") and "3" in m.get("Person")


def _ud(tok: Any) -> bool:
    """Whether the token's pipeline uses Universal Dependencies (every spaCy one but English)."""
    return tok.doc.lang_ != "en"


def _is_relative(tok: Any) -> bool:
    return tok.tag_ in ("WP", "WDT") or (_ud(tok) and "Rel" in tok.morph.get("PronType"))


def _negated(tok: Any) -> bool:
    ud = _ud(tok)
    return any(
        c.dep_ == "neg" or (ud and c.dep_ == "advmod" and "Neg" in c.morph.get("Polarity"))
        for c in tok.children
    )


def _case(tok: Any) -> str:
    """The preposition(s) of a UD oblique or nominal modifier (``case`` children)."""
    return " ".join(c.lower_ for c in tok.children if c.dep_ in ("case", "case:det"))


def _strip_det(span: Any) -> str:
    words = list(span)
    while words and words[0].pos_ in STRIP_LEFT:
        words = words[1:]
    return span.doc[words[0].i : span.end].text.strip() if words else span.text.strip()


def _conj_expand(tok: Any) -> list[Any]:
    out = [tok]
    for c in tok.children:
        if c.dep_ == "conj":
            out.extend(_conj_expand(c))
    return out


RELCL = ("relcl", "acl:relcl")


def _subjects(verb: Any) -> list[Any]:
    subs = [c for c in verb.children if c.dep_ in SUBJ_DEPS]
    if verb.dep_ in RELCL and any(_is_relative(s) for s in subs):
        subs = [verb.head]
    if not subs and verb.dep_ == "conj":
        return _subjects(verb.head)
    if not subs and verb.dep_ in (*RELCL, "acl"):
        return [verb.head]
    return [s for sub in subs for s in _conj_expand(sub)]


def _objects(verb: Any) -> Iterator[tuple[str, Any]]:
    """(relation suffix, object head) pairs of a verb."""
    for c in verb.children:
        if c.dep_ in OBJ_DEPS:
            for o in _conj_expand(c):
                yield "", o
        elif c.dep_ in ("prep", "agent"):
            for p in c.children:
                if p.dep_ == "pobj":
                    for o in _conj_expand(p):
                        yield c.lower_, o
        elif c.dep_.startswith("obl"):  # UD: "née à Varsovie" (obl + case)
            prep = _case(c)
            if prep:
                for o in _conj_expand(c):
                    yield prep, o


def _is_auxiliary(tok: Any) -> bool:
    return tok.dep_ == "aux" or tok.dep_.startswith("aux:") or tok.dep_ == "cop"


def _triples(doc: Any, ctx: _Ctx) -> Iterator[Triple]:
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX") or (verb.pos_ == "AUX" and _is_auxiliary(verb)):
            continue
        subjects = _subjects(verb)
        if not subjects:
            continue
        passive = any(c.dep_ in PASSIVE_DEPS for c in verb.children)
        base = verb.text.lower() if passive else verb.lemma_.lower()
        if _negated(verb):
            base = "not " + base
        for s_tok in subjects:
            if verb.dep_ in (*RELCL, "acl") and s_tok is verb.head:
                subj = ctx.arg(s_tok, subject=False)
            else:
                subj = ctx.arg(s_tok, subject=True)
            if not subj:
                continue
            for prep, o_tok in _objects(verb):
                yield from _with_object(ctx, subj, f"{base} {prep}".strip(), o_tok)
    be = BE.get(doc.lang_, "be")
    for tok in doc:
        if tok.dep_ == "appos":  # "X, the mayor of Y," -> (X, be, mayor) + (X, be mayor of, Y)
            head = ctx.arg(tok.head, subject=True)
            if head:
                yield from _with_object(ctx, head, be, tok)
        cop = next((c for c in tok.children if c.dep_ == "cop"), None)
        if cop is not None and tok.pos_ in ("NOUN", "PROPN"):  # UD: "Paris est la capitale"
            rel = ("not " if _negated(tok) else "") + cop.lemma_.lower()
            for s_tok in _subjects(tok):
                subj = ctx.arg(s_tok, subject=True)
                if subj:
                    yield from _with_object(ctx, subj, rel, tok)


def _with_object(ctx: _Ctx, subj: str, rel: str, o_tok: Any) -> Iterator[Triple]:
    obj = ctx.arg(o_tok, subject=False)
    if obj:
        yield Triple(subj, rel, obj)
    if ctx.is_entity(o_tok):
        return
    for c in o_tok.children:  # "married the painter Liesl Moreau": the apposed name
        if c.dep_ == "appos" and ctx.is_entity(c):
            inner = ctx.arg(c, subject=False)
            if inner:
                yield Triple(subj, rel, inner)
    # "is the capital of France": move the common noun into the relation.
    for p in o_tok.children:
        if _ud(p) and p.dep_.startswith("nmod") and ctx.is_entity(p) and _case(p):  # UD
            inner = ctx.arg(p, subject=False)
            if inner:
                yield Triple(subj, f"{rel} {o_tok.lemma_.lower()} {_case(p)}", inner)
        if p.dep_ != "prep":
            continue
        for po in p.children:
            if po.dep_ == "pobj" and ctx.is_entity(po):
                inner = ctx.arg(po, subject=False)
                if inner:
                    yield Triple(subj, f"{rel} {o_tok.lemma_.lower()} {p.lower_}", inner)


__all__ = ["SpacyOpenIE"]
