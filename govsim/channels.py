"""Service needs, channel choice, the service encounter and rationed capacity (MODEL.md steps 5-6).

Every step each citizen draws new service needs; each need is served through one
of three channels -- **online** (the citizen uses the region's platform),
**offline** (a government window) or **assisted** (a cadre or a trained
"digital helper" takes the citizen through the online service) -- or it waits
in a queue, or it ends **unmet** (exclusion). All of a citizen's needs of a step
travel together (one channel, one outcome per citizen and step); this keeps
every process a handful of vectorised operations over the citizens who have
needs.

Needs
-----
New needs are Poisson with mean ``need_rate`` (by age group: the elderly
handle pensions and health insurance more often). They are drawn by inverse
transform from one uniform per citizen (stream ``dynamics``), so a seed fixes
them.

Who chooses
-----------
A citizen whose earlier needs are still queued stays in the queue, and needs
arising meanwhile join it (queued together, under the age of the oldest). Every
other citizen with new needs ("fresh") chooses among the channels open to them:

* online: aware of the online services, internet access, not lapsed (see
  :mod:`govsim.learning`), and the service is online -- with probability equal
  to the region's platform coverage C (one draw per citizen and step);
* assisted: ``assisted.enabled``, the service is online, and the region's
  platform is not in an outage (reliability > 0). It needs neither access nor
  awareness: a helper at the service point does the online part;
* offline: ``channels.offline_open``. The digital-only policy
  (``channels.offline_open = false``) closes the windows of services that are
  online; a service that is not online at all keeps its window. A citizen
  turned away by a closed window learns of the online service (becomes aware).

A fresh citizen with no open channel is unmet at once.

Channel choice (multinomial logit)
----------------------------------
Under the ``utility`` adoption rule the channel is drawn from a multinomial logit
over the utilities of the open channels (UTAUT: Venkatesh et al. 2003; trust:
Carter & Bélanger 2005)::

    U_online   = asc_online + b_pe·PE + b_ee·EE + b_si·SI + b_fc·FC + b_tr·T − b_pr·privacy_risk
    U_offline  = −b_time · (h_off + wait_hours · W_r)
    U_assisted = asc_assisted + b_tr·T − b_time · (h_assist + wait_hours · W_r)
    P(j) = exp(U_j) / Σ_{k open} exp(U_k)

with PE = C × (1 + I)/2 × (h_off − online_hours)/h_off (performance
expectancy: the share of the citizen's time saved, larger with shared data),
EE = L × U_i (effort expectancy; U_i is the region's usability, raised by
``channels.elderly_usability_boost`` for the elderly as in China's 2021
ageing-friendly retrofit of apps, capped at 1), SI = share of neighbours using
online, FC = mean literacy of neighbours (help at hand), T = trust,
privacy_risk = privacy concern × (1 − platform security). The offline visit
takes h_off = v × (offline_hours + rural travel) hours, with
v = 1 + extra_visits × (1 − I) visits per need (unshared data sends citizens
back with missing documents: "let data run more, people run less"); an
assisted need takes h_assist = assisted.citizen_hours + rural travel.
W_r is the expected wait in steps in the citizen's region by Little's law:
the cadre hours of the queue left at the end of the previous step over this
step's capacity, capped at ``patience + 1`` (and ``patience + 1`` where there
is a queue but no capacity). Under the ``bass`` and ``threshold`` rules
adopters go online whenever online is open to them; everybody else chooses
among offline and assisted by the same logit.

Under the utility rule a citizen has *adopted* while the channel chosen at the
latest need where online was open is online; a citizen with a need but no
access or awareness is not an adopter.

Encounter and fallback
----------------------
An online attempt succeeds with probability
``reliability × logistic((L × U_i − skill_threshold) / skill_spread)``: it rises
with literacy, usability and platform reliability (an outage sets reliability
to 0). A failed attempt costs ``fallback_hours`` per need and falls back along
the chain **assisted** (if the region offers it), then **offline** (if the
windows are open); where neither is left the needs are unmet. A fallback joins
the queue of its channel in the same step.

Capacity and queues
-------------------
Offline and assisted service are rationed by cadre hours per region:
``model.service_capacity[r]``, computed by :func:`govsim.cadres.service_hours`
before this process (cadres' hours minus formalism work: the one definition of
what cadres have left). Assisted service first uses the region's digital
helpers' hours (``assisted.helpers_per_10k`` × ``assisted.helper_hours``, for
assisted service only), then cadre hours. An offline need costs
``channels.cadre_hours_offline`` cadre hours, an assisted need
``assisted.cadre_hours``.

Each pool serves its waiting citizens in a fixed order: longest wait first,
ties broken by a uniform random key, drawn only for the citizens of the wait
class in which a region's capacity runs out (in a region whose demand fits
its capacity everybody is served and no key is drawn; see :func:`ration`).
The queue is served first come, first served without skipping: a citizen is
served if the capacity used before them is below the capacity (the case in
hand is finished, so a region overruns its hours by at most one citizen's
case). Citizens not served wait: each step waited costs
``channels.wait_hours`` hours per need (returning, calling, queueing again);
after ``channels.patience`` steps of waiting the needs become unmet. Rural
citizens pay ``rural_travel_hours`` more per offline or assisted visit. A
policy that closes a channel mid-run moves its queue along the fallback chain
(offline to assisted, assisted to offline) or makes it unmet.

Accounting (per citizen and step)
---------------------------------
needs handled = new needs + needs carried in the queue; they end served
(online, offline or assisted), still queued, or unmet, so for every group and
step: new needs + queued before = served + queued after + unmet. Hours:
online_hours per need (success); fallback_hours per need (failed attempt);
h_off per need (served offline); h_assist per need (served assisted);
wait_hours per need per step waited. Visits (in person): v per need served
offline, 1 per need served assisted.

Random draws (stream ``dynamics``, in this order)
-------------------------------------------------
1. needs: one float32 uniform per citizen (inverse-transform Poisson);
2. for the m citizens with needs or a queue (ascending index): a (3, m)
   block of float32 uniforms -- service online or not, channel choice,
   online success;
3. queue order keys: float64 uniforms for the waiting citizens of the
   boundary wait class of over-demanded regions, helpers' pool first, then
   the cadres' pool.

Implementation
--------------
Only the citizens with needs or a queue are processed (index arrays, no loop
over citizens or regions). Everything that depends on a citizen's region,
place and age group only (visit hours, usability, PE, coverage, reliability,
the offline and assisted logit weights) is computed once per step in a small
table over the keys region × urban × age (:func:`key_tables`) and gathered.
SI and FC come from one sparse product (:func:`neighbour_shares`).
Rationing counts hours by wait class and sorts only the boundary class
(``lexsort`` and a cumulative sum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .citizens import AGE_GROUPS, ASSISTED, OFFLINE, ONLINE
from .config import Param, declare

# per-citizen outcome codes of the current step (model.step_outcome)
NO_NEED, SERVED_OFFLINE, SERVED_ONLINE, SERVED_ASSISTED, UNMET, QUEUED = -1, 0, 1, 2, 3, 4
OUTCOMES = ("served_offline", "served_online", "served_assisted", "unmet", "queued")

# queue channel codes (ChannelState.queue_channel)
Q_NONE, Q_OFFLINE, Q_ASSISTED, Q_OFFLINE_ONLY = -1, OFFLINE, ASSISTED, 3

#: int8 scalars of the codes (np.where on them gives int8 arrays directly)
_I8 = {c: np.int8(c) for c in range(-1, 5)}

#: groups tallied every step: label = urban × 3 + age group
GROUP_NAMES = tuple(f"{'urban' if u else 'rural'}_{a}" for u in (0, 1) for a in AGE_GROUPS)
N_GROUPS = len(GROUP_NAMES)

declare(
    Param("channels.offline_open", bool, True,
          "offline government windows are open (false = digital-only policy: windows close for services that are online)",
          source="MODEL.md scenario digital_divide"),
    Param("channels.online_hours", float, 0.5, "hours a successful online need takes", unit="hours",
          low=0.0, high=100.0, source="assumption: 'let data run more, people run less' (seeds 000, 002)"),
    Param("channels.offline_hours", float, 2.0, "hours an urban offline visit takes (travel, queue, service)",
          unit="hours/visit", low=0.0, high=100.0, source="assumption: half a morning at a service hall"),
    Param("channels.rural_travel_hours", float, 1.5,
          "extra travel hours of an offline or assisted visit for rural citizens",
          unit="hours/visit", low=0.0, high=100.0, source="assumption: township service centres are farther away"),
    Param("channels.extra_visits", float, 0.5,
          "expected extra offline visits per need when no data is shared; scaled by (1 − integration)",
          unit="visits/need", low=0.0, high=10.0,
          source="assumption: before 'run at most once' (Zhejiang 2016) reforms a missing document meant a second "
                 "trip; integration (data sharing) removes it"),
    Param("channels.fallback_hours", float, 0.5, "hours lost on a failed online attempt before falling back",
          unit="hours", low=0.0, high=100.0, source="assumption"),
    Param("channels.skill_threshold", float, 0.15,
          "literacy × usability at which an online attempt succeeds half the time (if reliable)",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption"),
    Param("channels.skill_spread", float, 0.05, "spread of the logistic success curve in literacy × usability",
          unit="[0, 1]", low=0.001, high=1.0, source="assumption"),
    Param("channels.elderly_usability_boost", float, 0.0,
          "added to platform usability for elderly citizens (capped at 1): ageing-friendly design",
          unit="[0, 1]", low=0.0, high=1.0,
          source="MIIT special action on ageing-friendly and accessible retrofit of internet applications "
                 "(Dec 2020, run through 2021): large fonts, simple modes; 0 = no retrofit"),
    Param("channels.cadre_hours_offline", float, 0.25, "cadre hours one offline need takes at the window",
          unit="cadre hours/need", low=0.0, high=100.0,
          source="assumption: about 15 minutes of counter time per transaction; with the default cadres the "
                 "windows run at about 60 % of capacity at the start of the baseline"),
    Param("channels.patience", int, 3, "steps a need waits in a queue before it is given up (becomes unmet)",
          unit="steps", low=0, high=1000, source="assumption: a citizen gives up after about a quarter of a year"),
    Param("channels.wait_hours", float, 1.0,
          "hours per need added to the time cost for each step it waits in a queue",
          unit="hours/need/step", low=0.0, high=100.0,
          source="assumption: a wasted trip, calls or an appointment per month of waiting"),
    Param("assisted.enabled", bool, False,
          "the assisted channel exists: a cadre or digital helper takes the citizen through the online service",
          source="MODEL.md scenario digital_divide ('digital helpers'); off in the dual-channel reference"),
    Param("assisted.helpers_per_10k", float, 0.0,
          "digital helpers per 10,000 citizens, adding hours for assisted service only", unit="helpers/10k citizens",
          low=0.0, high=10_000.0, source="set per scenario (0 = cadres alone assist)"),
    Param("assisted.helper_hours", float, 40.0, "hours one digital helper gives per step",
          unit="hours/step", low=0.0, high=744.0,
          source="assumption: part-time volunteers or community workers, about 10 hours a week"),
    Param("assisted.cadre_hours", float, 0.5, "cadre or helper hours one assisted need takes",
          unit="hours/need", low=0.0, high=100.0,
          source="assumption: sitting with the citizen through the online service takes longer than a counter transaction"),
    Param("assisted.citizen_hours", float, 1.0,
          "hours an assisted need takes the citizen (one visit; rural citizens add rural_travel_hours)",
          unit="hours/need", low=0.0, high=100.0,
          source="assumption: one visit, no return trip (the data go through the online service)"),
    Param("utility.asc_online", float, -4.5, "alternative-specific constant of the online channel", unit="utils",
          low=-20.0, high=20.0,
          source="calibrated with awareness.p and awareness.q: grid search of the baseline against CNNIC users of "
                 "online government services Dec 2018-Dec 2024, RMSE 0.011 (govsim.calibration, scenarios/baseline.toml)"),
    Param("utility.asc_assisted", float, -1.0, "alternative-specific constant of the assisted channel",
          unit="utils", low=-20.0, high=20.0,
          source="assumption: an unfamiliar, help-dependent channel is less attractive than its time cost says"),
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
    Param("utility.b_time", float, 0.5, "disutility per hour of an offline or assisted need (waiting included)",
          unit="utils/hour", low=0.0, high=20.0, source="assumption"),
)


@dataclass
class ChannelState:
    """Per-citizen queue state kept across steps (created by :func:`setup`).

    Attributes
    ----------
    pending : int32 array
        Needs waiting in a queue.
    waited : int16 array
        Steps the citizen's queued needs have waited.
    queue_channel : int8 array
        ``Q_OFFLINE``, ``Q_ASSISTED`` or ``Q_OFFLINE_ONLY`` (a service that is
        not online: its window stays open under digital-only) while waiting,
        ``Q_NONE`` otherwise.
    key : intp array
        Static lookup key of each citizen, ``region × 6 + urban × 3 + age
        group``, indexing the per-step tables of :func:`key_tables` (``intp``,
        the index type ``np.bincount`` takes without a conversion).
    n_queued : int
        Citizens waiting at the end of the last step.
    residents : float array
        Citizens per region (static).
    lapse_horizon : int
        No citizen is lapsed from this step on (kept by :mod:`govsim.learning`).
    """

    pending: np.ndarray
    waited: np.ndarray
    queue_channel: np.ndarray
    key: np.ndarray
    n_queued: int = 0
    lapse_horizon: int = 0
    pack_shift: int | None = None
    inv_degree: np.ndarray | None = None
    inv_degree_lit: np.ndarray | None = None
    degree_div: np.ndarray | None = None
    aware_shift: int | None = None
    aware_in_pack: bool = False
    aware_share: np.ndarray | None = None
    packed: np.ndarray | None = None
    pack_buf: np.ndarray | None = None
    needs_u: np.ndarray | None = None
    needs_lam: np.ndarray | None = None
    needs_p0: np.ndarray | None = None
    residents: np.ndarray | None = None
    drawn_needs: np.ndarray | None = None
    drawn_index: np.ndarray | None = None
    shares_step: int = -1
    social_share: np.ndarray | None = None
    neighbour_literacy: np.ndarray | None = None


def setup(model) -> None:
    """Create the per-citizen queue state, the lookup keys and empty step records."""
    pop = model.citizens
    n = pop.n
    key = pop.region.astype(np.int32) * N_GROUPS + pop.urban.astype(np.int32) * len(AGE_GROUPS) + pop.age_group
    net = model.network
    max_degree = (n - 1 if net.is_complete else int(net.degree.max())) if n else 0
    deg_bits = int(max_degree + 1).bit_length()
    packable = not net.is_complete and LITERACY_BITS + 2 * deg_bits <= 52
    model.channel_state = ChannelState(
        pending=np.zeros(n, dtype=np.int32),
        waited=np.zeros(n, dtype=np.int16),
        queue_channel=np.full(n, Q_NONE, dtype=np.int8),
        key=key.astype(np.intp),
        pack_shift=LITERACY_BITS + deg_bits if packable else None,
        inv_degree=(1.0 / np.maximum(net.degree, 1)) if packable else None,
    )
    if packable:
        st = model.channel_state
        st.inv_degree_lit = st.inv_degree * 2.0 ** -LITERACY_BITS
        st.degree_div = np.maximum(net.degree, 1).astype(np.float64)
        if LITERACY_BITS + 3 * deg_bits <= 52:
            st.aware_shift = LITERACY_BITS + 2 * deg_bits
    model.channel_state.residents = np.bincount(pop.region, minlength=model.n_regions).astype(float)
    model.step_active = np.zeros(0, dtype=np.intp)
    model.step_record = {"outcome": np.zeros(0, dtype=np.int8), "handled": np.zeros(0, dtype=np.int32),
                         "episode_hours": np.zeros(0, dtype=np.float32), "tried_online": np.zeros(0, dtype=bool)}
    model.step_groups = {k: np.zeros(N_GROUPS) for k in GROUP_KEYS}


#: tallies of :attr:`model.step_groups`, each an array over :data:`GROUP_NAMES`
GROUP_KEYS = ("needs", "queued_before", "online", "offline", "assisted", "unmet", "queued", "hours", "visits")


def draw_needs(model, rng: np.random.Generator) -> np.ndarray:
    """New needs per citizen this step: Poisson(``need_rate``), ``int32``.

    Inverse transform from one float32 uniform per citizen: k is the smallest
    integer whose Poisson CDF exceeds the uniform (the CDF beyond k = 0 in
    float64, so it reaches 1 above every float32 uniform).
    """
    lam = model.citizens.need_rate
    n = lam.size
    st = getattr(model, "channel_state", None)
    if st is not None:  # reused buffers: the uniforms, and P(0) = exp(-lam) while need_rate is unchanged
        if st.needs_u is None or st.needs_u.size != n:
            st.needs_u = np.empty(n, dtype=np.float32)
        u = rng.random(out=st.needs_u, dtype=np.float32)
        if st.needs_lam is None or not np.array_equal(st.needs_lam, lam):
            st.needs_lam = lam.copy()
            st.needs_p0 = np.exp(-lam, dtype=np.float32)
        p0 = st.needs_p0
    else:
        u = rng.random(n, dtype=np.float32)
        p0 = np.exp(-lam, dtype=np.float32)
    idx = np.flatnonzero(u >= p0)  # k >= 1
    k = np.zeros(n, dtype=np.int32)
    k[idx] = 1
    if st is not None:  # serve_needs reuses the citizens with needs if it gets this very array
        st.drawn_needs, st.drawn_index = k, idx
    l1 = lam[idx]
    two = (l1 + np.float32(1.0)) * p0[idx] <= u[idx]  # k >= 2: u above P(0) + P(1)
    idx = idx[two]
    k[idx] = 2
    uu = u[idx].astype(np.float64)
    ll = l1[two].astype(np.float64)
    pp = np.exp(-ll) * ll  # P(1), float64 from here on
    cdf = np.exp(-ll) + pp
    j = 1
    while idx.size and j < 10_000:
        j += 1
        pp *= ll / j
        cdf += pp
        keep = uu >= cdf
        idx, uu, ll, pp, cdf = idx[keep], uu[keep], ll[keep], pp[keep], cdf[keep]
        k[idx] = j + 1
    return k


_KEY_LAYOUTS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _key_layout(n_regions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region, urban and elderly flag of each key (static, cached read-only arrays)."""
    out = _KEY_LAYOUTS.get(n_regions)
    if out is None:
        reg = np.repeat(np.arange(n_regions), N_GROUPS)
        urban = np.tile(np.repeat([False, True], len(AGE_GROUPS)), n_regions)
        elderly = np.tile(np.arange(len(AGE_GROUPS)) == 2, 2 * n_regions)
        for a in (reg, urban, elderly):
            a.setflags(write=False)
        out = _KEY_LAYOUTS[n_regions] = (reg, urban, elderly)
    return out


def key_tables(model, quality: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This step's per-key quantities (float32 arrays over keys region × urban × age, see :class:`ChannelState`).

    ``visits`` (v per offline need), ``h_off`` and ``h_as`` (citizen hours of
    an offline and an assisted need), ``usability`` (elderly boost included),
    ``pe`` (performance expectancy), ``coverage``, ``reliability``,
    ``insecurity`` (1 − security) and ``region``.
    """
    p = model.params
    n_regions = model.n_regions
    reg, urban, elderly = _key_layout(n_regions)
    q = {k: np.asarray(v, dtype=float)[reg] for k, v in quality.items()}
    travel = np.where(urban, 0.0, p["channels.rural_travel_hours"])
    visits = 1.0 + p["channels.extra_visits"] * (1.0 - q["integration"])
    h_off = visits * (p["channels.offline_hours"] + travel)
    h_as = p["assisted.citizen_hours"] + travel
    usability = np.minimum(q["usability"] + p["channels.elderly_usability_boost"] * elderly, 1.0)
    saved = np.clip((h_off - p["channels.online_hours"]) / np.maximum(h_off, 1e-9), 0.0, 1.0)
    pe = q["coverage"] * (1.0 + q["integration"]) * 0.5 * saved
    out = {"visits": visits, "h_off": h_off, "h_as": h_as, "usability": usability, "pe": pe,
           "coverage": q["coverage"], "reliability": q["reliability"], "insecurity": 1.0 - q["security"]}
    out = {k: v.astype(np.float32) for k, v in out.items()}
    out["region"] = reg
    return out


LITERACY_BITS = 20  #: literacy is summed over neighbours on a grid of 2^-20 (see neighbour_shares)


def _neighbour_sums(model, aware: bool = False) -> None:
    """Compute this step's neighbour sums once (see :func:`neighbour_shares`)."""
    st = model.channel_state
    pop = model.citizens
    net = model.network
    if st.shares_step == model.time_step:
        if aware and st.aware_share is None and not st.aware_in_pack:
            st.aware_share = net.neighbour_share(pop.aware)
        return
    shift = st.pack_shift
    st.aware_share = None
    st.aware_in_pack = False
    if shift is None:
        st.packed = None
        st.social_share = net.neighbour_share(pop.adopted).astype(np.float32)
        st.neighbour_literacy = net.neighbour_share(pop.literacy).astype(np.float32)
    else:
        n = pop.n
        if st.pack_buf is None or st.pack_buf.shape != (3, n):
            st.pack_buf = np.empty((3, n), dtype=np.float64)  # x, A @ x, packed (int64 view): reused
        x, y, packed = st.pack_buf[0], st.pack_buf[1], st.pack_buf[2].view(np.int64)
        np.multiply(pop.literacy, 2.0 ** LITERACY_BITS, out=x, dtype=np.float64)
        np.multiply(pop.adopted.view(np.uint8), 2.0 ** shift, out=y)  # 0 or 2^s, exact
        x += y
        if aware and st.aware_shift is not None:
            np.multiply(pop.aware.view(np.uint8), 2.0 ** st.aware_shift, out=y)
            x += y
            st.aware_in_pack = True
        net.neighbour_sum(x, out=y)
        np.copyto(packed, y, casting="unsafe")  # truncates the literacy sum to the 2^-20 below
        st.packed = packed
        low = np.bitwise_and(packed, (1 << shift) - 1, out=y.view(np.int64))
        st.neighbour_literacy = np.multiply(low, st.inv_degree_lit, dtype=np.float32)
        st.social_share = None  # decoded on demand (the choice needs it for a few citizens only)
    if aware and not st.aware_in_pack:
        st.aware_share = net.neighbour_share(pop.aware)
    st.shares_step = model.time_step


def _adopters(st, rows=slice(None)) -> np.ndarray:
    counts = st.packed[rows] >> st.pack_shift
    if st.aware_in_pack:
        counts &= (1 << (st.aware_shift - st.pack_shift)) - 1
    return counts


def neighbour_shares(model) -> tuple[np.ndarray, np.ndarray]:
    """Share of neighbours using online (SI) and neighbours' mean literacy (FC), float32, once per step.

    Both come from one sparse product: x = adopted × 2^s + L × 2^20, with
    2^s above 2^20 times the largest degree, so the neighbour sum, an integer
    below 2^52, has the count of adopted neighbours in its high bits and the
    sum of their literacy (truncated to a multiple of 2^-20, about 10^-6) in
    its low bits. Where the bits would not fit a float64 mantissa (degrees
    above about 8,000, the complete network) two products are used. Computed
    at the first call of a step, from the state at the start of the step, and
    shared by awareness (:func:`neighbour_aware_share`), the channel choice
    and :mod:`govsim.learning`.
    """
    _neighbour_sums(model)
    st = model.channel_state
    if st.social_share is None:
        st.social_share = np.multiply(_adopters(st), st.inv_degree, dtype=np.float32)
    return st.social_share, st.neighbour_literacy


def neighbour_aware_share(model, rows: np.ndarray | None = None) -> np.ndarray:
    """Share of each citizen's neighbours who are aware, at the start of the step (float64).

    Equal, bit for bit, to ``model.network.neighbour_share(citizens.aware)``;
    when called first in a step (by :mod:`govsim.awareness`, before awareness
    spreads) the aware bit rides in the same sparse product as SI and FC
    (x = aware × 2^a + adopted × 2^s + L × 2^20, for degrees below about
    1,000), which saves one product per step. With ``rows`` (an index array),
    the shares of those citizens only (decoded for them only).
    """
    _neighbour_sums(model, aware=True)
    st = model.channel_state
    if st.aware_share is None:
        if rows is not None:
            return np.divide(st.packed[rows] >> st.aware_shift, st.degree_div[rows])
        st.aware_share = np.divide(st.packed >> st.aware_shift, st.degree_div)
    return st.aware_share if rows is None else st.aware_share[rows]


def _social_share_of(model, rows: np.ndarray) -> np.ndarray:
    """SI of the citizens ``rows`` (decoded for them only)."""
    _neighbour_sums(model)
    st = model.channel_state
    if st.social_share is not None:
        return st.social_share[rows]
    return np.multiply(_adopters(st, rows), st.inv_degree[rows], dtype=np.float32)


def neighbour_literacy(model) -> np.ndarray:
    """Mean literacy of each citizen's neighbours at the start of this step's service (see :func:`neighbour_shares`)."""
    _neighbour_sums(model)
    return model.channel_state.neighbour_literacy


def offline_visits(model, quality: dict[str, np.ndarray]) -> np.ndarray:
    """Expected in-person visits per offline need, per region: 1 + extra_visits × (1 − I)."""
    return 1.0 + model.params["channels.extra_visits"] * (1.0 - np.asarray(quality["integration"]))


def offline_hours(model, quality: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Citizen hours of an offline need, per citizen: visits × (visit hours + rural travel).

    Without ``quality``: the hours of one visit.
    """
    p = model.params
    pop = model.citizens
    h = p["channels.offline_hours"]
    visit = np.where(pop.urban, h, h + p["channels.rural_travel_hours"])
    if quality is None:
        return visit
    return visit * offline_visits(model, quality)[pop.region]


def online_utility(model, quality: dict[str, np.ndarray], idx=None) -> np.ndarray:
    """U_online of every citizen, or of the citizens ``idx`` (see the module docstring)."""
    tab = key_tables(model, quality)
    idx = slice(None) if idx is None else idx
    si, fc = neighbour_shares(model)
    pop = model.citizens
    return _online_utility(model.params, tab, model.channel_state.key[idx], pop.literacy[idx], pop.trust[idx],
                           pop.privacy[idx], si[idx], fc[idx])


def _online_utility(p, tab, key, lit, trust, privacy, si, fc) -> np.ndarray:
    f = np.float32
    v = tab["pe"][key] * f(p["utility.b_pe"])
    v += f(p["utility.asc_online"])
    v += f(p["utility.b_ee"]) * lit * tab["usability"][key]
    v += f(p["utility.b_si"]) * si
    v += f(p["utility.b_fc"]) * fc
    v += f(p["utility.b_tr"]) * trust
    v -= f(p["utility.b_pr"]) * privacy * tab["insecurity"][key]
    return v


def online_success_probability(model, quality: dict[str, np.ndarray], idx=None) -> np.ndarray:
    """Probability that an online attempt succeeds, per citizen (or for ``idx``)."""
    tab = key_tables(model, quality)
    idx = slice(None) if idx is None else idx
    return _success(model.params, tab, model.channel_state.key[idx], model.citizens.literacy[idx])


def _success(p, tab, key, lit) -> np.ndarray:
    z = lit * tab["usability"][key]
    z -= np.float32(p["channels.skill_threshold"])
    z *= np.float32(-1.0 / p["channels.skill_spread"])
    np.exp(z, out=z)
    z += np.float32(1.0)
    return np.divide(tab["reliability"][key], z, out=z)


def helper_hours(model) -> np.ndarray:
    """Digital helpers' hours per region this step (assisted service only; 0 when assisted is off)."""
    p = model.params
    if not p["assisted.enabled"] or p["assisted.helpers_per_10k"] <= 0:
        return np.zeros(model.n_regions)
    return model.channel_state.residents * (p["assisted.helpers_per_10k"] / 10_000.0 * p["assisted.helper_hours"])


def ration(region: np.ndarray, cost: np.ndarray, waited: np.ndarray, capacity: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Which waiting citizens a pool of hours serves this step (boolean mask).

    Citizens are served region by region in the order: longest wait first, ties
    by a uniform random key; a citizen is served if the hours used before them
    in their region are below the region's capacity (first come, first served,
    no skipping; the case in hand is finished). A citizen whose case costs no
    hours is always served.

    Computed by wait class: the hours demanded by each (region, steps waited)
    class and their cumulative sum in the order of service say which classes
    are served whole, which not at all, and in which class each region's
    capacity runs out. Only the members of that boundary class need an order:
    they get uniform random keys (drawn for them only, in ascending index
    order) and are sorted (``lexsort``) and served by cumulative sum. In a
    region whose demand fits its capacity everybody is served and nothing is
    drawn.

    Parameters
    ----------
    region : int array
        Region of each waiting citizen.
    cost : float array
        Hours each citizen's case takes.
    waited : int array
        Steps each citizen has waited (>= 0).
    capacity : float array
        Hours per region.
    rng : numpy.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> served = ration(np.array([0, 0, 0, 1]), np.array([1.0, 1.0, 1.0, 5.0]), np.array([0, 2, 1, 0]),
    ...                 np.array([1.5, 0.0]), np.random.default_rng(0))
    >>> served.tolist()   # region 0 serves the longest waiting (2) and starts the next (1); region 1 has no hours
    [False, True, True, False]
    """
    m = region.size
    served = np.ones(m, dtype=bool)
    if m == 0:
        return served
    n_regions = capacity.size
    demand = np.bincount(region, weights=cost, minlength=n_regions)
    if not (demand > capacity).any():
        return served
    w_max = int(waited.max())
    n_classes = w_max + 1
    klass = region.astype(np.int64) * n_classes + (w_max - waited)  # service order: longest wait first
    class_demand = np.bincount(klass, weights=cost, minlength=n_regions * n_classes).reshape(n_regions, n_classes)
    before = np.cumsum(class_demand, axis=1) - class_demand  # hours used in the region before the class
    cap = capacity[:, None]
    status = np.where(before + class_demand <= cap, 1, np.where(before >= cap, 0, 2)).ravel()
    mine = status[klass]
    served = (mine == 1) | (cost <= 0)
    sub = np.flatnonzero(mine == 2)
    if sub.size:
        keys = rng.random(sub.size)
        order = np.lexsort((keys, klass[sub]))
        s = sub[order]
        c = cost[s]
        k = klass[s]
        within = np.cumsum(c) - c
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        within -= np.repeat(within[starts], np.diff(np.r_[starts, s.size]))
        served[s] = (before.ravel()[k] + within < capacity[k // n_classes]) | (c <= 0)
    return served


def _bincount_groups(key, weights, n_keys) -> np.ndarray:
    """Sum of ``weights`` by group (urban × age) from per-key sums."""
    return np.bincount(key, weights=weights, minlength=n_keys).reshape(-1, N_GROUPS).sum(axis=0)


def serve_needs(model, needs: np.ndarray, quality: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    """Choose channels, run the encounters, ration offline and assisted service, update queues.

    Reads ``model.service_capacity`` (cadre hours per region, from
    :func:`govsim.cadres.service_hours`). If ``needs`` is the array
    :func:`draw_needs` returned this step, the index of its non-zero entries
    is reused (so it must not be changed in place in between). Updates the population's ``adopted``
    (utility rule), ``habit``, ``time_cost``, ``needs_total``, ``served`` and
    ``unmet``, the queue state ``model.channel_state``, and the step records:
    ``model.step_outcome`` (an outcome code per citizen, ``QUEUED`` for a
    citizen still waiting, from which ``model.step_success`` is derived),
    ``model.step_hours``, ``model.step_needs``, ``model.step_active``
    (indices of the citizens with needs or a queue), ``model.step_record``
    (per active citizen: outcome,
    needs handled, hours per need of an episode resolved this step, online
    attempt) and ``model.step_groups`` (tallies per group urban × age, see
    :data:`GROUP_NAMES` and :data:`GROUP_KEYS`).

    Returns
    -------
    dict
        Counts of this step: ``needs`` (new), ``needs_online``,
        ``needs_offline``, ``needs_assisted`` (served), ``needs_unmet``,
        ``needs_queued`` (waiting at the end), ``queued_before`` (waiting at the
        start), ``online_attempts``, ``online_failures``, ``hours``,
        ``visits``, ``wait_steps`` (steps waited by needs served offline or
        assisted), ``capacity_hours`` and ``capacity_used`` (cadre and helper
        hours available and taken, the overrun of a case in hand not counted).
    """
    p = model.params
    pop = model.citizens
    st = model.channel_state
    n = pop.n
    n_regions = model.n_regions
    n_keys = n_regions * N_GROUPS
    t = model.time_step
    f32 = np.float32
    offline_open = bool(p["channels.offline_open"])
    assisted_on = bool(p["assisted.enabled"])
    patience = int(p["channels.patience"])
    wait_h = p["channels.wait_hours"]
    hc_off, hc_as = p["channels.cadre_hours_offline"], p["assisted.cadre_hours"]
    b_time = p["utility.b_time"]
    cadre_cap = np.asarray(model.service_capacity, dtype=float)
    help_cap = helper_hours(model)
    cap_all = cadre_cap + help_cap
    tab = key_tables(model, quality)
    as_region = assisted_on & (np.asarray(quality["reliability"]) > 0)
    as_key = as_region[tab["region"]]

    has_queue = st.n_queued > 0
    if has_queue:
        active = np.flatnonzero((needs > 0) | (st.pending > 0))
    elif needs is st.drawn_needs:
        active = st.drawn_index
    else:
        active = np.flatnonzero(needs)
    st.drawn_needs = st.drawn_index = None
    m = active.size
    u_cover, u_choice, u_success = rng.random((3, m), dtype=np.float32)
    key = st.key[active]
    new = needs[active]
    if has_queue:
        pend = st.pending[active]
        queued = pend > 0
        handled = new + pend
        waited = st.waited[active].astype(np.int32)
        qch = np.where(queued, st.queue_channel[active], Q_NONE).astype(np.int8)
        unmet_now = np.zeros(m, dtype=bool)
        # a policy that closed a channel moves its queue along the fallback chain
        if not offline_open:
            moved = qch == Q_OFFLINE
            if assisted_on:
                qch[moved] = Q_ASSISTED
            else:
                unmet_now |= moved
        if not assisted_on:
            moved = qch == Q_ASSISTED
            if offline_open:
                qch[moved] = Q_OFFLINE
            else:
                unmet_now |= moved
        qch[unmet_now] = Q_NONE
        # expected wait (Little's law) from the queue left by the previous step
        cost_pend = pend * np.where(qch == Q_ASSISTED, hc_as, hc_off)
        backlog = np.bincount(key, weights=cost_pend, minlength=n_keys).reshape(n_regions, N_GROUPS).sum(axis=1)
        ew = np.where(cap_all > 0, backlog / np.maximum(cap_all, 1e-12), np.where(backlog > 0, np.inf, 0.0))
        ew = np.minimum(ew, patience + 1.0)[tab["region"]]
    else:
        pend = None
        queued = None
        handled = new
        waited = np.zeros(m, dtype=np.int32)
        qch = np.full(m, Q_NONE, dtype=np.int8)
        unmet_now = np.zeros(m, dtype=bool)
        ew = np.zeros(n_keys)

    # channels open to fresh citizens, and their logit weights
    cover = u_cover < tab["coverage"][key]
    if not offline_open:
        # a closed window sends its citizens online: they learn of the online service
        told = active[cover] if not has_queue else active[cover & ~queued]
        pop.aware[told] = True
    reach = pop.aware[active] & pop.access[active]
    online_ok = cover & reach
    if st.lapse_horizon > t:
        online_ok &= pop.lapsed_until[active] <= t
    if has_queue:
        online_ok &= ~queued
    w_off_key = np.exp(-b_time * (tab["h_off"] + wait_h * ew)).astype(f32)
    w_off = w_off_key[key]
    if not offline_open:
        w_off[cover] = 0.0
    if assisted_on:
        w_as_key = np.where(as_key, np.exp(p["utility.asc_assisted"] - b_time * (tab["h_as"] + wait_h * ew)), 0.0)
        w_as = w_as_key.astype(f32)[key]
        w_as *= np.exp(f32(p["utility.b_tr"]) * pop.trust[active])
        w_as[~cover] = 0.0
    else:
        w_as = None
    on_idx = np.flatnonzero(online_ok)
    uses_choice = model.rule.uses_choice_model
    w_on = np.zeros(m, dtype=f32)
    if on_idx.size and uses_choice:
        a_on = active[on_idx]
        fc = neighbour_literacy(model)[a_on]
        w_on[on_idx] = np.exp(_online_utility(p, tab, key[on_idx], pop.literacy[a_on], pop.trust[a_on],
                                              pop.privacy[a_on], _social_share_of(model, a_on), fc))
    total = w_on + w_off
    if assisted_on:
        total += w_as
    x = u_choice * total
    if assisted_on:
        choice = np.where(x < w_on, _I8[ONLINE], np.where(x < w_on + w_off, _I8[OFFLINE], _I8[ASSISTED]))
        bad = (choice == ASSISTED) & (w_as <= 0)
    else:
        choice = np.where(x < w_on, _I8[ONLINE], _I8[OFFLINE])
        bad = (choice == OFFLINE) & (w_off <= 0)
    if bad.any():  # rounding at the top of the range: fall to the last open channel
        choice[bad] = np.where(w_off[bad] > 0, OFFLINE, ONLINE)
    if not uses_choice and on_idx.size:
        # bass/threshold: adopters go online whenever they can
        go = on_idx[pop.adopted[active[on_idx]]]
        choice[go] = ONLINE
        total[go] = 1.0
    none_open = total <= 0
    if has_queue:
        none_open &= ~queued
        choice[queued] = Q_NONE
    choice[none_open] = Q_NONE
    unmet_now |= none_open

    if uses_choice:
        # adoption = channel chosen at the latest need where online was open
        if on_idx.size:
            pop.adopted[active[on_idx]] = choice[on_idx] == ONLINE
        cannot = ~reach if not has_queue else ~reach & ~queued
        pop.adopted[active[cannot]] = False

    # online encounter and fallback
    t_idx = np.flatnonzero(choice == ONLINE)
    success = np.zeros(m, dtype=bool)
    if t_idx.size:
        success[t_idx] = u_success[t_idx] < _success(p, tab, key[t_idx], pop.literacy[active[t_idx]])
    f_idx = t_idx[~success[t_idx]]
    fb = np.where(as_key[key[f_idx]], Q_ASSISTED, Q_OFFLINE if offline_open else Q_NONE).astype(np.int8)
    unmet_now[f_idx[fb == Q_NONE]] = True

    # who waits for offline or assisted service this step
    if has_queue:
        fresh_q = np.where(choice == OFFLINE, np.where(cover, _I8[Q_OFFLINE], _I8[Q_OFFLINE_ONLY]), _I8[Q_NONE])
        qch = np.where(queued, qch, fresh_q)
    else:
        qch = np.where(choice == OFFLINE, np.where(cover, _I8[Q_OFFLINE], _I8[Q_OFFLINE_ONLY]), _I8[Q_NONE])
    if assisted_on:
        qch[choice == ASSISTED] = Q_ASSISTED
    qch[f_idx] = fb
    d = np.flatnonzero(qch != Q_NONE)
    d_as = qch[d] == Q_ASSISTED
    d_key = key[d]
    d_reg = d_key // N_GROUPS
    d_cost = handled[d] * np.where(d_as, hc_as, hc_off)
    d_wait = waited[d]
    d_served = np.zeros(d.size, dtype=bool)
    used = 0.0
    if assisted_on and help_cap.any():  # pool 1: digital helpers, assisted only
        sel = np.flatnonzero(d_as & as_region[d_reg])
        if sel.size:
            ok = sel[ration(d_reg[sel], d_cost[sel], d_wait[sel], help_cap, rng)]
            d_served[ok] = True
            used += np.minimum(np.bincount(d_reg[ok], weights=d_cost[ok], minlength=n_regions), help_cap).sum()
    # pool 2: cadres, offline and the remaining assisted (where the platform works)
    if assisted_on:
        sel = np.flatnonzero(~d_served & (~d_as | as_region[d_reg]))
        if sel.size:
            ok = sel[ration(d_reg[sel], d_cost[sel], d_wait[sel], cadre_cap, rng)]
            d_served[ok] = True
            used += np.minimum(np.bincount(d_reg[ok], weights=d_cost[ok], minlength=n_regions), cadre_cap).sum()
    elif d.size:
        d_served = ration(d_reg, d_cost, d_wait, cadre_cap, rng)
        used += np.minimum(np.bincount(d_reg, weights=d_cost * d_served, minlength=n_regions), cadre_cap).sum()

    # outcomes, hours and visits
    d_give_up = ~d_served & (d_wait + 1 > patience)
    d_outcome = np.where(d_served, np.where(d_as, SERVED_ASSISTED, SERVED_OFFLINE),
                         np.where(d_give_up, UNMET, QUEUED)).astype(np.int8, copy=False)
    outcome = np.full(m, UNMET, dtype=np.int8)
    outcome[t_idx[success[t_idx]]] = SERVED_ONLINE
    outcome[d] = d_outcome
    per_need = np.zeros(m, dtype=f32)
    per_need[t_idx] = np.where(success[t_idx], f32(p["channels.online_hours"]), f32(p["channels.fallback_hours"]))
    per_need[d] += np.where(d_served, np.where(d_as, tab["h_as"][d_key], tab["h_off"][d_key]), f32(wait_h))
    hours = per_need * handled.astype(f32)
    d_visits = np.where(d_served, np.where(d_as, f32(1.0), tab["visits"][d_key]), f32(0.0)) * handled[d].astype(f32)
    d_still = d_outcome == QUEUED

    # state
    if has_queue:
        touched = np.flatnonzero(queued)
        st.pending[active[touched]] = 0
        st.waited[active[touched]] = 0
        st.queue_channel[active[touched]] = Q_NONE
    w_idx = active[d[d_still]]
    st.pending[w_idx] = handled[d[d_still]]
    st.waited[w_idx] = d_wait[d_still] + 1
    st.queue_channel[w_idx] = qch[d[d_still]]
    st.n_queued = int(w_idx.size)
    pop.time_cost[active] += hours
    pop.needs_total[active] += new
    served_any = outcome <= SERVED_ASSISTED  # codes 0, 1, 2 are the channels
    s_idx = np.flatnonzero(served_any)
    pop.served[active[s_idx]] += handled[s_idx]
    u_idx = np.flatnonzero(outcome == UNMET)
    pop.unmet[active[u_idx]] += handled[u_idx]
    pop.habit[active[s_idx]] = outcome[s_idx]

    # step records
    full_outcome = np.full(n, NO_NEED, dtype=np.int8)
    full_outcome[active] = outcome
    step_hours = np.zeros(n, dtype=np.float32)
    step_hours[active] = hours
    model.step_outcome = full_outcome
    model.step_hours = step_hours
    model.step_needs = needs
    model.step_active = active
    episode = per_need + (waited * f32(wait_h)).astype(f32) if has_queue else per_need.copy()
    episode[outcome == QUEUED] = 0.0
    model.step_record = {"outcome": outcome, "handled": handled, "episode_hours": episode,
                         "tried_online": choice == ONLINE}
    by_outcome = np.bincount(key * 5 + outcome, weights=handled, minlength=n_keys * 5).reshape(
        n_regions, N_GROUPS, 5).sum(axis=0)
    groups = {
        "needs": _bincount_groups(key, new, n_keys),
        "queued_before": _bincount_groups(key, pend, n_keys) if has_queue else np.zeros(N_GROUPS),
        "offline": by_outcome[:, SERVED_OFFLINE],
        "online": by_outcome[:, SERVED_ONLINE],
        "assisted": by_outcome[:, SERVED_ASSISTED],
        "unmet": by_outcome[:, UNMET],
        "queued": by_outcome[:, QUEUED],
        "hours": _bincount_groups(key, hours, n_keys),
        "visits": _bincount_groups(d_key, d_visits, n_keys),
    }
    model.step_groups = groups

    ok_idx = t_idx[success[t_idx]]
    per_region_online = np.bincount(key[ok_idx], weights=handled[ok_idx], minlength=n_keys).reshape(
        n_regions, N_GROUPS).sum(axis=1)
    _record_platform_uses(model, per_region_online)
    f_handled = handled[f_idx]
    return {
        "needs": int(new.sum()),
        "needs_online": int(groups["online"].sum()),
        "needs_offline": int(groups["offline"].sum()),
        "needs_assisted": int(groups["assisted"].sum()),
        "needs_unmet": int(groups["unmet"].sum()),
        "needs_queued": int(groups["queued"].sum()),
        "queued_before": int(pend.sum()) if has_queue else 0,
        "online_attempts": int(handled[t_idx].sum()),
        "online_failures": int(f_handled.sum()),
        "hours": float(hours.sum(dtype=np.float64)),
        "visits": float(d_visits.sum(dtype=np.float64)),
        "wait_steps": float((d_wait * handled[d])[d_served].sum()),
        "capacity_hours": float(cap_all.sum()),
        "capacity_used": float(used),
    }


def _record_platform_uses(model, per_region: np.ndarray) -> None:
    """Record each region's online uses (needs served online) on its platforms, split by coverage."""
    by_region: dict[int, list] = {}
    for plat in model.platforms:
        by_region.setdefault(plat.region, []).append(plat)
    for r, plats in by_region.items():
        total = sum(pl.coverage for pl in plats) or 1.0
        for pl in plats:
            pl.uses = float(per_region[r] * pl.coverage / total)
