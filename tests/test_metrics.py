"""Outputs: the compiled tallies against slow references, and collecting a subset of the columns."""

import numpy as np
import pytest

import govsim
from govsim import divide, evaluation, metrics
from govsim.channels import NO_NEED, SERVED_OFFLINE, UNMET


@pytest.fixture(scope="module")
def model():
    m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000}), rng=5)
    m.run(15)
    return m


# -- sums in numpy's order ---------------------------------------------------------------
def test_pairwise_sum_and_mean_of_give_numpys_bits():
    rng = np.random.default_rng(0)
    for n in [*range(0, 20), 127, 128, 129, 255, 256, 300, 1000]:
        x = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, size=n)
        assert metrics.pairwise_sum(x.tolist()) == float(np.add.reduce(x))
        if n:
            assert metrics.mean_of(x) == float(np.mean(x))
            assert metrics.mean_of(x.tolist()) == float(np.mean(x))
    assert metrics.mean_of(np.arange(5)) == 2.0


# -- the tallies ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 8, 9, 1001])
def test_adopters_aware_counts_match_bincount(n):
    rng = np.random.default_rng(n)
    n_keys = 12
    lab = np.sort(rng.integers(0, n_keys, size=n)).astype(np.intp)
    adopted = rng.random(n) < 0.4
    aware = rng.random(n) < 0.7
    bounds = np.searchsorted(lab, np.arange(n_keys + 1))
    want = np.bincount(lab, weights=adopted, minlength=n_keys)
    for b in (bounds, metrics._NO_BOUNDS):  # label slices, and the scattered path
        by_key, n_aware = metrics._adopters_aware(lab, b, adopted, aware, n_keys)
        assert by_key.tolist() == want.tolist()
        assert n_aware == np.count_nonzero(aware)
    # flags starting at an odd offset (a slice of a longer array)
    big = np.concatenate([[True], adopted])[1:]
    assert metrics._adopters_aware(lab, bounds, big, aware, n_keys)[0].tolist() == want.tolist()


def test_concentration_tallies_match_the_bincount_formula():
    rng = np.random.default_rng(3)
    n = 5000
    literacy = rng.random(n).astype(np.float32)
    literacy[:50] = 0.0
    literacy[50:80] = 1.0
    needs_total = rng.poisson(3.0, size=n).astype(np.int32)
    time_cost = (rng.gamma(2.0, size=n) * needs_total * (1.5 - literacy)).astype(np.float32)
    unmet = rng.binomial(needs_total, 0.2 * (1.0 - literacy)).astype(np.int32)
    trained = rng.random(n) < 0.1
    scratch = np.empty(n, dtype=np.int16)
    ci_t, ci_u, n_trained = divide._divide_tallies(literacy, needs_total, time_cost, unmet,
                                                  trained.view(np.uint8), divide.LITERACY_LEVELS, scratch)
    assert scratch.tolist() == divide.literacy_levels(literacy).tolist()
    has = needs_total > 0
    levels = divide.literacy_levels(literacy)
    per_need = 1.0 / np.maximum(needs_total, 1)
    for got, values in ((ci_t, time_cost * per_need), (ci_u, unmet * per_need)):
        want = divide.concentration_index_levels(values, levels, divide.LITERACY_LEVELS, mask=has)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14)
    assert n_trained == np.count_nonzero(trained)
    # nobody with a need, or nothing to concentrate: 0, not NaN
    zeros = np.zeros(n, dtype=np.int32)
    t8 = trained.view(np.uint8)
    assert divide._divide_tallies(literacy, zeros, time_cost, unmet, t8, 4096, scratch)[:2] == (0.0, 0.0)
    assert divide._divide_tallies(literacy, needs_total, np.zeros(n, np.float32), zeros, t8, 4096, scratch)[:2] == (
        0.0, 0.0)


def _indicators_reference(model) -> dict:
    """The array formulas of compute_indicators (before it was compiled), as the slow reference."""
    R = model.n_regions
    pop = model.citizens
    lab, cnt = metrics.key_labels(model)
    size = R * evaluation.N_GROUPS
    sat = np.bincount(lab, weights=pop.satisfaction, minlength=size)
    adopt = np.bincount(lab, weights=pop.adopted, minlength=size)
    active = model.step_active
    outcome = model.step_outcome[active]
    handled = np.asarray(model.step_record["handled"]).astype(float)
    hours = np.asarray(model.step_hours)[active].astype(float)
    la = lab[active]
    resolved = (outcome >= SERVED_OFFLINE) & (outcome <= UNMET)
    need = np.bincount(la, weights=handled, minlength=size)
    res = np.bincount(la, weights=handled * resolved, minlength=size)
    unm = np.bincount(la, weights=handled * (outcome == UNMET), minlength=size)
    hrs = np.bincount(la, weights=hours, minlength=size)
    ref = np.tile(evaluation._reference_hours(model), R)
    shape = (R, evaluation.N_GROUPS)
    cnt2, sat2, need2, res2, unm2, hrs2, ref2 = (a.reshape(shape) for a in (cnt, sat, need, res, unm, hrs, ref))
    share = metrics.safe_share
    sat_g = share(sat2, cnt2)
    time_g = 1.0 - np.clip(share(hrs2, need2 * ref2), 0.0, 1.0)
    eq_g = 1.0 - share(unm2, res2)
    has_c, has_n, has_r = cnt2 > 0, need2 > 0, res2 > 0
    prev = model.indicators
    no_need, no_res = ~has_n.any(1), ~has_r.any(1)
    return {
        "users": share(adopt.reshape(shape).sum(1), cnt2.sum(1)),
        "sat_agg": share(sat2.sum(1), cnt2.sum(1)),
        "time_agg": np.where(no_need, prev["time_agg"],
                             1.0 - np.clip(share(hrs2.sum(1), (need2 * ref2).sum(1)), 0.0, 1.0)),
        "equity_agg": np.where(no_res, prev["equity_agg"], 1.0 - share(unm2.sum(1), res2.sum(1))),
        "sat_group": share(np.where(has_c, sat_g, 0.0).sum(1), has_c.sum(1)),
        "time_group": np.where(no_need, prev["time_group"], share(np.where(has_n, time_g, 0.0).sum(1), has_n.sum(1))),
        "equity_group": np.where(no_res, prev["equity_group"],
                                 np.where(has_r.any(1), np.where(has_r, eq_g, np.inf).min(1), 0.0)),
        "needs": need2.sum(1),
    }


def test_compute_indicators_equals_the_array_formulas_bit_for_bit(model):
    got = evaluation.compute_indicators(model)
    want = _indicators_reference(model)
    for key, value in want.items():
        assert got[key].tolist() == value.tolist(), key
    assert got["step"] == model.time_step


def test_compute_indicators_carries_the_last_view_of_a_region_without_needs(model):
    saved = (model.step_active, model.step_record, model.step_outcome)
    try:
        model.step_active = np.zeros(0, dtype=np.intp)
        model.step_record = dict(model.step_record, handled=np.zeros(0, dtype=np.int32))
        model.step_outcome = np.full(model.citizens.n, NO_NEED, dtype=np.int8)
        got = evaluation.compute_indicators(model)
        for key in ("time_group", "time_agg", "equity_group", "equity_agg"):
            assert got[key].tolist() == model.indicators[key].tolist()
        assert got["needs"].tolist() == [0.0] * model.n_regions
    finally:
        model.step_active, model.step_record, model.step_outcome = saved


def test_unsorted_labels_give_the_same_indicators(model):
    lab, cnt = metrics.key_labels(model)
    want = evaluation.compute_indicators(model)
    model.__dict__["_label_bounds"] = None  # as if the labels were not sorted: the scattered path
    try:
        got = evaluation.compute_indicators(model)
        row = metrics._core(model)
    finally:
        model.__dict__.pop("_label_bounds")
    for key in want:
        assert np.array_equal(got[key], want[key]), key
    assert row == metrics._core(model)


# -- collecting a subset -----------------------------------------------------------------------
@pytest.fixture
def registry():
    """Restore the module-level registry after a test that registers reporters."""
    saved = (dict(metrics._OUTPUTS), list(metrics._REPORTERS), dict(metrics._REPORTER_COLUMNS))
    yield
    metrics._OUTPUTS.clear()
    metrics._OUTPUTS.update(saved[0])
    metrics._REPORTERS[:] = saved[1]
    metrics._REPORTER_COLUMNS.clear()
    metrics._REPORTER_COLUMNS.update(saved[2])
    metrics._PLANS.clear()


def test_select_outputs_orders_checks_and_adds_step():
    assert metrics.select_outputs(["mean_trust", "adoption_rate", "mean_trust"]) == (
        "step", "adoption_rate", "mean_trust")
    assert metrics.select_outputs(None) == tuple(metrics.output_names())
    with pytest.raises(KeyError, match="adoption_rat"):
        metrics.select_outputs(["adoption_rat"])


def test_collect_a_subset_gives_the_same_values_and_skips_other_reporters(model, registry):
    full = metrics.collect(model)
    names = metrics.select_outputs(["adoption_rate", "exclusion_rate", "ci_time_cost_literacy", "outcome_score"])
    calls = []
    metrics.declare_output("test_extra", "-", "a column of a test reporter")

    @metrics.register_reporter
    def _extra(m):
        calls.append(1)
        return {"test_extra": 1.0}

    # not yet called: its columns are unknown, so it runs (and is learnt)
    sub = metrics.collect(model, names)
    assert list(sub) == list(names)
    assert all(sub[k] == full[k] for k in names)
    assert len(calls) == 1
    needed = metrics.reporters_for(names)
    assert _extra not in needed and metrics._core in needed and divide._divide in needed
    assert metrics.reporters_for(["step", "adoption_rate"]) == [metrics._rates]  # a diffusion run's one reporter
    assert metrics.reporters_for(["step", "aware_rate"]) == [metrics._rates, metrics._aware_rate]
    assert metrics.collect(model, names) == sub and len(calls) == 1  # now skipped
    assert metrics.collect(model, ["test_extra"]) == {"test_extra": 1.0}


def test_a_model_run_does_not_depend_on_what_is_collected():
    sc = govsim.load_scenario("baseline", {"citizens.n": 1500})
    a = govsim.GovModel(sc, rng=9)
    b = govsim.GovModel(sc, rng=9)
    names = metrics.select_outputs(["adoption_rate", "exclusion_rate"])
    b._collect = lambda: setattr(b, "latest", metrics.collect(b, names))  # b collects only these columns
    for _ in range(6):
        a.step()
        b.step()
        assert {k: a.latest[k] for k in names} == b.latest
    assert np.array_equal(a.citizens.adopted, b.citizens.adopted)
    assert metrics.collect(a) == metrics.collect(b)
