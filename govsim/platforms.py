"""Service platforms: few Mesa agents, an integrated portal and departmental apps per region.

A :class:`Platform` is either a region's integrated "one network" portal
(``kind = "portal"``, one per region, never retired) or a single department's
app (``kind = "app"``), launched by the local government (MODEL.md,
"Platforms"; seeds 001, 002, 004).

State of a platform
-------------------
* quality: coverage C (share of service types it puts online), usability U,
  integration I (share of its data exchanged with other departments),
  reliability R (each online attempt fails with 1 − R) and security S
  (1 − the probability of a breach in a step, used by random breaches in
  :mod:`govsim.shocks` and by the citizens' privacy risk);
* ``demand`` in [0, 1]: the share of the services it digitises that citizens
  actually need (1 for the portal, ``platform.portal_demand``; for an app a
  Beta draw with mean ``platform.app_demand_mean`` and concentration 4 from the
  ``apps`` child of the governments stream: departmental apps are often built
  for the metric, not for a need);
* money: ``build_cost`` (``platform.build_cost`` for an app), ``upkeep`` per
  step (``platform.portal_upkeep``, ``platform.app_upkeep``) and ``spent``
  (build + upkeep + quality investment so far);
* the reporting burden it places on cadres: ``formalism.checkin_hours`` of
  check-ins and ``formalism.forms_per_app`` report forms per cadre per step
  (computed in :mod:`govsim.cadres`; :meth:`Platform.burden_hours`);
* real use: ``uses`` (needs it served online this step), its use rate per
  1,000 residents averaged over the last ``platform.use_window`` steps, its
  benefit, the zombie flag and the demand × benefit quadrant.

What citizens meet in a region (fragmentation)
----------------------------------------------
A need falls in a service type; it goes to a platform that covers that type.
The *routing share* of live platform p in region r is its share of the
region's needs that are in demand and covered::

    r_p = d_p C_p / Σ_q d_q C_q

:func:`regional_quality` gives the citizens of region r::

    coverage_r    = 1 − Π_p (1 − C_p)                 (union of the service types covered)
    usability_r   = Σ_p r_p U_p / (1 + φ (n_eff,r − 1)),  n_eff,r = 1 / Σ_p r_p²
    integration_r = Σ_p r_p I_p
    reliability_r = Σ_p r_p R_p online_p               (an outage fails every need routed there)
    security_r    = Π_p S_p                           (any of the apps holding one's data can leak it)

n_eff is the effective number of separate apps a citizen must find, register
with and learn (the inverse Herfindahl index of the routing shares): 1 when one
portal carries every need, n when needs are spread evenly over n apps. Each
extra effective app divides usability by 1 + φ (φ = ``platform.fragmentation``),
the hyperbolic form saying that the cost of one more app is felt most when
there are few. Coverage is the union because separate apps do put more
services online; integration is what the citizen meets for the needs she has;
security is a product because every platform holding a citizen's data is an
attack surface.

Data sharing for cadres (:func:`data_sharing`) is the plain mean of I_p over
the region's live platforms: every department's form is filled, whether or not
citizens use its app.

Investment, depreciation, capacity mismatch
-------------------------------------------
Local governments invest each step (:mod:`govsim.governments`). A platform
receiving x budget units in a step closes a share of the gap to its target
q*, with diminishing returns::

    q ← q + (q* − q) × (1 − exp(−x / platform.invest_scale))

for each of C (portal only: an app covers one department's services, its C is
fixed), U, I, R and S. The ceilings of C and I are the local government's
ambition a_r (what it tries to build; they never fall by investing:
max(0, ·)); S's ceiling is 1. For U and R the target is the quality the region
can actually run, 1 − k·m_r, where m_r = max(0, a_r − capacity) is its
capacity mismatch and k = ``government.mismatch_penalty``, and they move
towards it from above too (no max): each upgrade rebuilds the platform at the
region's own level, so ambition beyond capacity wears down the usability and
reliability of what is there ("technology superposition is not technology
application"); new apps are built with U and R scaled by the same 1 − k·m_r
(seed 001: adapt to local digital capability). The exponential form gives
diminishing returns: each unit buys less as the gap closes, and a gap halves
with every ln 2 × invest_scale spent.
Usability depreciates by ``platform.depreciation`` of its level per step
(expectations rise, software ages). When a government cannot pay a platform's
upkeep, the unpaid share u makes U, R and S fall by
``platform.unfunded_decay`` × u of their level.

Real use, benefit, zombies and quadrants
----------------------------------------
The channel mechanics record a region's successful online needs on its
platforms. :func:`split_uses` re-splits each region's total among its
platforms in proportion to r_p × U_p × R_p × online_p: the needs routed to a
platform, times the chance they succeed there, and nothing through a platform
that is down (proposed to the channel mechanics as the split to use).

* use rate = mean over the last ``platform.use_window`` steps of
  uses per 1,000 residents of the region per step;
* **zombie**: a live platform whose use rate is below
  ``platform.zombie_threshold`` (uses per 1,000 residents per step): it is kept
  alive (upkeep, check-ins, forms) while almost nobody uses it;
* **demand** d_p as above; **benefit** = the share of the needs its services
  address that it actually served online over the window,
  Σ uses_p / Σ (needs_r × d_p × C_p), clipped to [0, 1];
* **quadrant** (seed 001, "demand and efficiency"): demand ≥
  ``platform.demand_threshold`` and benefit ≥ ``platform.benefit_threshold``:
  *effective*; low demand, high benefit: *useful_unsolicited* ("uninvited but
  produced a lot of effectiveness"); high demand, low benefit: *failed*
  (needed but "loses its important functionality"); low demand, low benefit:
  *decoration*.

:func:`platform_table` gives one row per platform (live or retired) at any
time, e.g. at the end of a run.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd

from .agents import GovAgent
from .cadres import _residents_list
from .config import Param, declare
from .metrics import declare_output, register_reporter

QUALITY = ("coverage", "usability", "integration", "reliability", "security")
QUADRANTS = ("effective", "useful_unsolicited", "failed", "decoration")
_FI = "govsim/data/formalism_indicators.csv"

declare(
    Param("platform.coverage", float, 0.6, "share of service types the portal puts online (C)",
          unit="share", low=0.0, high=1.0,
          source="assumption: UN OSI for China rose from 0.61 (2014) to 0.91 (2020) (govsim/data/un_egdi_china.csv); 0.6 at the start"),
    Param("platform.usability", float, 0.6, "initial usability of the portal (U), scales the effort a user needs",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption"),
    Param("platform.integration", float, 0.5, "initial share of the portal's cross-department data shared (I)",
          unit="share", low=0.0, high=1.0, source="assumption: partial integration before the 'one network' reforms"),
    Param("platform.reliability", float, 0.97,
          "initial reliability of every platform: each online attempt fails with 1 - reliability",
          unit="probability", low=0.0, high=1.0, source="assumption: roughly one outage-month every three years"),
    Param("platform.security", float, 0.99, "initial probability of no data breach in a step, every platform",
          unit="probability", low=0.0, high=1.0, source="assumption"),
    Param("platform.initial_apps", int, 6, "departmental apps each region runs at the start, besides its portal",
          unit="apps/region", low=0, high=200,
          source=f"7-8 work apps per township cadre ({_FI}: apps_per_cadre_township_xinchang) = a portal + 6 apps"),
    Param("platform.max_apps", int, 40, "most departmental apps a region can run (hard bound, for tractability)",
          unit="apps/region", low=0, high=1000,
          source=f"assumption: above the 23 apps on one worker's phone ({_FI}: education_cadre_apps_peak)"),
    Param("platform.app_coverage", float, 0.05, "share of service types one departmental app puts online",
          unit="share", low=0.0, high=1.0, source="assumption: one department of about twenty"),
    Param("platform.app_usability", float, 0.5, "usability of a new departmental app built within capacity",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption: below the portal's (smaller teams)"),
    Param("platform.app_integration", float, 0.2, "integration of a new departmental app (share of its data shared)",
          unit="share", low=0.0, high=1.0, source="assumption: departmental apps are data silos (seed 002)"),
    Param("platform.app_demand_mean", float, 0.4,
          "mean demand of a new app: share of the services it digitises that citizens need (Beta, concentration 4)",
          unit="share", low=0.01, high=0.99,
          source="assumption: apps built for the metric often meet no need (seed 001, 'decoration')"),
    Param("platform.portal_demand", float, 1.0, "demand of the integrated portal (share of its services citizens need)",
          unit="share", low=0.0, high=1.0, source="assumption: the portal carries the common services"),
    Param("platform.build_cost", float, 100.0, "cost of building one departmental app", unit="budget units",
          low=0.0, high=1e12, source="assumption: one month of a region's mean digital budget (small outsourced apps)"),
    Param("platform.portal_upkeep", float, 15.0, "upkeep of the portal per step", unit="budget units/step",
          low=0.0, high=1e12, source="assumption"),
    Param("platform.app_upkeep", float, 5.0, "upkeep of one departmental app per step", unit="budget units/step",
          low=0.0, high=1e12, source="assumption: hosting, maintenance and a content editor"),
    Param("platform.invest_scale", float, 1000.0,
          "quality investment in one platform in a step that closes 1 - 1/e of its quality gaps",
          unit="budget units", low=1e-9, high=1e12, source="assumption: diminishing returns, years to mature"),
    Param("platform.depreciation", float, 0.015, "share of usability lost per step (software ages, expectations rise)",
          unit="share/step", low=0.0, high=1.0,
          source="assumption: set so that under the default regime the baseline's platforms keep about their initial "
                 "usability (calibration RMSE 0.011 to the CNNIC path, 4 seeds)"),
    Param("platform.unfunded_decay", float, 0.05,
          "share of usability, reliability and security lost per step when upkeep is entirely unpaid",
          unit="share/step", low=0.0, high=1.0, source="assumption"),
    Param("platform.fragmentation", float, 0.15,
          "usability penalty per extra effective app a citizen must navigate: U / (1 + this × (n_eff − 1))",
          unit="per app", low=0.0, high=10.0, source="assumption: each app is another account, login and interface"),
    Param("platform.zombie_threshold", float, 2.0,
          "use rate below which a live platform is a zombie app", unit="uses/1,000 residents/step",
          low=0.0, high=1e6, source="assumption: used by fewer than 0.2 % of residents a month"),
    Param("platform.use_window", int, 3, "steps over which use rate and benefit are averaged", unit="steps",
          low=1, high=120, source="assumption: a quarter"),
    Param("platform.demand_threshold", float, 0.5, "demand at or above which a platform's services are needed",
          unit="share", low=0.0, high=1.0, source="assumption: half its services are needed"),
    Param("platform.benefit_threshold", float, 0.4,
          "benefit (share of the needs it addresses served online through it) at or above which it delivers",
          unit="share", low=0.0, high=1.0, source="assumption"),
)


class Platform(GovAgent):
    """A service platform (Mesa agent): an integrated portal or a departmental app.

    Parameters
    ----------
    model : GovModel
    region : int
        Owner region (its local government).
    kind : {"portal", "app"}
        Integrated portal or a single department's app.
    demand : float
        Share of the services it digitises that citizens need.
    build_cost, upkeep : float
        Money to build it and to keep it running per step.
    **quality : float
        Initial ``coverage``, ``usability``, ``integration``, ``reliability``,
        ``security``.

    Examples
    --------
    >>> import govsim
    >>> m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 200}), rng=0)
    >>> p = m.platforms[0]
    >>> p.kind, 0 <= p.coverage <= 1
    ('portal', True)
    """

    def __init__(self, model, region: int, kind: str = "portal", demand: float = 1.0, build_cost: float = 0.0,
                 upkeep: float = 0.0, **quality: float):
        super().__init__(model)
        self.region = int(region)
        self.kind = kind
        for name in QUALITY:
            setattr(self, name, float(quality[name]))
        self.demand = float(demand)
        self.build_cost = float(build_cost)
        self.upkeep = float(upkeep)
        self.spent = float(build_cost)
        self.paid_share = 1.0  # share of this step's upkeep paid
        self.created = int(getattr(model, "time_step", 0))
        self.retired: int | None = None
        self.online = True  # False while an outage shock lasts
        self.offline_until = 0
        self.uses = 0.0  # needs served online this step
        window = int(model.params["platform.use_window"])
        self._uses_hist: deque = deque(maxlen=window)
        self._domain_hist: deque = deque(maxlen=window)
        self.use_rate = 0.0
        self.benefit = 0.0
        self.zombie = False
        self.quadrant = "decoration"
        self.feedback = 0.0  # feedback received this step

    # -- dynamics ---------------------------------------------------------------
    def step(self) -> None:
        """Come back online when an outage ends; usability depreciates."""
        if not self.online and self.model.time_step >= self.offline_until:
            self.online = True
        self.usability *= 1.0 - self.model.params["platform.depreciation"]

    def invest(self, amount: float, ceiling_ur: float = 1.0, ceiling_ci: float = 1.0) -> None:
        """Spend ``amount`` on quality: each attribute closes 1 − exp(−amount/scale) of its gap.

        ``ceiling_ur`` is the level of usability and reliability the region can
        achieve (capacity mismatch): they move towards it, from below or above;
        ``ceiling_ci`` is the ceiling of coverage and integration (ambition),
        which never fall by investing; coverage grows only on the portal.
        """
        if amount <= 0:
            return
        g = 1.0 - math.exp(-amount / self.model.params["platform.invest_scale"])
        if self.kind == "portal":
            self.coverage += max(0.0, ceiling_ci - self.coverage) * g  # an app's coverage is fixed
        self.usability += (ceiling_ur - self.usability) * g
        self.integration += max(0.0, ceiling_ci - self.integration) * g
        self.reliability += (ceiling_ur - self.reliability) * g
        self.security += max(0.0, 1.0 - self.security) * g
        self.spent += amount

    def maintain(self, paid_share: float) -> None:
        """Pay the upkeep (share ``paid_share`` of it); an unpaid share degrades U, R and S."""
        self.paid_share = float(paid_share)
        self.spent += self.upkeep * paid_share
        unpaid = 1.0 - paid_share
        if unpaid > 0:
            loss = 1.0 - self.model.params["platform.unfunded_decay"] * unpaid
            self.usability *= loss
            self.reliability *= loss
            self.security *= loss

    def burden_hours(self, sharing: float | None = None) -> float:
        """Formalism hours per cadre per step this platform demands (check-ins + its forms × (1 − D))."""
        p = self.model.params
        if sharing is None:
            sharing = float(data_sharing(self.model)[self.region])
        return p["formalism.checkin_hours"] + p["formalism.forms_per_app"] * p["formalism.entry_hours"] * (1.0 - sharing)


def upkeep_and_invest(plats: list, paid_share: float, amounts: list | None, ceiling_ur: float, ceiling_ci: float,
                      params: dict) -> None:
    """:meth:`Platform.maintain` (``paid_share``), then :meth:`Platform.invest` (``amounts[i]``, none if ``None``)
    for each platform of ``plats``: one loop for a government's platforms, the same arithmetic (keep the two
    in step)."""
    scale = params["platform.invest_scale"]
    unpaid = 1.0 - paid_share
    loss = 1.0 - params["platform.unfunded_decay"] * unpaid
    paid_share = float(paid_share)
    for i, pl in enumerate(plats):
        # maintain
        pl.paid_share = paid_share
        pl.spent += pl.upkeep * paid_share
        if unpaid > 0:
            pl.usability *= loss
            pl.reliability *= loss
            pl.security *= loss
        # invest
        if amounts is None:
            continue
        amount = amounts[i]
        if amount <= 0:
            continue
        g = 1.0 - math.exp(-amount / scale)
        # q += max(0, q* - q) g, written as "if q* - q > 0" (adding 0 × g leaves q as it is)
        if pl.kind == "portal":
            gap = ceiling_ci - pl.coverage
            if gap > 0.0:
                pl.coverage += gap * g  # an app's coverage is fixed
        pl.usability += (ceiling_ur - pl.usability) * g
        gap = ceiling_ci - pl.integration
        if gap > 0.0:
            pl.integration += gap * g
        pl.reliability += (ceiling_ur - pl.reliability) * g
        gap = 1.0 - pl.security
        if gap > 0.0:
            pl.security += gap * g
        pl.spent += amount


# -- building ----------------------------------------------------------------------
def _draw_demand(model, rng: np.random.Generator) -> float:
    m = model.params["platform.app_demand_mean"]
    return float(rng.beta(4.0 * m, 4.0 * (1.0 - m)))


def new_app(model, region: int, mismatch: float, rng: np.random.Generator) -> Platform:
    """Build a departmental app in ``region`` (adds it to ``model.platforms``).

    Its usability and reliability are scaled by 1 − k × mismatch
    (``government.mismatch_penalty``); its demand is drawn from ``rng``.
    """
    p = model.params
    factor = max(0.0, 1.0 - p["government.mismatch_penalty"] * mismatch)
    app = Platform(model, region, "app", demand=_draw_demand(model, rng), build_cost=p["platform.build_cost"],
                   upkeep=p["platform.app_upkeep"], coverage=p["platform.app_coverage"],
                   usability=p["platform.app_usability"] * factor, integration=p["platform.app_integration"],
                   reliability=p["platform.reliability"] * factor, security=p["platform.security"])
    model.platforms.append(app)
    return app


def retire(model, platform: Platform) -> None:
    """Switch a platform off for good (kept in ``model.retired_platforms`` for the platform table)."""
    platform.retired = int(model.time_step)
    platform.zombie = False
    model.platforms.remove(platform)
    model.__dict__.setdefault("retired_platforms", []).append(platform)
    platform.remove()


def build_platforms(model) -> list[Platform]:
    """One integrated portal per region (the scenario's quality) and ``platform.initial_apps`` apps each.

    Apps are built region by region; their demand comes from the ``apps``
    child of the governments stream and their usability and reliability carry the region's capacity
    mismatch (:func:`new_app`).
    """
    p = model.params
    q = {name: p[f"platform.{name}"] for name in QUALITY}
    model.platforms = [Platform(model, r, "portal", demand=p["platform.portal_demand"],
                                upkeep=p["platform.portal_upkeep"], **q) for r in range(model.n_regions)]
    model.retired_platforms = []
    rng = model.gov_streams["apps"]
    for gov in model.local_governments:
        for _ in range(int(p["platform.initial_apps"])):
            new_app(model, gov.region, gov.mismatch, rng)
    return model.platforms


# -- static tables -----------------------------------------------------------------
def np_sum(values: list) -> float:
    """``float(np.add.reduce(np.array(values)))`` of a list of floats, with numpy's summation order.

    numpy adds fewer than 8 numbers one after the other (a Python loop gives the
    same bits) and more by pairwise blocks (left to numpy). Not ``sum()``: from
    Python 3.12 it compensates the rounding, which changes the last bits.
    """
    if len(values) < 8:
        t = 0.0
        for v in values:
            t += v
        return t
    return float(np.add.reduce(np.array(values, dtype=float)))


class Layout:
    """Who is where among the live platforms: tables that change only when a platform is launched or retired.

    ``by_region[r]`` (the region's platforms, in ``model.platforms`` order),
    ``index[r]`` (their positions in ``model.platforms``), ``n_plat[r]``
    (float), ``n_apps[r]`` (departmental apps) and ``upkeep[r]`` (their
    upkeep per step, fixed when a platform is built), for regions 0..n-1.
    """

    __slots__ = ("key", "n", "by_region", "index", "n_plat", "n_apps", "upkeep")

    def __init__(self, plats: list, n: int):
        self.key = tuple(plats)
        self.n = n
        self.by_region = [[] for _ in range(n)]
        self.index = [[] for _ in range(n)]
        for i, p in enumerate(plats):
            self.by_region[p.region].append(p)
            self.index[p.region].append(i)
        self.n_plat = [float(len(b)) for b in self.by_region]
        self.n_apps = [sum(1 for p in b if p.kind == "app") for b in self.by_region]
        self.upkeep = [sum(p.upkeep for p in b) for b in self.by_region]


def layout(model) -> Layout:
    """The :class:`Layout` of the live platforms (cached; rebuilt whenever ``model.platforms`` changes)."""
    plats = model.__dict__.get("platforms", ())
    lay = model.__dict__.get("_platform_layout")
    if lay is None or lay.n != model.n_regions or lay.key != tuple(plats):
        lay = Layout(plats, model.n_regions)
        model.__dict__["_platform_layout"] = lay
    return lay


def _routing(lay: Layout) -> tuple[list, list]:
    """Routing shares per region (lists in platform order) and n_eff per region, as Python floats.

    The same float64 operations in the same order as the array form of
    :func:`routing_shares` (sums in platform order from 0.0).
    """
    shares, n_eff = [], []
    for plats in lay.by_region:
        w = [p.demand * p.coverage for p in plats]
        tot = 0.0
        for x in w:
            tot += x
        s = [x / tot for x in w] if tot > 0 else [0.0] * len(w)
        hhi = 0.0
        for x in s:
            hhi += x * x
        shares.append(s)
        n_eff.append(1.0 / hhi if hhi > 0 else 1.0)
    return shares, n_eff


def _in_order(lay: Layout, by_region: list, count: int) -> list:
    """Per-region lists back in ``model.platforms`` order."""
    out = [0.0] * count
    for idx, vals in zip(lay.index, by_region):
        for i, v in zip(idx, vals):
            out[i] = v
    return out


def _by_region(lay: Layout, values) -> list:
    """Values in ``model.platforms`` order split into per-region lists."""
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return [[values[i] for i in idx] for idx in lay.index]


# -- what citizens meet -------------------------------------------------------------
def routing_shares(model) -> tuple[np.ndarray, np.ndarray]:
    """Routing share r_p of each live platform (in ``model.platforms`` order) and n_eff per region."""
    lay = layout(model)
    shares, n_eff = _routing(lay)
    return np.array(_in_order(lay, shares, len(lay.key)), dtype=float), np.array(n_eff, dtype=float)


def _clip01(x: float) -> float:
    if x < 0.0:
        return 0.0
    return 1.0 if x > 1.0 else x  # NaN passes, as in np.clip


def regional_quality(model) -> dict[str, np.ndarray]:
    """Per-region arrays of the quality citizens meet online (see the module docstring).

    Regions without a platform get zeros. Computed with Python floats over each
    region's few platforms (the float64 operations of the formulas, in
    platform order); the five arrays are the rows of one small array.
    """
    n = model.n_regions
    if not model.platforms:
        return {name: np.zeros(n) for name in QUALITY}
    lay = layout(model)
    phi = model.params["platform.fragmentation"]
    cov, usab, integ, reli, secure = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    for r, plats in enumerate(lay.by_region):
        if not plats:
            continue
        w = [p.demand * p.coverage for p in plats]
        tot = 0.0
        for x in w:
            tot += x
        not_covered = sec = 1.0
        u = i = rel = hhi = 0.0
        if not tot > 0:
            w = [0.0] * len(w)  # shares 0 (0 / 1 below)
            tot = 1.0
        for p, x in zip(plats, w):
            s = x / tot
            hhi += s * s
            not_covered *= 1.0 - p.coverage
            sec *= p.security
            u += s * p.usability
            i += s * p.integration
            rel += s * p.reliability * (1.0 if p.online else 0.0)
        n_eff = 1.0 / hhi if hhi > 0 else 1.0
        cov[r] = _clip01(1.0 - not_covered)
        secure[r] = _clip01(sec)
        usab[r] = _clip01(u / (1.0 + phi * (n_eff - 1.0)))
        integ[r] = _clip01(i)
        reli[r] = _clip01(rel)
    table = np.array((cov, usab, integ, reli, secure), dtype=float)  # one array, a row per attribute
    return {"coverage": table[0], "usability": table[1], "integration": table[2], "reliability": table[3],
            "security": table[4]}


def _sharing(lay: Layout) -> list:
    """Data sharing per region as Python floats (mean integration of the region's platforms, 0 if none)."""
    out = []
    for plats in lay.by_region:
        tot = 0.0
        for p in plats:
            tot += p.integration
        out.append(tot / len(plats) if plats else 0.0)
    return out


def data_sharing(model) -> np.ndarray:
    """Data sharing D_r per region: mean integration of its live platforms (0 without platforms)."""
    return np.array(_sharing(layout(model)), dtype=float)


def apps_by_region(model) -> np.ndarray:
    """Live departmental apps per region (the portal excluded)."""
    return np.array(layout(model).n_apps, dtype=np.int64)


# -- real use ------------------------------------------------------------------------
def split_uses(model, per_region: np.ndarray | None = None, shares: np.ndarray | None = None) -> None:
    """Split each region's online uses among its platforms ∝ r_p × U_p × R_p × online_p.

    ``per_region`` defaults to the sum of the ``uses`` the channel mechanics
    recorded on each region's platforms this step; ``shares`` to the current
    routing shares (:func:`routing_shares`).
    """
    if not model.platforms:
        return
    lay = layout(model)
    shares_r = _routing(lay)[0] if shares is None else _by_region(lay, shares)
    if per_region is not None:
        per_region = np.asarray(per_region, dtype=float).tolist()
    _split_uses(lay, shares_r, per_region)


def _split_uses(lay: Layout, shares_r: list, per_region: list | None) -> None:
    for r, (plats, sh) in enumerate(zip(lay.by_region, shares_r)):
        if per_region is None:
            total = 0.0
            for p in plats:
                total += float(p.uses)
        else:
            total = per_region[r]
        w = [s * (p.usability * p.reliability * (1.0 if p.online else 0.0)) for p, s in zip(plats, sh)]
        tot = 0.0
        for x in w:
            tot += x
        if tot > 0:
            for p, x in zip(plats, w):
                p.uses = x * total / tot
        else:
            for p in plats:
                p.uses = 0.0


def _record_use(plat, zombie_threshold: float, demand_threshold: float, benefit_threshold: float) -> None:
    """Use rate, benefit, zombie flag and quadrant of ``plat`` from its use and domain histories.

    The histories hold Python floats (per 1,000 residents, appended by the
    caller this step), so the sums are plain float sums in append order.
    """
    uh, dh = plat._uses_hist, plat._domain_hist
    used = sum(uh)
    rate = used / len(uh)
    plat.use_rate = rate
    dom = sum(dh)
    benefit = min(1.0, used / dom) if dom > 0 else 0.0
    plat.benefit = benefit
    plat.zombie = rate < zombie_threshold
    if plat.demand >= demand_threshold:  # quadrant(plat.demand, benefit, ...), inline
        plat.quadrant = "effective" if benefit >= benefit_threshold else "failed"
    else:
        plat.quadrant = "useful_unsolicited" if benefit >= benefit_threshold else "decoration"


def update_use(model, needs_by_region: np.ndarray) -> None:
    """After service: use rate, benefit, zombie flag and quadrant of every live platform."""
    p = model.params
    res = _residents_list(model)
    z, dt, bt = p["platform.zombie_threshold"], p["platform.demand_threshold"], p["platform.benefit_threshold"]
    needs_by_region = np.asarray(needs_by_region, dtype=float).tolist()
    for plat in model.platforms:
        r = plat.region
        res_r = res[r]
        uh, dh = plat._uses_hist, plat._domain_hist
        if res_r > 0:  # as Python floats (the values of numpy scalars), which split_and_update_use relies on
            uh.append(float(1000.0 * plat.uses / res_r))
            dh.append(float(1000.0 * needs_by_region[r] * plat.demand * plat.coverage / res_r))
        else:
            uh.append(0.0)
            dh.append(0.0)
        _record_use(plat, z, dt, bt)


def split_and_update_use(model, needs_by_region, lay: Layout | None = None) -> list:
    """:func:`split_uses` (the recorded uses, the current routing shares), then :func:`update_use`.

    One pass over each region's platforms instead of one per function, the
    same arithmetic; returns the routing shares per region (lists of floats in
    platform order), which :func:`govsim.governments.participate` reuses.
    """
    p = model.params
    lay = layout(model) if lay is None else lay
    res = _residents_list(model)
    z, dt, bt = p["platform.zombie_threshold"], p["platform.demand_threshold"], p["platform.benefit_threshold"]
    needs = np.asarray(needs_by_region, dtype=float).tolist()
    shares_r = []
    for r, plats in enumerate(lay.by_region):
        # routing shares, and the uses recorded in the region (sums in platform order from 0.0)
        w = [pl.demand * pl.coverage for pl in plats]
        tot = total = 0.0
        for pl, x in zip(plats, w):
            tot += x
            total += float(pl.uses)
        s = [x / tot for x in w] if tot > 0 else [0.0] * len(w)
        shares_r.append(s)
        # split ∝ r_p U_p R_p online_p
        w = [x * (pl.usability * pl.reliability * (1.0 if pl.online else 0.0)) for pl, x in zip(plats, s)]
        tot = 0.0
        for x in w:
            tot += x
        res_r, need_r = res[r], needs[r]
        for pl, x in zip(plats, w):
            u = x * total / tot if tot > 0 else 0.0
            pl.uses = u
            # use rate, benefit, zombie, quadrant (update_use)
            uh, dh = pl._uses_hist, pl._domain_hist
            if res_r > 0:
                uh.append(1000.0 * u / res_r)
                dh.append(1000.0 * need_r * pl.demand * pl.coverage / res_r)
            else:
                uh.append(0.0)
                dh.append(0.0)
            _record_use(pl, z, dt, bt)
    return shares_r


def quadrant(demand: float, benefit: float, demand_threshold: float, benefit_threshold: float) -> str:
    """The demand × benefit quadrant of seed 001.

    Examples
    --------
    >>> quadrant(0.9, 0.5, 0.5, 0.25), quadrant(0.1, 0.5, 0.5, 0.25)
    ('effective', 'useful_unsolicited')
    >>> quadrant(0.9, 0.1, 0.5, 0.25), quadrant(0.1, 0.1, 0.5, 0.25)
    ('failed', 'decoration')
    """
    needed = demand >= demand_threshold
    delivers = benefit >= benefit_threshold
    if needed:
        return "effective" if delivers else "failed"
    return "useful_unsolicited" if delivers else "decoration"


def platform_table(model) -> pd.DataFrame:
    """One row per platform (live, then retired): a tidy table for the end of a run.

    Columns: ``id``, ``region``, ``kind``, ``created``, ``retired`` (step or
    -1), ``alive``, ``demand``, ``benefit``, ``quadrant``, ``use_rate`` (uses
    per 1,000 residents per step, window mean), ``uses`` (this step),
    ``zombie``, ``build_cost``, ``upkeep``, ``cost`` (money spent on it so
    far), ``burden_hours`` (formalism hours per cadre per step it demands),
    the five quality attributes and ``online``.

    Examples
    --------
    >>> import govsim
    >>> m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 500}), rng=0)
    >>> _ = m.run(3)
    >>> t = platform_table(m)
    >>> set(t["quadrant"]) <= set(QUADRANTS), int((t["kind"] == "portal").sum()) == m.n_regions
    (True, True)
    """
    sharing = data_sharing(model)
    rows = []
    for plat in [*model.platforms, *getattr(model, "retired_platforms", [])]:
        rows.append({
            "id": plat.unique_id, "region": plat.region, "kind": plat.kind, "created": plat.created,
            "retired": -1 if plat.retired is None else plat.retired, "alive": plat.retired is None,
            "demand": plat.demand, "benefit": plat.benefit, "quadrant": plat.quadrant,
            "use_rate": plat.use_rate, "uses": plat.uses, "zombie": plat.zombie,
            "build_cost": plat.build_cost, "upkeep": plat.upkeep, "cost": plat.spent,
            "burden_hours": plat.burden_hours(float(sharing[plat.region])),
            **{name: getattr(plat, name) for name in QUALITY}, "online": plat.online,
        })
    return pd.DataFrame(rows)


# -- outputs -------------------------------------------------------------------------
for _name, _unit, _doc in [
    ("apps_per_region", "apps", "mean number of live departmental apps per region (the portal excluded)"),
    ("platforms_total", "platforms", "live platforms (portals and apps) in all regions"),
    ("zombie_apps", "platforms", "live platforms whose use rate is below platform.zombie_threshold"),
    ("platforms_effective", "platforms", "live platforms with demand and benefit at or above their thresholds"),
    ("platforms_useful_unsolicited", "platforms", "live platforms with low demand but benefit above threshold"),
    ("platforms_failed", "platforms", "live platforms with demand above threshold but low benefit"),
    ("platforms_decoration", "platforms", "live platforms with low demand and low benefit"),
    ("online_usability", "[0, 1]", "mean over regions of the usability citizens meet online (after fragmentation)"),
    ("data_sharing", "share", "mean over regions of data sharing D (mean integration of live platforms)"),
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _platform_outputs(model) -> dict:
    plats = model.platforms
    counts = dict.fromkeys(QUADRANTS, 0)
    zombies = 0
    for p in plats:
        counts[p.quadrant] += 1
        zombies += bool(p.zombie)
    n = model.n_regions
    q = getattr(model, "quality", None) or regional_quality(model)
    lay = layout(model)
    # the means over regions of np.mean, with its summation order (np_sum)
    return {
        "apps_per_region": sum(lay.n_apps) / n if n else 0.0,
        "platforms_total": len(plats),
        "zombie_apps": zombies,
        **{f"platforms_{k}": v for k, v in counts.items()},
        "online_usability": np_sum(np.asarray(q["usability"], dtype=float).tolist()) / n if n else 0.0,
        "data_sharing": np_sum(_sharing(lay)) / n if n else 0.0,
    }
