"""Compiled citizen dynamics against slow numpy references: awareness, bass/threshold rules, learning, training.

Each kernel must give the same bits as the numpy formulation it replaced (the
one the module docstrings describe), with the same draws from the same stream.
"""

from dataclasses import fields
from types import SimpleNamespace

import numpy as np
import pytest

import govsim
from govsim import awareness, learning, training
from govsim.adoption import BassRule, ThresholdRule, draw_thresholds
from govsim.channels import QUEUED, SERVED_ASSISTED, SERVED_ONLINE, UNMET, neighbour_aware_share, neighbour_literacy
from govsim.networks import complete, erdos_renyi, from_edges


# --------------------------------------------------------------------------- references (the numpy formulations)
def ref_bass_substep(net, adopted, rng, p, q):
    """One uniform per non-adopter (citizen order); a non-adopter adopts below min(1, p + q × share)."""
    free = np.flatnonzero(~adopted)
    prob = np.minimum(p + q * net.neighbour_share(adopted), 1.0)
    out = adopted.copy()
    if free.size:
        out[free[rng.random(free.size) < prob[free]]] = True
    return out


def ref_threshold_step(net, adopted, thresholds):
    return adopted | (net.neighbour_share(adopted) >= thresholds)


def ref_spread_awareness(model, rng):
    pop = model.citizens
    unaware = np.flatnonzero(~pop.aware)
    share = neighbour_aware_share(model, unaware)
    if unaware.size == 0:
        return
    u = rng.random(unaware.size)  # one uniform per unaware citizen, in citizen order
    prob = np.minimum(model.params["awareness.q"] * share + model.params["awareness.p"], 1.0)
    pop.aware[unaware[u < prob]] = True


def ref_apply_training(model, rng):
    p = model.params
    per_10k = np.full(model.n_regions, p["training.budget"])
    bought = getattr(model, "training_seats", None)
    if bought is not None:
        per_10k = per_10k + np.asarray(bought, dtype=float)
    if not (per_10k > 0).any() or p["training.gain"] <= 0:
        model.step_trained = 0
        return np.zeros(0, dtype=np.intp)
    pop = model.citizens
    idx = np.flatnonzero(training.eligible(model))
    seats = model.channel_state.residents * per_10k / 10_000.0
    reg = pop.region[idx].astype(np.intp)
    prob = np.minimum(1.0, seats / np.maximum(np.bincount(reg, minlength=model.n_regions), 1))
    chosen = idx[rng.random(idx.size) < prob[reg]]
    lit = pop.literacy
    lit[chosen] += np.float32(p["training.gain"]) * (1.0 - lit[chosen])
    if p["training.makes_aware"]:
        pop.aware[chosen] = True
    pop.trained[chosen] = True
    offline = chosen[~pop.access[chosen]]
    pop.access[offline[rng.random(offline.size) < p["training.access_prob"]]] = True
    model.step_trained = int(chosen.size)
    return chosen


def ref_update_learning(model):
    p = model.params
    pop = model.citizens
    rng = model.streams["dynamics"]
    nbr = neighbour_literacy(model)
    active = model.step_active
    rec = model.step_record
    outcome = rec["outcome"]
    lit = pop.literacy
    for code, key in ((SERVED_ONLINE, "learning.by_use"), (SERVED_ASSISTED, "learning.by_assisted")):
        if p[key] > 0:
            idx = active[outcome == code]
            lit[idx] += np.float32(p[key]) * (1.0 - lit[idx])
    ref_apply_training(model, rng)
    if p["learning.from_neighbours"] > 0:
        gap = np.maximum((nbr - lit).astype(np.float32), 0.0)
        gap *= p["learning.from_neighbours"]
        lit += gap
    np.clip(lit, 0.0, 1.0, out=lit)
    resolved = outcome != QUEUED
    idx = active[resolved]
    perf = np.exp(-rec["episode_hours"][resolved] / p["learning.hours_scale"])
    perf[outcome[resolved] == UNMET] = 0.0
    expect = pop.expectation[idx]
    target = np.clip(perf + p["learning.confirmation_weight"] * (perf - expect), 0.0, 1.0)
    sat = pop.satisfaction[idx]
    pop.satisfaction[idx] = np.clip(sat + p["learning.satisfaction_rate"] * (target - sat), 0.0, 1.0)
    pop.expectation[idx] = np.clip(expect + p["learning.expectation_rate"] * (perf - expect), 0.0, 1.0)
    step = (pop.satisfaction - pop.trust) * np.float32(p["learning.trust_rate"])
    pop.trust += step
    np.clip(pop.trust, 0.0, 1.0, out=pop.trust)
    if p["learning.access_rate"] > 0:
        offline = np.flatnonzero(~pop.access)
        cand = offline[lit[offline] >= p["learning.access_literacy"]]
        pop.access[cand[rng.random(cand.size) < p["learning.access_rate"]]] = True
    cand = active[resolved & rec["tried_online"]]
    cand = cand[pop.adopted[cand] & (pop.satisfaction[cand] < p["learning.lapse_threshold"])]
    lapsed = cand[rng.random(cand.size) < p["learning.lapse_prob"]] if cand.size else cand
    model.step_lapse_base = int(np.count_nonzero(pop.adopted))
    pop.adopted[lapsed] = False
    if lapsed.size:
        until = model.time_step + int(p["learning.lapse_steps"])
        pop.lapsed_until[lapsed] = until
        model.channel_state.lapse_horizon = max(model.channel_state.lapse_horizon, until)
    model.step_lapsed = int(lapsed.size)


# --------------------------------------------------------------------------- helpers
def population_arrays(model):
    pop = model.citizens
    return {f.name: getattr(pop, f.name).copy() for f in fields(pop) if f.name != "n"}


def snapshot(model):
    without = model.__dict__.get("_without_access")  # the kernel filters it in place: keep a copy
    return (population_arrays(model), model.streams["dynamics"].bit_generator.state,
            model.channel_state.lapse_horizon, None if without is None else without.copy())


def restore(model, snap):
    arrays, rng_state, horizon, without = snap
    for name, arr in arrays.items():
        np.copyto(getattr(model.citizens, name), arr)
    model.streams["dynamics"].bit_generator.state = rng_state
    model.channel_state.lapse_horizon = horizon
    if without is None:
        model.__dict__.pop("_without_access", None)
    else:
        model.__dict__["_without_access"] = without.copy()


def outcome_of(model):
    return (population_arrays(model), model.streams["dynamics"].bit_generator.state["state"],
            model.channel_state.lapse_horizon,
            {k: getattr(model, k, None) for k in ("step_lapsed", "step_lapse_base", "step_trained")})


def assert_same(a, b):
    arrays_a, rng_a, horizon_a, counts_a = a
    arrays_b, rng_b, horizon_b, counts_b = b
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        assert arrays_a[name].tobytes() == arrays_b[name].tobytes(), name  # to the bit
    assert rng_a == rng_b  # the same number of draws
    assert horizon_a == horizon_b
    assert counts_a == counts_b


def fake_model(net, adopted, params):
    return SimpleNamespace(citizens=SimpleNamespace(n=net.n, adopted=adopted), network=net, params=params)


def graphs():
    rng = np.random.default_rng(5)
    yield erdos_renyi(400, 6, rng)
    # a star, a path and isolated nodes
    yield from_edges(12, [0, 0, 0, 0, 5, 6, 7], [1, 2, 3, 4, 6, 7, 8])
    yield complete(50)
    yield complete(1)


# --------------------------------------------------------------------------- adoption rules
@pytest.mark.parametrize("substeps", [1, 3])
@pytest.mark.parametrize("net", list(graphs()), ids=lambda g: f"{g.kind}-{g.n}")
def test_bass_kernel_matches_neighbour_share(net, substeps):
    n = net.n
    rng = np.random.default_rng(1)
    adopted = rng.random(n) < 0.1
    params = {"adoption.p": 0.05, "adoption.q": 0.9, "adoption.substeps": substeps}
    model = fake_model(net, adopted, params)
    rule = BassRule(model, rng)
    ours, ref_rng = np.random.default_rng(9), np.random.default_rng(9)
    expected = adopted.copy()
    for step in range(8):
        rule.update(model, ours)
        for _ in range(substeps):
            expected = ref_bass_substep(net, expected, ref_rng, 0.05 / substeps, 0.9 / substeps)
        assert np.array_equal(model.citizens.adopted, expected), step
        if step % 3 == 1:  # others change adoption between steps (lapses, events): the counts follow
            flip = rng.random(n) < 0.2
            model.citizens.adopted[flip] = ~model.citizens.adopted[flip]
            expected = model.citizens.adopted.copy()
    assert ours.bit_generator.state == ref_rng.bit_generator.state


@pytest.mark.parametrize("net", list(graphs()), ids=lambda g: f"{g.kind}-{g.n}")
def test_threshold_kernel_matches_neighbour_share(net):
    n = net.n
    rng = np.random.default_rng(2)
    params = {"adoption.threshold.distribution": "uniform", "adoption.threshold.low": 0.0,
              "adoption.threshold.high": 0.6}
    adopted = rng.random(n) < 0.05
    model = fake_model(net, adopted, params)
    rule = ThresholdRule(model, np.random.default_rng(3))
    assert np.array_equal(rule.thresholds, draw_thresholds(params, n, np.random.default_rng(3)))
    # exact ties: thresholds equal to reachable shares (k / degree)
    rule.thresholds[: n // 2] = np.round(rule.thresholds[: n // 2] * 6) / 6
    expected = adopted.copy()
    for step in range(6):
        rule.update(model, rng)
        expected = ref_threshold_step(net, expected, rule.thresholds)
        assert np.array_equal(model.citizens.adopted, expected), step
        if step == 2:
            model.citizens.adopted[: n // 3] = False
            expected = model.citizens.adopted.copy()


def test_bass_counts_follow_a_new_network():
    net1 = erdos_renyi(200, 4, np.random.default_rng(0))
    net2 = erdos_renyi(200, 8, np.random.default_rng(1))
    adopted = np.random.default_rng(2).random(200) < 0.3
    model = fake_model(net1, adopted, {"adoption.p": 0.0, "adoption.q": 1.0, "adoption.substeps": 1})
    rule = BassRule(model, None)
    rule.update(model, np.random.default_rng(4))
    model.network = net2
    before = model.citizens.adopted.copy()
    rule.update(model, np.random.default_rng(5))
    assert np.array_equal(model.citizens.adopted, ref_bass_substep(net2, before, np.random.default_rng(5), 0.0, 1.0))


# --------------------------------------------------------------------------- awareness, learning, training
SCENARIOS = [
    {},
    {"learning.lapse_prob": 1.0, "learning.lapse_threshold": 0.8, "learning.access_rate": 0.3},
    {"learning.by_use": 0.0, "learning.from_neighbours": 0.0, "learning.access_rate": 0.0},
    {"training.gain": 0.0, "learning.lapse_threshold": 0.7},  # no training: the fused kernel
    {"training.budget": 300.0, "training.target": "elderly_rural", "learning.access_rate": 0.2},
    {"training.budget": 3000.0, "training.target": "all", "training.makes_aware": False},
    {"adoption.rule": "bass", "learning.lapse_threshold": 0.9, "learning.lapse_prob": 0.5},
]


@pytest.mark.parametrize("overrides", SCENARIOS)
def test_learning_and_awareness_match_numpy_references(overrides, monkeypatch):
    """Inside each step, the compiled update and the numpy reference start from the same state and draws."""
    seen = {"lapsed": 0, "learning": 0, "awareness": 0}

    def checked(ours_fn, ref_fn, name):
        def run(model, *rng):
            snap = snapshot(model)
            ours_fn(model, *rng)
            ours = outcome_of(model)
            restore(model, snap)
            ref_fn(model, *rng)
            assert_same(ours, outcome_of(model))
            seen[name] += 1
            seen["lapsed"] += getattr(model, "step_lapsed", 0) if name == "learning" else 0
        return run

    monkeypatch.setattr("govsim.model.update_learning",
                        checked(learning.update_learning, ref_update_learning, "learning"))
    monkeypatch.setattr("govsim.model.spread_awareness",
                        checked(awareness.spread_awareness, ref_spread_awareness, "awareness"))
    sc = govsim.load_scenario("baseline", {"citizens.n": 1500, **overrides})
    govsim.GovModel(sc, rng=11).run(14)  # across the 12-step rebuild of the without-access list
    assert seen["learning"] == seen["awareness"] == 14
    assert seen["lapsed"] > 0


def test_training_matches_numpy_reference_and_returns_the_trained():
    sc = govsim.load_scenario("baseline", {"citizens.n": 2000, "training.budget": 500.0, "training.target": "elderly"})
    model = govsim.GovModel(sc, rng=3)
    model.step()
    snap = snapshot(model)
    chosen = training.apply_training(model, model.streams["dynamics"])
    ours = outcome_of(model)
    restore(model, snap)
    expected = ref_apply_training(model, model.streams["dynamics"])
    assert_same(ours, outcome_of(model))
    assert np.array_equal(chosen, expected) and chosen.size == model.step_trained > 0
    assert (model.citizens.age_group[chosen] == 2).all()
