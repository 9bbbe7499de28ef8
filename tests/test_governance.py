"""Governments: allocation decisions, policies as events, evaluation, granularity and participation."""

import numpy as np
import pandas as pd
import pytest

import govsim
from govsim import evaluation, governments
from govsim.config import Scenario, load_scenario


def model(overrides=None, seed=0, n=2500, events=(), arm=None):
    sc = load_scenario("baseline", {"citizens.n": n, **(overrides or {})})
    if events:
        sc = Scenario(sc.name, sc.values, {}, tuple(events), arm_name=arm)
    return govsim.GovModel(sc, rng=seed)


def test_candidate_allocations_cover_the_simplex_in_quarters():
    a = governments.CANDIDATES
    assert a.shape == (70, 5)
    assert np.allclose(a.sum(1), 1.0)
    assert len({tuple(r) for r in a}) == 70
    assert set(np.unique(a)) == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_same_seed_same_run_including_platforms():
    a, b = model(seed=5), model(seed=5)
    da, db = a.run(30), b.run(30)
    pd.testing.assert_frame_equal(da, db)
    ta, tb = govsim.platforms.platform_table(a), govsim.platforms.platform_table(b)
    pd.testing.assert_frame_equal(ta.drop(columns="id"), tb.drop(columns="id"))


def test_decisions_happen_every_planning_period():
    m = model({"government.planning_period": 4})
    gov = m.local_governments[0]
    seen = []
    for _ in range(9):
        m.step()
        seen.append(tuple(gov.allocation))
    # steps 1-4 share one allocation, 5-8 another decision, 9 a third
    assert len(set(seen[0:4])) == 1 and len(set(seen[4:8])) == 1


def test_low_temperature_is_best_response():
    m = model({"government.choice_temperature": 1e-6})
    m.run(7)
    for gov in m.local_governments:
        gov.retire_zombies()  # decide() does this first; then nothing is left to retire
        scores = gov.expected_gain(governments.CANDIDATES)
        gov.decide()
        assert scores[gov.choice_index] == pytest.approx(scores.max())


def test_metric_driven_governments_fund_visibility_outcome_driven_ones_fund_service():
    def mean_alloc(w):
        out = []
        for s in range(3):
            df = model({"government.metric_weight": w}, seed=s).run(36)
            out.append(df[["alloc_launch", "alloc_compliance", "alloc_quality", "alloc_service",
                           "alloc_training"]].iloc[1:].mean())
        return pd.concat(out, axis=1).mean(axis=1)

    hi, lo = mean_alloc(0.9), mean_alloc(0.1)
    assert hi["alloc_launch"] + hi["alloc_compliance"] > lo["alloc_launch"] + lo["alloc_compliance"] + 0.3
    assert lo["alloc_quality"] + lo["alloc_service"] + lo["alloc_training"] > 0.6


def test_outcome_driven_governments_retire_zombies_metric_driven_keep_them():
    lo = model({"government.metric_weight": 0.1, "platform.initial_apps": 8}, seed=1).run(13)
    hi = model({"government.metric_weight": 0.9, "platform.initial_apps": 8}, seed=1).run(13)
    assert lo["apps_retired"].iloc[-1] > 0
    assert hi["apps_retired"].iloc[-1] == 0
    assert hi["zombie_apps"].iloc[-1] > lo["zombie_apps"].iloc[-1]


def test_app_cap_lowers_apps_after_the_policy_step_and_not_before():
    over = {"government.metric_weight": 0.9}
    cap = [{"step": 24, "type": "cap_apps", "max_apps": 1, "region": -1, "arms": []}]
    for seed in (0, 1):
        free = model(over, seed=seed).run(36)
        capped = model(over, seed=seed, events=cap).run(36)
        np.testing.assert_array_equal(free["apps_per_region"].iloc[:24], capped["apps_per_region"].iloc[:24])
        assert (capped["apps_per_region"].iloc[24:] <= 1).all()
        assert (capped["apps_per_region"].iloc[24:] < free["apps_per_region"].iloc[24:]).all()
        assert capped["apps_retired"].iloc[24] > capped["apps_retired"].iloc[23]


def test_cap_in_one_region_and_arm_filter():
    cap = [{"step": 2, "type": "cap_apps", "max_apps": 0, "region": 1, "arms": ["policy"]}]
    m = model(seed=0, events=cap, arm="policy")
    m.run(3)
    apps = govsim.platforms.apps_by_region(m)
    assert apps[1] == 0 and apps[0] > 0
    other = model(seed=0, events=cap, arm="no_policy")
    other.run(3)
    assert govsim.platforms.apps_by_region(other)[1] > 0


@pytest.mark.parametrize("event, fragment", [
    ('type = "cap_apps"\nmax_apps = -1', "events[0].max_apps: expected integer >= 0"),
    ('type = "cap_apps"', "needs field 'max_apps'"),
    ('type = "shift_to_outcomes"\nmetric_weight = 1.5', "events[0].metric_weight: expected number in [0, 1]"),
    ('type = "merge_reporting"\nregion = -2', "events[0].region: expected region index"),
    ('type = "merge_reporting"\nregoin = 1', "did you mean 'region'"),
    ('type = "outage"\nduration = 0', "events[0].duration: expected integer >= 1"),
    ('type = "outage"\nkind = "apps"', "events[0].kind"),
    ('type = "demand_surge"\nfactor = -2.0', "events[0].factor: expected number > 0"),
    ('type = "breach"\nsize = 2.0', "events[0].size: expected number in [0, 1]"),
    ('type = "cap_apps"\nmax_apps = 1\narms = "a"', "events[0].arms: expected list of arm names"),
])
def test_bad_policy_and_shock_events_name_the_key(tmp_path, event, fragment):
    f = tmp_path / "ev.toml"
    f.write_text(f"[[events]]\nstep = 3\n{event}\n")
    with pytest.raises(govsim.ScenarioError) as info:
        load_scenario(f)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_event_for_a_missing_region_fails_when_applied():
    ev = [{"step": 1, "type": "merge_reporting", "region": 9, "arms": []}]
    m = model({"regions.n": 2}, events=ev)
    with pytest.raises(govsim.ScenarioError, match="region 9 does not exist"):
        m.step()


def test_granularity_by_group_sees_the_worst_group():
    m = model({"channels.offline_open": False}, seed=2)
    m.run(3)
    ind = m.indicators
    assert (ind["equity_group"] <= ind["equity_agg"] + 1e-12).all()
    assert (ind["equity_group"] < ind["equity_agg"]).any()  # digital-only excludes someone somewhere
    m.params["government.metric_weight"] = 0.0
    m.params["government.information_granularity"] = "aggregate"
    agg = evaluation.scores(m)
    m.params["government.information_granularity"] = "by_group"
    grp = evaluation.scores(m)
    np.testing.assert_allclose(grp["outcome_seen"], grp["outcome_true"])
    assert grp["evaluated"].mean() < agg["evaluated"].mean()
    np.testing.assert_allclose(agg["outcome_true"], grp["outcome_true"])  # the truth does not depend on what is seen


def test_evaluated_score_is_the_weighted_mix():
    m = model({"government.metric_weight": 0.3})
    m.run(4)
    s = evaluation.scores(m)
    np.testing.assert_allclose(s["evaluated"], 0.3 * s["visible"] + 0.7 * s["outcome_seen"])
    row = m.results().iloc[-1]
    assert row["presence_gap"] == pytest.approx(row["evaluated_score"] - row["outcome_score"])


def test_feedback_improves_platforms_where_governments_respond():
    base = {"participation.feedback_rate": 1.0, "participation.improvement": 0.3,
            "participation.dissatisfied_below": 0.9, "government.planning_period": 100}
    on = model({**base, "participation.response_rate": 1.0}, seed=4)
    off = model({**base, "participation.response_rate": 0.0}, seed=4)
    d_on, d_off = on.run(12), off.run(12)
    assert d_on["feedback_per_1000"].iloc[1:].sum() > 0
    assert d_on["online_usability"].iloc[-1] > d_off["online_usability"].iloc[-1] + 0.02
    # the feedback stream is separate: decisions drew the same numbers
    assert [g.choice_index for g in on.local_governments] == [g.choice_index for g in off.local_governments]


def test_participation_disabled_draws_nothing_and_changes_nothing():
    m = model({"participation.enabled": False})
    df = m.run(6)
    assert (df["feedback_per_1000"] == 0).all()
    assert all(p.feedback == 0.0 for p in m.platforms)


def test_service_spending_reaches_cadre_capacity_and_training_seats_are_written():
    m = model({"government.choice_temperature": 1e-6, "government.metric_weight": 0.0})
    m.step()
    for g in m.local_governments:
        r = g.region
        D = g.discretionary()
        assert m.extra_cadre_hours[r] == pytest.approx(g.allocation[3] * D * govsim.cadres.hours_per_budget_unit(m)[r])
        assert m.training_seats[r] == pytest.approx(m.training_budget[r] / m.params["government.training_cost"])
    assert m.results()["budget_spent"].iloc[-1] > 0


def _expected_gain_numpy(gov, alloc):
    """The numpy formulation of LocalGovernment.expected_gain (the compiled pass must give the same bits)."""
    m, p = gov.model, gov.model.params
    w = float(p["government.metric_weight"])
    rho = p["government.response_gain"]
    period = int(p["government.planning_period"])
    D, f = gov.responses(alloc)  # numpy in both; what is checked is the compiled candidate scores
    fq, fl, ft, fs, fc = f.T
    N = p["government.apps_norm"]
    n_plat = float(govsim.cadres.platform_counts(m)[gov.region])
    n_apps = int(govsim.platforms.apps_by_region(m)[gov.region])
    room = max(0, gov.app_limit() - n_apps)
    cost = p["platform.build_cost"]
    budget_new = alloc[:, 1] * D * period + gov.launch_fund
    n_new = np.minimum(room, budget_new / cost) if cost > 0 else np.full(len(alloc), float(room))
    n_new = np.where(alloc[:, 1] > 0, n_new, 0.0)
    dv_apps = np.exp(-n_plat / N) - np.exp(-(n_plat + n_new) / N)
    users, sat, time, eq = gov._seen()
    dv_users = (1.0 - users) * rho * (fq + ft) / 2.0
    delta = p["government.compliance_decay"]
    g = 1.0 - np.exp(-alloc[:, 4] * governments._ratio(D, p["government.compliance_scale"]))
    kappa = np.full(len(alloc), gov.compliance)
    for _ in range(period):
        kappa = (1.0 - delta) * kappa + (1.0 - (1.0 - delta) * kappa) * g
    dv = (2.0 * dv_apps + dv_users + kappa - gov.compliance) / 4.0
    burden = n_new * gov.app_burden_share()
    do = ((1.0 - sat) * rho * (fq + fs) / 2.0 - rho * burden
          + (1.0 - time) * rho * fq - rho * burden
          + (1.0 - eq) * rho * (ft + fs) / 2.0) / 3.0
    return np.nan_to_num(w * dv + (1.0 - w) * do, nan=0.0, posinf=0.0, neginf=0.0)


@pytest.mark.parametrize("overrides", [{}, {"government.metric_weight": 0.9, "government.planning_period": 3},
                                       {"government.compliance_scale": 1e-6, "platform.build_cost": 0.0}])
def test_compiled_candidate_scores_equal_the_numpy_formulation(overrides):
    m = model(overrides, seed=3, n=1500)
    m.run(8)
    rng = np.random.default_rng(0)
    other = rng.dirichlet(np.ones(5), size=9)  # any rows, not only the grid
    for gov in m.local_governments:
        for alloc in (governments.CANDIDATES, other, governments.CANDIDATES[::-1][:, ::-1].copy()):
            np.testing.assert_array_equal(gov.expected_gain(alloc), _expected_gain_numpy(gov, alloc))


def test_unhappy_citizens_counted_as_by_numpy():
    m = model(seed=2, n=3000)
    m.run(4)
    pop = m.citizens
    active = np.flatnonzero(m.step_outcome >= 0)
    for below in (0.0, 0.3, 0.4, 0.55, float(np.float32(0.4)), 1.0):
        ref = np.bincount(pop.region[active[pop.satisfaction[active] < below]].astype(np.intp), minlength=m.n_regions)
        got = governments._unhappy_by_region(active, pop.satisfaction, pop.satisfaction.dtype.type(below),
                                             pop.region, m.n_regions)
        np.testing.assert_array_equal(got, ref)
    # citizens in any order (the kernel counts runs of one region), and no one active
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(active)
    ref = np.bincount(pop.region[shuffled[pop.satisfaction[shuffled] < np.float32(0.4)]].astype(np.intp),
                      minlength=m.n_regions)
    got = governments._unhappy_by_region(shuffled, pop.satisfaction, np.float32(0.4), pop.region, m.n_regions)
    np.testing.assert_array_equal(got, ref)
    empty = governments._unhappy_by_region(active[:0], pop.satisfaction, np.float32(0.4), pop.region, m.n_regions)
    np.testing.assert_array_equal(empty, np.zeros(m.n_regions, dtype=np.int64))
