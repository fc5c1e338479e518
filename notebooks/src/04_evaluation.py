# %% [markdown]
# # Evaluation: recall@k by hop count, dense versus graph retrieval
#
# On **musique100** (100 MuSiQue questions needing 2, 3 or 4 supporting
# passages, over a pool of 1,890 passages) we measure passage recall@k: the
# share of a question's gold passages found in the top k, averaged over
# questions. The index is built with the GPT-3.5 OpenIE triples that ship with
# the data, so no LLM is called.
#
# * Data: `../shared/data/musique100` relative to the repository (or the folder
#   named by `HIPPORAG_DATA`). Without it this notebook says so and skips.
# * Index: reused from `HIPPORAG_M100_INDEX` when that path holds one, else
#   built there (default `.musique100-index/` in the repository). Building takes
#   a few minutes on a CPU.
# * `HIPPORAG_NB_LIMIT=20` evaluates the first 20 questions only (for quick runs).

# %%
import os
import sys
from pathlib import Path


def find_repo_root(start: Path) -> Path:
    """The hipporag-toolkit checkout holding ``start`` (or the installed package)."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "hipporag").is_dir():
            return folder
    import hipporag  # installed elsewhere: use the package's checkout

    return Path(hipporag.__file__).resolve().parents[1]


ROOT = find_repo_root(Path.cwd().resolve())
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(os.environ.get("HIPPORAG_DATA") or ROOT.parent / "shared" / "data") / "musique100"
INDEX_DIR = Path(os.environ.get("HIPPORAG_M100_INDEX") or ROOT / ".musique100-index")
LIMIT = int(os.environ.get("HIPPORAG_NB_LIMIT") or 0)
HAVE_DATA = all((DATA / f).is_file() for f in ("questions.json", "corpus.json"))
if HAVE_DATA:
    print(f"data: {DATA}\nindex: {INDEX_DIR}")
else:
    print(
        f"musique100 not found at {DATA}: the evaluation is skipped.\n"
        "Put the data at ../shared/data/musique100 (or set HIPPORAG_DATA) and rerun."
    )

# %% [markdown]
# ## The index
#
# Opened if `INDEX_DIR` holds a musique100 index, else built from the corpus
# and the GPT-3.5 triples (`[openie] kind = "hipporag"`).

# %%
import time

from hipporag.config import IndexConfig, OpenIEConfig
from hipporag.errors import IndexFormatError
from pipelines.facade import HippoRAG

rag = None
if HAVE_DATA:
    try:
        rag = HippoRAG.open(INDEX_DIR)
        print("reusing", INDEX_DIR)
    except IndexFormatError:
        config = IndexConfig(
            openie=OpenIEConfig(kind="hipporag", path=str(DATA / "openie_gpt-3.5-turbo-1106.json"))
        )
        started = time.perf_counter()
        rag = HippoRAG.build(DATA / "corpus.json", INDEX_DIR, config=config)
        print(f"built {INDEX_DIR} in {time.perf_counter() - started:.0f} s")
    if rag.index.config.openie.kind != "hipporag":
        print("note: this index was not built from the GPT-3.5 triples; numbers will differ")
rag.index if rag else None

# %% [markdown]
# ## Questions and gold passages
#
# A passage is identified by its (title, text) pair -- titles repeat in this
# corpus -- so gold passages map to index ids with `hipporag.text.passage_id`.
# The hop count is the length of the question's decomposition.

# %%
import json

import polars as pl

from hipporag.text import passage_id

questions = []
if HAVE_DATA:
    raw = json.loads((DATA / "questions.json").read_text(encoding="utf-8"))
    for item in raw[:LIMIT] if LIMIT else raw:
        gold = [p for p in item["paragraphs"] if p["is_supporting"]]
        questions.append(
            {
                "id": item["id"],
                "question": item["question"],
                "answer": item["answer"],
                "hops": len(item["question_decomposition"]),
                "gold_ids": [passage_id(p["title"], p["paragraph_text"]) for p in gold],
                "gold_titles": [p["title"] for p in gold],
            }
        )
    known = set(rag.index.passage_ids)
    missing = sum(g not in known for q in questions for g in q["gold_ids"])
    print(f"{len(questions)} questions; gold passages missing from the index: {missing}")
    print(pl.DataFrame(questions)["hops"].value_counts().sort("hops"))

# %% [markdown]
# ## Retrieve with both modes and score
#
# `dense`: embedding similarity only. `graph`: HippoRAG's Personalized PageRank
# over the knowledge graph, seeded from the query.

# %%
KS = (2, 5)
MODES = ("dense", "graph")
rows = []
if HAVE_DATA:
    texts = [q["question"] for q in questions]
    for mode in MODES:
        started = time.perf_counter()
        results = rag.retrieve_batch(texts, k=max(KS), mode=mode)
        took = time.perf_counter() - started
        print(f"{mode}: {len(texts)} questions in {took:.1f} s")
        for q, res in zip(questions, results, strict=True):
            gold = set(q["gold_ids"])
            row = {"id": q["id"], "hops": q["hops"], "mode": mode}
            for k in KS:
                row[f"recall@{k}"] = len(gold & set(res.passage_ids[:k])) / len(gold)
            row["retrieved"] = res.passage_ids[: max(KS)]
            rows.append(row)
scores = pl.DataFrame(rows) if rows else None

# %%
if scores is not None:
    metrics = [f"recall@{k}" for k in KS]
    by_hops = (
        scores.group_by("mode", "hops")
        .agg(pl.len().alias("questions"), *[pl.col(m).mean() for m in metrics])
        .sort("hops", "mode")
    )
    overall = scores.group_by("mode").agg(
        pl.lit(0).alias("hops"), pl.len().alias("questions"), *[pl.col(m).mean() for m in metrics]
    )
    table = pl.concat([by_hops, overall.select(by_hops.columns)]).with_columns(
        pl.when(pl.col("hops") == 0).then(pl.lit("all")).otherwise(pl.col("hops").cast(pl.Utf8))
        .alias("hops")
    )
    print(table)
    table

# %%
import matplotlib.pyplot as plt

if scores is not None:
    groups = table["hops"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(KS), figsize=(11, 3.8), sharey=True)
    width = 0.8 / len(MODES)
    for ax, metric in zip(axes, metrics, strict=True):
        for j, mode in enumerate(MODES):
            part = table.filter(pl.col("mode") == mode)
            values = [part.filter(pl.col("hops") == g)[metric].item() for g in groups]
            xs = [i + (j - (len(MODES) - 1) / 2) * width for i in range(len(groups))]
            ax.bar(xs, values, width, label=mode)
        ax.set_xticks(range(len(groups)), [f"{g} hops" if g != "all" else "all" for g in groups])
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("recall")
    axes[0].legend()
    fig.suptitle(f"musique100, {scores['id'].n_unique()} questions")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Where the graph helps, and where it hurts
#
# Per question, recall@5 of graph retrieval minus that of dense retrieval. For
# each question: the gold passages, and which of them each mode found.

# %%
if scores is not None:
    wide = scores.pivot(on="mode", index=["id", "hops"], values="recall@5").with_columns(
        (pl.col("graph") - pl.col("dense")).alias("gain")
    )
    by_id = {q["id"]: q for q in questions}
    got = {(r["id"], r["mode"]): set(r["retrieved"]) for r in scores.iter_rows(named=True)}

    def show(frame: pl.DataFrame, header: str) -> None:
        print(f"{header}: {frame.height} questions")
        for row in frame.iter_rows(named=True):
            q = by_id[row["id"]]
            print(f"  [{row['hops']} hops, recall@5 dense {row['dense']:.2f} -> graph {row['graph']:.2f}] {q['question']}")
            for gid, title in zip(q["gold_ids"], q["gold_titles"], strict=True):
                marks = " ".join(m for m in MODES if gid in got[(row["id"], m)]) or "neither"
                print(f"      gold: {title:<40} found by: {marks}")

    counts = {
        "graph better": wide.filter(pl.col("gain") > 0).height,
        "same": wide.filter(pl.col("gain") == 0).height,
        "dense better": wide.filter(pl.col("gain") < 0).height,
    }
    print(counts)
    show(wide.filter(pl.col("gain") > 0).sort("gain", descending=True).head(5), "graph helps")
    print()
    show(wide.filter(pl.col("gain") < 0).sort("gain").head(5), "graph hurts")

# %% [markdown]
# Typical patterns: the graph helps when the question names an entity of the
# first hop and the second-hop passage shares a *bridge* entity with it but
# little wording with the question; it hurts when the query links to a very
# frequent entity (a hub) whose PageRank mass drowns the specific passages, or
# when OpenIE missed the bridge entity in one of the passages.
