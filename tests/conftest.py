import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import govsim  # noqa: E402


@pytest.fixture
def small():
    """A small baseline scenario (fast)."""
    return govsim.load_scenario("baseline", {"citizens.n": 600})


def run(overrides=None, steps=10, seed=1, scenario="baseline"):
    sc = govsim.load_scenario(scenario, overrides or {})
    return govsim.GovModel(sc, rng=seed).run(steps)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _restore_registries():
    """Tests that register rules or parameters must not leak them into other tests."""
    from govsim import adoption, config

    params, rules = dict(config._REGISTRY), dict(adoption._RULES)
    yield
    config._REGISTRY.clear()
    config._REGISTRY.update(params)
    adoption._RULES.clear()
    adoption._RULES.update(rules)
