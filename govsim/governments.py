"""Governments: the central government and one local government per region (Mesa agents).

Central government
------------------
Sets the evaluation regime: ``government.metric_weight`` w in [0, 1], the
weight of visible digital metrics (apps launched, registered users, check-ins,
reports filed) against real outcomes (satisfaction, time saved, equity) in the
score E_r by which it evaluates each local government (:mod:`govsim.evaluation`).
Its policies are scheduled events (:mod:`govsim.policies`: ``cap_apps``,
``merge_reporting``, ``shift_to_outcomes``, and the generic ``set``). Its step
runs first in the step and brings the shocks up to date (:func:`govsim.shocks.update`:
expiring surges, random breaches).

Local governments
-----------------
One per region, with a budget B_r per step (``government.budget_mean`` ×
lognormal(0, ``government.budget_inequality``) normalised to the mean, from the
governments stream) and a technical capacity c_r = B_r / (B_r + mean B) in
(0, 1) (0.5 at the mean budget: richer regions have more technical staff).

*Ambition and capacity mismatch* (seed 001: "adapt to local digital
capability"). Each local government aims at ambition a_r =
``government.ambition`` (or min(ambition, c_r) when ``government.adapt_ambition``
is true: appropriate technology). Its mismatch is m_r = max(0, a_r − c_r). What
it builds has usability and reliability scaled by 1 − k·m_r, and its quality
investment pulls U and R towards 1 − k·m_r (k = ``government.mismatch_penalty``;
see :mod:`govsim.platforms`); ambition is also the ceiling of the coverage and
integration it can reach by investing (what it tries to build). Ambition buys
breadth; beyond capacity it costs usability and reliability. The penalty is
linear in the shortfall: the simplest form that is zero for appropriate
technology and grows with the gap.

*Spending, every step.* Upkeep of the region's platforms is paid first (a share
min(1, B_r / upkeep) of it; unpaid upkeep degrades the platforms, see
:mod:`govsim.platforms`). The rest, D_r = B_r − upkeep paid, is split by the
allocation a = (quality, launch, training, service, compliance), shares summing
to 1:

* quality: a_q·D_r is invested in the region's platforms in proportion to
  their routing shares (investment follows the needs they carry);
* launch: a_l·D_r goes into a launch fund; each time the fund reaches
  ``platform.build_cost`` a departmental app is launched, unless the region is
  at its app cap (``cap_apps``) or at ``platform.max_apps``, in which case this
  share is not spent;
* training: a_t·D_r is written to ``model.training_budget[r]`` (budget units
  per step) and converted to ``model.training_seats[r]`` = a_t·D_r /
  ``government.training_cost`` training seats per 10,000 residents per step,
  for the literacy-training mechanics of the digital-divide issue
  (:mod:`govsim.training`, whose seats are also counted per 10,000 citizens);
* service: a_s·D_r buys ``model.extra_cadre_hours[r]`` = a_s·D_r ×
  :func:`govsim.cadres.hours_per_budget_unit` hours of offline/assisted
  service, added to the service capacity by :func:`govsim.cadres.service_hours`;
* compliance: a_c·D_r raises reporting compliance κ_r (the visible "reports
  filed" metric), with diminishing returns and decay δ =
  ``government.compliance_decay``: κ ← (1 − δ)κ + (1 − (1 − δ)κ)(1 − exp(−a_c·D_r / s_c)),
  s_c = ``government.compliance_scale``. It buys visibility only.

*Decision, every* ``government.planning_period`` *steps* (at steps 1, 1 + P, ...),
region by region. A boundedly rational best response to the evaluation:

1. Zombie apps are retired, least used first, while the predicted loss in the
   evaluation, w × [v(P_r) − v(P_r − 1)] × 2/4 (the apps and check-ins metrics
   both fall; v(x) = 1 − exp(−x/N)), is smaller than the predicted gain,
   (1 − w) × ρ × [2·b + 1 − exp(−upkeep / (s·B̄))] / 3, where b is the share of a
   cadre's H the app's formalism takes (freed for service: satisfaction and
   time saved) and the upkeep saved is valued as spending would be (ρ, s below).
2. Each of 70 candidate allocations (every split of the budget into quarters
   over the five uses) gets an expected evaluation gain over the next period
   from a simple response model, using the indicators the government sees
   (granularity, :mod:`govsim.evaluation`). With f_k = 1 − exp(−a_k·D_r / (s·B̄))
   (s = ``government.response_scale``, B̄ = budget_mean: diminishing returns)
   and ρ = ``government.response_gain`` (share of a gap a saturated spend
   closes)::

       n_new   = min(room, (a_l·D_r·P + fund) / build_cost)   apps it can launch
       ΔV = [ v(P_r + n_new) − v(P_r)                          apps launched
            + (1 − users) ρ (f_q + f_t)/2                      registered users
            + v(P_r + n_new) − v(P_r)                          check-ins
            + κ_P(a_c) − κ ] / 4                               reports (κ after P steps)
       ΔO = [ (1 − sat) ρ (f_q + f_s)/2 − ρ·b_new             satisfaction
            + (1 − time) ρ f_q − ρ·b_new                       time saved
            + (1 − equity) ρ (f_t + f_s)/2 ] / 3               equity
       score = w ΔV + (1 − w) ΔO

   b_new is the share of H the new apps' check-ins and forms would take.
   The gaps (1 − x) are those the government sees: with aggregate indicators
   the exclusion of a small group hardly shows, so training and assisted
   capacity look less useful than they are (the "denoising effect").
3. The allocation is drawn from a softmax (logit) over the scores with
   temperature τ = ``government.choice_temperature``: P(a) ∝ exp(score(a)/τ),
   one uniform from the ``decisions`` stream per government (boundedly rational:
   τ → 0 is the best response, large τ a random allocation).

Why these forms. The local government optimises what it is evaluated on, not
what citizens get: that is the whole mechanism of formalism, so its objective
is the evaluation E itself, predicted with the indicators it sees. The
response model is deliberately simple and local (one planning period ahead,
gaps closed in proportion to what is left, saturating spend 1 − exp(−x)),
because a grassroots government plans with rules of thumb, not with the
model's own dynamics; the difference between its prediction and what happens
is part of the story. Apps enter the visible score twice (the count, and the
check-ins every app generates), which is why proliferation pays under a
metric-driven regime, while their burden on cadres enters the outcome side
only. The logit choice (quantal response: McKelvey & Palfrey 1995) keeps
decisions noisy but monotone in the expected score, and a fixed grid of 70
candidates keeps the choice set explicit and cheap (a few regions × 70 rows
every six steps).

Participation
-------------
After service (:func:`after_service`), each citizen who had a need this step
and whose satisfaction is below ``participation.dissatisfied_below`` is a
potential complainant; the number who give feedback in region r is Binomial
(those, ``participation.feedback_rate``) and the local government responds
this step with probability ``participation.response_rate`` (stream
``feedback``, see below). A response splits the
feedback among the region's platforms by routing share; platform p, receiving
f_p feedback messages per 1,000 residents, improves::

    g = participation.improvement × (1 − exp(−f_p / participation.feedback_scale))
    U_p ← U_p + (1 − U_p) g          (problems reported get fixed)
    d_p ← d_p + (1 − d_p) g          (the services people ask for get built: "demand-side mining")

With ``participation.enabled = false`` nothing is drawn and nothing changes.

Random numbers
--------------
The governments stream draws the regional budgets (lognormal, one per region),
then spawns three child streams so that one process's draws never shift
another's (arms with and without feedback make the same decisions for the
same indicators): ``decisions`` (one uniform per decision, regions in order),
``apps`` (the Beta demand of each app built, in the order built) and
``feedback`` (per step: the binomial feedback counts, then one uniform per
region for the response).
"""

from __future__ import annotations

import math

import numpy as np

from .agents import GovAgent
from . import cadres, evaluation, platforms
from .compiled import jit
from .config import Param, declare
from .metrics import declare_output, register_reporter

USES = ("quality", "launch", "training", "service", "compliance")
#: child streams spawned from the governments stream (after the budgets are drawn)
GOV_STREAMS = ("decisions", "apps", "feedback")


def candidate_allocations(units: int = 4, k: int = len(USES)) -> np.ndarray:
    """Every split of the budget into ``units`` equal parts over ``k`` uses (shares), in a fixed order.

    Examples
    --------
    >>> a = candidate_allocations()
    >>> a.shape, bool(np.allclose(a.sum(axis=1), 1.0))
    ((70, 5), True)
    """
    out: list[list[int]] = []

    def rec(prefix: list[int], left: int, slots: int) -> None:
        if slots == 1:
            out.append([*prefix, left])
            return
        for i in range(left, -1, -1):
            rec([*prefix, i], left - i, slots - 1)

    rec([], units, k)
    return np.array(out, dtype=float) / units


CANDIDATES = candidate_allocations()


@jit
def _candidate_scores(f, g, n_new, e_new, e_old, users, sat, time, eq, rho, w, kappa0, delta, period,
                      burden_share):  # pragma: no cover - compiled
    """The score of each candidate from its saturations ``f``, compliance gains ``g``, apps ``n_new`` and
    exp(−(P_r + n_new)/N) (``e_new``; e_old = exp(−P_r/N)): the float64 operations of the equations in the
    order written (no fast-math), non-finite scores as 0."""
    out = np.empty(f.shape[0])
    for i in range(f.shape[0]):
        fq = f[i, 0]
        ft = f[i, 2]
        fs = f[i, 3]
        dv_apps = e_old - e_new[i]
        dv_users = (1.0 - users) * rho * (fq + ft) / 2.0
        kappa = kappa0
        for _ in range(period):
            kappa = (1.0 - delta) * kappa + (1.0 - (1.0 - delta) * kappa) * g[i]
        dv = (2.0 * dv_apps + dv_users + kappa - kappa0) / 4.0
        burden = n_new[i] * burden_share
        do = ((1.0 - sat) * rho * (fq + fs) / 2.0 - rho * burden
              + (1.0 - time) * rho * fq - rho * burden
              + (1.0 - eq) * rho * (ft + fs) / 2.0) / 3.0
        score = w * dv + (1.0 - w) * do
        out[i] = score if np.isfinite(score) else 0.0
    return out

declare(
    Param("government.metric_weight", float, 0.5,
          "weight of visible digital metrics (apps, registrations, check-ins, reports) vs real outcomes in local evaluation",
          unit="share", low=0.0, high=1.0, source="MODEL.md; 0.5 = balanced regime"),
    Param("government.budget_mean", float, 100.0, "mean fiscal budget for digital services per region per step",
          unit="budget units/step", low=0.0, high=1e9, source="assumption: a unit of account; only ratios matter"),
    Param("government.budget_inequality", float, 0.5,
          "spread of regional budgets: budgets are the mean times lognormal(0, this) normalised to the mean",
          unit="-", low=0.0, high=3.0, source="assumption: provincial fiscal capacity differs severalfold"),
    Param("government.planning_period", int, 6, "steps between local governments' allocation decisions",
          unit="steps", low=1, high=1200, source="assumption: half-yearly planning and evaluation cycles"),
    Param("government.choice_temperature", float, 0.01,
          "softmax temperature of the allocation choice, in units of evaluation score (small = best response)",
          unit="score", low=1e-6, high=100.0,
          source="assumption: candidate scores differ by 0.01-0.1, so choices are noisy but responsive"),
    Param("government.information_granularity", str, "aggregate",
          "what indicators governments and the evaluator see: population means, or outcomes by group",
          choices=("aggregate", "by_group"),
          source="seed 004: the 'denoising effect' of indices that hide individuals; aggregate is the status quo"),
    Param("government.ambition", float, 0.5,
          "technological ambition of local governments: ceiling of the coverage and integration they build towards",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption: equal to the capacity of a region of mean budget"),
    Param("government.adapt_ambition", bool, False,
          "local governments cap their ambition at their own capacity (appropriate technology)",
          source="seed 001: 'adapt to local digital capabilities'"),
    Param("government.mismatch_penalty", float, 0.5,
          "loss of usability and reliability per unit of capacity mismatch max(0, ambition − capacity)",
          unit="per unit mismatch", low=0.0, high=2.0,
          source="assumption: a region 0.3 short of its ambition builds apps 15 % less usable and reliable"),
    Param("government.response_gain", float, 0.5,
          "share of an indicator's gap a saturated spend is expected to close over a planning period",
          unit="share", low=0.0, high=1.0, source="assumption"),
    Param("government.response_scale", float, 0.25,
          "spend per step, in units of budget_mean, at which a use's expected effect reaches 1 − 1/e of saturation",
          unit="budget_mean", low=1e-6, high=100.0, source="assumption: a quarter of a typical budget"),
    Param("government.apps_norm", float, 8.0,
          "platforms at which the 'apps launched' metric reaches 1 − 1/e (v = 1 − exp(−platforms / this))",
          unit="platforms", low=0.1, high=1000.0,
          source="7-8 apps per township cadre (govsim/data/formalism_indicators.csv: apps_per_cadre_township_xinchang)"),
    Param("government.compliance_scale", float, 100.0,
          "compliance spending per step that closes 1 − 1/e of the reporting-compliance gap in a step",
          unit="budget units/step", low=1e-6, high=1e12, source="assumption"),
    Param("government.compliance_decay", float, 0.05, "share of reporting compliance lost per step without spending",
          unit="share/step", low=0.0, high=1.0, source="assumption: reports must be refiled every month"),
    Param("government.initial_compliance", float, 0.5, "initial reporting compliance of every local government",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption"),
    Param("government.training_cost", float, 0.5,
          "cost of one literacy-training seat per 10,000 residents (money for training → seats)",
          unit="budget units/(seat/10k residents)", low=1e-9, high=1e12,
          source="assumption: a quarter of a mean budget (25 units) buys 50 seats per 10,000 residents a month"),
    Param("participation.enabled", bool, True, "dissatisfied citizens give feedback that can improve platforms",
          source="MODEL.md step 7; seed 001: 'leadership and participation'"),
    Param("participation.dissatisfied_below", float, 0.4,
          "satisfaction below which a citizen with a need this step may give feedback", unit="[0, 1]",
          low=0.0, high=1.0, source="assumption"),
    Param("participation.feedback_rate", float, 0.05, "probability that a dissatisfied citizen gives feedback in a step",
          unit="probability", low=0.0, high=1.0, source="assumption: few complain"),
    Param("participation.response_rate", float, 0.5,
          "probability that a local government acts on a step's feedback", unit="probability", low=0.0, high=1.0,
          source="assumption"),
    Param("participation.improvement", float, 0.05,
          "largest share of a platform's usability and demand gap closed by one step's feedback", unit="share",
          low=0.0, high=1.0, source="assumption"),
    Param("participation.feedback_scale", float, 5.0,
          "feedback per 1,000 residents at which the improvement reaches 1 − 1/e of its largest",
          unit="messages/1,000 residents", low=1e-6, high=1e6, source="assumption"),
)


def response_scale(params) -> float:
    """Money at which a spending line reaches 1 − 1/e of its effect: ``response_scale`` × ``budget_mean``
    (× 1 when there is no budget)."""
    bm = params["government.budget_mean"]
    return params["government.response_scale"] * (bm if bm > 0 else 1.0)


def _ratio(a: float, b: float, cap: float = 1e12) -> float:
    """a / b for non-negative a, capped (and ``cap`` for a > 0 over b = 0): safe with tiny scales."""
    if b > 0:
        if type(a) is float and type(b) is float:  # Python floats: overflow gives inf, no warning to silence
            return float(min(a / b, cap))
        with np.errstate(over="ignore"):
            return float(min(a / b, cap))
    return cap if a > 0 else 0.0


class CentralGovernment(GovAgent):
    """Sets the evaluation regime for local governments.

    Attributes
    ----------
    metric_weight : float
        Weight on visible digital metrics, read from the scenario parameters
        each step so that policy events can change it.
    """

    def __init__(self, model):
        super().__init__(model)

    @property
    def metric_weight(self) -> float:
        return float(self.model.params["government.metric_weight"])

    def step(self) -> None:
        """Bring shocks up to date (policies are applied by scheduled events before this)."""
        if not _SHOCKS:  # imported on first use (govsim.shocks imports the policies, which import platforms)
            from . import shocks

            _SHOCKS.append(shocks)
        _SHOCKS[0].update(self.model)


_SHOCKS: list = []


class LocalGovernment(GovAgent):
    """The government of one region.

    Attributes
    ----------
    region : int
    budget : float
        Budget per step (budget units).
    capacity : float
        Technical capacity in (0, 1).
    ambition, mismatch : float
        Ambition a_r and capacity mismatch max(0, a_r − capacity).
    allocation : numpy.ndarray
        Current shares over :data:`USES`.
    compliance : float
        Reporting compliance κ in [0, 1].
    spent_step, compliance_spend : float
        Money spent this step, and the part spent on compliance.
    """

    def __init__(self, model, region: int, budget: float, capacity: float):
        super().__init__(model)
        p = model.params
        self.region = int(region)
        self.budget = float(budget)
        self.capacity = float(capacity)
        amb = float(p["government.ambition"])
        self.ambition = min(amb, self.capacity) if p["government.adapt_ambition"] else amb
        self.mismatch = max(0.0, self.ambition - self.capacity)
        self.allocation = np.full(len(USES), 1.0 / len(USES))
        self.choice_index = -1
        self.compliance = float(p["government.initial_compliance"])
        self.launch_fund = 0.0
        self.spent_step = 0.0
        self.compliance_spend = 0.0
        self.launched = 0
        self.retired = 0

    # -- helpers ------------------------------------------------------------------
    def own_platforms(self) -> list:
        return list(platforms.layout(self.model).by_region[self.region])

    def app_limit(self) -> int:
        m = self.model
        return int(min(m.app_cap[self.region], m.params["platform.max_apps"]))

    def app_burden_share(self) -> float:
        """Share of a cadre's H one more app takes (its check-ins and, unless reports are merged, its forms)."""
        p = self.model.params
        H = p["cadres.hours_per_step"]
        if H <= 0:
            return 0.0
        forms = 0.0 if self.model.reports_merged[self.region] else p["formalism.forms_per_app"]
        hours = p["formalism.checkin_hours"] + forms * p["formalism.entry_hours"] * (1.0 - p["platform.app_integration"])
        return min(1.0, hours / H)  # formalism beyond H is not done

    def discretionary(self) -> float:
        upkeep = platforms.layout(self.model).upkeep[self.region]
        return max(0.0, self.budget - min(upkeep, self.budget))

    # -- the step -------------------------------------------------------------------
    def step(self) -> None:
        """Decide at the start of each planning period, then spend this step's budget."""
        period = int(self.model.params["government.planning_period"])
        if (self.model.time_step - 1) % period == 0:
            self.decide()
        self.spend()

    def decide(self) -> None:
        """Retire zombie apps worth retiring, then draw an allocation by softmax over expected scores."""
        self.retire_zombies()
        scores = self.expected_gain(CANDIDATES)
        tau = float(self.model.params["government.choice_temperature"])
        z = (scores - scores.max()) / tau
        prob = np.exp(z)
        prob /= prob.sum()
        u = self.model.gov_streams["decisions"].random()
        idx = int(min(np.searchsorted(np.cumsum(prob), u, side="right"), len(prob) - 1))
        self.choice_index = idx
        self.allocation = CANDIDATES[idx].copy()

    def _seen(self):
        ind = getattr(self.model, "indicators", None) or evaluation.indicators(self.model)
        sat, time, eq = evaluation.seen_outcomes(self.model, ind)
        r = self.region
        return float(ind["users"][r]), float(sat[r]), float(time[r]), float(eq[r])

    def responses(self, alloc: np.ndarray) -> tuple[float, np.ndarray]:
        """The discretionary budget D and each line's response ``1 − exp(−alloc × D / response_scale)``."""
        D = self.discretionary()
        return D, 1.0 - np.exp(-alloc * _ratio(D, response_scale(self.model.params)))

    def expected_gain(self, alloc: np.ndarray) -> np.ndarray:
        """Expected evaluation gain over the next period of each allocation (rows of ``alloc``)."""
        m = self.model
        p = m.params
        w = float(p["government.metric_weight"])
        rho = p["government.response_gain"]
        period = int(p["government.planning_period"])
        D, f = self.responses(alloc)
        N = p["government.apps_norm"]
        lay = platforms.layout(m)
        n_plat = lay.n_plat[self.region]
        n_apps = lay.n_apps[self.region]
        room = max(0, self.app_limit() - n_apps)
        cost = p["platform.build_cost"]
        budget_new = alloc[:, 1] * D * period + self.launch_fund
        with np.errstate(over="ignore"):
            n_new = np.minimum(room, budget_new / cost) if cost > 0 else np.full(len(alloc), float(room))
        n_new = np.where(alloc[:, 1] > 0, n_new, 0.0)
        e_old, e_new = np.exp(-n_plat / N), np.exp(-(n_plat + n_new) / N)
        users, sat, time, eq = self._seen()
        # reporting compliance after one period under each spend
        delta = p["government.compliance_decay"]
        g = 1.0 - np.exp(-alloc[:, 4] * _ratio(D, p["government.compliance_scale"]))
        # the rest (ΔV, ΔO and the score of each candidate) in one compiled pass; the exponentials are numpy's
        c = np.ascontiguousarray
        return _candidate_scores(c(f, dtype=float), c(g, dtype=float), c(n_new, dtype=float), c(e_new, dtype=float),
                                 float(e_old), users, sat, time, eq, float(rho), w, float(self.compliance),
                                 float(delta), period, float(self.app_burden_share()))

    def retire_zombies(self) -> int:
        """Retire zombie apps while the predicted evaluation gain exceeds the loss; return how many."""
        m = self.model
        p = m.params
        w = float(p["government.metric_weight"])
        rho = p["government.response_gain"]
        N = p["government.apps_norm"]
        scale = response_scale(p)
        H = p["cadres.hours_per_step"]
        lay = platforms.layout(m)
        own = lay.by_region[self.region]
        zombies = sorted((pl for pl in own if pl.kind == "app" and pl.zombie),
                         key=lambda pl: (pl.use_rate, -pl.created, pl.unique_id))
        if not zombies:
            return 0
        sharing = platforms._sharing(lay)[self.region]
        n_plat = lay.n_plat[self.region]
        done = 0
        for pl in zombies:
            loss = w * 2.0 * (math.exp(-(n_plat - 1.0) / N) - math.exp(-n_plat / N)) / 4.0
            hours = p["formalism.checkin_hours"] if m.reports_merged[self.region] else pl.burden_hours(sharing)
            b = min(1.0, hours / H) if H > 0 else 0.0
            gain = (1.0 - w) * rho * (2.0 * b + 1.0 - math.exp(-_ratio(pl.upkeep, scale))) / 3.0
            if gain <= loss:
                break
            platforms.retire(m, pl)
            n_plat -= 1.0
            done += 1
        self.retired += done
        return done

    def spend(self) -> None:
        """Pay upkeep, then spend the rest by the current allocation (see the module docstring)."""
        m = self.model
        p = m.params
        r = self.region
        lay = platforms.layout(m)
        plats = lay.by_region[r]
        upkeep = lay.upkeep[r]  # sum(pl.upkeep for pl in plats): an upkeep is fixed when a platform is built
        paid = min(1.0, self.budget / upkeep) if upkeep > 0 else 1.0
        D = max(0.0, self.budget - upkeep * paid)
        a_q, a_l, a_t, a_s, a_c = self.allocation.tolist()  # Python floats: the same products
        s_q, s_l, s_t, s_s, s_c = a_q * D, a_l * D, a_t * D, a_s * D, a_c * D

        # upkeep, then quality in proportion to the routing shares of the region's platforms
        # (upkeep leaves demand and coverage as they are: the shares are read first, one loop does both)
        amounts = None
        if s_q > 0 and plats:
            w = [pl.demand * pl.coverage for pl in plats]
            tot = platforms.np_sum(w)
            if tot > 0:
                amounts = [s_q * (x / tot) for x in w]
            else:
                amounts = [s_q * (1.0 / len(plats))] * len(plats)
        ceil_ur = max(0.0, 1.0 - p["government.mismatch_penalty"] * self.mismatch)
        platforms.upkeep_and_invest(plats, paid, amounts, ceil_ur, self.ambition, p)

        # launches
        n_apps = lay.n_apps[r]
        limit = self.app_limit()
        spent_launch = 0.0
        if n_apps < limit and s_l > 0:
            self.launch_fund += s_l
            spent_launch = s_l
            cost = p["platform.build_cost"]
            rng = m.gov_streams["apps"]
            while n_apps < limit and self.launch_fund >= cost:
                platforms.new_app(m, r, self.mismatch, rng)
                self.launch_fund -= cost
                n_apps += 1
                self.launched += 1

        m.training_budget[r] = s_t
        m.training_seats[r] = s_t / p["government.training_cost"]
        m.extra_cadre_hours[r] = s_s * cadres._hours_per_budget_unit_list(m)[r]
        delta = p["government.compliance_decay"]
        g = 1.0 - math.exp(-_ratio(s_c, p["government.compliance_scale"]))
        k = (1.0 - delta) * self.compliance
        self.compliance = float(min(1.0, k + (1.0 - k) * g))
        self.compliance_spend = s_c
        self.spent_step = upkeep * paid + s_q + spent_launch + s_t + s_s + s_c


def build_governments(model, rng: np.random.Generator):
    """The central government and one local government per region, with unequal budgets."""
    central = CentralGovernment(model)
    n = model.n_regions
    sigma = model.params["government.budget_inequality"]
    raw = rng.lognormal(0.0, sigma, size=n) if sigma > 0 else np.ones(n)
    budgets = model.params["government.budget_mean"] * raw / raw.mean()
    model.gov_streams = dict(zip(GOV_STREAMS, rng.spawn(len(GOV_STREAMS)), strict=True))
    mean = budgets.mean()
    capacity = budgets / (budgets + mean) if mean > 0 else np.full(n, 0.5)  # 0.5 at the mean budget
    locals_ = [LocalGovernment(model, r, budgets[r], capacity[r]) for r in range(n)]
    return central, locals_


def setup(model) -> None:
    """Create the governance state kept across steps (called once the platforms exist).

    Model attributes created here (per-region arrays): ``app_cap`` (app cap in
    force; no cap = a very large number), ``reports_merged`` (bool),
    ``extra_cadre_hours`` (service hours bought, hours/step),
    ``training_budget`` (literacy-training spending, budget units/step),
    ``training_seats`` (the seats it buys, per 10,000 residents per step),
    ``feedback`` (feedback messages this step).
    """
    n = model.n_regions
    model.app_cap = np.full(n, 10**9, dtype=np.int64)
    model.reports_merged = np.zeros(n, dtype=bool)
    model.extra_cadre_hours = np.zeros(n)
    model.training_budget = np.zeros(n)
    model.training_seats = np.zeros(n)
    model.feedback = np.zeros(n, dtype=np.int64)
    p = model.params
    for pl in model.platforms:
        pl.quadrant = platforms.quadrant(pl.demand, 0.0, p["platform.demand_threshold"],
                                         p["platform.benefit_threshold"])


@jit
def _unhappy_by_region(active, satisfaction, below, region, n):  # pragma: no cover - compiled
    """Citizens among ``active`` whose satisfaction is below ``below``, per region (one pass).

    Citizens are numbered by region, so the count runs in a local variable
    until the region changes (integer counts: the order does not matter), and
    the comparison is added, not branched on.
    """
    out = np.zeros(n, dtype=np.int64)
    if active.size == 0:
        return out
    last = region[active[0]]
    count = 0
    for i in active:
        r = region[i]
        if r != last:
            out[last] += count
            last = r
            count = 0
        count += np.int64(satisfaction[i] < below)
    out[last] += count
    return out


def participate(model, shares: np.ndarray | None = None) -> None:
    """Citizens' feedback and the local governments' response (see "Participation").

    ``shares`` are the platforms' routing shares (computed if not given).
    """
    lay = platforms.layout(model)
    _participate(model, lay, platforms._routing(lay)[0] if shares is None else platforms._by_region(lay, shares))


def _participate(model, lay, shares_r: list) -> None:
    p = model.params
    n = model.n_regions
    if not p["participation.enabled"]:
        model.feedback = np.zeros(n, dtype=np.int64)
        return
    rng = model.gov_streams["feedback"]
    pop = model.citizens
    active = getattr(model, "step_active", None)
    if active is None:
        active = np.flatnonzero(model.step_outcome >= 0)
    active = np.asarray(active, dtype=np.intp)
    sat = pop.satisfaction
    # the threshold in the satisfaction's dtype: numpy compares an array with a Python float in the array's dtype
    below = sat.dtype.type(p["participation.dissatisfied_below"])
    counts = _unhappy_by_region(active, sat, below, pop.region, n)
    # one binomial per region, in order: the draws of rng.binomial(counts, rate), with less overhead
    rate = p["participation.feedback_rate"]
    binomial = rng.binomial
    fb = [int(binomial(c, rate)) for c in counts.tolist()]
    respond = rng.random(n) < p["participation.response_rate"]
    model.feedback = np.array(fb, dtype=np.int64)
    res = cadres._residents_list(model)
    top = p["participation.improvement"]
    sc = p["participation.feedback_scale"]
    respond = respond.tolist()  # Python scalars: the same arithmetic, less overhead
    for r, (plats, sh) in enumerate(zip(lay.by_region, shares_r)):
        for pl in plats:
            pl.feedback = 0.0
        if not respond[r] or fb[r] == 0 or res[r] <= 0:
            continue
        for pl, s in zip(plats, sh):
            f = 1000.0 * fb[r] * s / res[r]
            pl.feedback = f
            g = top * (1.0 - math.exp(-f / sc))
            pl.usability += (1.0 - pl.usability) * g
            pl.demand += (1.0 - pl.demand) * g


def after_service(model) -> None:
    """Governments take in the step's outcomes.

    In order: the indicators of the step are computed
    (:func:`govsim.evaluation.compute_indicators`, from the citizens' records),
    the platforms' real use is re-split (:func:`govsim.platforms.split_uses`)
    and their use rates, benefits, zombie flags and quadrants are updated
    (:func:`govsim.platforms.update_use`; both in one pass:
    :func:`govsim.platforms.split_and_update_use`), then citizens' feedback is
    taken in (:func:`participate`).
    """
    ind = evaluation.compute_indicators(model)  # reads the citizens only: the platforms' uses can be split after it
    model.indicators = ind
    lay = platforms.layout(model)
    shares_r = platforms.split_and_update_use(model, ind["needs"], lay)  # split_uses, then update_use
    _participate(model, lay, shares_r)  # the routing shares are unchanged until participation ends


# -- outputs ---------------------------------------------------------------------------
for _name, _unit, _doc in [
    *[(f"alloc_{u}", "share", f"mean over regions of the budget share allocated to {u}") for u in USES],
    ("apps_launched", "apps", "departmental apps launched since the start (all regions)"),
    ("apps_retired", "apps", "apps retired since the start (all regions; by governments and app caps)"),
    ("feedback_per_1000", "messages/1,000 citizens", "citizens' feedback messages this step per 1,000 citizens"),
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _government_outputs(model) -> dict:
    govs = model.local_governments
    alloc = [0.0] * len(USES)
    for g in govs:  # np.add.reduce over axis 0 adds the rows in order: the same sums
        for i, x in enumerate(g.allocation.tolist()):
            alloc[i] += x
    k = len(govs)
    alloc = [x / k for x in alloc] if govs else alloc
    n = model.citizens.n
    fb = getattr(model, "feedback", 0)
    fb = sum(fb.tolist()) if type(fb) is np.ndarray and fb.dtype.kind in "iu" else np.sum(fb)  # integers: exact
    return {
        **{f"alloc_{u}": alloc[i] for i, u in enumerate(USES)},
        "apps_launched": int(sum(g.launched for g in govs)),
        "apps_retired": len(getattr(model, "retired_platforms", [])),
        "feedback_per_1000": 1000.0 * float(fb) / n if n else 0.0,
    }
