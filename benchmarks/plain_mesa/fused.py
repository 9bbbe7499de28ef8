"""The plain-Mesa peers' step compiled into one loop: a yardstick of what compiling this model gives here.

Not govsim, and not what a Mesa user writes: the per-agent ``step`` of
:mod:`plain_mesa.bass` and :mod:`plain_mesa.utility`, translated line by line
into a single numba loop over the citizens. Each step is one compiled call that
reads the neighbours from CSR arrays, draws its uniforms inside the loop from a
numpy ``Generator`` (numba draws the same numbers numpy would, in loop order)
and counts the rates as it goes. There is nothing between the passes because
there is only one pass: no Python, no numpy call, no temporary array, no bulk
draw.

It leaves out what govsim has and this loop has not: queues, capacity and
rationing, the assisted channel, training, regions, platforms and governments
that change, the per-group and per-region tallies and the step records read by
the outputs. It is straightforward, not tuned (it walks three arrays per
neighbour, calls ``exp`` one value at a time and visits every citizen every
step), so it is a yardstick, not a bound: ``benchmarks/bench_vs_mesa.py``
reports plain Mesa / compiled loop beside plain Mesa / govsim (table 1b of
``docs/performance.md``), and govsim's ``bass`` step, which visits only the
citizens who can change, is faster than this loop's.

It samples the same stochastic process as the peers (synchronous updating from
the state at the start of the step), which ``tests/test_plain_mesa.py`` checks
in distribution, as for govsim.
"""

from __future__ import annotations

import numpy as np

from govsim import Scenario
from govsim.compiled import jit

try:  # run as benchmarks/plain_mesa/fused.py or imported as plain_mesa.fused
    from .utility import ELDERLY, constants
except ImportError:  # pragma: no cover
    from utility import ELDERLY, constants

#: the order of the utility rule's constants in the kernel's ``par`` array
UTILITY_PARAMS = ("awareness_p", "awareness_q", "coverage", "asc_online", "b_pe", "b_ee", "b_si", "b_fc", "b_tr",
                  "b_pr", "insecurity", "reliability", "skill_threshold", "skill_spread", "online_hours",
                  "fallback_hours", "by_use", "from_neighbours", "hours_scale", "confirmation_weight",
                  "satisfaction_rate", "expectation_rate", "trust_rate", "access_literacy", "access_rate",
                  "lapse_threshold", "lapse_prob", "lapse_steps")


class FusedModel:
    """The foundation model, one compiled loop per step; rule ``bass`` or ``utility`` from the scenario.

    Parameters
    ----------
    scenario : govsim.Scenario
        Normally ``load_foundation(rule, ...)``; every parameter is read from it.
    initial : govsim.GovModel
        A govsim model of the same scenario, built and not stepped: the
        citizens' initial state and the social network (its CSR arrays) are
        taken from it.
    rng : int, optional
        Seed of the ``numpy.random.Generator`` the loop draws from.

    Examples
    --------
    >>> from plain_mesa.common import initial_govsim, load_foundation
    >>> sc = load_foundation("utility", {"citizens.n": 300})
    >>> fused = FusedModel(sc, initial_govsim(sc, 1), rng=1)
    >>> for _ in range(3):
    ...     fused.step()
    >>> len(fused.adoption_curve()), len(fused.aware_curve())
    (4, 4)
    """

    def __init__(self, scenario: Scenario, initial, rng: int | None = None):
        self.rule = scenario["adoption.rule"]
        if self.rule not in ("bass", "utility"):
            raise ValueError(f"the fused model runs the 'bass' and 'utility' rules, got {self.rule!r}")
        pop = initial.citizens
        self.n = pop.n
        self.rng = np.random.default_rng(rng)
        self.time_step = 0
        net = initial.network
        self.indptr, self.indices = net.indptr, net.indices  # govsim's CSR arrays as they are (int64, int32)
        # the flags and literacy that neighbours read are double-buffered (synchronous updating)
        self.adopted = [pop.adopted.copy(), np.empty(self.n, dtype=bool)]
        self.aware = [pop.aware.copy(), np.empty(self.n, dtype=bool)]
        if self.rule == "bass":
            if scenario["adoption.substeps"] != 1:
                raise ValueError("the fused Bass model runs one sub-step per step (adoption.substeps = 1)")
            self.p, self.q = float(scenario["adoption.p"]), float(scenario["adoption.q"])
        else:
            const = constants(scenario)
            self.par = np.array([const[name] for name in UTILITY_PARAMS], dtype=np.float64)
            elderly = pop.age_group == ELDERLY
            urban = pop.urban.astype(bool)
            self.usability = np.minimum(const["usability"] + np.where(elderly, const["elderly_boost"], 0.0), 1.0)
            self.offline_hours = np.where(urban, const["offline_hours_urban"], const["offline_hours_rural"])
            self.performance = np.where(urban, const["performance_urban"], const["performance_rural"])
            self.offline_weight = np.exp(-const["b_time"] * self.offline_hours)  # exp(U_off): constant per citizen
            self.no_need = np.exp(-pop.need_rate.astype(np.float64))  # P(no need), Poisson
            self.need_rate = pop.need_rate.astype(np.float64)
            self.literacy = [pop.literacy.astype(np.float64), np.empty(self.n)]
            self.access = pop.access.copy()
            self.privacy = pop.privacy.astype(np.float64)
            self.trust = pop.trust.astype(np.float64)
            self.satisfaction = pop.satisfaction.astype(np.float64)
            self.expectation = pop.expectation.astype(np.float64)
            self.lapsed_until = np.zeros(self.n, dtype=np.int64)
        self._curve = [float(self.adopted[0].mean())]
        self._aware_curve = [float(self.aware[0].mean())]

    def step(self) -> None:
        """One step: one compiled call, then the buffers swap and the rates are recorded."""
        self.time_step += 1
        adopted, aware = self.adopted, self.aware
        if self.rule == "bass":
            n_adopted = _bass_step(self.indptr, self.indices, adopted[0], adopted[1], self.p, self.q, self.rng)
            n_aware = None  # Bass has no awareness: the share stays as it started
        else:
            literacy = self.literacy
            n_adopted, n_aware = _utility_step(
                self.indptr, self.indices, self.time_step, self.par, self.need_rate, self.no_need, self.usability,
                self.offline_hours, self.offline_weight, self.performance, self.privacy, aware[0], aware[1],
                adopted[0], adopted[1], literacy[0], literacy[1], self.access, self.trust, self.satisfaction,
                self.expectation, self.lapsed_until, self.rng)
            literacy.reverse()
            aware.reverse()
        adopted.reverse()
        self._curve.append(n_adopted / self.n)
        self._aware_curve.append(self._aware_curve[-1] if n_aware is None else n_aware / self.n)

    def adoption_curve(self) -> list[float]:
        """Adoption rate at steps 0, 1, ... so far."""
        return list(self._curve)

    def aware_curve(self) -> list[float]:
        """Share of aware citizens at steps 0, 1, ... so far (constant under ``bass``, which has no awareness)."""
        return list(self._aware_curve)


@jit
def _bass_step(indptr, indices, adopted, adopted_next, p, q, rng):  # pragma: no cover - compiled
    """:meth:`plain_mesa.bass.BassCitizen.step` for every citizen; returns the number of adopters after it."""
    total = 0
    for i in range(adopted.size):
        new = adopted[i]
        if not new:
            lo, hi = indptr[i], indptr[i + 1]
            count = 0
            for k in range(lo, hi):
                count += adopted[indices[k]]
            share = count / (hi - lo) if hi > lo else 0.0
            new = rng.random() < p + q * share
        adopted_next[i] = new
        total += new
    return total


@jit
def _utility_step(indptr, indices, t, par, need_rate, no_need, usability, offline_hours, offline_weight,
                  performance, privacy, aware, aware_next, adopted, adopted_next, literacy, literacy_next, access,
                  trust, satisfaction, expectation, lapsed_until, rng):  # pragma: no cover - compiled
    """:meth:`plain_mesa.utility.UtilityCitizen.step` and ``advance`` for every citizen, in one pass.

    Reads ``aware``, ``adopted`` and ``literacy`` (the start of the step) and
    writes their ``*_next``; the citizen's own other state is updated in place
    (nobody else reads it). Returns the numbers of adopters and of aware
    citizens after the step.
    """
    (awareness_p, awareness_q, coverage, asc_online, b_pe, b_ee, b_si, b_fc, b_tr, b_pr, insecurity, reliability,
     skill_threshold, skill_spread, online_hours, fallback_hours, by_use, from_neighbours, hours_scale,
     confirmation_weight, satisfaction_rate, expectation_rate, trust_rate, access_literacy, access_rate,
     lapse_threshold, lapse_prob, lapse_steps) = (par[0], par[1], par[2], par[3], par[4], par[5], par[6], par[7],
                                                  par[8], par[9], par[10], par[11], par[12], par[13], par[14],
                                                  par[15], par[16], par[17], par[18], par[19], par[20], par[21],
                                                  par[22], par[23], par[24], par[25], par[26], par[27])
    n_adopted = 0
    n_aware = 0
    for i in range(aware.size):
        lo, hi = indptr[i], indptr[i + 1]
        degree = hi - lo
        n_aware_nbr = 0
        n_adopted_nbr = 0
        literacy_sum = 0.0
        for k in range(lo, hi):  # one walk over the neighbours gives all three sums
            j = indices[k]
            n_aware_nbr += aware[j]
            n_adopted_nbr += adopted[j]
            literacy_sum += literacy[j]
        # 1. awareness
        aw = aware[i]
        if not aw:
            share = n_aware_nbr / degree if degree else 0.0
            aw = rng.random() < min(awareness_p + awareness_q * share, 1.0)
        nbr_literacy = literacy_sum / degree if degree else 0.0
        lit = literacy[i]
        adopt = adopted[i]
        acc = access[i]
        sat = satisfaction[i]
        exp_ = expectation[i]
        # 2. needs: Poisson by inverse transform
        u = rng.random()
        prob = no_need[i]
        cdf = prob
        needs = 0
        while u >= cdf and needs < 10_000:
            needs += 1
            prob *= need_rate[i] / needs
            cdf += prob
        tried_online = False
        success = False
        hours = 0.0
        if needs:
            # 3. channel choice
            covered = rng.random() < coverage
            reach = aw and acc
            if covered and reach and lapsed_until[i] <= t:
                social = n_adopted_nbr / degree if degree else 0.0
                u_online = (asc_online + b_pe * performance[i] + b_ee * lit * usability[i] + b_si * social
                            + b_fc * nbr_literacy + b_tr * trust[i] - b_pr * privacy[i] * insecurity)
                w_online = np.exp(u_online)
                tried_online = rng.random() * (w_online + offline_weight[i]) < w_online
                adopt = tried_online
            elif not reach:
                adopt = False
            # 4. encounter and fallback
            if tried_online:
                z = (lit * usability[i] - skill_threshold) / skill_spread
                success = rng.random() < reliability / (1.0 + np.exp(-z))
                hours = online_hours if success else fallback_hours + offline_hours[i]
            else:
                hours = offline_hours[i]
        # 5. learning: literacy by use, then from neighbours
        if success:
            lit += by_use * (1.0 - lit)
        if nbr_literacy > lit:
            lit += from_neighbours * (nbr_literacy - lit)
        lit = min(max(lit, 0.0), 1.0)
        if needs:  # expectation confirmation
            perf = np.exp(-hours / hours_scale)
            target = min(max(perf + confirmation_weight * (perf - exp_), 0.0), 1.0)
            sat = min(max(sat + satisfaction_rate * (target - sat), 0.0), 1.0)
            exp_ = min(max(exp_ + expectation_rate * (perf - exp_), 0.0), 1.0)
        trust[i] = min(max(trust[i] + trust_rate * (sat - trust[i]), 0.0), 1.0)
        if not acc and lit >= access_literacy:  # getting online
            acc = rng.random() < access_rate
        if tried_online and adopt and sat < lapse_threshold and rng.random() < lapse_prob:  # lapse
            adopt = False
            lapsed_until[i] = t + np.int64(lapse_steps)
        aware_next[i] = aw
        adopted_next[i] = adopt
        literacy_next[i] = lit
        access[i] = acc
        satisfaction[i] = sat
        expectation[i] = exp_
        n_adopted += adopt
        n_aware += aw
    return n_adopted, n_aware


@jit
def draw_in_loop(rng, out):  # pragma: no cover - compiled
    """``out[i] = rng.random()`` one at a time, as the loop draws (for the benchmark's cost per draw)."""
    for i in range(out.size):
        out[i] = rng.random()


@jit
def exp_in_loop(x, out):  # pragma: no cover - compiled
    """``out[i] = exp(x[i])`` one at a time, as the loop computes it (for the benchmark's cost per ``exp``)."""
    for i in range(x.size):
        out[i] = np.exp(x[i])
