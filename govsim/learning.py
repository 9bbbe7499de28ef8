"""Learning and attitudes (MODEL.md step 7).

Runs after the service encounter, on what each citizen lived through this step
(``model.step_record`` of :mod:`govsim.channels`). In this order:

1. **Literacy by use.** A successful online encounter moves L towards 1 by
   ``learning.by_use × (1 − L)``; being taken through the online service by a
   helper (assisted) by ``learning.by_assisted × (1 − L)`` (learning by doing,
   with diminishing returns).
2. **Training** (:mod:`govsim.training`): a budgeted programme for a target
   group closes ``training.gain`` of the gap to full literacy.
3. **Literacy from neighbours.** L moves towards the mean literacy of the
   citizen's neighbours by ``learning.from_neighbours`` of the gap, when that
   mean is higher (relatives and friends teach -- on the homophilous network
   mostly within the family's region and place, younger relatives teaching
   elders; nobody unlearns from them). The neighbours' mean is the one of the
   start of the step's service (synchronous update; it is computed once per
   step and shared with the channel choice's facilitating conditions).
4. **Satisfaction by expectation confirmation** (Oliver 1980; Bhattacherjee
   2001), for each citizen whose needs were resolved this step (served or
   unmet; a citizen still queued has no outcome yet). Performance is
   ``P = exp(−h / learning.hours_scale)`` with h the hours per need of the
   episode (waiting included), and ``P = 0`` for unmet needs. With E the
   citizen's expectation::

       S* = clip(P + confirmation_weight × (P − E), 0, 1)
       S ← S + satisfaction_rate × (S* − S)
       E ← E + expectation_rate × (P − E)

   Satisfaction rises with performance and with performance above
   expectation (confirmation), falls with disconfirmation; expectations
   adapt to experience.
5. **Trust follows satisfaction:** ``T ← T + trust_rate × (S − T)`` for every
   citizen (trust moves slowly; Carter & Bélanger 2005). Shocks (breaches)
   act on trust through scheduled events.
6. **Getting online.** Internet access is not fixed: a citizen without it
   whose literacy has reached ``learning.access_literacy`` starts using the
   internet (gets and sets up a device, often through family) with
   probability ``learning.access_rate`` per step. This is what the CNNIC
   surveys of non-users say: lack of skills (48.4 % in 2021), not of devices
   (17.5 %), keeps most of them offline, so skills gained through use,
   neighbours or training bring them online.
7. **Lapse.** An adopter who tried the online channel this step and whose
   satisfaction is below ``learning.lapse_threshold`` lapses to the offline
   channels with probability ``learning.lapse_prob``: they stop being an
   adopter and do not consider the online channel for ``learning.lapse_steps``
   steps (discontinuance, Bhattacherjee 2001).

Every update is a convex combination of values in [0, 1] (or clipped to it),
so literacy, satisfaction, expectation and trust stay in [0, 1].

Random draws (stream ``dynamics``, after the service encounter): training
(one uniform per eligible citizen, then one per trained citizen without
access), then getting online (one uniform per candidate), then lapse (one
uniform per lapse candidate).

How it is computed: in compiled passes (:func:`govsim.compiled.jit`), one
over the citizens with a record this step (learning by use, expectation
confirmation, and the lapse candidates), then training, then one over all
citizens (learning from neighbours, clipping, trust) and over those without
internet access (the candidates to get online), and, after the draws, one
that applies getting online and lapses. The uniforms of getting online and
of lapse come from one call (the same numbers as two calls, in that order);
performance ``exp(−h / hours_scale)`` is numpy's (float32). The arithmetic
is that of the float32 numpy formulation, to the bit.
"""

from __future__ import annotations

import numpy as np

from . import training
from .channels import QUEUED, SERVED_ASSISTED, SERVED_ONLINE, UNMET, neighbour_literacy
from .compiled import jit
from .config import Param, declare

declare(
    Param("learning.by_use", float, 0.05, "share of the gap to full literacy closed by one successful online use",
          unit="share/use", low=0.0, high=1.0, source="assumption: learning by doing, months to proficiency"),
    Param("learning.by_assisted", float, 0.02,
          "share of the gap to full literacy closed by being taken through the online service (assisted)",
          unit="share/use", low=0.0, high=1.0, source="assumption: watching a helper teaches less than doing"),
    Param("learning.from_neighbours", float, 0.01,
          "share of the gap to the neighbours' mean literacy closed per step (when they know more)",
          unit="share/step", low=0.0, high=1.0, source="assumption: family help ('digital feedback', seed 000)"),
    Param("learning.satisfaction_rate", float, 0.3, "speed at which satisfaction follows service outcomes",
          unit="share/step", low=0.0, high=1.0, source="assumption: expectation confirmation (Bhattacherjee 2001)"),
    Param("learning.expectation_rate", float, 0.2, "speed at which expectations adapt to experienced performance",
          unit="share/step", low=0.0, high=1.0, source="assumption: adaptive expectations"),
    Param("learning.confirmation_weight", float, 0.5,
          "weight of confirmation (performance − expectation) in target satisfaction", unit="-",
          low=0.0, high=5.0, source="Oliver (1980), Bhattacherjee (2001): satisfaction rises with confirmation"),
    Param("learning.hours_scale", float, 3.0,
          "hours per need at which perceived performance falls to 1/e (performance = exp(−hours / scale))",
          unit="hours/need", low=0.01, high=100.0,
          source="assumption: an online need (0.5 h) performs 0.85, an urban window visit (2.5 h) 0.43"),
    Param("learning.trust_rate", float, 0.05, "speed at which trust follows satisfaction", unit="share/step",
          low=0.0, high=1.0, source="assumption: trust moves slowly (Carter & Bélanger 2005)"),
    Param("learning.access_rate", float, 0.005,
          "probability per step that a citizen without internet access but with literacy >= access_literacy gets online",
          unit="probability/step", low=0.0, high=1.0,
          source="calibrated: the baseline's penetration rises from the Dec 2021 population's 73.0 % to 79 % at "
                 "step 72, CNNIC Dec 2024 being 78.6 % (govsim/data/cnnic_penetration.csv); the baseline clock starts "
                 "in Dec 2018 on a population drawn to Dec 2021 figures, so this is half the observed 2021-2024 pace"),
    Param("learning.access_literacy", float, 0.25,
          "literacy from which a citizen without internet access may get online", unit="[0, 1]", low=0.0, high=1.0,
          source="the 'lack of skills' cut used to calibrate citizens.offline_literacy_factor (CNNIC 2021 non-user reasons)"),
    Param("learning.lapse_threshold", float, 0.3,
          "satisfaction below which an online user who tried online this step may lapse", unit="[0, 1]",
          low=0.0, high=1.0, source="assumption: discontinuance after dissatisfaction (Bhattacherjee 2001)"),
    Param("learning.lapse_prob", float, 0.2, "probability that a dissatisfied online user lapses this step",
          unit="probability", low=0.0, high=1.0, source="assumption"),
    Param("learning.lapse_steps", int, 6, "steps a lapsed user does not consider the online channel",
          unit="steps", low=0, high=1000, source="assumption: half a year before trying again"),
)


def _without_access(model) -> np.ndarray:
    """Indices (ascending) of the citizens who lacked internet access at the last look, kept across steps.

    Access is only ever gained, so the list of the previous step is filtered
    (by the learning kernel, which drops those who got access since); it is
    rebuilt from the population every 12 steps in case another process took
    access away.
    """
    pop = model.citizens
    idx = model.__dict__.get("_without_access")
    if idx is None or model.time_step % 12 == 0:
        idx = np.flatnonzero(~pop.access)
    return idx


def _work(model, n: int) -> tuple:
    """Work buffers kept on the model across steps: performance (float32), candidates (intp)."""
    buf = model.__dict__.get("_learning_work")
    if buf is None or buf[0].size != n:
        buf = (np.empty(n, dtype=np.float32), np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp))
        model.__dict__["_learning_work"] = buf
    return buf


def update_learning(model) -> None:
    """Apply this step's learning and attitude updates in place (see the module docstring)."""
    p = model.params
    pop = model.citizens
    rng = model.streams["dynamics"]
    nbr = neighbour_literacy(model)  # start-of-step state (cached if the choice model computed it)
    active = model.step_active
    rec = model.step_record
    outcome = rec["outcome"]
    n = pop.n
    perf_buf, access_cand, lapse_cand = _work(model, n)
    perf = perf_buf[:active.size]
    np.divide(rec["episode_hours"], np.float32(-p["learning.hours_scale"]), out=perf)  # −h / scale (float32)
    np.exp(perf, out=perf)
    access_rate = p["learning.access_rate"]
    offline = _without_access(model) if access_rate > 0 else _NO_INDEX
    lapse_until = model.time_step + int(p["learning.lapse_steps"])
    args_active = (active, outcome, perf, rec["tried_online"], pop.literacy, pop.satisfaction, pop.expectation,
                   pop.adopted, p["learning.by_use"], p["learning.by_assisted"], p["learning.confirmation_weight"],
                   p["learning.satisfaction_rate"], p["learning.expectation_rate"], p["learning.lapse_threshold"],
                   lapse_cand, SERVED_ONLINE, SERVED_ASSISTED, UNMET, QUEUED)
    args_all = (nbr, pop.literacy, pop.satisfaction, pop.trust, pop.adopted, p["learning.from_neighbours"],
                p["learning.trust_rate"], offline, pop.access, p["learning.access_literacy"], access_cand)
    if training.runs(model):
        n_lapse = _learn_active(*args_active)
        training._train_step(model, rng)  # training.apply_training, its check done
        n_offline, n_access, n_adopted = _learn_all(*args_all)
    else:
        n_lapse, n_offline, n_access, n_adopted = _learn(args_active, args_all)
        model.step_trained = 0
    if access_rate > 0:
        model.__dict__["_without_access"] = offline[:n_offline]
    else:
        n_access = 0  # no candidates, no draws
    u = rng.random(n_access + n_lapse)  # getting online, then lapse (the same draws as two calls)
    model.step_lapse_base = n_adopted
    lapsed = _apply_draws(u, access_cand, n_access, access_rate, pop.access, lapse_cand, n_lapse,
                          p["learning.lapse_prob"], pop.adopted, pop.lapsed_until, lapse_until)
    if lapsed:
        st = model.channel_state
        st.lapse_horizon = max(st.lapse_horizon, lapse_until)
    model.step_lapsed = lapsed


_NO_INDEX = np.zeros(0, dtype=np.intp)


@jit
def _learn(args_active, args_all):  # pragma: no cover - compiled
    """Both passes of a step without training (see :func:`update_learning`)."""
    n_lapse = _learn_active(*args_active)
    n_offline, n_access, n_adopted = _learn_all(*args_all)
    return n_lapse, n_offline, n_access, n_adopted


@jit(inline="always")
def _clip01(x):  # pragma: no cover - compiled
    """``np.clip(x, 0, 1)`` of a float32, to the bit (nan and −0.0 stay as they are)."""
    lo = np.float32(0.0)
    hi = np.float32(1.0)
    return lo if x < lo else (hi if x > hi else x)


@jit
def _learn_active(active, outcome, perf, tried, lit, sat, expect, adopted, by_use, by_assisted, weight,
                  sat_rate, exp_rate, lapse_threshold, lapse_cand,
                  served_online, served_assisted, unmet, queued):  # pragma: no cover - compiled
    """Steps 1 (literacy by use) and 4 (expectation confirmation), and the lapse candidates (step 7).

    ``perf`` is exp(−h / scale) per record entry. Returns the number of lapse
    candidates, written to ``lapse_cand`` in record order.
    """
    one = np.float32(1.0)
    zero = np.float32(0.0)
    use = np.float32(by_use) if by_use > 0 else zero  # a rate of 0 leaves L as it is (L + 0 × (1 − L) = L)
    assisted = np.float32(by_assisted) if by_assisted > 0 else zero
    w = np.float32(weight)
    sr = np.float32(sat_rate)
    er = np.float32(exp_rate)
    thr = np.float32(lapse_threshold)
    k = 0
    for t in range(active.size):  # branch-free: every record entry is read and written
        i = active[t]
        o = outcome[t]
        rate = use if o == served_online else (assisted if o == served_assisted else zero)
        x = lit[i]
        lit[i] = x + rate * (one - x)
        pf = zero if o == unmet else perf[t]
        e = expect[i]
        s = sat[i]
        target = _clip01(pf + w * (pf - e))
        s_new = _clip01(s + sr * (target - s))
        e_new = _clip01(e + er * (pf - e))
        resolved = o != queued
        s = s_new if resolved else s
        sat[i] = s
        expect[i] = e_new if resolved else e
        lapse_cand[k] = i
        k += resolved & tried[t] & adopted[i] & (s < thr)
    return k


@jit
def _learn_all(nbr, lit, sat, trust, adopted, from_neighbours, trust_rate, offline, access, access_literacy,
               access_cand):  # pragma: no cover - compiled
    """Steps 3 (literacy from neighbours, clipping) and 5 (trust), and the candidates to get online (step 6).

    Filters ``offline`` in place to those still without access and writes the
    candidates (literacy >= access_literacy) to ``access_cand``. Returns
    (citizens still without access, candidates, adopters).
    """
    rate = np.float32(from_neighbours)
    tr = np.float32(trust_rate)
    zero = np.float32(0.0)
    if from_neighbours > 0:
        for i in range(lit.size):  # branch-free loops over everyone: vectorised
            x = lit[i]
            gap = np.float32(nbr[i] - x)  # np.subtract(nbr, lit) into a float32 buffer
            gap = zero if gap < zero else gap  # np.maximum(gap, 0) (nan stays nan)
            lit[i] = _clip01(x + gap * rate)
    else:
        for i in range(lit.size):
            lit[i] = _clip01(lit[i])
    for i in range(lit.size):
        trust[i] = _clip01(trust[i] + (sat[i] - trust[i]) * tr)
    a8 = adopted.view(np.uint8)
    n_adopted = 0
    for i in range(a8.size):
        n_adopted += a8[i]
    thr = np.float32(access_literacy)
    m = 0
    k = 0
    for t in range(offline.size):
        i = offline[t]
        if access[i]:
            continue
        offline[m] = i
        m += 1
        if lit[i] >= thr:
            access_cand[k] = i
            k += 1
    return m, k, n_adopted


@jit
def _apply_draws(u, access_cand, n_access, access_rate, access, lapse_cand, n_lapse, lapse_prob, adopted,
                 lapsed_until, until):  # pragma: no cover - compiled
    """Steps 6 and 7 with the draws ``u`` (first the candidates to get online, then the lapse candidates)."""
    for t in range(n_access):
        if u[t] < access_rate:
            access[access_cand[t]] = True
    lapsed = 0
    for t in range(n_lapse):
        if u[n_access + t] < lapse_prob:
            i = lapse_cand[t]
            adopted[i] = False
            lapsed_until[i] = until
            lapsed += 1
    return lapsed
