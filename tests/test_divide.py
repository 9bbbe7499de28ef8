"""Digital divide: policy arms, exclusion and gaps by group, the concentration index, training, attitudes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import govsim
from govsim import divide
from govsim.divide import concentration_index_levels, final_year_summary, literacy_levels
from govsim.metrics import concentration_index
from govsim.runner import run_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "digital_divide.toml"
ARMS = ["dual_channel", "digital_only", "literacy_training", "assisted_service", "elderly_friendly"]


# -- the concentration index -----------------------------------------------------------
def test_concentration_index_hand_computed():
    # literacy ranks 1..4 -> fractional ranks 1/8, 3/8, 5/8, 7/8; h falls with literacy
    # CI = 2 cov(h, r) / mean(h) = 2 × (Σ h r / n − mean(h)/2) / mean(h) = 2 × 3.75 / 10 − 1 = −0.25
    h = np.array([4.0, 3.0, 2.0, 1.0])
    assert concentration_index_levels(h, np.array([0, 1, 2, 3]), 4) == pytest.approx(-0.25)
    # the same citizens in another order, ranked by literacy on the grid
    lit = np.array([0.9, 0.1, 0.5, 0.3])
    h2 = np.array([1.0, 4.0, 2.0, 3.0])
    assert concentration_index_levels(h2, literacy_levels(lit), divide.LITERACY_LEVELS) == pytest.approx(-0.25)
    # ties share their mean rank: levels (0, 0, 1, 2) -> ranks 1/4, 1/4, 5/8, 7/8; h = (2, 4, 1, 1)
    # Σ h r = 0.5 + 1 + 0.625 + 0.875 = 3; Σ h = 8; CI = 2 × 3 / 8 − 1 = −0.25
    assert concentration_index_levels(np.array([2.0, 4.0, 1.0, 1.0]), np.array([0, 0, 1, 2]), 3) == pytest.approx(-0.25)
    # equal shares: 0; all concentrated on the most literate of n: 1 − 1/n
    assert concentration_index_levels(np.ones(5), np.arange(5), 5) == pytest.approx(0.0)
    assert concentration_index_levels(np.array([0, 0, 0, 1.0]), np.arange(4), 4) == pytest.approx(0.75)
    # the mask leaves citizens out; an empty or zero total gives 0, not NaN
    mask = np.array([True, True, False, False])
    assert concentration_index_levels(np.array([3.0, 1.0, 9.0, 9.0]), np.arange(4), 4, mask) == pytest.approx(-0.25)
    assert concentration_index_levels(np.zeros(3), np.arange(3), 3) == 0.0


def test_grid_index_equals_exact_index_without_ties():
    rng = np.random.default_rng(1)
    lit = rng.permutation(np.arange(500)) / 4095.0
    h = rng.gamma(2.0, size=500) * (1.5 - lit)
    exact = concentration_index(h, lit)
    assert concentration_index_levels(h, literacy_levels(lit), divide.LITERACY_LEVELS) == pytest.approx(exact)


def test_reported_concentration_index_matches_exact_computation():
    m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000}), rng=4)
    df = m.run(12)
    pop = m.citizens
    has = pop.needs_total > 0
    exact = concentration_index((pop.time_cost / np.maximum(pop.needs_total, 1))[has], pop.literacy[has])
    assert df["ci_time_cost_literacy"].iloc[-1] == pytest.approx(exact, abs=2e-3)
    assert df["ci_time_cost_literacy"].iloc[-1] < -0.1  # the least literate bear more hours per need


# -- the policy arms -------------------------------------------------------------------
@pytest.fixture(scope="module")
def arms():
    """Final-year means of every arm: 3,000 citizens, 36 steps, 3 seeds."""
    sc = govsim.load_scenario(SCENARIO, {"citizens.n": 3000})
    df = run_scenario(sc, seed=7, steps=36, reps=3)
    s = final_year_summary(df, window=12)
    return s.pivot(index="output", columns="arm", values="mean")


def test_scenario_file_has_the_five_arms_and_valid_report():
    from govsim.cli import report_columns

    sc = govsim.load_scenario(SCENARIO)
    assert list(sc.arms) == ARMS
    assert sc["scenario.replications"] == 10
    cols = report_columns(sc)
    assert {"adoption_rural", "adoption_elderly", "exclusion_rate_rural", "exclusion_rate_elderly"} <= set(cols)
    assert sc.arm("dual_channel")["channels.offline_open"] is True
    assert sc.arm("digital_only")["channels.offline_open"] is False
    assert sc.arm("assisted_service")["assisted.enabled"] is True


def test_digital_only_raises_elderly_exclusion(arms):
    assert arms.loc["exclusion_rate_elderly", "dual_channel"] == 0.0
    assert arms.loc["exclusion_rate_elderly", "digital_only"] > 200.0
    # and hits the elderly and rural harder than the young and urban
    assert arms.loc["exclusion_gap_elderly_young", "digital_only"] > 100.0
    assert arms.loc["exclusion_gap_rural_urban", "digital_only"] > 50.0


def test_literacy_training_narrows_the_young_elderly_gap(arms):
    dual, trained = arms.loc["gap_young_elderly", "dual_channel"], arms.loc["gap_young_elderly", "literacy_training"]
    assert trained < dual - 0.05
    assert arms.loc["adoption_elderly", "literacy_training"] > arms.loc["adoption_elderly", "dual_channel"] + 0.05


def test_assisted_service_lowers_elderly_exclusion_under_digital_only(arms):
    excl = arms.loc["exclusion_rate_elderly"]
    assert excl["assisted_service"] < 0.25 * excl["digital_only"]


def test_elderly_friendly_design_helps_the_elderly(arms):
    assert arms.loc["adoption_elderly", "elderly_friendly"] > arms.loc["adoption_elderly", "dual_channel"] + 0.01
    assert arms.loc["time_per_need_elderly", "elderly_friendly"] < arms.loc["time_per_need_elderly", "dual_channel"]


def test_group_exclusion_rates_add_up_to_the_overall_rate():
    m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000, "channels.offline_open": False}), rng=2)
    df = m.run(6)
    g = m.step_groups
    urban_needs, rural_needs = g["needs"][3:].sum(), g["needs"][:3].sum()
    last = df.iloc[-1]
    mixed = (last["exclusion_rate_urban"] * urban_needs + last["exclusion_rate_rural"] * rural_needs) / (
        urban_needs + rural_needs)
    assert mixed == pytest.approx(last["exclusion_rate"])
    assert last["exclusion_rate_elderly"] > last["exclusion_rate_young"] > 0


def test_final_year_summary_means_and_intervals():
    rows = []
    for arm, level in (("a", 0.0), ("b", 10.0)):
        for rep in range(3):
            for step in range(20):
                rows.append({"arm": arm, "rep": rep, "seed": rep, "step": step,
                             "exclusion_rate_elderly": level + rep + (100.0 if step < 8 else 0.0)})
    s = final_year_summary(pd.DataFrame(rows), ["exclusion_rate_elderly"], window=12)
    b = s[s["arm"] == "b"].iloc[0]
    assert b["mean"] == pytest.approx(11.0)  # steps 8..19 only; reps 10, 11, 12
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert b["ci_low"] == pytest.approx(11.0 - half) and b["ci_high"] == pytest.approx(11.0 + half)
    assert b["reps"] == 3 and b["steps"] == "8-19"


def test_cli_runs_every_arm_with_figure(tmp_path):
    from govsim.cli import main

    out = tmp_path / "dd"
    code = main(["run", str(SCENARIO), "--set", "citizens.n=300", "--steps", "3", "--reps", "2", "--out", str(out)])
    assert code == 0
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df["arm"].unique()) == sorted(ARMS) and df["rep"].nunique() == 2
    assert (out / "figure.png").stat().st_size > 10_000


# -- calibration, training and attitudes ---------------------------------------------------
def test_training_reaches_only_the_target_group_within_budget():
    sc = govsim.load_scenario("baseline", {"citizens.n": 20_000, "training.budget": 100.0,
                                           "training.target": "elderly_rural", "training.access_prob": 1.0})
    m = govsim.GovModel(sc, rng=1)
    pop = m.citizens
    lit0 = pop.literacy.copy()
    m.step()
    trained = pop.trained
    assert trained.sum() > 0
    assert (pop.age_group[trained] == 2).all() and (~pop.urban[trained]).all()
    assert (lit0[trained] < sc["training.max_literacy"]).all()
    # 100 seats per 10,000 citizens, plus any the local governments bought
    residents = np.bincount(pop.region, minlength=m.n_regions)
    seats = (residents * (100.0 + np.asarray(getattr(m, "training_seats", 0.0))) / 10_000).sum()
    assert abs(trained.sum() - seats) < 3 * np.sqrt(seats) + 5
    assert pop.access[trained].all() and pop.aware[trained].all()
    assert m.results()["trained"].iloc[-1] == trained.sum()


def test_unmet_needs_lower_satisfaction_and_trust():
    closed = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000, "channels.offline_open": False}),
                             rng=3)
    open_ = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000}), rng=3)
    df = closed.run(24)
    open_.run(24)
    # the same citizens (same seed, same population): those excluded under digital-only
    excluded = closed.citizens.unmet >= 3
    assert excluded.sum() > 50
    for attr in ("satisfaction", "trust"):
        assert getattr(closed.citizens, attr)[excluded].mean() < getattr(open_.citizens, attr)[excluded].mean() - 0.05
    assert df["ci_unmet_literacy"].iloc[-1] < -0.2  # exclusion falls on the least literate


def test_dissatisfied_online_users_lapse_and_stay_offline_for_a_while():
    sc = govsim.load_scenario("baseline", {"citizens.n": 3000, "learning.lapse_prob": 1.0,
                                           "learning.lapse_threshold": 1.0, "learning.lapse_steps": 3})
    m = govsim.GovModel(sc, rng=5)
    m.step()
    tried = m.step_active[m.step_record["tried_online"]]
    assert tried.size > 0
    assert not m.citizens.adopted[tried].any() and (m.citizens.lapsed_until[tried] == 4).all()
    assert m.results()["lapse_rate"].iloc[-1] > 0
    m.step()
    assert not np.isin(m.step_active[m.step_record["tried_online"]], tried).any()
