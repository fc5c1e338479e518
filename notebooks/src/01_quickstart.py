# %% [markdown]
# # Quickstart: build an index, retrieve, read the explanations
#
# This notebook indexes the bundled demo corpus (32 short passages about an
# invented world, so no model knows the answers beforehand), asks multi-hop
# questions and shows *why* each passage was retrieved. Everything runs offline
# on a CPU: spaCy extracts the triples, MiniLM embeds, Personalized PageRank
# walks the knowledge graph. Building takes about half a minute.

# %%
from nbsetup import DEMO_CORPUS, DEMO_QUESTIONS, remove_scratch, scratch_dir

# %% [markdown]
# ## Build the index
#
# `HippoRAG.build` reads the corpus (JSON list of `{"title", "text"}`), extracts
# triples, embeds passages, entities and facts, builds the graph and writes a
# self-describing index directory. Here it goes to a temporary folder; the
# `make demo` target writes the same index to `.demo-index/`.

# %%
import time

from hipporag import HippoRAG

workdir = scratch_dir("hipporag-quickstart-")  # removed at the end (and when the kernel exits)
started = time.perf_counter()
rag = HippoRAG.build(DEMO_CORPUS, workdir / "demo-index")
print(f"built in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# An index displays as a summary card: what it holds, how it was built, its size.

# %%
rag.index

# %% [markdown]
# ## Ask a multi-hop question
#
# The demo questions come in MuSiQue's format, with the supporting (gold)
# passages marked. The first one needs two passages: the award page names the
# film, the film page names its director.

# %%
import json

questions = json.loads(DEMO_QUESTIONS.read_text(encoding="utf-8"))
q = questions[0]
gold = {p["title"] for p in q["paragraphs"] if p["is_supporting"]}
print(q["question"])
print("answer:", q["answer"], "| gold passages:", ", ".join(sorted(gold)))

# %% [markdown]
# A `RetrievalResult` displays as a ranked table: score, passage, and the
# explanation (dense and PPR scores, the entities connecting the passage to
# the query, one seed-to-passage path). Unfold **Seeds** to see which entities
# the query was linked to and with what weight.

# %%
result = rag.retrieve(q["question"], k=5)
result

# %% [markdown]
# ## Reading the explanations in code
#
# Every hit carries an `Explanation`; `result.to_polars()` gives the same as a
# DataFrame.

# %%
for hit in result:
    e = hit.explanation
    mark = "*" if hit.title in gold else " "
    print(f"{mark} {hit.rank}. {hit.title:<26} score {hit.score:.4f}")
    if e is not None:
        dense = "-" if e.dense_score is None else f"{e.dense_score:.3f}"
        ppr = "-" if e.ppr_score is None else f"{e.ppr_score:.4f}"
        print(f"      dense {dense}  ppr {ppr}  via {', '.join(e.connecting_entities[:4]) or '-'}")
        if e.path:
            print("      path:", " -> ".join(e.path))
print("* = gold passage")

# %%
result.to_polars().select("rank", "title", "score", "dense_score", "ppr_score", "path")

# %% [markdown]
# ## Graph retrieval versus dense retrieval
#
# `mode` switches the retriever:
#
# * `"dense"` ranks passages by embedding similarity alone;
# * `"hipporag1"` seeds PageRank with the query's named entities;
# * `"hipporag2"` seeds it with the subjects and objects of the facts nearest to
#   the query, plus a little mass on every passage by dense similarity;
# * `"hybrid"` (the default) starts the walk where dense retrieval believes the
#   evidence chain starts, plus the fact seeds.
#
# Over all demo questions, with k = 5:

# %%
import polars as pl


def recall(result, gold_titles: set[str], k: int) -> float:
    found = {h.title for h in result.hits[:k]}
    return len(found & gold_titles) / len(gold_titles)


rows = []
for item in questions:
    gold_titles = {p["title"] for p in item["paragraphs"] if p["is_supporting"]}
    for mode in ("dense", "hipporag1", "hipporag2", "hybrid"):
        res = rag.retrieve(item["question"], k=5, mode=mode)
        rows.append(
            {
                "question": item["question"],
                "mode": res.mode,
                "recall@2": recall(res, gold_titles, 2),
                "recall@5": recall(res, gold_titles, 5),
            }
        )
scores = pl.DataFrame(rows)
scores.group_by("mode").agg(pl.col("recall@2").mean(), pl.col("recall@5").mean()).sort("mode")

# %%
with pl.Config(fmt_str_lengths=60, tbl_width_chars=140):
    display(scores.pivot(on="mode", index="question", values="recall@5"))

# %% [markdown]
# ## Next
#
# * `02_explore_graph.ipynb` -- the index's tables in polars and SQL, the graph in
#   networkx and igraph.
# * `03_why_this_passage.ipynb` -- seeds, PageRank mass and paths, drawn.
# * `04_evaluation.ipynb` -- recall by hop count on MuSiQue.
# * On the command line: `hipporag retrieve INDEX "question"`,
#   `hipporag export INDEX --format graphml --out kg.graphml`.

# %%
remove_scratch()  # this notebook's temporary index folder
