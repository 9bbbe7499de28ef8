"""Service needs, channel choice, the service encounter and rationed capacity (MODEL.md steps 5-6).

Every step each citizen draws new service needs; each need is served through one
of three channels -- **online** (the citizen uses the region's platform),
**offline** (a government window) or **assisted** (a cadre or a trained
"digital helper" takes the citizen through the online service) -- or it waits
in a queue, or it ends **unmet** (exclusion). All of a citizen's needs of a step
travel together (one channel, one outcome per citizen and step); this keeps
every process one pass over the citizens who have needs.

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
Compiled loops (numba, :mod:`govsim.compiled`) over the citizens with needs
or a queue, in ascending index order: one pass draws the needs and lists
those citizens; three passes serve them (queue moves, open channels and the
exponents; choice, adoption, encounter and fallback; outcomes, state and
tallies), with numpy's ``exp`` between the first two (the same ``exp`` as a
vectorised form, so the results do not depend on the compiler's; taken only
of the exponents that are read) and the rationing of each pool before the
last. The last pass selects rather than branches on random outcomes, and
the work arrays are kept across steps. Everything that depends on a
citizen's region, place and age group only (visit hours, usability, PE,
coverage, reliability, the offline and assisted logit weights) is computed
in a small table over the keys region × urban × age
(:func:`key_tables`), recomputed only in a step where platform quality or
the parameters have changed. SI and FC come from one sparse product
(:func:`neighbour_shares`); SI is decoded from it for the active citizens
only. Rationing counts hours by wait class and sorts
only the boundary class. Sums that feed the outputs follow numpy's order
(pairwise summation), so the compiled passes give the numbers of the
vectorised formulas they replace, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .citizens import AGE_GROUPS, ASSISTED, OFFLINE
from .compiled import jit
from .config import Param, declare
from .networks import _pool, _row_sum
from .platforms import layout, np_sum

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
    literacy_buf: np.ndarray | None = None
    inv_degree_lit32: np.ndarray | None = None
    needs_u: np.ndarray | None = None
    needs_lam: np.ndarray | None = None
    needs_p0: np.ndarray | None = None
    needs_e64: np.ndarray | None = None
    residents: np.ndarray | None = None
    drawn_needs: np.ndarray | None = None
    drawn_index: np.ndarray | None = None
    drawn_queue: bool = False
    shares_step: int = -1
    social_share: np.ndarray | None = None
    neighbour_literacy: np.ndarray | None = None
    table_cache: dict | None = None
    bufs: dict | None = None


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
    model.step_groups = GroupTallies(np.zeros((len(_GROUP_ROWS), N_GROUPS)))


#: tallies of :attr:`model.step_groups`, each an array over :data:`GROUP_NAMES`
GROUP_KEYS = ("needs", "queued_before", "online", "offline", "assisted", "unmet", "queued", "hours", "visits")


def draw_needs(model, rng: np.random.Generator) -> np.ndarray:
    """New needs per citizen this step: Poisson(``need_rate``), ``int32``.

    Inverse transform from one float32 uniform per citizen (one bulk draw): k
    is the smallest integer whose Poisson CDF exceeds the uniform (the CDF
    beyond k = 0 in float64, so it reaches 1 above every float32 uniform).
    One compiled pass (:func:`_needs_kernel`) finds k and the index of the
    citizens with needs (or a queue), which :func:`serve_needs` reuses.
    """
    lam = model.citizens.need_rate
    n = lam.size
    st = getattr(model, "channel_state", None)
    if st is not None:  # reused buffers: the uniforms, and exp(-lam) while need_rate is unchanged
        if st.needs_u is None or st.needs_u.size != n:
            st.needs_u = np.empty(n, dtype=np.float32)
        u = rng.random(out=st.needs_u, dtype=np.float32)
        if st.needs_lam is None or not _equal(st.needs_lam, lam):
            st.needs_lam = lam.copy()
            st.needs_p0 = np.exp(-lam, dtype=np.float32)
            st.needs_e64 = np.exp(-lam.astype(np.float64))
        p0, e64 = st.needs_p0, st.needs_e64
        pending, with_queue = st.pending, st.n_queued > 0
    else:
        u = rng.random(n, dtype=np.float32)
        p0 = np.exp(-lam, dtype=np.float32)
        e64 = np.exp(-lam.astype(np.float64))
        pending, with_queue = np.zeros(1, dtype=np.int32), False
    k = np.empty(n, dtype=np.int32)
    idx = np.empty(n, dtype=np.intp)
    m = _needs_kernel(u, lam, p0, e64, pending, with_queue, k, idx)
    if st is not None:  # serve_needs reuses the citizens with needs (or a queue) if it gets this very array
        st.drawn_needs, st.drawn_index, st.drawn_queue = k, idx[:m], with_queue
    return k


@jit
def _equal(a, b):
    """``np.array_equal(a, b)`` of two 1-d arrays, without temporaries."""
    if a.size != b.size:
        return False
    for i in range(a.size):
        if a[i] != b[i]:
            return False
    return True


@jit
def _needs_kernel(u, lam, p0, e64, pending, with_queue, k, idx):
    """Poisson needs by inverse transform (see :func:`draw_needs`); ``idx[:return]`` lists needs > 0 or a queue.

    The arithmetic is that of the vectorised form: P(0) and P(0) + P(1) in
    float32 (``p0 = exp(-lam)``), the tail in float64 from ``e64 = exp(-lam)``.
    """
    one = np.float32(1.0)
    n = u.size
    tail = np.empty(n, dtype=np.intp)
    for i in range(n):  # P(0) and P(0) + P(1) in float32 (branch-free: the uniforms are unpredictable)
        ui = u[i]
        p = p0[i]
        k[i] = np.int32(ui >= p) + np.int32((lam[i] + one) * p <= ui)
    c = 0
    nt = 0
    if with_queue:
        for i in range(n):
            kk = k[i]
            idx[c] = i
            c += np.int64(kk > 0) | np.int64(pending[i] > 0)
            tail[nt] = i
            nt += np.int64(kk == 2)
    else:
        for i in range(n):
            kk = k[i]
            idx[c] = i
            c += np.int64(kk > 0)
            tail[nt] = i
            nt += np.int64(kk == 2)
    # k >= 2: the CDF in float64, one term at a time for all citizens still above it (independent divisions)
    uu = np.empty(nt)
    ll = np.empty(nt)
    pp = np.empty(nt)
    cdf = np.empty(nt)
    for t in range(nt):
        i = np.uint64(tail[t])
        uu[t] = u[i]
        ll[t] = lam[i]
        e = e64[i]
        pp[t] = e * ll[t]
        cdf[t] = e + pp[t]
    j = 1
    while nt > 0 and j < 10_000:
        j += 1
        w = 0
        for t in range(nt):
            q = pp[t] * (ll[t] / j)
            f = cdf[t] + q
            i = tail[t]
            keep = uu[t] >= f
            k[i] = j + 1 if keep else k[i]
            tail[w] = i
            uu[w] = uu[t]
            ll[w] = ll[t]
            pp[w] = q
            cdf[w] = f
            w += keep
        nt = w
    return c


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


#: rows of the per-key float32 table built by :func:`_key_table_kernel`
_T_VISITS, _T_H_OFF, _T_H_AS, _T_USABILITY, _T_PE, _T_COVERAGE, _T_RELIABILITY, _T_INSECURITY = range(8)
_TABLE_NAMES = ("visits", "h_off", "h_as", "usability", "pe", "coverage", "reliability", "insecurity")
_QUALITY_NAMES = ("integration", "usability", "coverage", "reliability", "security")


def _key_table(model, quality: dict[str, np.ndarray], cache: dict | None = None) -> np.ndarray:
    """This step's per-key quantities as one float32 array (rows ``_TABLE_NAMES``, columns keys).

    With ``cache`` (a dict kept by the caller), one table is kept and
    recomputed in place only when its inputs (the quality values, the
    parameters) have changed since the last call (:func:`_key_table_update`);
    the caller must not change it or keep it beyond the step.
    """
    p = model.params
    prm = (p["channels.rural_travel_hours"], p["channels.extra_visits"], p["channels.offline_hours"],
           p["assisted.citizen_hours"], p["channels.elderly_usability_boost"], p["channels.online_hours"])
    if cache is not None:
        n_regions = model.n_regions
        if cache.get("n") != n_regions:
            cache["n"] = n_regions
            cache["q"] = np.full((5, n_regions), np.nan)
            cache["tab"] = np.empty((8, n_regions * N_GROUPS), dtype=np.float32)
            cache["prm"] = None
        if cache["prm"] != prm:
            cache["prm"] = prm
            cache["prm_arr"] = np.array(prm, dtype=np.float64)
            cache["q"].fill(np.nan)  # forces a recomputation
        _key_table_update(quality["integration"], quality["usability"], quality["coverage"],
                          quality["reliability"], quality["security"], cache["prm_arr"], cache["q"], cache["tab"])
        return cache["tab"]
    q = np.empty((5, model.n_regions))
    for row, name in enumerate(_QUALITY_NAMES):
        q[row] = quality[name]
    return _key_table_kernel(q, np.array(prm, dtype=np.float64))


@jit
def _key_table_update(integ, us, cov, rel, sec, prm, q, tab):
    """Recompute ``tab`` (as :func:`_key_table_kernel`) if the quality values differ from ``q`` (then kept in q)."""
    same = True
    for r in range(q.shape[1]):
        if (q[0, r] != integ[r] or q[1, r] != us[r] or q[2, r] != cov[r] or q[3, r] != rel[r]
                or q[4, r] != sec[r]):
            same = False
        q[0, r] = integ[r]
        q[1, r] = us[r]
        q[2, r] = cov[r]
        q[3, r] = rel[r]
        q[4, r] = sec[r]
    if not same:
        tab[:, :] = _key_table_kernel(q, prm)


@jit
def _key_table_kernel(q, prm):
    """Per-key table (see :func:`key_tables`), float64 arithmetic as written there, stored as float32."""
    n_regions = q.shape[1]
    n_age = 3
    out = np.empty((8, n_regions * 2 * n_age), dtype=np.float32)
    rural, extra, off_h, cit_h, boost, on_h = prm[0], prm[1], prm[2], prm[3], prm[4], prm[5]
    for r in range(n_regions):
        integ, us, cov, rel, sec = q[0, r], q[1, r], q[2, r], q[3, r], q[4, r]
        visits = 1.0 + extra * (1.0 - integ)
        for u in range(2):
            travel = 0.0 if u == 1 else rural
            h_off = visits * (off_h + travel)
            h_as = cit_h + travel
            saved = (h_off - on_h) / max(h_off, 1e-9)
            saved = min(max(saved, 0.0), 1.0)
            pe = cov * (1.0 + integ) * 0.5 * saved
            for a in range(n_age):
                kk = (r * 2 + u) * n_age + a
                usab = min(us + boost * (1.0 if a == 2 else 0.0), 1.0)
                out[0, kk] = visits
                out[1, kk] = h_off
                out[2, kk] = h_as
                out[3, kk] = usab
                out[4, kk] = pe
                out[5, kk] = cov
                out[6, kk] = rel
                out[7, kk] = 1.0 - sec
    return out


def key_tables(model, quality: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This step's per-key quantities (float32 arrays over keys region × urban × age, see :class:`ChannelState`).

    ``visits`` (v per offline need), ``h_off`` and ``h_as`` (citizen hours of
    an offline and an assisted need), ``usability`` (elderly boost included),
    ``pe`` (performance expectancy), ``coverage``, ``reliability``,
    ``insecurity`` (1 − security) and ``region``.
    """
    tab = _key_table(model, quality)
    out = dict(zip(_TABLE_NAMES, tab, strict=True))
    out["region"] = _key_layout(model.n_regions)[0]
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
            st.pack_buf = np.empty((3, n), dtype=np.float64)  # x, aware share, packed (int64 view): reused
            st.literacy_buf = np.empty(n, dtype=np.float32)
            st.inv_degree_lit32 = st.inv_degree_lit.astype(np.float32)
        x, share, packed = st.pack_buf[0], st.pack_buf[1], st.pack_buf[2].view(np.int64)
        with_aware = aware and st.aware_shift is not None
        a_shift = st.aware_shift if with_aware else 0
        _pack_state(pop.literacy, pop.adopted, pop.aware, with_aware, float(2 ** shift), float(2 ** a_shift), x)
        args = (net.indptr, net.indices, net.row_order(), x, shift, a_shift, with_aware, st.inv_degree_lit32,
                st.degree_div, packed, st.literacy_buf, share)
        halves = net._halves()
        if halves is None:
            _unpack_neighbour_sums(*args, 0, n)
        else:  # two row halves on two threads (the kernel releases the GIL; every row is computed the same)
            for job in [_pool().submit(_unpack_neighbour_sums, *args, lo, hi) for lo, hi in halves]:
                job.result()
        st.packed = packed
        st.neighbour_literacy = st.literacy_buf
        st.aware_in_pack = with_aware
        if with_aware:
            st.aware_share = share
        st.social_share = None  # decoded on demand (the choice needs it for a few citizens only)
    if aware and not st.aware_in_pack:
        st.aware_share = net.neighbour_share(pop.aware)
    st.shares_step = model.time_step


@jit
def _pack_state(literacy, adopted, aware, with_aware, adopted_bit, aware_bit, x):
    """x = L × 2^20 + adopted × 2^s (+ aware × 2^a): every term and sum exact in float64."""
    scale = np.float64(2.0 ** LITERACY_BITS)
    for i in range(x.size):
        v = np.float64(literacy[i]) * scale
        if adopted[i]:
            v += adopted_bit
        if with_aware and aware[i]:
            v += aware_bit
        x[i] = v


@jit
def _unpack_neighbour_sums(indptr, indices, order, x, shift, a_shift, with_aware, inv_degree_lit32, degree_div,
                           packed, neighbour_lit, aware_share, lo, hi):
    """Rows ``order[lo:hi]``: the neighbour sum of x (row order from 0.0, as scipy's CSR product, so the same
    bits), truncated to an integer, and its decoding: the neighbours' mean literacy (float32, as numpy's float32
    multiply of the low bits by 2^-20 / degree) and, with ``with_aware``, the aware share (float64)."""
    low_mask = (np.int64(1) << shift) - 1
    for pos in range(lo, hi):
        i = np.uint64(order[pos])
        p = np.int64(_row_sum(indptr, indices, x, i))  # truncates the literacy sum to the 2^-20 below
        packed[i] = p
        neighbour_lit[i] = np.float32(p & low_mask) * inv_degree_lit32[i]
        if with_aware:
            aware_share[i] = np.float64(p >> a_shift) / degree_div[i]


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

    Computed by wait class (compiled, :func:`_ration_plan`): the hours demanded
    by each (region, steps waited) class and their cumulative sum in the order
    of service say which classes are served whole, which not at all, and in
    which class each region's capacity runs out. Only the members of that
    boundary class need an order: they get uniform random keys (float64, drawn
    for them only, in ascending index order) and are sorted by class and key
    and served by cumulative sum (:func:`_ration_boundary`). In a region whose
    demand fits its capacity everybody is served and nothing is drawn.

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
    region = np.ascontiguousarray(region, dtype=np.intp)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    waited = np.ascontiguousarray(waited, dtype=np.int64)
    capacity = np.ascontiguousarray(capacity, dtype=np.float64)
    m = region.size
    served = np.zeros(m, dtype=bool)
    if m:
        _ration_pool(np.arange(m, dtype=np.intp), region, cost, waited, capacity, served, rng)
    return served


def _ration_pool(members, region, cost, waited, capacity, served, rng) -> float:
    """Ration one pool among ``members`` (positions into the other arrays); sets ``served``, returns hours used.

    Hours used: per region the hours of the cases served, capped at the
    capacity (the overrun of a case in hand not counted), summed over regions.
    """
    nb, used, sub, klass, before, n_classes = _ration_plan(members, region, cost, waited, capacity, served)
    if nb:
        keys = rng.random(nb)
        used = _ration_boundary(members, sub, keys, klass, region, cost, before, capacity, n_classes, served)
    return used


@jit
def _pool_used(members, region, cost, capacity, served):
    """Σ_r min(hours served in r, capacity r), summed as ``np.sum`` does (pairwise over regions)."""
    per = np.zeros(capacity.size)
    for j in range(members.size):
        i = np.uint64(members[j])
        if served[i]:
            per[np.uint64(region[i])] += cost[i]
    for r in range(per.size):
        per[r] = min(per[r], capacity[r])
    return _pairwise_sum(per, 0, per.size)


@jit
def _ration_plan(members, region, cost, waited, capacity, served):
    """First pass of :func:`ration`: demand by region and wait class; serves whole classes.

    Returns ``(nb, used, sub, klass, before, n_classes)``: the number of
    members of boundary classes (``sub``, ranks into ``members`` in ascending
    order, who need a random key), the hours used if ``nb == 0``, each
    member's class ``region × n_classes + (w_max − waited)`` and the hours
    used in its region before each class.
    """
    m = members.size
    n_regions = capacity.size
    empty_i = np.zeros(0, dtype=np.intp)
    empty_f = np.zeros(0)
    demand = np.zeros(n_regions)
    w_max = 0
    for j in range(m):
        i = np.uint64(members[j])
        demand[np.uint64(region[i])] += cost[i]
        if waited[i] > w_max:
            w_max = waited[i]
    over = False
    for r in range(n_regions):
        if demand[r] > capacity[r]:
            over = True
    if not over:
        for j in range(m):
            served[np.uint64(members[j])] = True
        return 0, _pool_used(members, region, cost, capacity, served), empty_i, empty_i, empty_f, 0
    n_classes = w_max + 1
    klass = np.empty(m, dtype=np.intp)
    class_demand = np.zeros(n_regions * n_classes)
    for j in range(m):
        i = members[j]
        klass[j] = region[i] * n_classes + (w_max - waited[i])
        class_demand[klass[j]] += cost[i]
    before = np.empty(n_regions * n_classes)
    status = np.empty(n_regions * n_classes, dtype=np.int8)
    for r in range(n_regions):
        cum = 0.0
        cap = capacity[r]
        for c in range(n_classes):
            kc = r * n_classes + c
            cum = class_demand[kc] if c == 0 else cum + class_demand[kc]
            b = cum - class_demand[kc]
            before[kc] = b
            status[kc] = 1 if b + class_demand[kc] <= cap else (0 if b >= cap else 2)
    sub = np.empty(m, dtype=np.intp)
    nb = 0
    for j in range(m):
        i = members[j]
        s = status[klass[j]]
        served[i] = s == 1 or cost[i] <= 0
        if s == 2:
            sub[nb] = j
            nb += 1
    used = _pool_used(members, region, cost, capacity, served) if nb == 0 else 0.0
    return nb, used, sub[:nb], klass, before, n_classes


@jit
def _ration_boundary(members, sub, keys, klass, region, cost, before, capacity, n_classes, served):
    """Second pass of :func:`ration`: the boundary classes in order (class, key), served by cumulative sum."""
    nb = sub.size
    o1 = np.argsort(keys, kind="mergesort")
    ks = np.empty(nb, dtype=np.intp)
    for j in range(nb):
        ks[j] = klass[sub[o1[j]]]
    o2 = np.argsort(ks, kind="mergesort")
    total = 0.0
    start_within = 0.0
    prev = -1
    for j in range(nb):
        rank = sub[o1[o2[j]]]
        i = members[rank]
        c = cost[i]
        k = klass[rank]
        total = c if j == 0 else total + c  # the running sum of np.cumsum over the sorted boundary members
        within = total - c
        if k != prev:
            start_within = within
            prev = k
        w = within - start_within
        served[i] = before[k] + w < capacity[k // n_classes] or c <= 0
    return _pool_used(members, region, cost, capacity, served)


@jit
def _pairwise_block(a, lo, n):
    """numpy's pairwise sum of ``a[lo:lo + n]`` for n <= 128 (8 accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += np.float64(a[i])
        return res
    r0 = np.float64(a[lo])
    r1 = np.float64(a[lo + 1])
    r2 = np.float64(a[lo + 2])
    r3 = np.float64(a[lo + 3])
    r4 = np.float64(a[lo + 4])
    r5 = np.float64(a[lo + 5])
    r6 = np.float64(a[lo + 6])
    r7 = np.float64(a[lo + 7])
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@jit
def _pairwise_sum(a, lo, n):
    """Σ a[lo:lo + n] in the order of numpy's pairwise summation (``np.sum`` of a contiguous float64 array).

    numpy splits blocks above 128 elements in two halves (the first a multiple
    of 8) and adds the halves' sums; the recursion is unrolled with an explicit
    stack (numba's cache does not support recursive functions).
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    s_lo = np.empty(64, dtype=np.int64)
    s_n = np.empty(64, dtype=np.int64)
    s_left = np.empty(64)
    s_stage = np.zeros(64, dtype=np.int8)  # 0 new, 1 left half pending, 2 right half pending
    depth = 0
    s_lo[0] = lo
    s_n[0] = n
    s_stage[0] = 0
    while True:
        cl = s_lo[depth]
        cn = s_n[depth]
        if cn > 128:  # split: descend into the left half
            n2 = cn // 2
            n2 -= n2 % 8
            s_stage[depth] = 1
            depth += 1
            s_lo[depth] = cl
            s_n[depth] = n2
            continue
        v = _pairwise_block(a, cl, cn)
        depth -= 1
        while depth >= 0:  # hand v up the stack
            if s_stage[depth] == 1:  # the left half is done: descend into the right half
                s_left[depth] = v
                s_stage[depth] = 2
                pn = s_n[depth]
                n2 = pn // 2
                n2 -= n2 % 8
                s_lo[depth + 1] = s_lo[depth] + n2
                s_n[depth + 1] = pn - n2
                depth += 1
                break
            v = s_left[depth] + v  # both halves done
            depth -= 1
        if depth < 0:
            return v


@jit
def _sum_as_float64(a, bufsize):
    """``a.sum(dtype=np.float64)`` of a float32 array, in numpy's order (pairwise within cast buffers)."""
    res = 0.0
    i = 0
    while i < a.size:
        k = min(bufsize, a.size - i)
        res += _pairwise_sum(a, i, k)
        i += k
    return res


# flags per active citizen (bits of the uint8 array handed from one kernel to the next)
_F_QUEUED, _F_COVER, _F_REACH, _F_ONLINE_OK, _F_UNMET = 1, 2, 4, 8, 16


@jit
def _serve_prepare(active, needs, ckey, pending, waited_st, queue_channel, has_queue, offline_open, assisted_on,
                   hc_off, hc_as, u_cover, tab, aware, access, lapsed_until, check_lapse, t, uses_choice,
                   literacy, trust, privacy, si, si_packed, packed, inv_degree, pack_shift, count_mask, fc, coef,
                   cap_all, patience, wait_h, b_time, asc_assisted, key, new, handled, waited, qch, flags, ex, ex64):
    """First pass of the service (see :func:`serve_needs`): queue moves, channels open, exponents.

    Writes per active citizen: key, new needs, needs handled, steps waited,
    queue channel (after a policy's moves), flags (``_F_*``), and the float32
    exponents whose ``exp`` the next pass needs -- ``ex[0]`` U_online (choice
    model) and ``ex[1]`` the success logit's exponent of the citizens for whom
    online is open, packed in their order into the first entries (their number
    is returned), ``ex[2]`` b_tr × trust (assisted, per citizen) -- and per key
    the float64 exponents of the offline and assisted logit weights
    (``ex64[0]``, ``ex64[1]``) with the expected wait by Little's law. With
    ``si_packed`` SI is decoded from the packed neighbour sums for the active
    citizens only (see :func:`neighbour_shares`). The
    exponentials are taken by numpy between the passes (the same ``exp`` as
    the vectorised form).
    """
    m = active.size
    n_keys = tab.shape[1]
    n_groups = 6
    n_regions = n_keys // n_groups
    b_pe, asc_on, b_ee, b_si, b_fc, b_tr, b_pr, thr, neg_inv_spread = (
        coef[0], coef[1], coef[2], coef[3], coef[4], coef[5], coef[6], coef[7], coef[8])
    backlog_key = np.zeros(n_keys)
    k_ok = 0
    for i in range(m):
        a = np.uint64(active[i])  # unsigned indices: no negative-index checks
        kk = ckey[a]
        key[i] = kk
        ku = np.uint64(kk)
        nw = needs[a]
        new[i] = nw
        fl = 0
        q = -1
        w = 0
        if has_queue:
            pd = pending[a]
            handled[i] = nw + pd
            if pd > 0:
                fl |= 1
                w = np.int32(waited_st[a])
                q = queue_channel[a]
                un = False
                if not offline_open and q == 0:  # a policy that closed a channel moves its queue
                    if assisted_on:
                        q = 2
                    else:
                        un = True
                if not assisted_on and q == 2:
                    if offline_open:
                        q = 0
                    else:
                        un = True
                if un:
                    fl |= 16
                    q = -1
                backlog_key[ku] += pd * (hc_as if q == 2 else hc_off)
        else:
            handled[i] = nw
        waited[i] = w
        qch[i] = q
        queued = (fl & 1) != 0
        cover = u_cover[i] < tab[5, ku]
        if cover:
            fl |= 2
            if not offline_open and not queued:
                aware[a] = True  # a closed window sends its citizens online: they learn of the service
        reach = aware[a] and access[a]
        if reach:
            fl |= 4
        ok = cover and reach and not queued
        if ok and check_lapse:
            ok = lapsed_until[a] <= t
        if ok:
            fl |= 8
            lit = literacy[a]
            usab = tab[3, ku]
            if uses_choice:
                v = tab[4, ku] * b_pe
                v += asc_on
                v += b_ee * lit * usab
                if si_packed:  # SI decoded here, as neighbour_shares does (float32 count × float32 1/degree)
                    v += b_si * (np.float32((packed[a] >> pack_shift) & count_mask) * np.float32(inv_degree[a]))
                else:
                    v += b_si * si[a]
                v += b_fc * fc[a]
                v += b_tr * trust[a]
                v -= b_pr * privacy[a] * tab[7, ku]
            else:
                v = np.float32(0.0)
            ex[0, k_ok] = v
            z = lit * usab
            z -= thr
            z *= neg_inv_spread
            ex[1, k_ok] = z
            k_ok += 1
        if assisted_on:
            ex[2, i] = b_tr * trust[a]
        flags[i] = fl
    # expected wait in steps per region (Little's law), capped at patience + 1
    for r in range(n_regions):
        ew = 0.0
        if has_queue:
            backlog = 0.0
            for g in range(n_groups):
                backlog += backlog_key[r * n_groups + g]
            cap = cap_all[r]
            if cap > 0:
                ew = backlog / max(cap, 1e-12)
            elif backlog > 0:
                ew = np.inf
            ew = min(ew, patience + 1.0)
        for g in range(n_groups):
            kk = r * n_groups + g
            ex64[0, kk] = -b_time * (np.float64(tab[1, kk]) + wait_h * ew)
            ex64[1, kk] = asc_assisted - b_time * (np.float64(tab[2, kk]) + wait_h * ew)
    return k_ok


@jit
def _serve_choose(active, key, handled, waited, qch, flags, ex, ex64, as_region, u_choice, u_success, tab,
                  offline_open, assisted_on, uses_choice, adopted, hc_off, hc_as,
                  choice, success, d_idx, d_reg, d_cost, d_wait, d_as):
    """Second pass: channel choice (logit), adoption, online encounter and fallback, who waits for service.

    Returns the number of citizens waiting for offline or assisted service
    (their positions, regions, case hours, steps waited and channel in the
    ``d_*`` arrays, in ascending order).
    """
    m = active.size
    one = np.float32(1.0)
    zero = np.float32(0.0)
    nd = 0
    k_ok = 0  # position of the next citizen with online open in ex[0], ex[1]
    for i in range(m):
        a = np.uint64(active[i])
        kk = key[i]
        ku = np.uint64(kk)
        fl = flags[i]
        queued = (fl & 1) != 0
        cover = (fl & 2) != 0
        reach = (fl & 4) != 0
        ok = (fl & 8) != 0
        ko = k_ok
        k_ok += ok
        w_off = np.float32(ex64[0, ku])
        if not offline_open and cover:
            w_off = zero
        w_as = zero
        if assisted_on:
            w_as = (np.float32(ex64[1, ku]) if as_region[kk // 6] else zero) * ex[2, i]
            if not cover:
                w_as = zero
        w_on = ex[0, ko] if (ok and uses_choice) else zero
        total = w_on + w_off
        if assisted_on:
            total += w_as
        x = u_choice[i] * total
        if assisted_on:
            if x < w_on:
                c = 1
            elif x < w_on + w_off:
                c = 0
            else:
                c = 2
            bad = c == 2 and w_as <= 0
        else:
            c = 1 if x < w_on else 0
            bad = c == 0 and w_off <= 0
        if bad:  # rounding at the top of the range: fall to the last open channel
            c = 0 if w_off > 0 else 1
        if not uses_choice and ok and adopted[a]:  # bass/threshold: adopters go online whenever they can
            c = 1
            total = one
        none_open = total <= 0 and not queued
        if queued:
            c = -1
        if none_open:
            c = -1
            fl |= 16
        if uses_choice:  # adoption = channel chosen at the latest need where online was open
            if ok:
                adopted[a] = c == 1
            elif not reach and not queued:
                adopted[a] = False
        # online encounter and fallback
        tried = c == 1
        good = False
        fb = -1
        if tried:
            prob = tab[6, ku] / (ex[1, ko] + one)
            good = u_success[i] < prob
            if not good:
                fb = 2 if as_region[kk // 6] else (0 if offline_open else -1)
                if fb == -1:
                    fl |= 16
        success[i] = good
        choice[i] = c
        flags[i] = fl
        # who waits for offline or assisted service this step
        q = qch[i]
        if not queued:
            q = (0 if cover else 3) if c == 0 else -1
            if assisted_on and c == 2:
                q = 2
            if tried and not good:
                q = fb
            qch[i] = q
        if q != -1:
            d_idx[nd] = i
            d_reg[nd] = kk // 6
            is_as = q == 2
            d_as[nd] = is_as
            d_cost[nd] = handled[i] * (hc_as if is_as else hc_off)
            d_wait[nd] = waited[i]
            nd += 1
    return nd


@jit
def _pool_members(pool, nd, d_reg, d_as, as_region, d_served):
    """Positions of the waiting citizens a pool serves: 0 all, 1 helpers (assisted where the platform works),
    2 cadres (offline, and assisted where the platform works, not yet served)."""
    out = np.empty(nd, dtype=np.intp)
    c = 0
    for j in range(nd):
        if pool == 0:
            take = True
        elif pool == 1:
            take = d_as[j] and as_region[d_reg[j]]
        else:
            take = not d_served[j] and (not d_as[j] or as_region[d_reg[j]])
        if take:
            out[c] = j
            c += 1
    return out[:c]


@jit
def _serve_finish(active, key, new, handled, waited, qch, flags, choice, success, nd, d_idx, d_served, d_wait,
                  d_as, tab, patience, has_queue, wait_h32, online_h32, fallback_h32, bufsize,
                  pending, waited_st, queue_channel, time_cost, needs_total, served_pop, unmet_pop, habit,
                  outcome_full, hours_full, outcome, episode, tried, groups, region_online, totals):
    """Last pass: outcomes, hours, visits, queue state, the population's tallies and the step records.

    Returns ``(n_queued, needs, queued_before, online_attempts,
    online_failures, hours, visits, wait_steps)``; fills ``groups`` (rows as
    :data:`GROUP_KEYS`, by group), ``region_online`` (needs served online
    per region) and ``totals`` (needs handled by outcome code 0..4); sets
    ``outcome_full`` and ``hours_full`` of every citizen (``NO_NEED`` and 0
    for the citizens not active).
    """
    m = active.size
    n_keys = tab.shape[1]
    n_groups = 6
    n_regions = n_keys // n_groups
    zero = np.float32(0.0)
    per_key = np.zeros((9, n_keys))
    hours = np.empty(m, dtype=np.float32)
    visits = np.empty(max(nd, 1), dtype=np.float32)
    outcome_full[:] = -1
    hours_full[:] = zero
    totals[:] = 0
    n_queued = 0
    needs_sum = 0
    queued_before = 0
    attempts = 0
    failures = 0
    wait_steps = 0
    last = max(nd - 1, 0)  # the d_* arrays hold at least one entry (read, then discarded, past the end)
    j = 0  # position in the waiting list (d_idx is ascending)
    for i in range(m):  # branch-free selects on the random outcomes (rare queue events keep their branches)
        a = np.uint64(active[i])
        kk = key[i]
        ku = np.uint64(kk)
        h = handled[i]
        hf = np.float32(h)
        c1 = choice[i] == 1
        good = c1 & success[i]
        attempts += h * c1
        failures += h * (c1 & ~success[i])
        per_need = online_h32 if good else (fallback_h32 if c1 else zero)
        o = 1 if good else 3  # unmet unless served or queued
        jj = np.uint64(min(j, last))
        in_d = (j < nd) & (d_idx[jj] == i)
        dw = d_wait[jj]
        srv = in_d & d_served[jj]
        das = d_as[jj]
        srv_as = srv & das
        srv_off = srv & ~das
        waits = in_d & ~srv
        per_need = per_need + tab[2, ku] if srv_as else per_need
        per_need = per_need + tab[1, ku] if srv_off else per_need
        per_need = per_need + wait_h32 if waits else per_need
        o = 2 if srv_as else o
        o = 0 if srv_off else o
        o = (3 if dw + 1 > patience else 4) if waits else o
        vis = np.float32(1.0) * hf if srv_as else (tab[0, ku] * hf if srv_off else zero * hf)
        wait_steps += (dw * h) * srv
        visits[jj] = vis if in_d else visits[jj]
        per_key[8, ku] += vis if in_d else 0.0
        hr = per_need * hf
        hours[i] = hr
        outcome[i] = o
        ep = per_need + np.float32(np.float64(waited[i]) * np.float64(wait_h32))
        episode[i] = zero if o == 4 else ep
        tried[i] = c1
        # state
        if has_queue and (flags[i] & 1) != 0:
            pd = pending[a]
            queued_before += pd
            per_key[1, ku] += pd
            pending[a] = 0
            waited_st[a] = 0
            queue_channel[a] = -1
        if o == 4:
            pending[a] = h
            waited_st[a] = dw + 1
            queue_channel[a] = qch[i]
            n_queued += 1
        j += in_d
        time_cost[a] += hr
        nw = new[i]
        needs_total[a] += nw
        needs_sum += nw
        served = o <= 2
        served_pop[a] += h * served
        unmet_pop[a] += h * (o == 3)
        habit[a] = o if served else habit[a]
        outcome_full[a] = o
        hours_full[a] = hr
        per_key[0, ku] += nw
        per_key[2 + o, ku] += h  # rows 2..6: offline, online, assisted, unmet, queued (by outcome code)
        totals[o] += h
        per_key[7, ku] += hr
        region_online[kk // n_groups] += h * (o == 1)
    # by group (urban × age): sums over regions in region order
    for row in range(9):
        for g in range(n_groups):
            s = 0.0
            for r in range(n_regions):
                s += per_key[row, r * n_groups + g]
            groups[row, g] = s
    hours_total = _sum_as_float64(hours, bufsize)
    visits_total = _sum_as_float64(visits[:nd], bufsize)
    return n_queued, needs_sum, queued_before, attempts, failures, hours_total, visits_total, wait_steps


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

    Compiled in three passes over the active citizens
    (:func:`_serve_prepare`, :func:`_serve_choose`, :func:`_serve_finish`),
    with numpy's ``exp`` of the logit and success exponents in between and
    the rationing of each pool (:func:`_ration_plan`) before the last pass.

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
    t = model.time_step
    f32 = np.float32
    offline_open = bool(p["channels.offline_open"])
    assisted_on = bool(p["assisted.enabled"])
    patience = int(p["channels.patience"])
    wait_h = float(p["channels.wait_hours"])
    hc_off, hc_as = float(p["channels.cadre_hours_offline"]), float(p["assisted.cadre_hours"])
    cadre_cap = np.asarray(model.service_capacity, dtype=float)
    help_cap = helper_hours(model)
    cap_all = cadre_cap + help_cap
    if st.table_cache is None:
        st.table_cache = {}
    tab = _key_table(model, quality, st.table_cache)
    b = _buffers(st, n)
    if assisted_on:
        as_region = np.asarray(quality["reliability"]) > 0
    else:
        as_region = b["no_region"]
        if as_region.size != model.n_regions:
            as_region = b["no_region"] = np.zeros(model.n_regions, dtype=bool)
    uses_choice = bool(model.rule.uses_choice_model)

    has_queue = st.n_queued > 0
    if needs is st.drawn_needs and st.drawn_queue == has_queue:
        active = st.drawn_index
    elif has_queue:
        active = np.flatnonzero((needs > 0) | (st.pending > 0))
    else:
        active = np.flatnonzero(needs)
    st.drawn_needs = st.drawn_index = None
    m = active.size
    u = b["u"][:3 * m].reshape(3, m)
    rng.random(out=u, dtype=np.float32)
    u_cover, u_choice, u_success = u[0], u[1], u[2]
    si = fc = pop.literacy  # not read unless the choice model needs them
    si_packed = False
    packed = inv_degree = st.key
    pack_shift = count_mask = 0
    if uses_choice:
        _neighbour_sums(model)
        fc = st.neighbour_literacy
        if st.social_share is not None:
            si = st.social_share
        else:  # decoded in the kernel for the active citizens only
            si_packed = True
            packed, inv_degree, pack_shift = st.packed, st.inv_degree, st.pack_shift
            count_mask = ((1 << (st.aware_shift - st.pack_shift)) - 1) if st.aware_in_pack else -1
    coef_in = (p["utility.b_pe"], p["utility.asc_online"], p["utility.b_ee"], p["utility.b_si"],
               p["utility.b_fc"], p["utility.b_tr"], p["utility.b_pr"], p["channels.skill_threshold"],
               p["channels.skill_spread"])
    if b["coef_in"] != coef_in:
        b["coef_in"] = coef_in
        b["coef"] = np.array([*coef_in[:8], -1.0 / coef_in[8]], dtype=f32)
    coef = b["coef"]
    key, new, waited, qch, flags = b["key"], b["new"], b["waited"], b["qch"], b["flags"]
    handled = np.empty(m, dtype=np.int32)
    ex = b["ex"][:3 * m].reshape(3, m)
    ex64 = b["ex64"]
    if ex64 is None or ex64.shape[1] != tab.shape[1]:
        ex64 = b["ex64"] = np.empty((2, tab.shape[1]))
    k_ok = _serve_prepare(active, needs, st.key, st.pending, st.waited, st.queue_channel, has_queue, offline_open,
                   assisted_on, hc_off, hc_as, u_cover, tab, pop.aware, pop.access, pop.lapsed_until,
                   st.lapse_horizon > t, t, uses_choice, pop.literacy, pop.trust, pop.privacy, si, si_packed,
                   packed, inv_degree, pack_shift, count_mask, fc, coef,
                   cap_all, float(patience), wait_h, float(p["utility.b_time"]), float(p["utility.asc_assisted"]),
                   key, new, handled, waited, qch, flags, ex, ex64)
    ex0, ex1 = ex[0, :k_ok], ex[1, :k_ok]  # row by row: numpy's exp is faster over contiguous rows than the 2-d view
    np.exp(ex0, out=ex0)
    np.exp(ex1, out=ex1)
    if assisted_on:
        np.exp(ex[2], out=ex[2])
    np.exp(ex64, out=ex64)
    choice, success = b["choice"], b["success"]
    d_idx, d_reg, d_cost, d_wait, d_as = b["d_idx"], b["d_reg"], b["d_cost"], b["d_wait"], b["d_as"]
    nd = _serve_choose(active, key, handled, waited, qch, flags, ex, ex64, as_region, u_choice, u_success, tab,
                       offline_open, assisted_on, uses_choice, pop.adopted, hc_off, hc_as,
                       choice, success, d_idx, d_reg, d_cost, d_wait, d_as)

    # rationing: pool 1 digital helpers (assisted only), pool 2 cadres (offline and the remaining assisted)
    d_served = b["d_served"][:nd]
    d_served[:] = False
    used = 0.0
    if nd:
        if assisted_on:
            pools = ((1, help_cap), (2, cadre_cap)) if help_cap.any() else ((2, cadre_cap),)
        else:
            pools = ((0, cadre_cap),)
        if not assisted_on and hc_off <= 0.0:  # every case costs 0 hours: all served, none used, no draws
            pools = ()
            d_served[:] = True
        for pool, cap in pools:
            members = b["all"][:nd] if pool == 0 else _pool_members(pool, nd, d_reg, d_as, as_region, d_served)
            if members.size:
                used += _ration_pool(members, d_reg, d_cost, d_wait, cap, d_served, rng)

    # outcomes, hours, state, records
    outcome = np.empty(m, dtype=np.int8)
    episode = np.empty(m, dtype=f32)
    tried = np.empty(m, dtype=bool)
    groups = np.empty((9, N_GROUPS))
    region_online = np.zeros(model.n_regions)
    full_outcome = np.empty(n, dtype=np.int8)  # filled by _serve_finish
    step_hours = np.empty(n, dtype=f32)
    totals = np.empty(5, dtype=np.int64)
    (n_queued, needs_sum, queued_before, attempts, failures, hours_total, visits_total,
     wait_steps) = _serve_finish(
        active, key, new, handled, waited, qch, flags, choice, success, nd, d_idx, b["d_served"], d_wait, d_as, tab,
        patience, has_queue, f32(wait_h), f32(p["channels.online_hours"]), f32(p["channels.fallback_hours"]),
        b["bufsize"], st.pending, st.waited, st.queue_channel, pop.time_cost, pop.needs_total, pop.served,
        pop.unmet, pop.habit, full_outcome, step_hours, outcome, episode, tried, groups, region_online, totals)
    st.n_queued = int(n_queued)
    model.step_outcome = full_outcome
    model.step_hours = step_hours
    model.step_needs = needs
    model.step_active = active
    model.step_record = {"outcome": outcome, "handled": handled, "episode_hours": episode, "tried_online": tried}
    model.step_groups = GroupTallies(groups)
    _record_platform_uses(model, region_online)
    n_off, n_on, n_as, n_unmet, n_q = totals.tolist()  # = the sums of the group rows (integer counts)
    return {
        "needs": int(needs_sum),
        "needs_online": int(n_on),
        "needs_offline": int(n_off),
        "needs_assisted": int(n_as),
        "needs_unmet": int(n_unmet),
        "needs_queued": int(n_q),
        "queued_before": int(queued_before),
        "online_attempts": int(attempts),
        "online_failures": int(failures),
        "hours": float(hours_total),
        "visits": float(visits_total),
        "wait_steps": float(wait_steps),
        "capacity_hours": np_sum(cap_all.tolist()),
        "capacity_used": float(used),
    }


def _buffers(st: ChannelState, n: int) -> dict:
    """Work arrays of :func:`serve_needs` sized for n citizens, kept across steps (the kernels fill the
    first m entries; nothing read from them outlives the call)."""
    b = st.bufs
    if b is None or b["n"] != n:
        b = st.bufs = {
            "n": n, "u": np.empty(3 * n, dtype=np.float32), "ex": np.empty(3 * n, dtype=np.float32), "ex64": None,
            "key": np.empty(n, dtype=np.intp), "new": np.empty(n, dtype=np.int32),
            "waited": np.empty(n, dtype=np.int32), "qch": np.empty(n, dtype=np.int8),
            "flags": np.empty(n, dtype=np.uint8), "choice": np.empty(n, dtype=np.int8),
            "success": np.empty(n, dtype=bool), "d_idx": np.empty(n, dtype=np.intp),
            "d_reg": np.empty(n, dtype=np.intp), "d_cost": np.empty(n), "d_wait": np.empty(n, dtype=np.int32),
            "d_as": np.empty(n, dtype=bool), "d_served": np.empty(n, dtype=bool),
            "no_region": np.zeros(0, dtype=bool), "coef_in": None, "all": np.arange(n, dtype=np.intp),
            # numpy's buffer size when the buffers were made: the block size of its float32 sums (_sum_as_float64)
            "bufsize": np.getbufsize()}
    return b


#: rows of the group tallies of :func:`_serve_finish`, and the order of ``model.step_groups``
_GROUP_ROWS = ("needs", "queued_before", "offline", "online", "assisted", "unmet", "queued", "hours", "visits")
_GROUP_ORDER = _GROUP_ROWS
_GROUP_ROW_INDEX = {name: row for row, name in enumerate(_GROUP_ROWS)}


class GroupTallies(Mapping):
    """``model.step_groups``: the step's tallies by group, ``{tally: array over GROUP_NAMES}``.

    A read-only mapping over the rows of the one table :func:`_serve_finish`
    fills (made into arrays only when read: most steps nobody reads them).

    Examples
    --------
    >>> import numpy as np
    >>> g = GroupTallies(np.arange(9 * 6.0).reshape(9, 6))
    >>> g["offline"].tolist(), len(g), list(g)[:2]
    ([12.0, 13.0, 14.0, 15.0, 16.0, 17.0], 9, ['needs', 'queued_before'])
    """

    __slots__ = ("table",)

    def __init__(self, table: np.ndarray):
        self.table = table

    def __getitem__(self, name: str) -> np.ndarray:
        return self.table[_GROUP_ROW_INDEX[name]]

    def __iter__(self):
        return iter(_GROUP_ROWS)

    def __len__(self) -> int:
        return len(_GROUP_ROWS)


def _record_platform_uses(model, per_region: np.ndarray) -> None:
    """Record each region's online uses (needs served online) on its platforms, split by coverage.

    Reads the cached grouping of the platforms by region (:func:`govsim.platforms.layout`).
    """
    if not model.platforms:
        return
    per = per_region.tolist()
    for r, plats in enumerate(layout(model).by_region):
        if plats:
            total = sum(pl.coverage for pl in plats) or 1.0
            x = per[r]
            for pl in plats:
                pl.uses = float(x * pl.coverage / total)
