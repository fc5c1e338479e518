"""Language detection for OpenIE routing: accuracy, English false positives, speed.

Runs :func:`hipporag.lang.detect_language` (and, when importable, another
detector given by ``--compare py3langid`` for a side-by-side) on

* a small hand-written multilingual sample (short titles and sentences in 14
  languages, below), and
* the English corpora in ``../shared/data`` (musique100 and 2Wiki): every
  passage there is English, so any other answer is a false positive that would
  route an English passage away from the English model (or skip it).

Usage:
    python bench/bench_language.py [--data ../shared/data] [--compare py3langid]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hipporag.lang import detect_language

# Hand-written: (expected language, text). Short items are the hard ones.
SAMPLE: list[tuple[str, str]] = [
    ("en", "Paris is the capital and largest city of France."),
    ("en", "The film was directed by Imre Valko and released in 1987."),
    ("en", "Le Havre is a port city in Normandy, on the English Channel."),
    ("en", "She studied at the Conservatoire de Paris with Gabriel Fauré."),
    ("fr", "Marie Curie est née à Varsovie. Elle a épousé Pierre Curie en 1895."),
    ("fr", "La ville est située sur la rive gauche du fleuve."),
    ("fr", "Il a reçu le prix Nobel de physique pour ses travaux."),
    ("fr", "Le musée a été fondé par la commune en 1901."),
    ("de", "Die Stadt liegt am Ufer des Rheins und ist für ihre Brücken bekannt."),
    ("de", "Er wurde in München geboren und studierte in Berlin."),
    ("de", "Das Museum wurde im Jahr 1901 von der Stadt gegründet."),
    ("es", "La ciudad está situada en la orilla del río y es conocida por sus puentes."),
    ("es", "Nació en Sevilla y estudió en la Universidad de Salamanca."),
    ("es", "El museo fue fundado por el ayuntamiento en 1901."),
    ("it", "La città si trova sulla riva del fiume ed è famosa per i suoi ponti."),
    ("it", "Il museo fu fondato dal comune nel 1901 con una collezione di dipinti."),
    ("pt", "A cidade fica na margem do rio e é conhecida pelas suas pontes."),
    ("pt", "O museu foi fundado pela câmara municipal em 1901."),
    ("nl", "De stad ligt aan de oever van de rivier en is bekend om haar bruggen."),
    ("nl", "Het museum werd in 1901 door de gemeente opgericht."),
    ("ru", "Мария Кюри родилась в Варшаве."),
    ("ru", "Город расположен на берегу реки и известен своими мостами."),
    ("ru", "Музей был основан в 1901 году."),
    ("uk", "Місто розташоване на березі річки і відоме своїми мостами."),
    ("zh", "玛丽·居里出生于华沙。"),
    ("zh", "这座城市位于河岸，以桥梁闻名。"),
    ("zh", "博物馆成立于1901年。"),
    ("ja", "東京は日本の首都です。"),
    ("ja", "この博物館は1901年に設立されました。"),
    ("ko", "서울은 대한민국의 수도이다."),
    ("el", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."),
    ("ar", "القاهرة هي عاصمة مصر."),
    ("he", "ירושלים היא עיר עתיקה."),
    ("hi", "दिल्ली भारत की राजधानी है।"),
]


def _other(name: str) -> Callable[[str], str]:
    if name == "py3langid":
        import py3langid

        return lambda text: py3langid.classify(text)[0]
    raise SystemExit(f"unknown detector {name!r}")


def _corpus(data: Path) -> list[str]:
    texts: list[str] = []
    for rel in ("musique100/corpus.json", "2wiki_corpus/corpus.json"):
        path = data / rel
        if path.is_file():
            texts += [r["text"] or r["title"] for r in json.loads(path.read_text())]
    return texts


def run(detect: Callable[[str], str], name: str, corpus: list[str]) -> dict[str, object]:
    wrong = [(want, detect(text), text) for want, text in SAMPLE if detect(text) != want]
    t = time.perf_counter()
    got = Counter(detect(text) for text in corpus)
    seconds = time.perf_counter() - t
    return {
        "detector": name,
        "sample_correct": f"{len(SAMPLE) - len(wrong)}/{len(SAMPLE)}",
        "sample_wrong": [(w, g) for w, g, _ in wrong],
        "english_passages": len(corpus),
        "english_not_en": sum(v for k, v in got.items() if k != "en"),
        "english_answers": dict(got.most_common(6)),
        "ms_per_passage": round(1000 * seconds / max(len(corpus), 1), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).parents[1] / ".." / "shared" / "data"))
    ap.add_argument("--compare", help="another detector, e.g. py3langid (if installed)")
    args = ap.parse_args()
    corpus = _corpus(Path(args.data))
    print(json.dumps(run(detect_language, "hipporag.lang", corpus), ensure_ascii=False))
    if args.compare:
        print(json.dumps(run(_other(args.compare), args.compare, corpus), ensure_ascii=False))


if __name__ == "__main__":
    main()
