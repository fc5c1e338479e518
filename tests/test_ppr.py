"""Tests of retrievers.ppr: agreement with igraph/prpack, closed forms, push accuracy, errors."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hipporag.errors import RetrievalError
from hipporag.graph import CSRGraph
from retrievers.ppr import PPR
from tests.comparison.igraph_ppr import IgraphPPR, ppr_reference_igraph


def random_graph(seed: int, n: int = 300, m: int = 700) -> CSRGraph:
    """Two random weighted blocks (so >= 2 components), self-loops, isolated nodes,
    and a node attached only by a zero-weight edge (dangling for PageRank)."""
    rng = np.random.default_rng(seed)
    half = (n - 20) // 2  # nodes n-20 .. n-1 get no edges: isolated
    src = np.concatenate([rng.integers(0, half, m // 2), rng.integers(half, 2 * half, m // 2)])
    dst = np.concatenate([rng.integers(0, half, m // 2), rng.integers(half, 2 * half, m // 2)])
    loops = rng.integers(0, 2 * half, 5)
    src = np.concatenate([src, loops, [n - 1]])
    dst = np.concatenate([dst, loops, [0]])
    weight = np.concatenate([rng.uniform(0.1, 3.0, src.size - 1), [0.0]])
    return CSRGraph.from_edges(n, src, dst, weight)


def random_reset(n: int, rng: np.random.Generator, n_seeds: int = 6) -> np.ndarray:
    reset = np.zeros(n)
    reset[rng.choice(n, n_seeds, replace=False)] = rng.uniform(0.1, 2.0, n_seeds)
    reset[n - 5] = 0.3  # an isolated seed
    reset[n - 1] = 0.2  # the zero-weight-edge seed
    return reset


def closed_form(graph: CSRGraph, reset: np.ndarray, damping: float) -> np.ndarray:
    """x = (1 - d) (I - d W)^-1 r with W = A D^-1 (columns of dangling nodes 0), normalised.

    Equals igraph's rule "a dangling node jumps to the reset distribution": that
    only adds a multiple of r to the right-hand side, i.e. rescales x.
    """
    adj = graph.to_scipy().toarray().astype(np.float64)
    adj[np.diag_indices_from(adj)] *= 2.0  # an undirected self-loop counts twice (igraph)
    degree = adj.sum(axis=0)
    w = adj / np.where(degree > 0, degree, 1.0)[None, :]
    r = reset / reset.sum()
    x = (1.0 - damping) * np.linalg.solve(np.eye(len(r)) - damping * w, r)
    return x / x.sum()


def dense(reset: dict[int, float], n: int) -> np.ndarray:
    out = np.zeros(n)
    out[list(reset)] = list(reset.values())
    return out


def ring(n: int) -> CSRGraph:
    nodes = np.arange(n)
    return CSRGraph.from_edges(n, nodes, (nodes + 1) % n, np.ones(n))


# -- exact: agreement with igraph and closed forms ----------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("damping", [0.15, 0.5, 0.85])
def test_power_matches_igraph(seed: int, damping: float) -> None:
    graph = random_graph(seed)
    rng = np.random.default_rng(100 + seed)
    reference, ppr = IgraphPPR(graph), PPR(graph)
    for _ in range(3):
        reset = random_reset(graph.n_nodes, rng)
        expected = reference.run(reset, damping)
        got = ppr.power(reset, damping)
        assert np.abs(got - expected).max() < 1e-6
        assert got.sum() == pytest.approx(1.0)
        assert np.abs(got - closed_form(graph, reset, damping)).max() < 1e-9


def test_reference_function_and_dict_reset() -> None:
    graph = random_graph(7)
    reset = random_reset(graph.n_nodes, np.random.default_rng(7))
    as_dict = {int(i): float(reset[i]) for i in np.flatnonzero(reset)}
    expected = ppr_reference_igraph(graph, reset)
    np.testing.assert_allclose(ppr_reference_igraph(graph, as_dict), expected)
    np.testing.assert_allclose(PPR(graph).power(as_dict), expected, atol=1e-9)


def test_two_nodes_by_hand() -> None:
    # x0 = (1-d) + d x1, x1 = d x0  =>  x = [1, d] / (1 + d), whatever the weight.
    graph = CSRGraph.from_edges(2, np.array([0]), np.array([1]), np.array([3.0]))
    for d in (0.0, 0.3, 0.5, 0.9):
        expected = np.array([1.0, d]) / (1.0 + d)
        np.testing.assert_allclose(PPR(graph).power({0: 1.0}, d), expected, atol=1e-9)
        np.testing.assert_allclose(PPR(graph).push({0: 1.0}, d, eps=1e-12).to_dense(2), expected)


def test_star_by_hand() -> None:
    # Centre 0, k leaves: x_c = (1-d) + d * sum(x_leaf), x_leaf = d x_c / k
    # => x_c = 1 / (1 + d), each leaf d / (k (1 + d)).
    k, d = 5, 0.5
    graph = CSRGraph.from_edges(k + 1, np.zeros(k), np.arange(1, k + 1), np.ones(k))
    expected = np.r_[1.0, np.full(k, d / k)] / (1.0 + d)
    np.testing.assert_allclose(PPR(graph).power({0: 1.0}, d), expected, atol=1e-9)


def test_path_matches_linear_algebra() -> None:
    graph = CSRGraph.from_edges(5, np.arange(4), np.arange(1, 5), np.array([1.0, 2.0, 0.5, 4.0]))
    reset = np.array([0.0, 1.0, 0.0, 0.0, 3.0])
    for d in (0.2, 0.5, 0.8):
        np.testing.assert_allclose(
            PPR(graph).power(reset, d), closed_form(graph, reset, d), atol=1e-9
        )


def test_dangling_node_jumps_to_reset_not_uniform() -> None:
    # Path 0-1-2 (weights 1, 2) and isolated node 3; half the reset on 0, half on 3.
    # Path alone from 0, d = 0.5: [5, 3, 1] / 9. Node 3 keeps (1 - d) * 0.5 = 0.25 and its
    # walk restarts at the seeds, so the total leaky mass is 0.5 + 0.25 and
    # x = [0.5 * [5, 3, 1] / 9, 0.25] / 0.75 = [10, 6, 2, 9] / 27.
    graph = CSRGraph.from_edges(4, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 2.0]))
    reset = np.array([1.0, 0.0, 0.0, 1.0])
    expected = np.array([10.0, 6.0, 2.0, 9.0]) / 27.0
    np.testing.assert_allclose(IgraphPPR(graph).run(reset), expected, atol=1e-9)
    np.testing.assert_allclose(PPR(graph).power(reset), expected, atol=1e-9)
    np.testing.assert_allclose(PPR(graph).push(reset, eps=1e-12).to_dense(4), expected)
    np.testing.assert_allclose(PPR(graph).power({3: 1.0}), [0.0, 0.0, 0.0, 1.0])


def test_self_loop_counts_twice() -> None:
    # Edge 0-1 (weight 1) and a loop at 1 (weight 1): node 1 has strength 1 + 2 = 3.
    # x0 = (1-d) + d x1 / 3, x1 = d x0 + d (2/3) x1.
    graph = CSRGraph.from_edges(2, np.array([0, 1]), np.array([1, 1]), np.ones(2))
    d = 0.5
    x1_over_x0 = d / (1.0 - 2.0 * d / 3.0)
    expected = np.array([1.0, x1_over_x0]) / (1.0 + x1_over_x0)
    np.testing.assert_allclose(IgraphPPR(graph).run({0: 1.0}, d), expected, atol=1e-9)
    np.testing.assert_allclose(PPR(graph).power({0: 1.0}, d), expected, atol=1e-9)


def test_damping_zero_returns_reset() -> None:
    graph = random_graph(3)
    reset = random_reset(graph.n_nodes, np.random.default_rng(3))
    np.testing.assert_allclose(PPR(graph).power(reset, 0.0), reset / reset.sum())


def test_power_warns_without_convergence() -> None:
    graph = random_graph(4)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        PPR(graph).power({0: 1.0}, 0.9, max_iter=2)


# -- push: accuracy and locality --------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_push_error_within_its_bound(seed: int) -> None:
    graph = random_graph(seed, n=2000, m=8000)
    ppr = PPR(graph)
    reset = random_reset(graph.n_nodes, np.random.default_rng(seed))
    exact = ppr.power(reset)
    errors, bounds = [], []
    for eps in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
        res = ppr.push(reset, eps=eps)
        approx = res.to_dense(graph.n_nodes)
        assert approx.sum() == pytest.approx(1.0)
        assert np.all(np.diff(res.nodes) > 0) and np.all(res.scores > 0)
        errors.append(np.abs(approx - exact).sum())
        bounds.append(res.l1_bound)
        assert errors[-1] <= res.l1_bound + 1e-12
    assert bounds == sorted(bounds, reverse=True)  # smaller eps, tighter bound
    assert bounds[-1] < 0.02
    top = np.argsort(-exact)[:10]
    assert np.intersect1d(np.argsort(-approx)[:10], top).size >= 9


def test_push_work_bound_and_locality() -> None:
    # Unit weights: work <= 1 / ((1 - d) eps) (seeds follow the push rule too).
    graph = ring(100_000)
    ppr = PPR(graph)
    for eps in (1e-3, 1e-4, 1e-6):
        res = ppr.push({50_000: 1.0}, damping=0.5, eps=eps)
        assert res.work <= 1.0 / (0.5 * eps) + 2
        assert res.nodes.size < 60  # a ring: PPR decays geometrically along it
        assert res.nodes.min() > 49_900 and res.nodes.max() < 50_100


def test_a_hub_seed_with_little_mass_is_not_pushed() -> None:
    # A star of 200k leaves around node 0 plus a path 1-2-3: seeding the hub with a
    # tiny share costs nothing; a heavy hub seed is pushed; the bound holds either way.
    n = 200_004
    src = np.concatenate([np.zeros(n - 7, np.int64), [n - 3, n - 2]])
    dst = np.concatenate([np.arange(4, n - 3), [n - 2, n - 1]])
    ppr = PPR(CSRGraph.from_edges(n, src, dst, np.ones(src.shape[0])))
    light = ppr.push({0: 1e-4, n - 3: 1.0}, damping=0.5, eps=1e-6)
    assert light.work < 100 and set(light.nodes.tolist()) >= {n - 3, n - 2}
    heavy = ppr.push({0: 1.0, n - 3: 1e-4}, damping=0.5, eps=1e-6)
    assert heavy.work >= n - 7 and heavy.work <= 1.0 / (0.5 * 1e-6) + 2
    assert light.l1_bound < 1e-3  # the hub's mass stays a residual, within the bound


def test_push_per_node_guarantee() -> None:
    # Connected, no dangling node, no loop: the exact leaky PPR sums to 1, so the pushed
    # mass is 1 - residual = 1 - l1_bound / 2 and the unnormalised estimate p must satisfy
    # 0 <= exact[v] - p[v] <= eps * deg(v) / mean edge weight.
    rng = np.random.default_rng(11)
    n = 500
    src = np.concatenate([np.arange(n), rng.integers(0, n, 1500)])
    dst = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, 1500)])
    keep = src != dst
    graph = CSRGraph.from_edges(n, src[keep], dst[keep], rng.uniform(0.5, 2.0, keep.sum()))
    reset = {3: 1.0, 400: 2.0}
    exact = closed_form(graph, dense(reset, n), 0.5)
    degree_units = graph.degree() / graph.weights.astype(np.float64).mean()
    for eps in (1e-3, 1e-4, 1e-5):
        res = PPR(graph).push(reset, 0.5, eps=eps)
        estimate = res.to_dense(n) * (1.0 - res.l1_bound / 2.0)
        gap = exact - estimate
        assert gap.min() > -1e-12
        assert np.all(gap <= eps * degree_units + 1e-12)


def test_push_top_k_on_heavy_tailed_graph() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    expected_degree = np.minimum((1.0 - rng.random(n)) ** (-1 / 1.3), np.sqrt(n))
    cdf = np.cumsum(expected_degree) / expected_degree.sum()
    src, dst = np.searchsorted(cdf, rng.random((2, 8 * n)))
    graph = CSRGraph.from_edges(n, np.minimum(src, n - 1), np.minimum(dst, n - 1), np.ones(8 * n))
    ppr = PPR(graph)
    overlaps = []
    for _ in range(5):
        reset = {int(s): 1.0 for s in rng.choice(n, 5, replace=False)}
        exact = ppr.power(reset)
        approx = ppr.push(reset, eps=1e-7).to_dense(n)
        top = np.argsort(-exact)[:20]
        overlaps.append(np.intersect1d(np.argsort(-approx)[:20], top).size / 20)
    assert np.mean(overlaps) >= 0.9


def test_dict_and_dense_reset_agree() -> None:
    graph = random_graph(6)
    reset = random_reset(graph.n_nodes, np.random.default_rng(6))
    as_dict = {int(i): float(reset[i]) for i in np.flatnonzero(reset)}
    ppr = PPR(graph)
    a, b = ppr.push(reset, eps=1e-6), ppr.push(as_dict, eps=1e-6)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    np.testing.assert_allclose(a.scores, b.scores)


# -- dispatch, concurrency, pickling ---------------------------------------------------------


def test_run_dispatch() -> None:
    graph = random_graph(8)
    ppr = PPR(graph)
    reset = random_reset(graph.n_nodes, np.random.default_rng(8))
    np.testing.assert_array_equal(ppr.run(reset, method="power"), ppr.power(reset))
    np.testing.assert_array_equal(
        ppr.run(reset, method="push", eps=1e-5), ppr.push(reset, eps=1e-5).to_dense(graph.n_nodes)
    )
    # Tiny graph, tiny eps: push would cost more than power iteration, so auto is exact.
    np.testing.assert_array_equal(ppr.run(reset, eps=1e-12), ppr.power(reset))
    # Big ring, coarse eps: push is far cheaper, so auto returns the push result.
    big = PPR(ring(200_000))
    np.testing.assert_array_equal(
        big.run({7: 1.0}, eps=1e-4), big.push({7: 1.0}, eps=1e-4).to_dense(200_000)
    )
    with pytest.raises(RetrievalError, match="unknown PPR method"):
        ppr.run(reset, method="magic")  # type: ignore[arg-type]


def test_concurrent_calls_match_sequential() -> None:
    graph = random_graph(9, n=3000, m=12000)
    ppr = PPR(graph)
    rng = np.random.default_rng(9)
    resets = [random_reset(graph.n_nodes, rng) for _ in range(32)]
    sequential = [ppr.push(r, eps=1e-7).to_dense(graph.n_nodes) for r in resets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda r: ppr.run(r, method="push", eps=1e-7), resets))
            for got, want in zip(parallel, sequential, strict=True):
                np.testing.assert_array_equal(got, want)


def test_pickle_round_trip() -> None:
    graph = random_graph(10)
    ppr = PPR(graph)
    ppr.push({0: 1.0})  # creates per-thread scratch, which must not be pickled
    clone = pickle.loads(pickle.dumps(ppr))
    np.testing.assert_array_equal(clone.push({5: 1.0}).scores, ppr.push({5: 1.0}).scores)


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reset", "match"),
    [
        (np.r_[1.0, -0.5, np.zeros(8)], "negative"),
        (np.r_[1.0, np.nan, np.zeros(8)], "non-finite"),
        (np.r_[np.inf, np.zeros(9)], "non-finite"),
        (np.zeros(10), "positive finite sum"),
        (np.ones(9), "shape"),
        (np.ones((2, 5)), "shape"),
        ({10: 1.0}, "outside"),
        ({-1: 1.0}, "outside"),
        ({0: 0.0}, "positive finite sum"),
        ({}, "positive finite sum"),
        ({"a": 1.0}, "mapping"),
        ({1.5: 1.0}, "mapping"),
        (["x"] * 10, "numeric"),
    ],
)
def test_invalid_reset(reset: object, match: str) -> None:
    ppr = PPR(ring(10))
    for call in (ppr.power, ppr.push, ppr.run, IgraphPPR(ring(10)).run):
        with pytest.raises(RetrievalError, match=match) as info:
            call(reset)  # type: ignore[operator]
        assert "how to fix" in str(info.value)


@pytest.mark.parametrize(
    "kwargs", [{"damping": 1.0}, {"damping": -0.1}, {"eps": 0.0}, {"tol": -1.0}]
)
def test_invalid_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(RetrievalError, match=r"must be"):
        PPR(ring(10)).run({0: 1.0}, **kwargs)  # type: ignore[arg-type]


def test_invalid_graph_weights() -> None:
    graph = ring(5)
    bad = CSRGraph(graph.indptr, graph.indices, -graph.weights)
    with pytest.raises(RetrievalError, match="non-negative"):
        PPR(bad)
