"""Tests of govsim.networks (CSR social networks)."""

from __future__ import annotations

import doctest
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsim import networks as netmod
from govsim.errors import ScenarioError
from govsim.networks import (
    Network,
    barabasi_albert,
    build_network,
    complete,
    erdos_renyi,
    from_edges,
    from_networkx,
    homophily,
    watts_strogatz,
)

N = 2000
MD = 10


def rng(seed=0):
    return np.random.default_rng(seed)


def unequal_groups(n, sizes_share=(0.4, 0.25, 0.2, 0.1, 0.05), seed=123):
    """Block labels 0..len-1 of unequal sizes, in shuffled node order."""
    sizes = np.floor(np.asarray(sizes_share) * n).astype(int)
    sizes[0] += n - sizes.sum()
    labels = np.repeat(np.arange(len(sizes)) * 7 + 3, sizes)  # non-contiguous labels
    return np.random.default_rng(seed).permutation(labels)


def build(kind, n=N, md=MD, seed=0):
    r = rng(seed)
    if kind == "erdos_renyi":
        return erdos_renyi(n, md, r)
    if kind == "watts_strogatz":
        return watts_strogatz(n, md, 0.2, r)
    if kind == "barabasi_albert":
        return barabasi_albert(n, md, r)
    if kind == "homophily":
        return homophily(unequal_groups(n), md, 0.3, r)
    raise AssertionError(kind)


RANDOM_KINDS = ["erdos_renyi", "watts_strogatz", "barabasi_albert", "homophily"]


def assert_simple_symmetric(net: Network) -> None:
    """Check the CSR invariants independently of Network.validate."""
    n = net.n
    ip, ix = net.indptr, net.indices
    assert ip.dtype == np.int64 and ip.shape == (n + 1,)
    assert ix.dtype == np.int32
    assert ip[0] == 0 and ip[-1] == ix.size
    assert np.all(np.diff(ip) >= 0), "indptr not monotone"
    if ix.size:
        assert ix.min() >= 0 and ix.max() < n
    rows = np.repeat(np.arange(n), np.diff(ip))
    assert not np.any(rows == ix), "self-loop"
    same_row = rows[1:] == rows[:-1]
    assert np.all(np.diff(ix.astype(np.int64))[same_row] > 0), "row not strictly sorted (or duplicate edge)"
    A = sp.csr_array((np.ones(ix.size), ix, ip), shape=(n, n))
    assert (A != A.T).nnz == 0, "adjacency not symmetric"
    assert ix.size % 2 == 0 and net.n_edges == ix.size // 2
    np.testing.assert_array_equal(net.degree, np.diff(ip))
    net.validate()


def edge_set(net: Network) -> set:
    u, v = net.edges()
    return set(zip(u.tolist(), v.tolist()))


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_structure_every_kind(kind):
    net = build(kind)
    assert net.nbytes == net.indptr.nbytes + net.indices.nbytes  # nothing else held yet
    assert net.n == N and net.kind == kind
    assert_simple_symmetric(net)
    if kind == "barabasi_albert":
        assert net.mean_degree < 2 * 5 + 1e-9
        assert abs(net.mean_degree - MD) <= 0.05 * MD
    else:
        assert net.n_edges == round(N * MD / 2)
        assert net.mean_degree == pytest.approx(MD, abs=1e-12)
    assert net.node_labels is None


def test_complete_structure_implicit():
    net = complete(N)
    assert net.n == N and net.kind == "complete"
    assert net.indptr is None and net.indices is None
    assert net.n_edges == N * (N - 1) // 2
    assert net.mean_degree == N - 1
    np.testing.assert_array_equal(net.degree, np.full(N, N - 1))
    materialised = from_edges(60, *complete(60).edges())
    assert_simple_symmetric(materialised)
    assert materialised.n_edges == 60 * 59 // 2
    small = complete(30)
    assert edge_set(small) == set(nx.complete_graph(30).edges())
    A = small.to_scipy()
    assert (A != A.T).nnz == 0 and A.nnz == 30 * 29 and A.diagonal().sum() == 0


def test_complete_huge_without_materialising():
    net = complete(10**6)
    assert net.n_edges == 10**6 * (10**6 - 1) // 2
    assert net.nbytes == 0
    x = np.zeros(10**6, dtype=bool)
    x[:10] = True
    share = net.neighbour_share(x)
    assert share[0] == pytest.approx(9 / (10**6 - 1))
    assert share[-1] == pytest.approx(10 / (10**6 - 1))
    with pytest.raises(ValueError, match="implicit"):
        net.to_scipy()
    with pytest.raises(ValueError, match="implicit"):
        net.edges()


# ------------------------------------------------------------------- neighbour sums
@pytest.mark.parametrize("n", [2, 3, 7])
def test_complete_neighbour_share_matches_networkx(n):
    r = rng(n)
    A = nx.to_scipy_sparse_array(nx.complete_graph(n), nodelist=range(n), format="csr")
    deg = np.asarray(A.sum(axis=1)).ravel()
    net = complete(n)
    for x in (r.random(n), r.random(n) < 0.5, r.integers(0, 5, n)):
        expected_sum = A @ x.astype(float)
        np.testing.assert_allclose(net.neighbour_sum(x), expected_sum)
        np.testing.assert_allclose(net.neighbour_share(x), expected_sum / deg)


def test_complete_single_node_share_is_zero():
    net = complete(1)
    assert net.n_edges == 0 and net.mean_degree == 0.0
    np.testing.assert_array_equal(net.neighbour_share(np.array([1.0])), [0.0])
    np.testing.assert_array_equal(net.neighbour_sum(np.array([True])), [0.0])


def test_neighbour_share_star_and_path_with_isolated_node():
    # star: 0 is the centre of 1..4; path: 5-6-7; node 8 isolated
    net = from_edges(9, [0, 0, 0, 0, 5, 6], [1, 2, 3, 4, 6, 7])
    assert_simple_symmetric(net)
    assert net.degree.tolist() == [4, 1, 1, 1, 1, 1, 2, 1, 0]
    x = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1], dtype=bool)
    expected_sum = [2, 0, 0, 0, 0, 0, 2, 0, 0]
    expected_share = [0.5, 0, 0, 0, 0, 0, 1.0, 0, 0]
    for xx in (x, x.astype(np.int64), x.astype(np.float64), x.astype(np.int8), x.astype(np.float32)):
        s = net.neighbour_sum(xx)
        assert s.dtype == np.float64
        np.testing.assert_array_equal(s, expected_sum)
        share = net.neighbour_share(xx)
        assert share.dtype == np.float64
        np.testing.assert_array_equal(share, expected_share)
    y = np.arange(9, dtype=float)
    np.testing.assert_array_equal(net.neighbour_share(y), [2.5, 0, 0, 0, 0, 6, 6, 6, 0])
    x[0] = True  # only the leaves see the centre
    np.testing.assert_array_equal(net.neighbour_share(x), [0.5, 1, 1, 1, 1, 0, 1, 0, 0])


def test_neighbour_sum_matches_scipy_and_out_buffer():
    net = build("homophily")
    A = nx.to_scipy_sparse_array(net.to_networkx(), nodelist=range(net.n), format="csr")
    r = rng(5)
    x = r.random(net.n)
    np.testing.assert_allclose(net.neighbour_sum(x), A @ x)
    b = r.random(net.n) < 0.3
    np.testing.assert_array_equal(net.neighbour_sum(b), A @ b.astype(float))
    deg = net.degree.astype(float)
    out = np.full(net.n, np.nan)
    res = net.neighbour_share(b, out=out)
    assert res is out
    np.testing.assert_allclose(out, (A @ b.astype(float)) / np.where(deg > 0, deg, 1))
    # reusing the buffer overwrites, it does not accumulate
    res2 = net.neighbour_sum(x, out=out)
    assert res2 is out
    np.testing.assert_allclose(out, A @ x)
    # out may alias the input
    xc = x.copy()
    res3 = net.neighbour_share(xc, out=xc)
    assert res3 is xc
    np.testing.assert_allclose(xc, (A @ x) / np.where(deg > 0, deg, 1))
    # several columns at once
    X = r.random((net.n, 3))
    np.testing.assert_allclose(net.neighbour_sum(X), A @ X)
    np.testing.assert_allclose(net.neighbour_share(X), (A @ X) / np.where(deg > 0, deg, 1)[:, None])
    np.testing.assert_allclose(complete(5).neighbour_sum(X[:5]), X[:5].sum(0) - X[:5])


def test_row_order_is_blocks_sorted_by_degree_and_sums_are_scipys_bits():
    net = erdos_renyi(1000, 10, rng(3))
    order = net.row_order()
    assert order is net.row_order()  # cached
    np.testing.assert_array_equal(np.sort(order), np.arange(net.n))  # a permutation
    block = netmod.ROW_BLOCK
    for lo in range(0, net.n, block):
        rows = order[lo:lo + block]
        np.testing.assert_array_equal(np.sort(rows), np.arange(lo, min(lo + block, net.n)))  # stays in its block
        key = net.degree[rows].astype(np.int64) * net.n + rows  # by degree, ties in row order
        assert (np.diff(key) > 0).all()
    x = rng(4).random(net.n) * 2.0**30  # sums whose rounding depends on the order of the additions
    np.testing.assert_array_equal(net.neighbour_sum(x), net.to_scipy() @ x)


def test_neighbour_sum_rejects_bad_input():
    net = build("erdos_renyi")
    with pytest.raises(ValueError, match="length n"):
        net.neighbour_sum(np.ones(net.n - 1))
    with pytest.raises(ValueError, match="bool, integer or float"):
        net.neighbour_share(np.array(["a"] * net.n))
    with pytest.raises(ValueError, match="out must be"):
        net.neighbour_sum(np.ones(net.n), out=np.empty(net.n, dtype=np.float32))
    with pytest.raises(ValueError, match="length n"):
        complete(4).neighbour_share(np.ones(3))


def test_to_scipy_is_cached_and_shares_indices():
    net = build("erdos_renyi")
    A = net.to_scipy()
    assert A is net.to_scipy()
    assert np.shares_memory(A.indices, net.indices)
    assert A.shape == (net.n, net.n) and A.nnz == 2 * net.n_edges
    assert np.all(A.data == 1)
    assert not net.indices.flags.writeable and not net.indptr.flags.writeable


# ----------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_same_seed_same_network_different_seed_different(kind):
    a, b, c = build(kind, seed=7), build(kind, seed=7), build(kind, seed=8)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not (np.array_equal(a.indptr, c.indptr) and np.array_equal(a.indices, c.indices))


def test_no_global_random_state_used():
    np.random.seed(99)
    before = np.random.get_state()[1].copy()
    for kind in RANDOM_KINDS:
        build(kind, n=300)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ---------------------------------------------------------------------------- homophily
@pytest.mark.parametrize("mixing", [0.1, 0.3, 0.7])
def test_homophily_within_share(mixing):
    n = 20_000
    groups = unequal_groups(n)
    net = homophily(groups, MD, mixing, rng(int(mixing * 10)))
    assert net.n_edges == n * MD // 2
    u, v = net.edges()
    within = np.mean(groups[u] == groups[v])
    assert abs(within - (1 - mixing)) < 0.02


def test_homophily_extremes_and_singletons():
    groups = unequal_groups(3000)
    u, v = homophily(groups, 8, 0.0, rng(1)).edges()
    assert np.all(groups[u] == groups[v])
    u, v = homophily(groups, 8, 1.0, rng(1)).edges()
    assert np.all(groups[u] != groups[v])
    # singleton blocks cannot have within edges; one block has only within edges
    g = np.concatenate([np.zeros(500, int), np.arange(1, 51)])
    net = homophily(g, 6, 0.0, rng(2))
    assert_simple_symmetric(net)
    u, v = net.edges()
    single = g >= 1
    assert np.all(~(single[u] & single[v]) | (g[u] != g[v]))
    assert net.degree[single].mean() > 0  # singletons were routed to between edges
    one = homophily(np.full(400, 5), 6, 0.9, rng(3))
    assert_simple_symmetric(one)
    assert one.n_edges == 1200


def test_homophily_saturated_blocks_still_exact_and_simple():
    g = np.repeat(np.arange(10), 3)  # 10 blocks of 3: only 30 within pairs
    net = homophily(g, 5, 0.0, rng(0))  # wants 75 edges
    assert_simple_symmetric(net)
    assert net.n_edges == 75
    u, v = net.edges()
    # (nearly) every within pair is used before the top-up falls back to
    # uniform pairs, so the within share ends far below 1 - mixing = 1
    assert 25 <= np.sum(g[u] == g[v]) <= 30


def test_homophily_between_edges_follow_the_source_rule():
    # a between edge leaves a uniform source for a uniform node outside the
    # source's block, so E[#edges(i, j)] is proportional to
    # s_i * s_j / (n - s_i) + s_j * s_i / (n - s_j)
    sizes = np.array([1000, 6000, 3000])
    groups = np.repeat([0, 1, 2], sizes)
    u, v = homophily(groups, 10, 1.0, rng(4)).edges()
    a, b = np.minimum(groups[u], groups[v]), np.maximum(groups[u], groups[v])
    n = sizes.sum()
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        w = sizes[i] * sizes[j] * (1 / (n - sizes[i]) + 1 / (n - sizes[j]))
        expected = w / n  # the weights of the three pairs sum to n
        assert np.mean((a == i) & (b == j)) == pytest.approx(expected, abs=0.01)


# ------------------------------------------------------------------------- erdos_renyi
def test_erdos_renyi_dense_and_capped():
    net = erdos_renyi(40, 30, rng(0))  # dense: enumeration path
    assert_simple_symmetric(net)
    assert net.n_edges == 600
    full = erdos_renyi(25, 24.5, rng(0))  # capped at n - 1: the complete graph
    assert full.n_edges == 25 * 24 // 2
    assert erdos_renyi(1, 0.5, rng(0)).n_edges == 0
    assert erdos_renyi(50, 0, rng(0)).n_edges == 0


def test_erdos_renyi_unbiased_over_nodes():
    net = erdos_renyi(20_000, 10, rng(3))
    d = net.degree
    assert abs(d[:10_000].mean() - d[10_000:].mean()) < 0.2
    assert d.var() == pytest.approx(10, rel=0.1)  # Poisson-like


# ---------------------------------------------------------------------- watts_strogatz
def test_watts_strogatz_beta0_is_ring_lattice():
    net = watts_strogatz(N, 11, 0.0, rng(0))  # 11 rounds down to k = 10
    lattice = nx.watts_strogatz_graph(N, 10, 0.0)
    assert edge_set(net) == {tuple(sorted(e)) for e in lattice.edges()}
    assert np.all(net.degree == 10)


def test_watts_strogatz_beta1_destroys_clustering():
    lattice = watts_strogatz(N, MD, 0.0, rng(0))
    rewired = watts_strogatz(N, MD, 1.0, rng(0))
    assert_simple_symmetric(rewired)
    assert rewired.n_edges == lattice.n_edges
    c0 = nx.average_clustering(lattice.to_networkx())
    c1 = nx.average_clustering(rewired.to_networkx())
    assert c0 == pytest.approx(3 * (MD - 2) / (4 * (MD - 1)))
    assert c1 < 0.1 * c0


def test_watts_strogatz_crowded_rewiring_keeps_edge_count():
    for seed in range(5):
        net = watts_strogatz(13, 10, 1.0, rng(seed))  # almost complete: many conflicts
        assert_simple_symmetric(net)
        assert net.n_edges == 65


# --------------------------------------------------------------------- barabasi_albert
@pytest.mark.parametrize("n,md", [(1000, 2), (1000, 4), (2000, 10), (5000, 6)])
def test_barabasi_albert_mean_degree_within_5_percent(n, md):
    net = barabasi_albert(n, md, rng(n + md))
    assert_simple_symmetric(net)
    m = max(1, round(md / 2))
    assert net.mean_degree <= 2 * m
    assert abs(net.mean_degree - 2 * m) <= 0.05 * 2 * m


def test_barabasi_albert_heavy_tail():
    ba = barabasi_albert(20_000, MD, rng(1))
    er = erdos_renyi(20_000, MD, rng(1))
    assert ba.max_degree > 10 * ba.mean_degree
    assert ba.max_degree > 5 * er.max_degree
    # the oldest nodes are the hubs
    assert ba.degree[:10].mean() > 10 * ba.degree[-10_000:].mean()


def test_barabasi_albert_m1_is_a_tree_and_seed_only():
    tree = barabasi_albert(500, 1, rng(0))
    assert tree.n_edges == 499 and nx.is_tree(tree.to_networkx())
    seed_only = barabasi_albert(6, 10, rng(0))  # m = 5: just the complete seed
    assert seed_only.n_edges == 15


# ------------------------------------------------------------------------- networkx
def test_from_networkx_round_trip_karate():
    G = nx.karate_club_graph()
    net = from_networkx(G)
    assert_simple_symmetric(net)
    assert net.kind == "networkx" and net.node_labels == list(G.nodes)
    assert edge_set(net) == {tuple(sorted(e)) for e in G.edges()}
    H = net.to_networkx()
    assert set(H.nodes) == set(G.nodes)
    assert {frozenset(e) for e in H.edges()} == {frozenset(e) for e in G.edges()}


def test_from_networkx_directed_labels_selfloops_multi():
    D = nx.DiGraph()
    D.add_nodes_from(["z", "y", "x", "lonely"])
    D.add_edges_from([("z", "y"), ("y", "z"), ("x", "z"), ("x", "x")])
    net = from_networkx(D)
    assert_simple_symmetric(net)
    assert net.node_labels == ["z", "y", "x", "lonely"]
    assert edge_set(net) == {(0, 1), (0, 2)}
    assert net.degree.tolist() == [2, 1, 1, 0]
    H = net.to_networkx()
    assert {frozenset(e) for e in H.edges()} == {frozenset("zy"), frozenset("xz")}
    M = nx.MultiGraph([(0, 1), (1, 0), (0, 1), (2, 2)])
    assert from_networkx(M).n_edges == 1
    assert from_networkx(nx.Graph()).n == 0


def test_from_edges_and_edges_round_trip():
    net = build("homophily")
    u, v = net.edges()
    assert np.all(u < v) and u.size == net.n_edges
    again = from_edges(net.n, v, u)  # reversed endpoints, same graph
    np.testing.assert_array_equal(again.indptr, net.indptr)
    np.testing.assert_array_equal(again.indices, net.indices)
    dup = from_edges(5, [0, 1, 1, 3, 4, 4], [1, 0, 1, 4, 3, 3])
    assert edge_set(dup) == {(0, 1), (3, 4)}
    assert from_edges(0, [], []).n == 0


# ------------------------------------------------------------------------ arguments
BAD_CALLS = [
    (lambda: complete(-1), "n must"),
    (lambda: complete(0), "n must"),
    (lambda: complete(2.5), "n must"),
    (lambda: erdos_renyi(-5, 2, rng()), "n must"),
    (lambda: erdos_renyi(10, 10, rng()), "mean_degree"),
    (lambda: erdos_renyi(10, 12, rng()), "mean_degree"),
    (lambda: erdos_renyi(10, -1, rng()), "mean_degree"),
    (lambda: erdos_renyi(10, float("nan"), rng()), "mean_degree"),
    (lambda: erdos_renyi(10, 2, 42), "rng"),
    (lambda: erdos_renyi(10, 2, np.random.RandomState(0)), "rng"),
    (lambda: watts_strogatz(10, 1, 0.1, rng()), "mean_degree"),
    (lambda: watts_strogatz(10, 10, 0.1, rng()), "k=10"),
    (lambda: watts_strogatz(10, 4, 1.5, rng()), "beta"),
    (lambda: watts_strogatz(10, 4, -0.1, rng()), "beta"),
    (lambda: barabasi_albert(5, 10, rng()), "n must exceed"),
    (lambda: barabasi_albert(100, -2, rng()), "mean_degree"),
    (lambda: homophily(np.zeros(10, int), 4, 1.2, rng()), "mixing"),
    (lambda: homophily(np.zeros(10, int), 4, -0.2, rng()), "mixing"),
    (lambda: homophily(np.zeros(10, int), 10, 0.5, rng()), "mean_degree"),
    (lambda: homophily(np.zeros(10), 4, 0.5, rng()), "groups"),
    (lambda: homophily(np.zeros((2, 5), int), 4, 0.5, rng()), "groups"),
    (lambda: homophily(np.array([], int), 4, 0.5, rng()), "groups"),
    (lambda: from_edges(3, [0, 3], [1, 1]), "u must"),
    (lambda: from_edges(3, [0, 1], [1]), "equal length"),
    (lambda: from_edges(3, [0.0], [1.0]), "integer"),
    (lambda: from_networkx([(0, 1)]), "networkx graph"),
]


@pytest.mark.parametrize("call,match", BAD_CALLS)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 80),
    md_frac=st.floats(0, 1),
    mixing=st.floats(0, 1),
    n_groups=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_homophily_and_er_simple_symmetric(n, md_frac, mixing, n_groups, seed):
    md = md_frac * (n - 1)
    m = round(n * md / 2)
    r = np.random.default_rng(seed)
    groups = r.integers(0, n_groups, size=n)
    h = homophily(groups, md, mixing, r)
    assert_simple_symmetric(h)
    assert h.n == n and h.n_edges == m
    e = erdos_renyi(n, md, r)
    assert_simple_symmetric(e)
    assert e.n == n and e.n_edges == m


# --------------------------------------------------------------------- build_network
def _pop(n, seed=0):
    g = np.random.default_rng(seed).integers(0, 24, size=n)
    return SimpleNamespace(n=n, block_labels=lambda n_regions: g)


def _scenario(kind, md=10.0):
    return {"network.kind": kind, "network.mean_degree": md, "network.homophily.mixing": 0.3,
            "network.watts_strogatz.beta": 0.1, "regions.n": 4}


@pytest.mark.parametrize("kind", netmod.KINDS)
def test_build_network_every_kind(kind):
    net = build_network(_scenario(kind), _pop(500), rng(0))
    assert net.kind == kind and net.n == 500
    if kind != "complete":
        assert_simple_symmetric(net)
        assert abs(net.mean_degree - 10) <= 0.5
    # tiny populations and degrees are capped, never rejected
    for n, md in [(6, 50.0), (2, 10.0), (1, 10.0), (40, 0.0), (40, 1.5)]:
        small = build_network(_scenario(kind, md=md), _pop(n), rng(0))
        assert small.n == n and small.mean_degree <= n - 1
        if kind != "complete":
            assert_simple_symmetric(small)


def test_build_network_errors_and_declared_params():
    with pytest.raises(ScenarioError, match="network.kind"):
        build_network(_scenario("lattice"), _pop(20), rng(0))
    assert build_network(_scenario("watts_strogatz", md=1.9), _pop(20), rng(0)).n_edges == 0
    from govsim.config import get_param

    assert get_param("network.kind").default == "homophily"
    assert set(get_param("network.kind").choices) == set(netmod.KINDS)
    assert get_param("network.homophily.mixing").high == 1.0


# ------------------------------------------------------------------------- doctests
def test_docstring_examples():
    failed, attempted = doctest.testmod(netmod, optionflags=doctest.ELLIPSIS)
    assert attempted > 20 and failed == 0


# ------------------------------------------------------------------------ large scale
@pytest.mark.slow
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_million_node_build(kind):
    n = 1_000_000
    net = build(kind, n=n, md=MD, seed=1)
    assert net.n == n
    if kind == "barabasi_albert":
        assert abs(net.mean_degree - MD) <= 0.05 * MD
    else:
        assert net.n_edges == n * MD // 2
    ip, ix = net.indptr, net.indices
    assert ix.dtype == np.int32 and ip.dtype == np.int64
    assert net.nbytes <= 2 * n * MD * 4 * 1.05 + (n + 1) * 8
    assert np.all(np.diff(ip) >= 0) and ip[-1] == ix.size
    net.validate()  # sorted rows, no loops/duplicates, symmetric
    share = net.neighbour_share(np.random.default_rng(0).random(n) < 0.3)
    assert share.shape == (n,) and np.all((share >= 0) & (share <= 1))


# --------------------------------------------------------------------------
# compiled construction kernels against numpy formulations
# --------------------------------------------------------------------------
def _csr_reference(n, keys):
    """The former numpy construction: rows sorted from both orientations of every key."""
    u, v = keys // n, keys % n
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols[order].astype(np.int32)


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_csr_from_keys_matches_a_numpy_construction(n):
    rng = np.random.default_rng(n)
    u = rng.integers(0, n, 5 * n)
    v = rng.integers(0, n, 5 * n)
    ok = u != v
    keys = np.unique(np.minimum(u[ok], v[ok]) * n + np.maximum(u[ok], v[ok]))
    indptr, indices = netmod._csr_from_keys(n, keys)
    ref_ptr, ref_idx = _csr_reference(n, keys)
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    np.testing.assert_array_equal(indptr, ref_ptr)
    np.testing.assert_array_equal(indices, ref_idx)


@pytest.mark.parametrize("size,n", [(0, 10), (1, 10), (1000, 50), (20000, 100_000), (3000, 3_000_000_000)])
def test_key_sort_and_merges_match_numpy(size, n):
    rng = np.random.default_rng(size)
    cand = rng.integers(0, min(n * n, 2**62), size)
    np.testing.assert_array_equal(netmod._sort_keys(cand, n), np.sort(cand))
    keys = np.unique(rng.choice(cand, size // 2)) if size else np.empty(0, np.int64)
    new = netmod._unique_new(np.sort(cand), keys)
    np.testing.assert_array_equal(new, np.setdiff1d(cand, keys))
    np.testing.assert_array_equal(netmod._merge_sorted(keys, new), np.union1d(keys, cand))


def _homophily_keys_reference(ps, u, t_draw, groups, p_within):
    """The former numpy formulation of the homophily proposals (positions of the block order)."""
    n = groups.size
    order = np.argsort(groups, kind="stable")
    sg = groups[order]
    starts = np.flatnonzero(np.concatenate(([True], sg[1:] != sg[:-1])))
    size = np.diff(np.append(starts, n)).astype(np.int64)
    off = starts.astype(np.int64)
    pos_block = np.repeat(np.arange(size.size), size)
    b = pos_block[ps]
    ns, no = size[b], off[b]
    within = (u < p_within) & (ns >= 2)
    if size.size == 1:
        within[:] = True
    high = np.where(within, ns - 1, n - ns)
    t = t_draw(high)
    t += np.where(within, no, 0)
    t += np.where(t >= np.where(within, ps, no), np.where(within, 1, ns), 0)
    a, c = order[ps], order[t]
    return np.minimum(a, c) * n + np.maximum(a, c), high


@pytest.mark.parametrize("labels", ["shuffled", "sorted", "singletons", "one"])
def test_homophily_proposal_kernels_match_the_numpy_formulation(labels):
    rng = np.random.default_rng(5)
    n = 400
    groups = {"shuffled": rng.integers(0, 5, n), "sorted": np.sort(rng.integers(0, 5, n)),
              "singletons": np.r_[np.sort(rng.integers(0, 3, n - 20)), np.arange(20) + 10],
              "one": np.zeros(n, dtype=np.int64)}[labels]
    order = np.argsort(groups, kind="stable")
    sg = groups[order]
    starts = np.flatnonzero(np.concatenate(([True], sg[1:] != sg[:-1])))
    size = np.diff(np.append(starts, n)).astype(np.int64)
    off = starts.astype(np.int64)
    pos_block = np.repeat(np.arange(size.size, dtype=np.uint8), size)
    k = 5000
    ps = rng.integers(0, n, k)
    u = rng.random(k)
    draws = rng.random(k)

    def t_draw(high):
        return np.floor(draws * high).astype(np.int64)

    ref, ref_high = _homophily_keys_reference(ps, u, t_draw, groups, 0.7)
    within = np.empty(k, dtype=bool)
    high = np.empty(k, dtype=np.int64)
    netmod._homophily_highs(ps, u, 0.7, pos_block, size, n, bool(np.any(size == 1)), size.size == 1,
                            within, high)
    np.testing.assert_array_equal(high, ref_high)
    identity = netmod._is_identity(order.astype(np.int32))
    assert identity == (labels != "shuffled")
    keys = netmod._homophily_keys(ps, t_draw(high), within, pos_block, size, off, order.astype(np.int32),
                                  identity, n)
    np.testing.assert_array_equal(keys, ref)
    if identity:  # the mapped path gives the same keys
        keys2 = netmod._homophily_keys(ps, t_draw(high), within, pos_block, size, off,
                                       order.astype(np.int32), False, n)
        np.testing.assert_array_equal(keys2, ref)
