"""Awareness of online government services (MODEL.md step 4).

Awareness spreads in the Bass form: an unaware citizen becomes aware this step
with probability ``awareness.p + awareness.q × (share of aware neighbours)``
(publicity plus word of mouth). Awareness is never lost. Only aware citizens
consider the online channel.

How it is computed: the share of aware neighbours at the start of the step
comes from the step's neighbour sums
(:func:`govsim.channels.neighbour_aware_share`), bit for bit equal to
``network.neighbour_share(aware)``. One uniform is drawn per citizen unaware
at the start of the step (stream ``dynamics``, ``rng.random(k)`` for the k
unaware, handed out in citizen order; the aware draw nothing), and one
compiled pass (:func:`govsim.compiled.jit`) makes an unaware citizen aware when
its uniform is below ``min(1, p + q × share_i)``.
"""

from __future__ import annotations

import numpy as np

from .channels import neighbour_aware_share
from .compiled import count_true, jit
from .config import Param, declare

declare(
    Param("awareness.p", float, 0.005, "probability per step that publicity makes an unaware citizen aware",
          unit="1/step", low=0.0, high=1.0,
          source="calibrated: baseline grid search against CNNIC users of online government services 2018-2024 (govsim.calibration)"),
    Param("awareness.q", float, 0.1, "word-of-mouth coefficient: added probability per unit share of aware neighbours",
          unit="1/step", low=0.0, high=1.0,
          source="calibrated with awareness.p (govsim.calibration)"),
    Param("awareness.initial_share", float, 0.3, "share of citizens aware of online services at step 0",
          unit="share", low=0.0, high=1.0,
          source="assumption: 394 M online-service users = 28 % of the population in Dec 2018 (CNNIC, cnnic_online_gov_services.csv) were aware"),
)


def seed_awareness(model, rng: np.random.Generator) -> None:
    """Make a random ``awareness.initial_share`` of citizens aware at step 0."""
    pop = model.citizens
    pop.aware[:] = rng.random(pop.n) < model.params["awareness.initial_share"]
    pop.aware |= pop.adopted  # an initial adopter knows the service


def spread_awareness(model, rng: np.random.Generator) -> None:
    """One step of awareness diffusion (synchronous, from the previous state)."""
    pop = model.citizens
    if hasattr(model, "channel_state"):
        share = neighbour_aware_share(model)
    else:
        share = model.network.neighbour_share(pop.aware)
    u = model.__dict__.get("_awareness_u")
    if u is None or u.size != pop.n:
        u = model.__dict__["_awareness_u"] = np.empty(pop.n)
    unaware = pop.n - count_true(pop.aware)
    if unaware == 0:
        return
    u = u[:unaware]
    rng.random(out=u)  # the same draws as rng.random(unaware), into a reused buffer
    p = model.params
    _spread(pop.aware, share, u, float(p["awareness.p"]), float(p["awareness.q"]))


@jit
def _spread(aware, share, u, p, q):  # pragma: no cover - compiled
    """The t-th unaware citizen i (in citizen order) becomes aware if u[t] < min(q * share[i] + p, 1).

    ``share`` is of the start of the step; the aware stay aware and draw nothing.
    """
    a8 = aware.view(np.uint8)
    t = 0
    for i in range(a8.size):
        prob = q * share[i] + p
        prob = 1.0 if prob > 1.0 else prob
        ui = u[t] if t < u.size else 1.0  # (t < u.size for every unaware citizen)
        unaware = 1 - a8[i]
        a8[i] = a8[i] | np.uint8(unaware & (ui < prob))
        t += unaware
