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
"""

from __future__ import annotations

import numpy as np

from . import training
from .channels import QUEUED, SERVED_ASSISTED, SERVED_ONLINE, UNMET, neighbour_literacy
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
    """Indices (ascending) of the citizens without internet access, kept across steps.

    Access is only ever gained, so the list from the previous step is filtered;
    it is rebuilt from the population every 12 steps in case another process
    took access away.
    """
    pop = model.citizens
    idx = model.__dict__.get("_without_access")
    if idx is None or model.time_step % 12 == 0:
        idx = np.flatnonzero(~pop.access)
    else:
        idx = idx[~pop.access[idx]]
    model.__dict__["_without_access"] = idx
    return idx


def _scratch(model, n: int) -> np.ndarray:
    """A float32 work buffer of length ``n``, kept on the model across steps."""
    buf = model.__dict__.get("_learning_buf")
    if buf is None or buf.size != n:
        buf = np.empty(n, dtype=np.float32)
        model.__dict__["_learning_buf"] = buf
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
    lit = pop.literacy

    # 1. literacy by use
    for code, key in ((SERVED_ONLINE, "learning.by_use"), (SERVED_ASSISTED, "learning.by_assisted")):
        rate = p[key]
        if rate > 0:
            idx = active[outcome == code]
            lit[idx] += np.float32(rate) * (1.0 - lit[idx])
    # 2. training
    training.apply_training(model, rng)
    # 3. neighbours
    buf = _scratch(model, lit.size)  # reused float32 buffer: no large temporaries per step
    rate = p["learning.from_neighbours"]
    if rate > 0:
        gap = np.subtract(nbr, lit, out=buf)
        np.maximum(gap, 0.0, out=gap)
        gap *= rate
        np.add(lit, gap, out=lit, casting="unsafe")
    np.clip(lit, 0.0, 1.0, out=lit)

    # 4. expectation confirmation
    resolved = outcome != QUEUED
    idx = active[resolved]
    perf = np.exp(-rec["episode_hours"][resolved] / p["learning.hours_scale"])
    perf[outcome[resolved] == UNMET] = 0.0
    expect = pop.expectation[idx]
    target = np.clip(perf + p["learning.confirmation_weight"] * (perf - expect), 0.0, 1.0)
    sat = pop.satisfaction[idx]
    pop.satisfaction[idx] = np.clip(sat + p["learning.satisfaction_rate"] * (target - sat), 0.0, 1.0)
    pop.expectation[idx] = np.clip(expect + p["learning.expectation_rate"] * (perf - expect), 0.0, 1.0)

    # 5. trust
    step = np.subtract(pop.satisfaction, pop.trust, out=buf)
    step *= np.float32(p["learning.trust_rate"])
    pop.trust += step
    np.clip(pop.trust, 0.0, 1.0, out=pop.trust)

    # 6. getting online
    rate = p["learning.access_rate"]
    if rate > 0:
        offline = _without_access(model)
        cand = offline[lit[offline] >= p["learning.access_literacy"]]
        pop.access[cand[rng.random(cand.size) < rate]] = True

    # 7. lapse
    cand = active[resolved & rec["tried_online"]]
    cand = cand[pop.adopted[cand] & (pop.satisfaction[cand] < p["learning.lapse_threshold"])]
    lapsed = cand[rng.random(cand.size) < p["learning.lapse_prob"]] if cand.size else cand
    model.step_lapse_base = int(np.count_nonzero(pop.adopted))
    pop.adopted[lapsed] = False
    if lapsed.size:
        until = model.time_step + int(p["learning.lapse_steps"])
        pop.lapsed_until[lapsed] = until
        st = model.channel_state
        st.lapse_horizon = max(st.lapse_horizon, until)
    model.step_lapsed = int(lapsed.size)
