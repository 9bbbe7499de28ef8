"""govsim's default ``utility`` rule with the foundation mechanics, one Mesa agent per citizen.

The peer of :class:`govsim.GovModel` on ``foundation.toml``: the same step,
written per agent in plain Python. Each citizen, in :meth:`UtilityCitizen.step`,
reads its neighbours' state at the start of the step and computes its own next
state; :meth:`UtilityCitizen.advance` applies it (synchronous updating, as in
govsim). In the order of govsim's step:

1. **Awareness.** An unaware citizen becomes aware with probability
   ``awareness.p + awareness.q × (share of aware neighbours)``.
2. **Needs.** Poisson(``citizens.need_rate`` of the age group) new needs; all of
   a step's needs travel together.
3. **Channel choice** (only with needs). The service is online with probability
   C (the portal's coverage). Online is open to an aware citizen with internet
   access who is not lapsed; the choice between online and offline is the logit
   ``P(online) = exp(U_on) / (exp(U_on) + exp(U_off))`` with::

       U_on  = asc_online + b_pe·PE + b_ee·L·U + b_si·SI + b_fc·FC + b_tr·T − b_pr·privacy·(1 − S)
       U_off = −b_time · h_off

   PE = C (1 + I)/2 (h_off − online_hours)/h_off, h_off = (1 + extra_visits (1 − I))
   × (offline_hours + rural travel), SI the share of neighbours who have
   adopted, FC their mean literacy. The citizen has adopted while the channel
   chosen where online was open is online; one without awareness or access is
   not an adopter.
4. **Encounter.** Online succeeds with probability
   ``R × logistic((L·U − skill_threshold) / skill_spread)``; a failure costs
   ``fallback_hours`` and the needs are served offline (no queues: capacity is
   unlimited in the foundation scenario).
5. **Learning.** Literacy by use (a success closes ``learning.by_use`` of the
   gap to 1) and from neighbours (``learning.from_neighbours`` of the gap to
   their mean literacy, when higher); for a citizen with needs, expectation
   confirmation: P = exp(−hours per need / hours_scale),
   S* = clip(P + w (P − E)), S += rate (S* − S), E += rate (P − E); trust follows
   satisfaction; a citizen without access whose literacy reached
   ``learning.access_literacy`` gets online with probability
   ``learning.access_rate``; an adopter who tried online and whose satisfaction
   is below ``learning.lapse_threshold`` lapses with probability
   ``learning.lapse_prob`` for ``learning.lapse_steps`` steps.

Platform quality (C, U, I, R, S) is what govsim's single portal offers; it does
not change in the foundation scenario (no budget, no depreciation, no
participation), so it is read once from the scenario.
"""

from __future__ import annotations

import math

import mesa

from govsim import Scenario

try:  # run as benchmarks/plain_mesa/utility.py or imported as plain_mesa.utility
    from .common import SynchronousPeer
except ImportError:  # pragma: no cover
    from common import SynchronousPeer

ELDERLY = 2


class UtilityCitizen(mesa.Agent):
    """One citizen: awareness, channel choice, online encounter and learning, in plain Python."""

    def __init__(self, model: UtilityModel, need_rate: float, urban: bool, elderly: bool, access: bool,
                 literacy: float, privacy: float, trust: float, satisfaction: float, expectation: float,
                 aware: bool, adopted: bool):
        super().__init__(model)
        self.neighbours: list[UtilityCitizen] = []
        self.need_rate = need_rate
        self.urban = urban
        self.usability = min(model.usability + (model.elderly_boost if elderly else 0.0), 1.0)
        self.offline_hours = model.offline_hours_urban if urban else model.offline_hours_rural
        self.performance = model.performance_urban if urban else model.performance_rural
        self.access = access
        self.literacy = literacy
        self.privacy = privacy
        self.trust = trust
        self.satisfaction = satisfaction
        self.expectation = expectation
        self.aware = aware
        self.adopted = adopted
        self.lapsed_until = 0
        self._next: tuple = ()

    def draw_needs(self) -> int:
        """Poisson(need_rate) by inverse transform."""
        u = self.random.random()
        prob = math.exp(-self.need_rate)
        cdf = prob
        k = 0
        while u >= cdf and k < 10_000:
            k += 1
            prob *= self.need_rate / k
            cdf += prob
        return k

    def step(self) -> None:
        m = self.model
        rnd = self.random
        t = m.time_step
        neighbours = self.neighbours
        degree = len(neighbours)

        # 1. awareness (from the neighbours' awareness at the start of the step)
        aware = self.aware
        if not aware:
            share = sum(1 for other in neighbours if other.aware) / degree if degree else 0.0
            aware = rnd.random() < min(m.awareness_p + m.awareness_q * share, 1.0)

        neighbour_literacy = sum(other.literacy for other in neighbours) / degree if degree else 0.0
        literacy = self.literacy
        adopted = self.adopted
        access = self.access
        satisfaction = self.satisfaction
        expectation = self.expectation
        lapsed_until = self.lapsed_until

        # 2. needs
        needs = self.draw_needs()
        tried_online = False
        success = False
        if needs:
            # 3. channel choice
            covered = rnd.random() < m.coverage
            reach = aware and access
            if covered and reach and lapsed_until <= t:
                social = sum(1 for other in neighbours if other.adopted) / degree if degree else 0.0
                u_online = (m.asc_online + m.b_pe * self.performance + m.b_ee * literacy * self.usability
                            + m.b_si * social + m.b_fc * neighbour_literacy + m.b_tr * self.trust
                            - m.b_pr * self.privacy * m.insecurity)
                w_online = math.exp(u_online)
                w_offline = math.exp(-m.b_time * self.offline_hours)
                tried_online = rnd.random() * (w_online + w_offline) < w_online
                adopted = tried_online
            elif not reach:
                adopted = False
            # 4. encounter and fallback
            if tried_online:
                z = (literacy * self.usability - m.skill_threshold) / m.skill_spread
                success = rnd.random() < m.reliability / (1.0 + math.exp(-z))
                hours = m.online_hours if success else m.fallback_hours + self.offline_hours
            else:
                hours = self.offline_hours
        # 5. learning: literacy by use, then from neighbours
        if success:
            literacy += m.by_use * (1.0 - literacy)
        if neighbour_literacy > literacy:
            literacy += m.from_neighbours * (neighbour_literacy - literacy)
        literacy = min(max(literacy, 0.0), 1.0)
        # expectation confirmation
        if needs:
            performance = math.exp(-hours / m.hours_scale)
            target = min(max(performance + m.confirmation_weight * (performance - expectation), 0.0), 1.0)
            satisfaction = min(max(satisfaction + m.satisfaction_rate * (target - satisfaction), 0.0), 1.0)
            expectation = min(max(expectation + m.expectation_rate * (performance - expectation), 0.0), 1.0)
        trust = min(max(self.trust + m.trust_rate * (satisfaction - self.trust), 0.0), 1.0)
        # getting online
        if not access and literacy >= m.access_literacy:
            access = rnd.random() < m.access_rate
        # lapse
        if tried_online and adopted and satisfaction < m.lapse_threshold and rnd.random() < m.lapse_prob:
            adopted = False
            lapsed_until = t + m.lapse_steps
        self._next = (aware, adopted, literacy, access, satisfaction, expectation, trust, lapsed_until)

    def advance(self) -> None:
        (self.aware, self.adopted, self.literacy, self.access, self.satisfaction, self.expectation,
         self.trust, self.lapsed_until) = self._next


class UtilityModel(SynchronousPeer):
    """Plain-Mesa peer of govsim's ``utility`` rule with the foundation mechanics.

    Parameters
    ----------
    scenario : govsim.Scenario
        Normally ``load_foundation("utility", ...)``; every parameter is read from it.
    initial : govsim.GovModel
        A govsim model of the same scenario, built and not stepped: the
        citizens' initial state and the social network are taken from it.
    rng : int, optional
        Seed of Mesa's generators (``self.random`` draws everything).

    Examples
    --------
    >>> from plain_mesa.common import initial_govsim, load_foundation
    >>> sc = load_foundation("utility", {"citizens.n": 300})
    >>> peer = UtilityModel(sc, initial_govsim(sc, 1), rng=1)
    >>> for _ in range(3):
    ...     peer.step()
    >>> len(peer.adoption_curve())
    4
    """

    def __init__(self, scenario: Scenario, initial, rng: int | None = None):
        super().__init__(rng=rng)
        for name, value in constants(scenario).items():  # the parameters and the portal's constant quality
            setattr(self, name, value)
        pop = initial.citizens
        self.citizens = [
            UtilityCitizen(self, float(pop.need_rate[i]), bool(pop.urban[i]), int(pop.age_group[i]) == ELDERLY,
                           bool(pop.access[i]), float(pop.literacy[i]), float(pop.privacy[i]), float(pop.trust[i]),
                           float(pop.satisfaction[i]), float(pop.expectation[i]), bool(pop.aware[i]),
                           bool(pop.adopted[i]))
            for i in range(pop.n)
        ]
        self.link_and_collect(initial, flags=("adopted", "aware"))


def constants(scenario: Scenario) -> dict[str, float]:
    """The model's constants read from ``scenario``: the parameters, and the portal's quality and the hours it
    implies, which do not change in the foundation scenario (govsim's single portal).

    Parameters
    ----------
    scenario : govsim.Scenario
        One region with its portal only and no assisted channel, as ``load_foundation("utility")``.

    Returns
    -------
    dict of str to float
        Keys as the attributes of :class:`UtilityModel` (``coverage``, ``offline_hours_rural``, ``b_pe``, ...).

    Examples
    --------
    >>> from plain_mesa.common import load_foundation
    >>> c = constants(load_foundation("utility"))
    >>> c["offline_hours_rural"] > c["offline_hours_urban"], 0 < c["performance_urban"] < 1
    (True, True)
    """
    s = scenario
    if s["regions.n"] != 1 or s["platform.initial_apps"] != 0 or s["assisted.enabled"]:
        raise ValueError("the utility peers model one region with its portal only, no assisted channel")
    c = {"coverage": s["platform.coverage"], "usability": s["platform.usability"],
         "reliability": s["platform.reliability"], "insecurity": 1.0 - s["platform.security"],
         "elderly_boost": s["channels.elderly_usability_boost"], "online_hours": s["channels.online_hours"]}
    integration = s["platform.integration"]
    visits = 1.0 + s["channels.extra_visits"] * (1.0 - integration)
    c["offline_hours_urban"] = visits * s["channels.offline_hours"]
    c["offline_hours_rural"] = visits * (s["channels.offline_hours"] + s["channels.rural_travel_hours"])
    for place in ("urban", "rural"):
        h_off = c[f"offline_hours_{place}"]
        saved = min(max((h_off - c["online_hours"]) / max(h_off, 1e-9), 0.0), 1.0)
        c[f"performance_{place}"] = c["coverage"] * (1.0 + integration) * 0.5 * saved
    for key in ("asc_online", "b_pe", "b_ee", "b_si", "b_fc", "b_tr", "b_pr", "b_time"):
        c[key] = s[f"utility.{key}"]
    c["awareness_p"], c["awareness_q"] = s["awareness.p"], s["awareness.q"]
    c["fallback_hours"] = s["channels.fallback_hours"]
    c["skill_threshold"], c["skill_spread"] = s["channels.skill_threshold"], s["channels.skill_spread"]
    for key in ("by_use", "from_neighbours", "hours_scale", "confirmation_weight", "satisfaction_rate",
                "expectation_rate", "trust_rate", "access_literacy", "access_rate", "lapse_threshold",
                "lapse_prob", "lapse_steps"):
        c[key] = s[f"learning.{key}"]
    return c
