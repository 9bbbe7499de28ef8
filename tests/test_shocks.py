"""Shocks: outages, breaches (a trust shock spreading on the network) and demand surges."""

import networkx as nx
import numpy as np
import pytest

import govsim
from govsim import shocks
from govsim.config import Scenario, load_scenario


def model(overrides=None, seed=0, n=2500, events=(), network=None):
    sc = load_scenario("baseline", {"citizens.n": n, **(overrides or {})})
    if events:
        sc = Scenario(sc.name, sc.values, {}, tuple(events))
    return govsim.GovModel(sc, rng=seed, network=network)


def ev(step, type_, **fields):
    return {"step": step, "type": type_, "arms": [], **fields}


def test_breach_lowers_mean_trust():
    for seed in (0, 1, 2):
        calm = model(seed=seed).run(14)
        hit = model(seed=seed, events=[ev(10, "breach", region=-1, size=None, reach=None, spread=None)]).run(14)
        np.testing.assert_array_equal(calm["mean_trust"].iloc[:10], hit["mean_trust"].iloc[:10])
        assert (hit["mean_trust"].iloc[10:] < calm["mean_trust"].iloc[10:]).all()
        assert hit["breaches"].iloc[-1] == 1


def test_breach_spreads_along_the_network():
    # a path 0-1-2-3-4-5 in one region; only citizen 0 uses the online channel, so reach 1 hits only 0
    g = nx.path_graph(6)
    m = model({"regions.n": 1}, n=6, network=g)
    pop = m.citizens
    pop.trust[:] = 0.8
    pop.adopted[:] = [True, False, False, False, False, False]
    shocks.breach(m, [0], size=0.5, reach=1.0, spread=0.5)
    assert pop.trust[0] == pytest.approx(0.4)           # directly affected
    assert pop.trust[1] == pytest.approx(0.8 * (1 - 0.5 * 0.5 * 0.5))  # 1 of its 2 neighbours affected
    np.testing.assert_allclose(pop.trust[2:], 0.8)      # beyond one step of word of mouth: untouched


def test_breach_only_in_its_region():
    m = model({"regions.n": 2}, seed=3)
    m.run(6)
    before = m.citizens.trust.copy()
    shocks.breach(m, [1], size=0.5, reach=1.0, spread=0.0)
    r0 = m.citizens.region == 0
    np.testing.assert_array_equal(m.citizens.trust[r0], before[r0])
    assert m.citizens.trust[~r0].mean() < before[~r0].mean()


def test_outage_takes_platforms_offline_for_its_duration():
    m = model(seed=1, events=[ev(5, "outage", region=0, kind="all", duration=3)])
    offline = []
    for _ in range(9):
        m.step()
        offline.append(not any(p.online for p in m.platforms if p.region == 0))
        assert all(p.online for p in m.platforms if p.region != 0)
    assert offline == [False] * 4 + [True] * 3 + [False] * 2
    df = m.results()
    assert (df["platforms_offline"].iloc[5:8] > 0).all() and df["platforms_offline"].iloc[8] == 0


def test_outage_of_everything_stops_online_service():
    # (an app launched during an outage would work: no launches here)
    df = model({"platform.build_cost": 1e9}, seed=2, events=[ev(4, "outage", region=-1, kind="all", duration=2)]).run(7)
    assert (df["needs_online"].iloc[4:6] == 0).all()
    assert df["needs_online"].iloc[3] > 0 and df["needs_online"].iloc[6] > 0


def test_demand_surge_raises_needs_for_its_duration_then_ends():
    m = model(seed=0, events=[ev(3, "demand_surge", factor=3.0, duration=2, region=-1)])
    base = m.citizens.need_rate.copy()
    df = m.run(6)
    np.testing.assert_allclose(m.citizens.need_rate, base)
    calm = model(seed=0).run(6)
    assert (df["needs"].iloc[3:5] > 2 * calm["needs"].iloc[3:5]).all()
    np.testing.assert_array_equal(df["needs"].iloc[:3], calm["needs"].iloc[:3])


def test_overlapping_surges_multiply():
    m = model(seed=0, events=[ev(2, "demand_surge", factor=2.0, duration=3, region=-1),
                              ev(3, "demand_surge", factor=1.5, duration=1, region=-1)])
    base = m.citizens.need_rate.copy()
    m.step(); m.step()
    np.testing.assert_allclose(m.citizens.need_rate, base * 2.0)
    m.step()
    np.testing.assert_allclose(m.citizens.need_rate, base * 3.0, rtol=1e-6)
    m.step()
    np.testing.assert_allclose(m.citizens.need_rate, base * 2.0)
    m.step()
    np.testing.assert_allclose(m.citizens.need_rate, base)


def test_random_breaches_follow_security_and_are_seeded():
    a = model({"shocks.random_breaches": True, "platform.security": 0.7}, seed=4).run(10)
    b = model({"shocks.random_breaches": True, "platform.security": 0.7}, seed=4).run(10)
    assert a["breaches"].iloc[-1] > 0
    np.testing.assert_array_equal(a["mean_trust"], b["mean_trust"])
    safe = model({"shocks.random_breaches": True, "platform.security": 1.0}, seed=4).run(10)
    assert safe["breaches"].iloc[-1] == 0
