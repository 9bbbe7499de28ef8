"""Platforms: fragmentation, investment, capacity mismatch, real use, zombies and quadrants."""

import math

import numpy as np
import pytest

import govsim
from govsim import platforms
from govsim.platforms import QUADRANTS, platform_table, quadrant, regional_quality


def model(overrides=None, seed=0, n=2000):
    return govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": n, **(overrides or {})}), rng=seed)


def test_one_portal_meets_citizens_as_it_is():
    m = model({"platform.initial_apps": 0})
    q = regional_quality(m)
    portal = m.platforms[0]
    assert len(m.platforms) == m.n_regions
    for name in platforms.QUALITY:
        assert q[name][0] == pytest.approx(getattr(portal, name))
    _, n_eff = platforms.routing_shares(m)
    np.testing.assert_allclose(n_eff, 1.0)


def test_fragmentation_lowers_usability_and_security_and_widens_coverage():
    m = model({"platform.initial_apps": 0, "platform.coverage": 0.5})
    base = regional_quality(m)
    rng = np.random.default_rng(0)
    for _ in range(5):
        app = platforms.new_app(m, 0, 0.0, rng)
        app.usability = m.platforms[0].usability  # same usability: only fragmentation differs
        app.demand = 1.0
        app.coverage = 0.1
    q = regional_quality(m)
    share, n_eff = platforms.routing_shares(m)
    assert n_eff[0] > 1.5 and n_eff[1] == pytest.approx(1.0)
    phi = m.params["platform.fragmentation"]
    assert q["usability"][0] == pytest.approx(base["usability"][0] / (1 + phi * (n_eff[0] - 1)))
    assert q["coverage"][0] == pytest.approx(1 - 0.5 * 0.9**5)
    assert q["security"][0] == pytest.approx(base["security"][0] ** 6)
    assert q["usability"][1] == pytest.approx(base["usability"][1])  # other regions untouched


def test_outage_of_one_app_fails_only_its_needs():
    m = model({"platform.initial_apps": 2})
    share, _ = platforms.routing_shares(m)
    apps = [(i, p) for i, p in enumerate(m.platforms) if p.region == 0 and p.kind == "app"]
    i, app = apps[0]
    before = regional_quality(m)["reliability"][0]
    app.online = False
    after = regional_quality(m)["reliability"][0]
    assert after == pytest.approx(before - share[i] * app.reliability)


def test_investment_has_diminishing_returns_and_respects_targets():
    m = model({"platform.initial_apps": 0, "government.ambition": 1.0})
    p = m.platforms[0]
    u0 = p.usability
    p.invest(200.0)
    u1 = p.usability
    p.invest(200.0)
    u2 = p.usability
    assert u0 < u1 < u2 <= 1.0
    assert u2 - u1 < u1 - u0  # diminishing returns
    g = 1 - math.exp(-200.0 / m.params["platform.invest_scale"])
    assert u1 == pytest.approx(u0 + (1 - u0) * g)
    # coverage and integration never fall towards a low ambition; U and R move to the achievable level
    c, i = p.coverage, p.integration
    p.invest(5000.0, ceiling_ur=0.5, ceiling_ci=0.1)
    assert p.coverage == c and p.integration == i
    assert p.usability < u2 and p.reliability < 0.97


def test_capacity_mismatch_lowers_usability_and_reliability_of_new_apps():
    m = model()
    rng = np.random.default_rng(1)
    fit = platforms.new_app(m, 0, 0.0, rng)
    bad = platforms.new_app(m, 0, 0.4, rng)
    k = m.params["government.mismatch_penalty"]
    assert bad.usability == pytest.approx(fit.usability * (1 - k * 0.4))
    assert bad.reliability == pytest.approx(fit.reliability * (1 - k * 0.4))


def test_ambition_beyond_capacity_hurts_online_reliability():
    fit = [model({"government.ambition": 0.9, "government.adapt_ambition": True}, seed=s).run(48) for s in range(2)]
    over = [model({"government.ambition": 0.9}, seed=s).run(48) for s in range(2)]
    f_fit = np.mean([d["online_failure_rate"].iloc[-12:].mean() for d in fit])
    f_over = np.mean([d["online_failure_rate"].iloc[-12:].mean() for d in over])
    assert f_over > f_fit


def test_zombie_flag_is_exactly_use_below_threshold():
    m = model({"platform.initial_apps": 8}, seed=2)
    thr = m.params["platform.zombie_threshold"]
    seen_zombie = seen_alive = False
    for _ in range(10):
        m.step()
        for p in m.platforms:
            assert p.zombie == (p.use_rate < thr)
            seen_zombie |= p.zombie
            seen_alive |= not p.zombie
    assert seen_zombie and seen_alive
    assert m.results()["zombie_apps"].iloc[-1] == sum(p.zombie for p in m.platforms)


def test_use_rate_is_the_window_mean_per_1000_residents():
    m = model({"platform.initial_apps": 1, "platform.zombie_threshold": 25.0})
    m.step()
    app = next(p for p in m.platforms if p.kind == "app" and p.region == 0)
    res = govsim.cadres.residents(m)[0]
    needs = np.zeros(m.n_regions)
    for per_1000, zombie in [(0.0, True), (20.0, True), (20.0, True), (50.0, False)]:
        for p in m.platforms:
            p.uses = per_1000 * res / 1000 if p is app else 0.0
        platforms.update_use(m, needs)
        assert app.zombie is zombie
    assert app.use_rate == pytest.approx((20 + 20 + 50) / 3)  # window of the last 3 steps
    for p in m.platforms:
        p.uses = 0.0
    for _ in range(3):
        platforms.update_use(m, needs)
    assert app.use_rate == 0.0 and app.zombie is True


def test_split_uses_keeps_totals_and_skips_platforms_offline():
    m = model({"platform.initial_apps": 3})
    for p in m.platforms:
        p.uses = 0.0
    m.platforms[0].uses = 100.0  # region 0 served 100 needs online
    app = next(p for p in m.platforms if p.region == 0 and p.kind == "app")
    app.online = False
    platforms.split_uses(m)
    reg0 = [p for p in m.platforms if p.region == 0]
    assert sum(p.uses for p in reg0) == pytest.approx(100.0)
    assert app.uses == 0.0
    assert all(p.uses == 0.0 for p in m.platforms if p.region != 0)


def test_quadrants_counts_and_platform_table():
    m = model({"platform.initial_apps": 5}, seed=1)
    df = m.run(12)
    t = platform_table(m)
    live = t[t["alive"]]
    assert len(live) == len(m.platforms) == df["platforms_total"].iloc[-1]
    for q in QUADRANTS:
        assert (live["quadrant"] == q).sum() == df[f"platforms_{q}"].iloc[-1]
    dt, bt = m.params["platform.demand_threshold"], m.params["platform.benefit_threshold"]
    for _, row in t.iterrows():
        assert row["quadrant"] == quadrant(row["demand"], row["benefit"], dt, bt)
    assert {"region", "kind", "demand", "benefit", "quadrant", "use_rate", "zombie", "cost"} <= set(t.columns)
    assert (t["cost"] >= 0).all() and t["benefit"].between(0, 1).all()
    assert (t.loc[t["kind"] == "portal", "demand"] == 1.0).all()


def test_quadrant_thresholds_are_inclusive():
    assert quadrant(0.5, 0.4, 0.5, 0.4) == "effective"
    assert quadrant(0.4999, 0.4, 0.5, 0.4) == "useful_unsolicited"
    assert quadrant(0.5, 0.3999, 0.5, 0.4) == "failed"
    assert quadrant(0.0, 0.0, 0.5, 0.4) == "decoration"


def test_unpaid_upkeep_degrades_platforms():
    m = model({"government.budget_mean": 1.0, "platform.initial_apps": 10})
    u0 = [p.usability for p in m.platforms]
    m.run(6)
    assert all(p.paid_share < 1.0 for p in m.platforms)
    assert np.mean([p.usability for p in m.platforms]) < np.mean(u0)


def test_split_and_update_use_equals_split_uses_then_update_use():
    a, b = model({"platform.initial_apps": 4}, seed=3), model({"platform.initial_apps": 4}, seed=3)
    for m in (a, b):
        m.run(5)
        m.platforms[1].online = False
    needs = a.indicators["needs"]
    platforms.split_uses(a)
    platforms.update_use(a, needs)
    shares = platforms.split_and_update_use(b, needs)
    np.testing.assert_array_equal(np.concatenate(shares), platforms.routing_shares(b)[0][
        np.concatenate(platforms.layout(b).index)])
    cols = ["uses", "use_rate", "benefit", "zombie", "quadrant"]
    for pa, pb in zip(a.platforms, b.platforms):
        assert [getattr(pa, c) for c in cols] == [getattr(pb, c) for c in cols]


def test_layout_follows_launches_and_retirements():
    m = model({"platform.initial_apps": 2})
    lay = platforms.layout(m)
    assert lay.n_apps == [2] * m.n_regions and lay.n_plat == [3.0] * m.n_regions
    app = platforms.new_app(m, 1, 0.0, np.random.default_rng(0))
    lay = platforms.layout(m)
    assert lay.n_apps[1] == 3 and app in lay.by_region[1]
    assert lay.upkeep[1] == sum(p.upkeep for p in m.platforms if p.region == 1)
    platforms.retire(m, app)
    platforms.retire(m, next(p for p in m.platforms if p.region == 0 and p.kind == "app"))
    lay = platforms.layout(m)
    assert lay.n_apps[:2] == [1, 2] and app not in lay.by_region[1]
    assert [m.platforms[i] for idx in lay.index for i in idx] == [p for b in lay.by_region for p in b]
    np.testing.assert_array_equal(platforms.apps_by_region(m), lay.n_apps)


def test_np_sum_has_numpy_summation_order():
    rng = np.random.default_rng(4)
    for n in (0, 1, 3, 7, 8, 9, 17, 40):
        for _ in range(50):
            x = (rng.random(n) * 10.0 ** rng.integers(-3, 4, size=n)).tolist()
            assert platforms.np_sum(x) == float(np.add.reduce(np.array(x, dtype=float)))
