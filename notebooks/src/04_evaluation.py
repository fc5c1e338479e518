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
from pathlib import Path

from nbsetup import ROOT, SHARED_DATA

DATA = SHARED_DATA / "musique100"
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

from hipporag import HippoRAG
from hipporag.config import IndexConfig, OpenIEConfig
from hipporag.errors import IndexFormatError

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
# `pipelines.evaluate.load_questions` reads the MuSiQue file and maps each gold
# paragraph to its index passage id by (title, text) -- titles repeat in this
# corpus. As in `hipporag eval`, a question's hop count is its number of gold
# passages.

# %%
import polars as pl

from pipelines.evaluate import Outcome, aggregate, load_questions, recall_at

questions = []
if HAVE_DATA:
    questions = load_questions(DATA / "questions.json", limit=LIMIT or None)
    known = set(rag.index.passage_ids)
    missing = sum(g not in known for q in questions for g in q.gold)
    print(f"{len(questions)} questions; gold passages missing from the index: {missing}")
    print(pl.DataFrame({"hops": [len(q.gold) for q in questions]})["hops"].value_counts().sort("hops"))

# %% [markdown]
# ## Retrieve with each mode and score
#
# * `dense`: embedding similarity only;
# * `hipporag2`: HippoRAG 2 -- PageRank from the entities of the facts nearest to
#   the query, plus a little mass on every passage by dense similarity;
# * `hybrid` (the default): the walk starts from the best dense passages and the
#   fact entities.
#
# `aggregate` turns the per-question rankings into the same report as
# `hipporag eval`.

# %%
KS = (2, 5)
MODES = ("dense", "hipporag2", "hybrid")
rankings: dict[str, list[list[str]]] = {}
reports = {}
if HAVE_DATA:
    texts = [q.question for q in questions]
    for mode in MODES:
        started = time.perf_counter()
        results = rag.retrieve_batch(texts, k=max(KS), mode=mode)
        took = time.perf_counter() - started
        rankings[mode] = [r.passage_ids for r in results]
        latencies = [r.timings_ms.get("total", took * 1e3 / len(texts)) for r in results]
        outcomes = [Outcome(ranked) for ranked in rankings[mode]]
        reports[mode] = aggregate(mode, questions, outcomes, latencies, ks=KS)
        print(f"{mode}: {len(texts)} questions in {took:.1f} s")
    print()
    print(reports["hybrid"].table())

# %%
table = None
if reports:
    rows = []
    for mode, rep in reports.items():
        rows.append({"mode": mode, "hops": "all", "questions": rep.n}
                    | {f"recall@{k}": rep.recall[k] for k in KS})
        for hops, rec in rep.recall_by_hops.items():
            rows.append({"mode": mode, "hops": str(hops), "questions": rep.n_by_hops[hops]}
                        | {f"recall@{k}": rec[k] for k in KS})
    table = pl.DataFrame(rows)
    print(table.pivot(on="mode", index=["hops", "questions"], values="recall@5"))
table

# %%
import matplotlib.pyplot as plt

if table is not None:
    groups = table["hops"].unique(maintain_order=True).to_list()
    metrics = [f"recall@{k}" for k in KS]
    fig, axes = plt.subplots(1, len(KS), figsize=(11, 3.8), sharey=True)
    width = 0.8 / len(MODES)
    for ax, metric in zip(axes, metrics, strict=True):
        for j, mode in enumerate(MODES):
            part = table.filter(pl.col("mode") == mode)
            values = [part.filter(pl.col("hops") == g)[metric].item() for g in groups]
            xs = [i + (j - (len(MODES) - 1) / 2) * width for i in range(len(groups))]
            ax.bar(xs, values, width, label=mode)
        ax.set_xticks(range(len(groups)), [g if g == "all" else f"{g} hops" for g in groups])
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("recall")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"musique100, {len(questions)} questions")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Where the graph helps, and where it hurts
#
# Per question, recall@5 of graph retrieval (`GRAPH`, HippoRAG 2 here) minus
# that of dense retrieval. For each question: its gold passages, and which mode
# found each of them.

# %%
GRAPH = "hipporag2"
if reports:
    per_q = pl.DataFrame(
        {
            "i": list(range(len(questions))),
            "hops": [len(q.gold) for q in questions],
            "dense": [recall_at(r, q.gold, 5) for r, q in zip(rankings["dense"], questions, strict=True)],
            "graph": [recall_at(r, q.gold, 5) for r, q in zip(rankings[GRAPH], questions, strict=True)],
        }
    ).with_columns((pl.col("graph") - pl.col("dense")).alias("gain"))

    def gold_titles(q) -> dict[str, str]:
        from hipporag.text import passage_id

        return {
            passage_id(p["title"], p["paragraph_text"]): p["title"]
            for p in q.raw["paragraphs"]
            if p["is_supporting"]
        }

    def show(frame: pl.DataFrame, header: str) -> None:
        print(f"{header}: {frame.height} questions")
        for row in frame.iter_rows(named=True):
            q = questions[row["i"]]
            print(f"  [{row['hops']} hops; recall@5 dense {row['dense']:.2f}, {GRAPH} {row['graph']:.2f}] {q.question}")
            for gid, title in gold_titles(q).items():
                found = [m for m in ("dense", GRAPH) if gid in rankings[m][row["i"]][:5]]
                print(f"      gold: {title[:50]:<50} found by: {', '.join(found) or 'neither'}")

    print({
        f"{GRAPH} better": per_q.filter(pl.col("gain") > 0).height,
        "same": per_q.filter(pl.col("gain") == 0).height,
        "dense better": per_q.filter(pl.col("gain") < 0).height,
    })
    show(per_q.filter(pl.col("gain") > 0).sort("gain", "i", descending=[True, False]).head(5), "graph helps")
    print()
    show(per_q.filter(pl.col("gain") < 0).sort("gain", "i").head(5), "graph hurts")

# %% [markdown]
# Typical patterns: the graph helps when the question names an entity of the
# first hop and the second-hop passage shares a *bridge* entity with it but
# little wording with the question; it hurts when the query links to a very
# frequent entity (a hub) whose PageRank mass drowns the specific passages, or
# when OpenIE missed the bridge entity in one of the passages.
