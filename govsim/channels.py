"""Service needs, channel choice and the service encounter (MODEL.md steps 5-6).

Each step every citizen draws a number of service needs, Poisson with mean
``need_rate`` (by age group). A citizen with needs uses one channel for all of
them this step:

* under the ``utility`` rule, the channel is drawn from a multinomial logit over
  the utilities below (aware citizens with internet access may choose online;
  the online option exists for a need with probability equal to the region's
  platform coverage);
* under the other rules, adopters go online (with access and coverage) and
  everybody else goes offline.

Utilities (UTAUT: Venkatesh et al. 2003; trust: Carter & Bélanger 2005)::

    U_online  = asc + b_pe·PE + b_ee·EE + b_si·SI + b_fc·FC + b_tr·T − b_pr·privacy_risk
    U_offline = −b_time · offline_hours (rural citizens add travel time)

with PE = coverage × (1 + integration)/2 × (offline_hours − online_hours)/offline_hours
(performance expectancy: the share of time saved, more with shared data),
EE = L × U (effort expectancy), SI = share of neighbours using online,
FC = mean literacy of neighbours (help available), T = trust,
privacy_risk = privacy concern × (1 − platform security).

Encounter: an online attempt succeeds with probability
``reliability × logistic((L × U − skill_threshold) / skill_spread)``; a failed
attempt costs ``fallback_hours`` and falls back to the offline window; if the
offline window is closed (``channels.offline_open = false``) the need is unmet.
"""

from __future__ import annotations

import numpy as np

from .config import Param, declare

# per-citizen outcome codes of the current step (Population.step_outcome)
NO_NEED, SERVED_OFFLINE, SERVED_ONLINE, SERVED_ASSISTED, UNMET = -1, 0, 1, 2, 3

declare(
    Param("channels.offline_open", bool, True, "offline government windows are open (false = digital-only policy)",
          source="MODEL.md scenario digital_divide"),
    Param("channels.online_hours", float, 0.5, "hours a successful online need takes", unit="hours",
          low=0.0, high=100.0, source="assumption: 'let data run more, people run less' (seeds 000, 002)"),
    Param("channels.offline_hours", float, 2.0, "hours an urban offline visit takes (travel, queue, service)",
          unit="hours", low=0.0, high=100.0, source="assumption: half a morning at a service hall"),
    Param("channels.rural_travel_hours", float, 1.5, "extra travel hours of an offline visit for rural citizens",
          unit="hours", low=0.0, high=100.0, source="assumption: township service centres are farther away"),
    Param("channels.fallback_hours", float, 0.5, "hours lost on a failed online attempt before falling back",
          unit="hours", low=0.0, high=100.0, source="assumption"),
    Param("channels.skill_threshold", float, 0.15,
          "literacy × usability at which an online attempt succeeds half the time (if reliable)",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption"),
    Param("channels.skill_spread", float, 0.05, "spread of the logistic success curve in literacy × usability",
          unit="[0, 1]", low=0.001, high=1.0, source="assumption"),
    Param("utility.asc_online", float, -3.0, "alternative-specific constant of the online channel", unit="utils",
          low=-20.0, high=20.0, source="calibrated with awareness.p and awareness.q (govsim.calibration)"),
    Param("utility.b_pe", float, 2.0, "weight of performance expectancy (time saved)", unit="utils",
          low=0.0, high=20.0, source="Venkatesh et al. (2003): PE the strongest predictor"),
    Param("utility.b_ee", float, 4.0, "weight of effort expectancy (literacy × usability)", unit="utils",
          low=0.0, high=20.0, source="Venkatesh et al. (2003)"),
    Param("utility.b_si", float, 1.5, "weight of social influence (share of neighbours online)", unit="utils",
          low=0.0, high=20.0, source="Venkatesh et al. (2003)"),
    Param("utility.b_fc", float, 1.0, "weight of facilitating conditions (neighbours' literacy: help at hand)",
          unit="utils", low=0.0, high=20.0, source="Venkatesh et al. (2003)"),
    Param("utility.b_tr", float, 1.0, "weight of trust in government", unit="utils", low=0.0, high=20.0,
          source="Carter & Bélanger (2005)"),
    Param("utility.b_pr", float, 2.0, "weight of privacy risk", unit="utils", low=0.0, high=50.0,
          source="assumption"),
    Param("utility.b_time", float, 0.5, "disutility per hour of an offline visit", unit="utils/hour",
          low=0.0, high=20.0, source="assumption"),
)


def setup(model) -> None:
    """Create any per-citizen channel state the model keeps across steps (none yet)."""


def draw_needs(model, rng: np.random.Generator) -> np.ndarray:
    """Poisson needs per citizen this step (``int32``)."""
    return rng.poisson(model.citizens.need_rate).astype(np.int32)


def offline_hours(model) -> np.ndarray:
    """Hours of an offline visit for each citizen (rural citizens travel more)."""
    p = model.params
    pop = model.citizens
    return np.where(pop.urban, p["channels.offline_hours"], p["channels.offline_hours"] + p["channels.rural_travel_hours"])


def online_utility(model, quality: dict[str, np.ndarray], off_hours: np.ndarray) -> np.ndarray:
    """U_online of every citizen (see the module docstring)."""
    p = model.params
    pop = model.citizens
    r = pop.region
    net = model.network
    saved = np.clip((off_hours - p["channels.online_hours"]) / np.maximum(off_hours, 1e-9), 0.0, 1.0)
    pe = quality["coverage"][r] * (1.0 + quality["integration"][r]) * 0.5 * saved
    ee = pop.literacy * quality["usability"][r]
    si = net.neighbour_share(pop.adopted)
    fc = net.neighbour_share(pop.literacy)
    risk = pop.privacy * (1.0 - quality["security"][r])
    return (p["utility.asc_online"] + p["utility.b_pe"] * pe + p["utility.b_ee"] * ee + p["utility.b_si"] * si
            + p["utility.b_fc"] * fc + p["utility.b_tr"] * pop.trust - p["utility.b_pr"] * risk)


def online_success_probability(model, quality: dict[str, np.ndarray]) -> np.ndarray:
    """Probability that an online attempt succeeds, per citizen."""
    p = model.params
    pop = model.citizens
    r = pop.region
    skill = pop.literacy * quality["usability"][r]
    z = (skill - p["channels.skill_threshold"]) / p["channels.skill_spread"]
    return quality["reliability"][r] / (1.0 + np.exp(-z))


def serve_needs(model, needs: np.ndarray, quality: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    """Choose channels and serve this step's needs.

    Updates the population's ``adopted`` (utility rule), ``habit``,
    ``time_cost``, ``needs_total`` and ``unmet`` and sets
    ``model.step_outcome`` (an outcome code per citizen) and ``model.step_hours``.

    Returns
    -------
    dict
        Counts of this step: ``needs``, ``needs_online``, ``needs_offline``,
        ``needs_unmet``, ``online_attempts``, ``online_failures``, ``hours``.
    """
    p = model.params
    pop = model.citizens
    n = pop.n
    # the random numbers of this process, drawn in bulk in a fixed order
    u_cover, u_choice, u_success = rng.random((3, n))
    has_need = needs > 0
    off_hours = offline_hours(model)
    online_possible = has_need & pop.aware & pop.access & (u_cover < quality["coverage"][pop.region])

    if model.rule.uses_choice_model:
        u_on = online_utility(model, quality, off_hours)
        u_off = -p["utility.b_time"] * off_hours
        if p["channels.offline_open"]:
            p_online = 1.0 / (1.0 + np.exp(u_off - u_on))
        else:
            p_online = np.ones(n)
        try_online = online_possible & (u_choice < p_online)
        # Adoption is the channel chosen at the latest need where online was an
        # option; a need whose service is not online leaves it unchanged, and
        # a citizen without access or awareness cannot be an online user.
        pop.adopted[online_possible] = try_online[online_possible]
        pop.adopted[has_need & ~(pop.aware & pop.access)] = False
    else:
        try_online = online_possible & pop.adopted

    success = try_online & (u_success < online_success_probability(model, quality))
    failed = try_online & ~success
    go_offline = has_need & ~success
    if p["channels.offline_open"]:
        served_off = go_offline
        unmet = np.zeros(n, dtype=bool)
    else:
        served_off = np.zeros(n, dtype=bool)
        unmet = go_offline

    hours = np.where(success, p["channels.online_hours"], 0.0)
    hours = hours + np.where(failed, p["channels.fallback_hours"], 0.0)
    hours = hours + np.where(served_off, off_hours, 0.0)
    hours = hours * needs

    outcome = np.full(n, NO_NEED, dtype=np.int8)
    outcome[served_off] = SERVED_OFFLINE
    outcome[success] = SERVED_ONLINE
    outcome[unmet] = UNMET
    pop.habit[success] = SERVED_ONLINE
    pop.habit[served_off] = SERVED_OFFLINE
    pop.time_cost += hours.astype(np.float32)
    pop.needs_total += needs
    pop.unmet += np.where(unmet, needs, 0).astype(np.int32)
    model.step_outcome = outcome
    model.step_hours = hours
    model.step_needs = needs
    model.step_success = success

    _record_platform_uses(model, success, needs)
    return {
        "needs": int(needs.sum()),
        "needs_online": int(needs[success].sum()),
        "needs_offline": int(needs[served_off].sum()),
        "needs_unmet": int(needs[unmet].sum()),
        "online_attempts": int(needs[try_online].sum()),
        "online_failures": int(needs[failed].sum()),
        "hours": float(hours.sum()),
    }


def _record_platform_uses(model, success: np.ndarray, needs: np.ndarray) -> None:
    """Record each region's online uses on its platforms (split by coverage)."""
    per_region = np.bincount(model.citizens.region[success], weights=needs[success], minlength=model.n_regions)
    by_region: dict[int, list] = {}
    for plat in model.platforms:
        by_region.setdefault(plat.region, []).append(plat)
    for r, plats in by_region.items():
        total = sum(pl.coverage for pl in plats) or 1.0
        for pl in plats:
            pl.uses = float(per_region[r] * pl.coverage / total)
