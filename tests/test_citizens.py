"""Citizens: heterogeneity calibrated to the CNNIC data shipped with govsim."""

import numpy as np
import pytest

import govsim
from govsim.citizens import create_population
from govsim.divide import calibration_targets, population_calibration


@pytest.fixture(scope="module")
def pop():
    sc = govsim.load_scenario("baseline", {"citizens.n": 300_000})
    return create_population(sc, np.random.default_rng(11))


def test_targets_are_read_from_the_shipped_data():
    t = calibration_targets()
    assert t["access_national"] == pytest.approx(0.730)
    assert t["access_rural"] == pytest.approx(0.576)
    assert t["access_urban"] == pytest.approx(0.813)  # Dec 2020 gap 23.9 points, narrowed by 0.2
    assert t["access_elderly"] == pytest.approx(0.432)
    assert t["elderly_share"] == pytest.approx(0.195, abs=0.001)
    assert t["nonuser_low_skill"] == pytest.approx(0.484)


def test_default_population_reproduces_the_cnnic_moments(pop):
    got, want = population_calibration(pop), calibration_targets()
    for k in ("access_national", "access_urban", "access_rural", "access_elderly", "elderly_share"):
        assert got[k] == pytest.approx(want[k], abs=0.01), k
    assert got["nonuser_low_skill"] == pytest.approx(want["nonuser_low_skill"], abs=0.03)


def test_literacy_is_ordered_by_group_and_bounded(pop):
    lit = pop.literacy
    assert lit.dtype == np.float32 and ((lit >= 0) & (lit <= 1)).all()
    means = [lit[pop.age_group == g].mean() for g in range(3)]
    assert means[0] > means[1] > means[2]
    assert lit[pop.urban].mean() > lit[~pop.urban].mean()
    assert lit[pop.access].mean() > lit[~pop.access].mean() + 0.15
    assert lit[pop.education == 2].mean() > lit[pop.education == 0].mean()


def test_need_rate_by_age_and_static_fields(pop):
    sc = govsim.load_scenario("baseline")
    for g in range(3):
        assert (pop.need_rate[pop.age_group == g] == np.float32(sc["citizens.need_rate"][g])).all()
    assert pop.age_group.dtype == np.int8 and pop.trained.dtype == bool
    assert (pop.served == 0).all() and (pop.lapsed_until == 0).all()
    assert ((pop.expectation >= 0) & (pop.expectation <= 1)).all()


def test_population_is_fixed_by_its_seed():
    sc = govsim.load_scenario("baseline", {"citizens.n": 2000})
    a = create_population(sc, np.random.default_rng(3))
    b = create_population(sc, np.random.default_rng(3))
    for name in ("region", "urban", "age_group", "access", "literacy", "privacy"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_literacy_and_access_grow_with_use_and_neighbours():
    m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 5000}), rng=2)
    lit0, acc0 = m.citizens.literacy.mean(), m.citizens.access.mean()
    m.run(36)
    assert m.citizens.literacy.mean() > lit0 + 0.05
    assert acc0 + 0.01 < m.citizens.access.mean() < acc0 + 0.1
    # without the access process (and without training) nobody gets online
    frozen = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 5000, "learning.access_rate": 0.0,
                                                               "training.gain": 0.0}), rng=2)
    frozen.run(12)
    assert frozen.citizens.access.mean() == acc0


def test_compiled_finish_matches_the_numpy_formulation():
    """Access test, literacy transforms and renumbering by block: kernels vs the numpy expressions."""
    from govsim.citizens import _access, _finish

    rng = np.random.default_rng(3)
    n, n_regions = 5000, 5
    region = rng.integers(0, n_regions, n).astype(np.int16)
    urban = rng.random(n) < 0.6
    age = rng.integers(0, 3, n).astype(np.int8)
    edu = rng.integers(0, 3, n).astype(np.int8)
    u = rng.random(n)
    factor = np.array([1.15, 1.05, 0.59])
    access = np.empty(n, dtype=bool)
    _access(urban, age, u, 0.813, 0.576, factor, access)
    ref_access = u < np.minimum(np.where(urban, 0.813, 0.576) * factor[age], 1.0)
    np.testing.assert_array_equal(access, ref_access)

    lit = rng.beta(2.0, 2.0, n) * 1.3  # some values above 1 to exercise the clip
    privacy = rng.random(n)
    need = np.array([0.25, 0.35, 0.45], dtype=np.float32)
    outs = [np.empty(n, dtype=d) for d in (np.int16, bool, np.int8, np.int8, bool, np.float32, np.float32, np.float32)]
    _finish(region, urban, age, edu, access, lit, privacy, need, 0.8, 0.1, 0.55, 6 * n_regions, *outs)
    ref_lit = np.where(urban, lit, lit * 0.8)
    ref_lit = np.clip(ref_lit + 0.1 * edu, 0.0, 1.0)
    ref_lit = np.where(access, ref_lit, ref_lit * 0.55)
    label = (region.astype(np.int64) * 2 + urban) * 3 + age
    order = np.argsort(label, kind="stable")
    refs = [region, urban, age, edu, access, privacy.astype(np.float32), need[age], ref_lit.astype(np.float32)]
    for out, ref in zip(outs, refs):
        np.testing.assert_array_equal(out, ref[order])
        assert out.dtype == ref.dtype
