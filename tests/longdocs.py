"""A small musique100-style import fixture: long documents that get chunked, and
an OpenIE file in HippoRAG's format that covers every document as a whole.

The corpus has ``LONG`` long documents (each several chunks of MiniLM's window)
and ``SHORT`` short ones; the OpenIE file has one entry per record, keyed like
HippoRAG's (``passage`` = title + newline + text), as an LLM would have
extracted the whole record.
"""

from __future__ import annotations

import json
from pathlib import Path

PEOPLE = ["Ada Varga", "Bruno Kessel", "Clara Dunmore", "Dario Fenwick", "Elin Marsh"]
TOWNS = ["Korvath", "Lindqvist Bay", "Marrowgate", "Nessel", "Oakhollow", "Pellham"]
GUILDS = ["Ironbridge Guild", "Saltmere Company", "Thornwick Press", "Vellum Society"]
LONG, SHORT = 3, 3


def _sentences(d: int) -> list[tuple[str, list[tuple[str, str, str]]]]:
    out = []
    for i in range(36):
        who = PEOPLE[(d + i) % len(PEOPLE)]
        town = TOWNS[(d * 7 + i) % len(TOWNS)]
        guild = GUILDS[(d + 3 * i) % len(GUILDS)]
        year = 1700 + d * 40 + i
        text = (
            f"In {year} {who} travelled to {town} and joined the {guild}, "
            f"where the records of that year describe the long winter and the harvest."
        )
        out.append((text, [(who, "travelled to", town), (who, "joined", guild)]))
    return out


def write_longdocs(folder: Path) -> tuple[Path, Path]:
    """Write ``corpus.json`` and ``openie.json`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    records, docs = [], []
    for d in range(LONG):
        sents = _sentences(d)
        title = f"Chronicle of House {PEOPLE[d].split()[1]}"
        text = " ".join(s for s, _ in sents)
        triples = [list(t) for _, ts in sents for t in ts]
        ents = sorted({x for t in triples for x in (t[0], t[2])})
        records.append({"title": title, "text": text})
        docs.append(
            {
                "title": title,
                "text": text,
                "passage": f"{title}\n{text}",
                "extracted_entities": ents,
                "extracted_triples": triples,
            }
        )
    for s in range(SHORT):
        who, town = PEOPLE[s + 1], TOWNS[s + 2]
        title = f"{town} notes"
        text = f"{who} was born in {town}."
        records.append({"title": title, "text": text})
        docs.append(
            {
                "title": title,
                "text": text,
                "passage": f"{title}\n{text}",
                "extracted_entities": [who, town],
                "extracted_triples": [[who, "born in", town]],
            }
        )
    corpus, openie = folder / "corpus.json", folder / "openie.json"
    corpus.write_text(json.dumps(records, indent=1), encoding="utf-8")
    openie.write_text(json.dumps({"docs": docs}, indent=1), encoding="utf-8")
    return corpus, openie
