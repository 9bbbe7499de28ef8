"""Core model: reproducibility, random streams, Mesa integration, invariants."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import govsim
from govsim import metrics


def run(overrides=None, seed=1, steps=8):
    sc = govsim.load_scenario("baseline", {"citizens.n": 800, **(overrides or {})})
    return govsim.GovModel(sc, rng=seed).run(steps)


def test_same_seed_identical_different_seed_differs():
    a, b, c = run(seed=5), run(seed=5), run(seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="step").equals(c.drop(columns="step"))


@pytest.mark.parametrize("rule", ["utility", "bass", "threshold"])
def test_every_rule_is_reproducible(rule):
    o = {"adoption.rule": rule, "adoption.initial_share": 0.05}
    pd.testing.assert_frame_equal(run(o, seed=2), run(o, seed=2))


def test_rng_accepts_int_seedsequence_and_generator():
    sc = govsim.load_scenario("baseline", {"citizens.n": 300})
    a = govsim.GovModel(sc, rng=np.random.SeedSequence(9)).run(3)
    b = govsim.GovModel(sc, rng=9).run(3)
    pd.testing.assert_frame_equal(a, b)
    g1 = govsim.GovModel(sc, rng=np.random.default_rng(4)).run(3)
    g2 = govsim.GovModel(sc, rng=np.random.default_rng(4)).run(3)
    pd.testing.assert_frame_equal(g1, g2)
    m = govsim.GovModel(sc)  # fresh entropy, recorded
    assert isinstance(m.seed, int)
    pd.testing.assert_frame_equal(govsim.GovModel(sc, rng=m.seed).run(2), m.run(2))
    with pytest.raises(ValueError, match="rng"):
        govsim.GovModel(sc, rng=-1)
    with pytest.raises(TypeError, match="rng"):
        govsim.GovModel(sc, rng="seed")


def test_streams_are_independent():
    """The network stream does not disturb the population stream (documented streams)."""
    sc = govsim.load_scenario("baseline", {"citizens.n": 500})
    m1 = govsim.GovModel(sc, rng=3)
    m2 = govsim.GovModel(sc.with_overrides({"network.kind": "erdos_renyi"}), rng=3)
    np.testing.assert_array_equal(m1.citizens.literacy, m2.citizens.literacy)
    np.testing.assert_array_equal(m1.citizens.age_group, m2.citizens.age_group)
    assert not np.array_equal(m1.network.indices, m2.network.indices)


def test_mesa_model_and_datacollector():
    import mesa

    sc = govsim.load_scenario("baseline", {"citizens.n": 400})
    m = govsim.GovModel(sc, rng=0)
    assert isinstance(m, mesa.Model)
    for _ in range(4):
        m.step()
    mesa_df = m.datacollector.get_model_vars_dataframe()
    assert len(mesa_df) == 5 and list(mesa_df.columns) == metrics.output_names()
    assert list(m.results()["step"]) == [0, 1, 2, 3, 4]
    # governments and platforms are Mesa agents; citizens are not
    kinds = {type(a).__name__ for a in m.agents}
    assert kinds >= {"CentralGovernment", "LocalGovernment", "Platform"}
    assert len(m.agents) < 100


def test_results_columns_documented():
    df = run(steps=2)
    assert list(df.columns) == metrics.output_names()
    for col in ["step", "adoption_rate", "aware_rate", "online_need_share", "adoption_urban",
                "adoption_rural", "adoption_young", "adoption_working", "adoption_elderly"]:
        assert col in df


def test_population_is_vectorised_and_narrow():
    sc = govsim.load_scenario("baseline", {"citizens.n": 1000})
    pop = govsim.GovModel(sc, rng=0).citizens
    assert pop.literacy.dtype == np.float32 and pop.age_group.dtype == np.int8
    assert pop.adopted.dtype == bool and pop.literacy.shape == (1000,)


def test_awareness_spreads_and_online_needs_need_awareness():
    df = run({"awareness.initial_share": 0.0, "awareness.p": 0.0, "awareness.q": 0.5,
              "adoption.initial_share": 0.0, "training.makes_aware": False}, steps=6)
    assert (df["aware_rate"] == 0).all()  # nobody aware, nobody to hear from
    assert (df["online_need_share"] == 0).all() and (df["adoption_rate"] == 0).all()
    df = run({"awareness.initial_share": 0.05, "awareness.p": 0.0, "awareness.q": 0.8}, steps=6)
    assert df["aware_rate"].is_monotonic_increasing and df["aware_rate"].iloc[-1] > 0.3


def test_closing_offline_windows_makes_unserved_needs_unmet():
    df = run({"channels.offline_open": False}, steps=6)
    assert df["needs_unmet"].iloc[1:].sum() > 0
    df_open = run({"channels.offline_open": True}, steps=6)
    assert df_open["needs_unmet"].sum() == 0


def test_calibration_targets_match_baseline():
    from govsim.calibration import calibration_rmse

    sc = govsim.load_scenario("baseline")
    rmse = np.mean([calibration_rmse(govsim.GovModel(sc, rng=s).run(72)) for s in range(2)])
    assert rmse < 0.03, rmse


scenario_overrides = st.fixed_dictionaries({
    "citizens.n": st.integers(1, 400),
    "regions.n": st.integers(1, 5),
    "network.kind": st.sampled_from(["complete", "erdos_renyi", "watts_strogatz", "barabasi_albert", "homophily"]),
    "network.mean_degree": st.floats(0.0, 12.0),
    "adoption.rule": st.sampled_from(["utility", "bass", "threshold"]),
    "adoption.initial_share": st.floats(0.0, 1.0),
    "awareness.p": st.floats(0.0, 1.0),
    "awareness.q": st.floats(0.0, 1.0),
    "channels.offline_open": st.booleans(),
    "platform.coverage": st.floats(0.0, 1.0),
    "platform.usability": st.floats(0.0, 1.0),
    "citizens.urban_share": st.floats(0.0, 1.0),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=scenario_overrides, seed=st.integers(0, 2**32))
def test_invariants_over_random_scenarios(overrides, seed):
    overrides["regions.n"] = min(overrides["regions.n"], overrides["citizens.n"])
    sc = govsim.load_scenario("baseline", overrides)
    m = govsim.GovModel(sc, rng=seed)
    df = m.run(5)
    assert not df.isna().any().any()
    share_cols = [o.name for o in metrics.outputs() if o.unit in ("share", "[0, 1]")]
    shares = df[share_cols].to_numpy()
    assert (shares >= -1e-12).all() and (shares <= 1 + 1e-12).all()
    assert m.citizens.n == overrides["citizens.n"]
    for name in ("literacy", "trust", "satisfaction", "adopted", "region"):
        assert len(getattr(m.citizens, name)) == overrides["citizens.n"]
    counts = df[["needs", "needs_online", "needs_offline", "needs_unmet"]].to_numpy()
    assert (counts >= 0).all()  # conservation with queues: tests/test_divide*.py


# -- which processes run (scenario.processes) and what is collected (scenario.outputs) ----------
def foundation(overrides=None):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "plain_mesa" / "foundation.toml"
    return govsim.load_scenario(path, {"citizens.n": 1500, "scenario.outputs": "", **(overrides or {})})


def test_citizens_schedule_equals_full_where_governments_are_inert():
    """The foundation scenario holds governments and platforms constant: the citizen-level columns of the
    ``citizens`` schedule equal those of ``full`` bit for bit, while governments stop deciding."""
    full = govsim.GovModel(foundation(), rng=3)
    cit = govsim.GovModel(foundation({"scenario.processes": "citizens"}), rng=3)
    assert cit.schedule == govsim.model.SCHEDULES["citizens"]
    a, b = full.run(24), cit.run(24)
    citizen_columns = ["adoption_rate", "aware_rate", "needs", "needs_online", "needs_unmet", "mean_literacy",
                       "mean_trust", "mean_satisfaction", "time_per_need", "adoption_rural", "adoption_elderly"]
    pd.testing.assert_frame_equal(a[citizen_columns], b[citizen_columns])
    assert a["adoption_rate"].iloc[-1] != a["adoption_rate"].iloc[0]  # something happened
    # governments did not step: their allocations stay as built
    assert b["alloc_quality"].nunique() == 1
    assert [g.allocation.tolist() for g in cit.local_governments] == [g.allocation.tolist()
                                                                       for g in govsim.GovModel(foundation({"scenario.processes": "citizens"}), rng=3).local_governments]


def test_citizens_schedule_freezes_platforms_of_the_baseline():
    """In the baseline, governments invest and launch apps; under ``citizens`` nobody does."""
    sc = govsim.load_scenario("baseline", {"citizens.n": 1500})
    full = govsim.GovModel(sc, rng=4)
    cit = govsim.GovModel(sc.with_overrides({"scenario.processes": "citizens"}), rng=4)
    before = [(p.usability, p.coverage) for p in cit.platforms]
    full.run(24)
    cit.run(24)
    assert [(p.usability, p.coverage) for p in cit.platforms] == before
    assert [(p.usability, p.coverage) for p in full.platforms[:len(before)]] != before
    assert cit.results()["needs"].iloc[1:].gt(0).all()  # citizens still have and get needs served


def test_citizens_schedule_recomputes_quality_and_capacity_after_events_and_parameter_changes():
    """Under ``citizens`` quality and cadre service hours are kept between steps; an event (an outage, a
    parameter set) or a change of ``model.params`` makes the next step compute them again, so the run equals,
    bit for bit, one that computes them every step. Without the recomputation the outage would not show."""
    from govsim.config import Scenario

    base = govsim.load_scenario("baseline", {"citizens.n": 1500, "scenario.processes": "citizens",
                                             "scenario.outputs": ""})
    events = ({"step": 4, "type": "outage", "arms": [], "region": -1, "kind": "all", "duration": 3},
              {"step": 6, "type": "set", "arms": [], "key": "cadres.hours_per_step", "value": 160.0})
    sc = Scenario(base.name, base.values, {}, events)

    def run(recompute_every_step, set_param_at=9):
        model = govsim.GovModel(sc, rng=11)
        if recompute_every_step:
            model._quality = lambda: (setattr(model, "quality", govsim.platforms.regional_quality(model)),
                                      setattr(model, "_reuse_inputs", False))
        for _ in range(12):
            if model.time_step == set_param_at:
                model.params["formalism.checkin_hours"] = 0.0  # by hand, between steps
            model.step()
        return model.results()

    cached, every = run(False), run(True)
    pd.testing.assert_frame_equal(cached, every)
    assert cached["service_capacity_hours"].nunique() >= 3  # built, then the set event, then the change by hand
    online = cached["needs_online"]
    assert online.iloc[4] == 0 and online.iloc[3] > 0  # the outage took the portal down at step 4


def test_diffusion_schedule_runs_the_rule_alone():
    """``diffusion``: adoption moves, awareness and literacy do not, no needs arise."""
    sc = foundation({"adoption.rule": "bass", "adoption.p": 0.05, "adoption.q": 0.3,
                     "scenario.processes": "diffusion"})
    model = govsim.GovModel(sc, rng=5)
    lit0, aware0 = model.citizens.literacy.copy(), model.citizens.aware.copy()
    df = model.run(20)
    assert df["adoption_rate"].is_monotonic_increasing and df["adoption_rate"].iloc[-1] > 0.5
    assert (df["needs"] == 0).all()
    np.testing.assert_array_equal(model.citizens.literacy, lit0)
    np.testing.assert_array_equal(model.citizens.aware, aware0)


def test_diffusion_schedule_is_the_discrete_bass_model():
    """On the complete network the mean curve of bass under ``diffusion`` follows F' = F + (p + qF)(1 - F)."""
    p, q, steps = 0.03, 0.38, 25
    curves = []
    for seed in range(4):
        sc = govsim.load_scenario("baseline", {
            "citizens.n": 20_000, "network.kind": "complete", "adoption.rule": "bass", "adoption.initial_share": 0.0,
            "adoption.p": p, "adoption.q": q, "scenario.processes": "diffusion", "scenario.outputs": "adoption_rate"})
        curves.append(govsim.GovModel(sc, rng=seed).run(steps)["adoption_rate"].to_numpy())
    f = [0.0]
    for _ in range(steps):
        f.append(f[-1] + (p + q * f[-1]) * (1 - f[-1]))
    assert np.sqrt(np.mean((np.mean(curves, axis=0) - np.array(f)) ** 2)) < 0.005


def test_diffusion_schedule_refuses_the_utility_rule():
    with pytest.raises(govsim.ScenarioError, match=r"scenario.processes: .*utility"):
        govsim.load_scenario("baseline", {"scenario.processes": "diffusion"})
    with pytest.raises(govsim.ScenarioError, match=r"scenario.processes: expected one of"):
        govsim.load_scenario("baseline", {"scenario.processes": "everything"})


def test_outputs_subset_collects_the_same_values():
    """Collecting fewer columns changes nothing else: the chosen columns equal those of a full collection."""
    all_cols = run(seed=9, steps=10)
    some = run({"scenario.outputs": "mean_trust, adoption_rate,exclusion_rate"}, seed=9, steps=10)
    assert list(some.columns) == ["step", "adoption_rate", "exclusion_rate", "mean_trust"]
    pd.testing.assert_frame_equal(some, all_cols[list(some.columns)])


def test_outputs_subset_rejects_unknown_columns():
    with pytest.raises(govsim.ScenarioError, match=r"scenario.outputs: unknown output column 'adoption_rat'.*"
                                                   r"did you mean 'adoption_rate'"):
        govsim.load_scenario("baseline", {"scenario.outputs": "adoption_rat"})


def test_a_finished_model_is_freed():
    """Nothing keeps a model alive after use (Mesa 3.3's Agent._ids did: every run leaked ~3 MB at 10^4)."""
    import gc
    import weakref

    model = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 600}), rng=2)
    model.run(13)  # governments decide and launch apps: agents are created during the run too
    ids = [a.unique_id for a in model.agents]
    assert len(set(ids)) == len(ids)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
