"""Adoption rules: Bass against its closed form, threshold cascades, user rules."""

import networkx as nx
import numpy as np
import pytest

import govsim
from govsim.adoption import AdoptionRule, available_rules, draw_thresholds, register_rule
from govsim.config import Param

P, Q, T = 0.03, 0.38, 30


def bass_closed_form(t, p=P, q=Q):
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def bass_runs(substeps, n=20_000, runs=10):
    curves = []
    for seed in range(runs):
        sc = govsim.load_scenario("baseline", {
            "citizens.n": n, "network.kind": "complete", "adoption.rule": "bass", "adoption.initial_share": 0.0,
            "adoption.p": P, "adoption.q": Q, "adoption.substeps": substeps})
        curves.append(govsim.GovModel(sc, rng=seed).run(T)["adoption_rate"].to_numpy())
    return np.mean(curves, axis=0)


def test_bass_matches_closed_form_on_complete_network():
    """Euler sub-steps (k=8) of the Bass equation track F(t) within 0.01 RMSE."""
    mean = bass_runs(substeps=8)
    t = np.arange(T + 1)
    rmse = np.sqrt(np.mean((mean - bass_closed_form(t)) ** 2))
    assert rmse < 0.01, rmse


def test_bass_single_step_is_the_discrete_bass_model():
    """With one sub-step the mean follows F_{t+1} = F_t + (p + q F_t)(1 - F_t), not the ODE."""
    mean = bass_runs(substeps=1, runs=4)
    f = [0.0]
    for _ in range(T):
        f.append(f[-1] + (P + Q * f[-1]) * (1 - f[-1]))
    assert np.sqrt(np.mean((mean - np.array(f)) ** 2)) < 0.005
    # and it is measurably off the continuous closed form (the reason for sub-steps)
    assert np.sqrt(np.mean((mean - bass_closed_form(np.arange(T + 1))) ** 2)) > 0.02


def test_bass_without_imitation_is_geometric():
    """q = 0: each non-adopter adopts with probability p per step, so F(t) = 1 - (1-p)^t."""
    sc = govsim.load_scenario("baseline", {"citizens.n": 20_000, "adoption.rule": "bass",
                                           "adoption.initial_share": 0.0, "adoption.p": 0.1, "adoption.q": 0.0})
    df = govsim.GovModel(sc, rng=3).run(10)
    expected = 1 - 0.9 ** np.arange(11)
    assert np.max(np.abs(df["adoption_rate"] - expected)) < 0.015


def threshold_model(graph, threshold, adopters):
    sc = govsim.load_scenario("baseline", {
        "citizens.n": graph.number_of_nodes(), "regions.n": 1, "adoption.rule": "threshold", "network.kind": "complete",
        "adoption.threshold.distribution": "fixed", "adoption.threshold.value": threshold})
    m = govsim.GovModel(sc, rng=0, network=graph)
    m.citizens.adopted[:] = False
    m.citizens.adopted[list(adopters)] = True
    return m


def adopted_sets(m, steps):
    out = []
    for _ in range(steps):
        m.step()
        out.append(set(np.flatnonzero(m.citizens.adopted).tolist()))
    return out


def test_threshold_cascade_along_a_path():
    # 0-1-2-3-4, threshold 1/2: one new adopter per step, exactly
    m = threshold_model(nx.path_graph(5), 0.5, [0])
    assert adopted_sets(m, 5) == [{0, 1}, {0, 1, 2}, {0, 1, 2, 3}, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}]


def test_threshold_just_above_the_share_blocks_the_cascade():
    m = threshold_model(nx.path_graph(5), 0.51, [0])
    assert adopted_sets(m, 3)[-1] == {0}


def test_threshold_star_center_and_leaf():
    star = nx.star_graph(4)  # centre 0, leaves 1..4
    m = threshold_model(star, 1.0, [0])
    assert adopted_sets(m, 1) == [{0, 1, 2, 3, 4}]  # each leaf sees share 1
    m = threshold_model(star, 0.3, [1])
    # centre sees 1/4 < 0.3: nothing happens, ever
    assert adopted_sets(m, 3)[-1] == {1}
    m = threshold_model(star, 0.25, [1])
    # centre sees 1/4 >= 0.25 (>=), then every leaf sees 1
    assert adopted_sets(m, 2) == [{0, 1}, {0, 1, 2, 3, 4}]


def test_threshold_isolated_citizen_has_share_zero():
    g = nx.Graph()
    g.add_nodes_from(range(3))
    g.add_edge(0, 1)
    assert adopted_sets(threshold_model(g, 0.0, [0]), 1) == [{0, 1, 2}]  # 0 >= 0
    assert adopted_sets(threshold_model(g, 0.1, [0]), 2)[-1] == {0, 1}


def test_threshold_updates_are_synchronous():
    # triangle 0-1-2 plus tail 2-3; threshold 1/2, seed {0}
    g = nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)])
    m = threshold_model(g, 0.5, [0])
    # step 1: 1 sees 1/2 -> adopts; 2 sees 1/3 -> not; 3 sees 0
    # step 2: 2 sees 2/3 -> adopts; 3 sees 0 (2 adopted only this step)
    # step 3: 3 sees 1
    assert adopted_sets(m, 3) == [{0, 1}, {0, 1, 2}, {0, 1, 2, 3}]


def test_two_cliques_bridge_stops_cascade():
    g = nx.barbell_graph(5, 0)  # two K5 joined by one edge (4-5)
    m = threshold_model(g, 0.3, [0, 1])
    final = adopted_sets(m, 6)[-1]
    assert final == {0, 1, 2, 3, 4}  # node 5 sees 1/5 < 0.3


def test_threshold_distributions():
    rng = np.random.default_rng(0)
    base = {"adoption.threshold.low": 0.2, "adoption.threshold.high": 0.4, "adoption.threshold.mean": 0.5,
            "adoption.threshold.sd": 0.4, "adoption.threshold.a": 2.0, "adoption.threshold.b": 2.0,
            "adoption.threshold.value": 0.3}
    u = draw_thresholds({**base, "adoption.threshold.distribution": "uniform"}, 10_000, rng)
    assert 0.2 <= u.min() and u.max() <= 0.4 and abs(u.mean() - 0.3) < 0.01
    nrm = draw_thresholds({**base, "adoption.threshold.distribution": "normal"}, 10_000, rng)
    assert nrm.min() == 0.0 and nrm.max() == 1.0  # clipped, both ends reached with sd 0.4
    b = draw_thresholds({**base, "adoption.threshold.distribution": "beta"}, 10_000, rng)
    assert abs(b.mean() - 0.5) < 0.01


def test_initial_adopters_count_and_share():
    sc = govsim.load_scenario("baseline", {"citizens.n": 1000, "adoption.rule": "threshold",
                                           "adoption.initial_adopters": 37})
    assert govsim.GovModel(sc, rng=1).citizens.adopted.sum() == 37  # the count wins over the file's share
    sc = sc.with_overrides({"adoption.initial_adopters": 0, "adoption.initial_share": 0.25})
    assert govsim.GovModel(sc, rng=1).citizens.adopted.sum() == 250
    sc = sc.with_overrides({"adoption.initial_share": 0.0})
    df = govsim.GovModel(sc, rng=1).run(5)
    assert (df["adoption_rate"] == 0).all()  # no seeds, thresholds > 0 share: no cascade


def test_user_rule_registers_without_editing_govsim():
    class Everyone(AdoptionRule):
        name = "everyone_test"

        def update(self, model, rng):
            model.citizens.adopted |= rng.random(model.citizens.n) < model.params["adoption.everyone_test.rate"]

    register_rule(Everyone, params=[Param("adoption.everyone_test.rate", float, 0.5, "rate",
                                          unit="probability", low=0.0, high=1.0)])
    assert "everyone_test" in available_rules()
    sc = govsim.load_scenario("baseline", {"citizens.n": 2000, "adoption.rule": "everyone_test",
                                           "adoption.everyone_test.rate": 1.0})
    df = govsim.GovModel(sc, rng=0).run(1)
    assert df["adoption_rate"].iloc[-1] == 1.0
    with pytest.raises(govsim.ScenarioError, match="adoption.everyone_test.rate"):
        govsim.load_scenario("baseline", {"adoption.everyone_test.rate": 2.0})
