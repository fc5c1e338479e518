# %% [markdown]
# # Why this passage? Seeds, PageRank mass and paths
#
# Graph retrieval works in three moves:
#
# 1. **seeds** -- the query is linked to entities (and passages) of the graph,
#    each with a reset weight;
# 2. **Personalized PageRank** -- a random walk that keeps jumping back to the
#    seeds spreads their mass over the graph;
# 3. **ranking** -- passages are ranked by the mass their nodes end up with.
#
# This notebook opens up each step for one multi-hop question: it recomputes
# the PageRank vector from the seeds, draws the subgraph around them with the
# mass on every node, and traces a seed-to-passage path for each hit.

# %%
from nbsetup import DEMO_QUESTIONS, demo_index_dir

# %%
from hipporag import HippoRAG


rag = HippoRAG.open(demo_index_dir())
index = rag.index
E = index.n_entities  # passage p is graph node E + p

# %%
import json

questions = json.loads(DEMO_QUESTIONS.read_text(encoding="utf-8"))
q = questions[0]
gold = {p["title"] for p in q["paragraphs"] if p["is_supporting"]}
result = rag.retrieve(q["question"], k=5)  # the default mode, "hybrid"
print("gold:", ", ".join(sorted(gold)))
result

# %% [markdown]
# ## 1. The seeds
#
# The explanation of every hit lists the query's seeds: graph nodes with the
# share of the reset mass they received and why. In the default `hybrid` mode
# there are two sorts: *entities*, the subjects and objects of the facts
# nearest to the query, and *passages* (`[Title]`), those dense retrieval
# ranks highest -- the walk starts where the evidence chain probably starts.

# %%
import polars as pl

seeds = result.hits[0].explanation.seeds if result.hits and result.hits[0].explanation else []
entity_node = {name: i for i, name in enumerate(index.entity_names)}
passage_node = {pid: E + i for i, pid in enumerate(index.passage_ids)}


def seed_node(seed) -> int | None:
    """Graph node id of a seed: an entity name, or a passage as ``[Title]``."""
    if seed.kind == "entity":
        return entity_node.get(seed.node)
    title = seed.node[1:-1] if seed.node.startswith("[") else seed.node
    found = index.sql("SELECT passage_idx FROM passages WHERE title = ?", [title])
    return E + int(found["passage_idx"][0]) if found.height else None


seed_table = pl.DataFrame(
    {
        "node": [seed_node(s) for s in seeds],
        "kind": [s.kind for s in seeds],
        "seed": [s.node for s in seeds],
        "weight": [float(s.weight) for s in seeds],
        "matched": [s.source for s in seeds],
    },
    schema_overrides={"node": pl.Int64},
).sort("weight", descending=True)
seed_table

# %% [markdown]
# ## 2. PageRank mass
#
# We run Personalized PageRank ourselves from these seeds (`retrievers.ppr.PPR`,
# the same solver the retriever uses, with the same damping) and compare the
# mass of the retrieved passages with the `ppr_score` in their explanations.
# Explanations list the strongest seeds only, so the two can differ a little.

# %%
import numpy as np

from retrievers.ppr import PPR

DAMPING = rag.config.damping  # probability of following an edge (HippoRAG: 0.5)
reset = {
    int(n): float(w)
    for n, w in zip(seed_table["node"], seed_table["weight"], strict=True)
    if n is not None and w > 0
}
mass = PPR(index.graph).run(reset, damping=DAMPING) if reset else np.zeros(index.graph.n_nodes)
pl.DataFrame(
    {
        "rank": [h.rank for h in result.hits],
        "title": [h.title for h in result.hits],
        "ppr_score (explanation)": [h.explanation.ppr_score if h.explanation else None for h in result.hits],
        "PPR mass (recomputed)": [float(mass[passage_node[h.passage_id]]) for h in result.hits],
    }
)

# %% [markdown]
# Where does the mass go? The top nodes of the PageRank vector, entities and
# passages alike:

# %%
names = {i: n for i, n in enumerate(index.entity_names)}
titles = dict(index.sql("SELECT passage_idx, title FROM passages").iter_rows())
names.update({E + int(p): t for p, t in titles.items()})
top = np.argsort(-mass)[:15]
pl.DataFrame(
    {
        "node": top.tolist(),
        "kind": ["entity" if n < E else "passage" for n in top],
        "name": [names[int(n)] for n in top],
        "mass": mass[top].round(4).tolist(),
    }
)

# %% [markdown]
# ## 3. The subgraph around the seeds
#
# Nodes: the seeds, the hits and the 25 nodes with the most mass, plus the
# seed-to-passage paths of the hits. Node size shows PageRank mass; seeds are
# red, entities blue, passages green (gold passages outlined in black). Dashed
# edges are synonymy links.

# %%
import networkx as nx

full = index.to_networkx()
hit_nodes = [passage_node[h.passage_id] for h in result.hits]
seed_nodes = sorted(reset)


def seed_path(target: int) -> list[int]:
    """A shortest (fewest hops) path from any seed to ``target`` in the whole graph."""
    best: list[int] = []
    for s in seed_nodes:
        try:
            path = nx.shortest_path(full, s, target)
        except nx.NetworkXNoPath:
            continue
        if not best or len(path) < len(best):
            best = path
    return best


paths = {h.passage_id: seed_path(passage_node[h.passage_id]) for h in result.hits}
keep = set(seed_nodes) | set(hit_nodes) | {int(n) for n in np.argsort(-mass)[:25]}
keep |= {n for path in paths.values() for n in path}
sub = full.subgraph(keep).copy()
print(sub)

# %%
import matplotlib.pyplot as plt

pos = nx.spring_layout(sub, seed=7, weight=None, k=0.9)
kind = nx.get_node_attributes(sub, "kind")
colors = ["tab:red" if n in reset else ("tab:blue" if kind[n] == "entity" else "tab:green") for n in sub]
sizes = [120 + 6000 * float(mass[n]) for n in sub]
edges_syn = [(u, v) for u, v, d in sub.edges(data=True) if "synonymy" in d["kinds"]]
edges_other = [(u, v) for u, v, d in sub.edges(data=True) if "synonymy" not in d["kinds"]]
path_edges = {frozenset(e) for p in paths.values() for e in zip(p, p[1:])}

fig, ax = plt.subplots(figsize=(12, 9))
nx.draw_networkx_edges(sub, pos, edgelist=edges_other, ax=ax, alpha=0.25)
nx.draw_networkx_edges(sub, pos, edgelist=edges_syn, ax=ax, style="dashed", alpha=0.5)
nx.draw_networkx_edges(
    sub, pos, edgelist=[tuple(e) for e in path_edges], ax=ax, width=2.5, edge_color="tab:orange"
)
gold_nodes = [n for n in sub if kind[n] == "passage" and names[n] in gold]
nx.draw_networkx_nodes(sub, pos, node_color=colors, node_size=sizes, ax=ax, alpha=0.85)
nx.draw_networkx_nodes(
    sub, pos, nodelist=gold_nodes, node_size=[sizes[list(sub).index(n)] for n in gold_nodes],
    node_color="none", edgecolors="black", linewidths=2, ax=ax,
)
labels = {n: (names[n][:22] + ("…" if len(names[n]) > 22 else "")) for n in sub}
nx.draw_networkx_labels(sub, pos, labels=labels, font_size=7, ax=ax)
legend = [
    plt.Line2D([], [], marker="o", ls="", color=c, label=t)
    for c, t in (("tab:red", "seed"), ("tab:blue", "entity"), ("tab:green", "passage"))
]
legend += [
    plt.Line2D([], [], marker="o", ls="", mfc="none", mec="black", label="gold passage"),
    plt.Line2D([], [], color="grey", ls="--", label="synonymy edge"),
    plt.Line2D([], [], color="tab:orange", lw=2.5, label="seed-to-hit path"),
]
ax.legend(handles=legend, loc="lower left", fontsize=8)
ax.set_title(f"PPR mass around the seeds of: {q['question']}")
ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. Seed-to-passage paths
#
# For each hit: one shortest path from a seed (orange in the drawing), with the
# kind of every edge on it, next to the path the explanation reports.

# %%
for hit in result.hits:
    path = paths[hit.passage_id]
    mark = "*" if hit.title in gold else " "
    print(f"{mark} {hit.rank}. {hit.title}")
    if not path:
        print("      no path from a seed (reached through dense similarity only)")
        continue
    steps = [names[path[0]]]
    for u, v in zip(path, path[1:]):
        steps.append(f"-[{full.edges[u, v]['kinds']}]-> {names[v]}")
    print("      graph:      ", " ".join(steps))
    if hit.explanation and hit.explanation.path:
        print("      explanation:", " -> ".join(hit.explanation.path))

# %% [markdown]
# Reading it: a gold passage that no entity of the question mentions is still
# reached when a bridge entity (here the film) links it to a seeded passage or
# entity; its mass comes from that hop, which is what makes the graph retrieval
# multi-hop.
