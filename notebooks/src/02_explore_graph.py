# %% [markdown]
# # Exploring an index: tables, SQL and the knowledge graph
#
# An index directory is self-describing: its SQL tables (`passages`, `entities`,
# `facts`, `fact_provenance`, `mentions`, `edges`) live in DuckDB and load as
# **polars** DataFrames; the graph converts to **networkx** or **igraph**. This
# notebook looks for the things that make graph retrieval good or bad:
#
# * which entities and relations dominate,
# * how connected the graph is (degree distribution, components),
# * synonym clusters and *suspicious merges* (synonymy edges between names that
#   do not look alike),
# * passages that produced no triples (reachable only through dense retrieval).
#
# It uses the demo index (`HIPPORAG_DEMO_INDEX`, else `.demo-index` from
# `make demo`, else it builds one in a temporary folder, ~30 s).

# %%
from nbsetup import demo_index_dir, remove_scratch, scratch_dir

# %%
from hipporag.index.reader import Index


index = Index.open(demo_index_dir())
index

# %% [markdown]
# ## The tables as polars DataFrames

# %%
import polars as pl

frames = index.tables()
pl.DataFrame({"table": list(frames), "rows": [df.height for df in frames.values()]})

# %%
frames["facts"].head(5)

# %% [markdown]
# ### Entity and relation frequencies
#
# `entities.n_passages` counts the passages mentioning an entity: very frequent
# entities are hubs that spread PPR mass everywhere.

# %%
top_entities = frames["entities"].sort("n_passages", descending=True).head(10)
top_entities.select("name", "n_passages")

# %%
relations = frames["facts"].group_by("relation").len().sort("len", descending=True)
relations.head(10)

# %% [markdown]
# The same questions in SQL: `index.sql()` runs DuckDB over the index and returns
# polars. The `fact_triples` view spells facts out with entity names.

# %%
index.sql(
    """
    SELECT relation, count(*) AS facts, count(DISTINCT subject_idx) AS subjects
    FROM facts GROUP BY relation ORDER BY facts DESC, relation LIMIT 10
    """
)

# %%
index.sql("SELECT subject, relation, object FROM fact_triples ORDER BY fact_idx LIMIT 8")

# %%
import matplotlib.pyplot as plt

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
ents = frames["entities"].sort("n_passages", descending=True).head(15)
ax1.barh(ents["name"].to_list()[::-1], ents["n_passages"].to_list()[::-1])
ax1.set_title("most mentioned entities")
ax1.set_xlabel("passages")
rels = relations.head(15)
ax2.barh(rels["relation"].to_list()[::-1], rels["len"].to_list()[::-1], color="tab:orange")
ax2.set_title("most frequent relations")
ax2.set_xlabel("facts")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Degree distribution and connectivity
#
# `index.to_networkx()` gives the retrieval graph: node ids are the index's node
# ids (entities first, then passages), nodes carry `kind`, `name`, `n_passages`;
# edges carry `kinds` (merged fact / passage_entity / synonymy) and `weight`.

# %%
import networkx as nx

g = index.to_networkx()
print(g)
kinds = nx.get_node_attributes(g, "kind")
degree = pl.DataFrame(
    {"node": list(g.nodes), "kind": [kinds[n] for n in g.nodes], "degree": [g.degree(n) for n in g.nodes]}
)
degree.group_by("kind").agg(
    pl.len().alias("nodes"),
    pl.col("degree").mean().alias("mean degree"),
    pl.col("degree").max().alias("max degree"),
    (pl.col("degree") == 0).sum().alias("isolated"),
).sort("kind")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for kind, color in (("entity", "tab:blue"), ("passage", "tab:green")):
    values = degree.filter(pl.col("kind") == kind)["degree"].to_list()
    ax.hist(values, bins=range(0, max(values) + 2), alpha=0.6, label=kind, color=color)
ax.set_yscale("log")
ax.set_xlabel("degree")
ax.set_ylabel("nodes")
ax.legend()
ax.set_title("degree distribution")
plt.show()

# %%
components = sorted(nx.connected_components(g), key=len, reverse=True)
sizes = [len(c) for c in components]
print(f"{len(components)} connected components; the largest holds {sizes[0]} of {g.number_of_nodes()} nodes")
print("sizes of the next ones:", sizes[1:10])

# %% [markdown]
# ## Synonym clusters and suspicious merges
#
# Synonymy edges link entities whose embeddings are close (cosine >= the
# threshold). Their connected components are the synonym clusters. A pair whose
# *names* look nothing alike but got linked anyway is worth a look: it is where
# the graph may merge two different things.

# %%
syn = nx.Graph()
syn.add_edges_from(
    (u, v) for u, v, d in g.edges(data=True) if "synonymy" in d["kinds"].split(",")
)
names = nx.get_node_attributes(g, "name")
clusters = sorted(nx.connected_components(syn), key=len, reverse=True)
print(f"{syn.number_of_edges()} synonymy edges in {len(clusters)} clusters")
for cluster in clusters[:8]:
    print(" ·", " | ".join(sorted(names[n] for n in cluster)))

# %%
from difflib import SequenceMatcher

pairs = index.sql(
    """
    SELECT a.name AS a, b.name AS b, e.weight AS cosine
    FROM edges e JOIN entities a ON a.entity_idx = e.src JOIN entities b ON b.entity_idx = e.dst
    WHERE e.kind = 'synonymy'
    """
)
pairs = pairs.with_columns(
    pl.struct("a", "b")
    .map_elements(lambda r: SequenceMatcher(None, r["a"], r["b"]).ratio(), return_dtype=pl.Float64)
    .alias("name_similarity")
).sort("name_similarity")
pairs.head(10)

# %% [markdown]
# Embeddings also place different *numbers* close together ("1986" and "1987"):
# a synonymy edge between names that differ only in their digits is another
# suspicious merge.

# %%
import re


def digits(name: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", name))


suspicious = pairs.with_columns(
    pl.struct("a", "b")
    .map_elements(lambda r: digits(r["a"]) != digits(r["b"]), return_dtype=pl.Boolean)
    .alias("numbers_differ")
).filter((pl.col("name_similarity") < 0.5) | pl.col("numbers_differ"))
print(f"{suspicious.height} of {pairs.height} synonymy pairs look suspicious")
suspicious

# %%
if pairs.height:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(pairs["name_similarity"], pairs["cosine"], s=14)
    ax.axvline(0.5, color="grey", linestyle=":")
    ax.set_xlabel("name similarity (difflib ratio)")
    ax.set_ylabel("embedding cosine")
    ax.set_title("synonymy edges")
    plt.show()

# %% [markdown]
# ## Passages with no triples
#
# A passage without facts is connected to the graph only through the entities it
# mentions (or not at all): graph retrieval can barely reach it.

# %%
no_triples = index.sql(
    """
    SELECT p.passage_idx, p.title,
           (SELECT count(*) FROM mentions m WHERE m.passage_idx = p.passage_idx) AS entities
    FROM passages p
    WHERE NOT EXISTS (SELECT 1 FROM fact_provenance f WHERE f.passage_idx = p.passage_idx)
    ORDER BY p.passage_idx
    """
)
print(f"{no_triples.height} of {index.n_passages} passages produced no triple "
      f"(the index meta says {index.counts.get('passages_without_triples')})")
no_triples

# %% [markdown]
# ## Communities with igraph
#
# `index.to_igraph()` gives the same graph as an `igraph.Graph` (vertex i = node
# i), for fast algorithms such as Louvain community detection.

# %%
ig = index.to_igraph()
parts = ig.community_multilevel(weights="weight")
print(f"{len(parts)} communities, modularity {parts.modularity:.3f}")
for members in sorted(parts, key=len, reverse=True)[:5]:
    titles = [ig.vs[v]["name"] for v in members if ig.vs[v]["kind"] == "passage"]
    print(f" · {len(members):3d} nodes; passages: {', '.join(titles[:5]) or '-'}")

# %% [markdown]
# ## Exporting
#
# The same data leaves the toolkit as GraphML (Gephi, Cytoscape) or Parquet
# (`hipporag export INDEX --format graphml|parquet --out PATH` on the command line).

# %%
from hipporag.index.analysis import export_graphml, export_parquet

out = scratch_dir("hipporag-export-")  # removed at the end (and when the kernel exits)
graphml = export_graphml(index, out / "demo.graphml")
files = export_parquet(index, out / "tables")
back = nx.read_graphml(graphml, node_type=int)
print(f"GraphML: {back.number_of_nodes()} nodes, {back.number_of_edges()} edges")
pl.read_parquet(files["entities"]).head(3)

# %%
remove_scratch()  # the exported files of this notebook
