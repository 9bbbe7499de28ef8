"""Shocks: platform outages, privacy breaches and demand surges (MODEL.md step 1; seed 004: resilience).

Shocks are scheduled events (fields checked when the scenario is loaded), and
breaches can also happen at random:

* ``outage`` (``region`` = -1 for all, ``kind`` = all | portal | app,
  ``duration`` steps): the matching live platforms are offline from the event's
  step for ``duration`` steps: every need routed to them fails online
  (reliability 0 in :func:`govsim.platforms.regional_quality`) and falls back to
  the other channels; they record no use (and may be flagged as zombies).
* ``breach`` (``region``, ``size``, ``reach``, ``spread``; each omitted value
  is the scenario's ``shocks.breach_*`` parameter): a privacy breach is a trust
  shock that spreads along the social network. In the region(s) hit, each
  online user (``adopted``) is directly affected with probability ``reach``
  (one uniform per user from the shocks stream) and loses a share ``size`` of
  their trust. Word of mouth then carries it one step along the network: every
  other citizen loses a share ``spread × size × s_i`` of their trust, s_i being
  the share of i's neighbours directly affected
  (``model.network.neighbour_share``). Trust stays in [0, 1] (multiplicative
  losses).
* ``demand_surge`` (``factor`` > 0, ``duration``, ``region``): the citizens'
  need rates in the region(s) are multiplied by ``factor`` for ``duration``
  steps (a pandemic, a deadline); overlapping surges multiply.

Each also takes ``arms`` (see :mod:`govsim.policies`).

Random breaches (``shocks.random_breaches = true``): at the start of every step
each live platform is breached with probability 1 − security (one uniform per
platform, in platform order, from the shocks stream); a breach of a platform
hits its region with the default size, reach and spread.

:func:`update` runs at the start of each step, from the central government's
step (after the step's scheduled events): surges that have run their course
end, then random breaches are drawn. Outages end in the platforms' own step.
"""

from __future__ import annotations

import numpy as np

from .config import Param, declare
from .events import REQUIRED, register_event
from .metrics import declare_output, register_reporter
from .policies import ARMS, POSITIVE, POSITIVE_INT, REGION, SHARE, field_type, in_arms, regions_of

KIND = field_type("one of 'all', 'portal', 'app'", lambda v: v in ("all", "portal", "app"))
NONNEG = field_type("number >= 0", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                    and 0 <= v < float("inf"))

declare(
    Param("shocks.random_breaches", bool, False,
          "platforms are breached at random, each with probability 1 − security per step",
          source="MODEL.md (security = breach probability); off so that scheduled shocks are the only ones by default"),
    Param("shocks.breach_size", float, 0.2, "share of their trust lost by citizens directly affected by a breach",
          unit="share", low=0.0, high=1.0, source="assumption"),
    Param("shocks.breach_reach", float, 0.3, "probability that an online user of a breached region is directly affected",
          unit="probability", low=0.0, high=1.0, source="assumption: a breach exposes one service's users"),
    Param("shocks.breach_spread", float, 0.5,
          "trust loss passed on by word of mouth, per unit share of directly affected neighbours, relative to size",
          unit="-", low=0.0, high=1.0, source="assumption: hearsay weighs half as much as one's own exposure"),
)


def breach(model, regions: list[int], size: float, reach: float, spread: float) -> int:
    """Apply a privacy breach to ``regions``; return the number of citizens directly affected."""
    pop = model.citizens
    rng = model.streams["shocks"]
    in_region = np.isin(pop.region, np.asarray(regions, dtype=pop.region.dtype))
    cand = np.flatnonzero(in_region & pop.adopted)
    hit = cand[rng.random(cand.size) < reach]
    affected = np.zeros(pop.n, dtype=bool)
    affected[hit] = True
    pop.trust[hit] *= np.float32(1.0 - size)
    if spread > 0 and size > 0 and hit.size:
        share = model.network.neighbour_share(affected)
        loss = np.float32(spread * size) * share.astype(np.float32)
        loss[affected] = 0.0
        pop.trust *= 1.0 - np.clip(loss, 0.0, 1.0)
    np.clip(pop.trust, 0.0, 1.0, out=pop.trust)
    model.__dict__["breaches"] = model.__dict__.get("breaches", 0) + 1
    return int(hit.size)


def _apply_breach(model, ev) -> None:
    p = model.params
    size = p["shocks.breach_size"] if ev.get("size") is None else float(ev["size"])
    reach = p["shocks.breach_reach"] if ev.get("reach") is None else float(ev["reach"])
    spread = p["shocks.breach_spread"] if ev.get("spread") is None else float(ev["spread"])
    breach(model, regions_of(model, ev), size, reach, spread)


def _apply_outage(model, ev) -> None:
    regions = set(regions_of(model, ev))
    until = int(model.time_step) + int(ev["duration"])
    for pl in model.platforms:
        if pl.region in regions and ev["kind"] in ("all", pl.kind):
            pl.online = False
            pl.offline_until = max(pl.offline_until, until)


def _set_need_rates(model) -> None:
    base = model.__dict__.get("_base_need_rate")
    if base is None:
        return
    factor = np.ones(model.n_regions, dtype=np.float32)
    for s in model.__dict__.get("surges", []):
        factor[s["regions"]] *= np.float32(s["factor"])
    model.citizens.need_rate[:] = base * factor[model.citizens.region]


def _apply_surge(model, ev) -> None:
    if "_base_need_rate" not in model.__dict__:
        model.__dict__["_base_need_rate"] = model.citizens.need_rate.copy()
    model.__dict__.setdefault("surges", []).append(
        {"regions": regions_of(model, ev), "factor": float(ev["factor"]),
         "until": int(model.time_step) + int(ev["duration"])})
    _set_need_rates(model)


def update(model) -> None:
    """Start of a step: end surges that have run their course, then draw random breaches."""
    surges = model.__dict__.get("surges")
    if surges:
        live = [s for s in surges if s["until"] > model.time_step]
        if len(live) != len(surges):
            model.__dict__["surges"] = live
            _set_need_rates(model)
    p = model.params
    if p["shocks.random_breaches"] and model.platforms:
        u = model.streams["shocks"].random(len(model.platforms))
        hit_regions = [pl.region for pl, x in zip(model.platforms, u) if x >= pl.security]
        for r in hit_regions:
            breach(model, [r], p["shocks.breach_size"], p["shocks.breach_reach"], p["shocks.breach_spread"])


register_event("outage", {"region": (REGION, -1), "kind": (KIND, "all"), "duration": (POSITIVE_INT, 1),
                          "arms": (ARMS, [])},
               in_arms(_apply_outage), "the matching platforms are offline for `duration` steps from this step")
register_event("breach", {"region": (REGION, -1), "size": (SHARE, None), "reach": (SHARE, None),
                          "spread": (NONNEG, None), "arms": (ARMS, [])}, in_arms(_apply_breach),
               "privacy breach: a trust shock to the region's online users that spreads to their neighbours "
               "(omitted values: the shocks.breach_* parameters)")
register_event("demand_surge", {"factor": (POSITIVE, REQUIRED), "duration": (POSITIVE_INT, 1), "region": (REGION, -1),
                                "arms": (ARMS, [])},
               in_arms(_apply_surge), "need rates × `factor` for `duration` steps from this step")

for _name, _unit, _doc in [
    ("platforms_offline", "platforms", "live platforms offline (outage) this step"),
    ("breaches", "breaches", "privacy breaches so far (scheduled and random)"),
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _shock_outputs(model) -> dict:
    return {"platforms_offline": sum(1 for pl in model.platforms if not pl.online),
            "breaches": int(model.__dict__.get("breaches", 0))}
