"""Digital-divide outputs: exclusion, time costs and gaps by group; calibration of the population.

Every step this module's reporter adds the columns below to the results table
(declared with :func:`govsim.metrics.declare_output`). Groups are urban/rural
and the age groups young (<40), working-age (40-59) and elderly (60+). All
rates with an empty denominator are 0, never NaN.

* **Exclusion** ``exclusion_rate_<group>``: needs that became unmet this step
  per 1,000 new needs of the group this step (a need that waits and is given up
  counts in the step it is given up, so a step can exceed 1,000 when a backlog
  collapses). Gaps: ``exclusion_gap_rural_urban`` (rural − urban) and
  ``exclusion_gap_elderly_young`` (elderly − young), per 1,000 needs. The
  adoption gaps ``gap_urban_rural`` and ``gap_young_elderly`` are core columns
  (:mod:`govsim.metrics`).
* **Time cost** ``time_per_need_<group>``: hours spent this step (online,
  failed attempts, visits, waiting) per new need of the group.
* **Concentration index** ``ci_time_cost_literacy``: of each citizen's
  cumulative hours per need (``time_cost / needs_total``, citizens with at least
  one need) over the ranking by literacy, ``CI = 2 cov(h, r) / mean(h)`` with r
  the fractional rank (O'Donnell et al. 2008). Negative: the least literate
  bear more of the time cost. Ties share their mean rank; literacy is ranked on
  a grid of 4,096 levels (:func:`literacy_levels`), which makes the index one
  compiled pass over the citizens (counts and sums per level, then a pass over
  the levels; no sort of 10^6 citizens each step) and equal to the exact index
  whenever no two distinct literacies share a level.
  ``ci_unmet_literacy`` is the same for cumulative unmet needs per need.
* **Service**: ``needs_assisted``, ``needs_queued`` (waiting at the end of the
  step), ``queue_length`` (needs waiting per 1,000 citizens), ``mean_wait``
  (steps waited by the needs served offline or assisted this step),
  ``visits_per_need`` (in-person visits per need served this step),
  ``capacity_use`` (share of cadre and helper hours taken).
* **Dynamics**: ``lapse_rate`` (share of adopters who lapsed this step),
  ``trained`` (citizens trained this step), ``trained_share`` (share ever
  trained).

Multi-run summaries: :func:`final_year_summary` gives, per arm, the mean over
replicates of each run's mean over the last 12 steps (the final year) with a
95 % t interval across replicates. :func:`population_calibration` computes the
initial population's moments that the defaults of :mod:`govsim.citizens` are
calibrated to, and :func:`calibration_targets` reads the targets from the CNNIC
series shipped in ``govsim/data``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .channels import N_GROUPS
from .citizens import AGE_GROUPS
from .compiled import jit
from .metrics import declare_output, register_reporter, safe_share

GROUPS = ("urban", "rural", *AGE_GROUPS)
LITERACY_LEVELS = 4096
#: literacy below which a citizen "lacks the skills" (an online attempt succeeds
#: half the time at L × U = skill_threshold 0.15 with default usability 0.6)
LOW_SKILL_LITERACY = 0.25

_DECLS = [(f"exclusion_rate_{_g}", "per 1,000 needs",
           f"needs of {_g} citizens that became unmet this step per 1,000 of their new needs") for _g in GROUPS]
_DECLS += [(f"time_per_need_{_g}", "hours",
            f"hours spent this step by {_g} citizens per new need of theirs (waiting included)") for _g in GROUPS]
_DECLS += [
    ("exclusion_gap_rural_urban", "per 1,000 needs", "exclusion_rate_rural − exclusion_rate_urban"),
    ("exclusion_gap_elderly_young", "per 1,000 needs", "exclusion_rate_elderly − exclusion_rate_young"),
    ("ci_time_cost_literacy", "index in [-1, 1]",
     "concentration index of cumulative hours per need over the literacy ranking (negative: borne by the least literate)"),
    ("ci_unmet_literacy", "index in [-1, 1]",
     "concentration index of cumulative unmet needs per need over the literacy ranking"),
    ("needs_assisted", "needs", "needs served through the assisted channel this step"),
    ("needs_queued", "needs", "needs waiting for offline or assisted service at the end of the step"),
    ("queue_length", "needs per 1,000 citizens", "needs waiting at the end of the step per 1,000 citizens"),
    ("mean_wait", "steps", "mean steps waited by the needs served offline or assisted this step"),
    ("visits_per_need", "visits", "in-person visits per need served this step"),
    ("capacity_use", "share", "share of this step's cadre and helper hours taken by offline and assisted service"),
    ("lapse_rate", "share", "share of adopters who lapsed to the offline channels this step"),
    ("trained", "citizens", "citizens trained this step"),
    ("trained_share", "share", "share of citizens ever trained"),
]
for _name, _unit, _doc in _DECLS:
    declare_output(_name, _unit, _doc)


def literacy_levels(literacy: np.ndarray, levels: int = LITERACY_LEVELS) -> np.ndarray:
    """Literacy in [0, 1] as integer levels 0 .. levels − 1 (rounded to the nearest)."""
    out = np.multiply(literacy, np.float32(levels - 1), dtype=np.float32)
    out += np.float32(0.5)
    np.clip(out, 0, levels - 1, out=out)
    return out.astype(np.int32)


def concentration_index_levels(values: np.ndarray, levels: np.ndarray, n_levels: int,
                               mask: np.ndarray | None = None) -> float:
    """Concentration index of ``values`` over a ranking given by integer ``levels`` (ties share their mean rank).

    ``CI = 2 Σ_i h_i r_i / Σ_i h_i − 1``, r_i the fractional rank (mid-rank of
    the citizen's level among the N included citizens), which equals
    ``2 cov(h, r) / mean(h)`` since the mean fractional rank is 1/2. Only the
    citizens where ``mask`` is true are included. 0 if their total is 0.

    Examples
    --------
    Four citizens, time costs falling with literacy (hand computation: ranks
    1/8, 3/8, 5/8, 7/8; Σ h r = 3.75; Σ h = 10; CI = 2 × 3.75 / 10 − 1):

    >>> concentration_index_levels(np.array([4.0, 3.0, 2.0, 1.0]), np.array([0, 1, 2, 3]), 4)
    -0.25
    """
    values = np.asarray(values, dtype=float)
    levels = np.asarray(levels)
    if mask is not None:
        levels = np.where(mask, levels, n_levels)
        values = np.where(mask, values, 0.0)
    counts = np.bincount(levels, minlength=n_levels + 1)[:n_levels]
    sums = np.bincount(levels, weights=values, minlength=n_levels + 1)[:n_levels]
    total = sums.sum()
    n = counts.sum()
    if n == 0 or total == 0:
        return 0.0
    mid_rank = (np.cumsum(counts) - counts / 2.0) / n
    return float(2.0 * np.dot(sums, mid_rank) / total - 1.0)


@jit
def _divide_tallies(literacy, needs_total, time_cost, unmet, trained, n_levels, levels):
    """Both concentration indices over the literacy ranking, and the number ever trained (one call).

    First pass: each citizen's literacy level (:func:`literacy_levels`,
    computed in float32 as there; kept in the scratch array ``levels``) and the
    citizens with at least one need per level, hence each level's fractional
    mid-rank r_l = (citizens below + half the level's) / N. Second pass, over
    the citizens in index order: the hours and unmet needs per need,
    ``h_i = value × (1 / needs_total)`` in float64 (0 without a need), summed
    as Σ h_i and Σ h_i r_(l_i); ``CI = 2 Σ h r / Σ h − 1``.
    """
    top = np.float32(n_levels - 1)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    n_pop = literacy.size
    counts = np.zeros(n_levels, dtype=np.int32)
    max_nt = 0
    n_trained = 0
    for i in range(n_pop):
        n_trained += trained[i]
        nt = needs_total[i]
        max_nt = max(max_nt, nt)
        lev = np.int32(min(max(literacy[i] * top + half, zero), top))  # float32, as literacy_levels
        levels[i] = lev
        counts[lev] += nt > 0
    n = 0
    for lev in range(n_levels):
        n += counts[lev]
    if n == 0:
        return 0.0, 0.0, n_trained
    rank = np.empty(n_levels)
    cum = 0
    for lev in range(n_levels):
        c = counts[lev]
        cum += c
        rank[lev] = (cum - c / 2.0) / n
    inv = np.empty(max_nt + 1)  # 1 / needs_total by table (a division per citizen costs more than the pass)
    inv[0] = 0.0
    for k in range(1, max_nt + 1):
        inv[k] = 1.0 / np.float64(k)
    dot_t = dot_u = tot_t = tot_u = 0.0
    for i in range(n_pop):
        w = inv[max(needs_total[i], 0)]
        r = rank[levels[i]]
        h_t = np.float64(time_cost[i]) * w
        h_u = np.float64(unmet[i]) * w
        dot_t += h_t * r
        dot_u += h_u * r
        tot_t += h_t
        tot_u += h_u
    ci_t = 2.0 * dot_t / tot_t - 1.0 if tot_t > 0 else 0.0
    ci_u = 2.0 * dot_u / tot_u - 1.0 if tot_u > 0 else 0.0
    return ci_t, ci_u, n_trained


def _tallies(pop, scratch: dict | None = None) -> tuple[float, float, int]:
    """:func:`_divide_tallies` of a population; ``scratch`` (kept by the caller) holds the levels buffer."""
    scratch = {} if scratch is None else scratch
    levels = scratch.get("levels")
    if levels is None or levels.size != pop.n:
        levels = scratch["levels"] = np.empty(pop.n, dtype=np.int16)  # LITERACY_LEVELS <= 2^15
    return _divide_tallies(pop.literacy, pop.needs_total, pop.time_cost, pop.unmet, pop.trained.view(np.uint8),
                           LITERACY_LEVELS, levels)


_EMPTY_GROUPS = {k: np.zeros(N_GROUPS) for k in ("needs", "unmet", "hours")}
_DIVIDE_COLUMNS = tuple(d[0] for d in _DECLS)


_K = len(AGE_GROUPS)
_RATE_NAMES = [(f"exclusion_rate_{grp}", f"time_per_need_{grp}") for grp in GROUPS]


@register_reporter(columns=_DIVIDE_COLUMNS)
def _divide(model) -> dict:
    pop = model.citizens
    c = model.step_counts
    g = getattr(model, "step_groups", None) or _EMPTY_GROUPS
    row = {}
    k = _K
    # the urban × age tallies (rural ages, then urban ages) summed into the named groups, in the order of
    # GROUPS: urban, rural (sums from 0.0 over the ages, as numpy's row sums), then each age (rural + urban)
    tallies = []
    for key in ("needs", "unmet", "hours"):
        a = g[key]
        a = a.tolist() if type(a) is np.ndarray else [float(v) for v in a]
        urban = rural = 0.0
        for i in range(k):
            rural += a[i]
        for i in range(k):
            urban += a[k + i]
        tallies.append([urban, rural, *[a[i] + a[k + i] for i in range(k)]])
    for (ex_name, tp_name), needs, unmet, hours in zip(_RATE_NAMES, *tallies):
        row[ex_name] = 1000.0 * (unmet / needs if needs > 0 else 0.0)
        row[tp_name] = hours / needs if needs > 0 else 0.0
    row["exclusion_gap_rural_urban"] = row["exclusion_rate_rural"] - row["exclusion_rate_urban"]
    row["exclusion_gap_elderly_young"] = row["exclusion_rate_elderly"] - row["exclusion_rate_young"]

    ci_t, ci_u, n_trained = _tallies(pop, model.__dict__.setdefault("_divide_scratch", {}))
    row["ci_time_cost_literacy"] = ci_t
    row["ci_unmet_literacy"] = ci_u

    get = c.get
    n_off, n_as = get("needs_offline", 0), get("needs_assisted", 0)
    served = float(get("needs_online", 0) + n_off + n_as)
    served_q = float(n_off + n_as)
    cap = float(get("capacity_hours", 0.0))
    base = float(getattr(model, "step_lapse_base", 0))
    n = pop.n
    row["needs_assisted"] = int(n_as)
    row["needs_queued"] = int(get("needs_queued", 0))
    row["queue_length"] = 1000.0 * (float(get("needs_queued", 0)) / n if n > 0 else 0.0)
    row["mean_wait"] = float(get("wait_steps", 0.0)) / served_q if served_q > 0 else 0.0
    row["visits_per_need"] = float(get("visits", 0.0)) / served if served > 0 else 0.0
    row["capacity_use"] = min(1.0, float(get("capacity_used", 0.0)) / cap if cap > 0 else 0.0)
    row["lapse_rate"] = min(1.0, float(getattr(model, "step_lapsed", 0)) / base if base > 0 else 0.0)
    row["trained"] = int(getattr(model, "step_trained", 0))
    row["trained_share"] = float(n_trained) / n
    return row


# -- calibration of the initial population ------------------------------------------
def calibration_targets() -> dict[str, float]:
    """Targets for the initial population, read from the CNNIC series shipped in ``govsim/data`` (Dec 2021).

    Returns
    -------
    dict
        ``access_national`` (73.0 %), ``access_rural`` (57.6 %),
        ``access_urban`` (81.3 %: derived, the Dec 2020 gap of 23.9 points
        narrowed by 0.2 points, as the Dec 2021 row's note says),
        ``access_elderly`` (43.2 %), ``elderly_share`` (119 M users aged 60+ at
        43.2 % penetration over the population 1,032 M / 73.0 %) and
        ``nonuser_low_skill`` (48.4 % of non-users lack computer/internet
        skills), all as shares.
    """
    from .calibration import load_data

    pen = load_data("cnnic_penetration.csv")
    ur = load_data("cnnic_urban_rural.csv")
    eld = load_data("cnnic_elderly.csv")
    why = load_data("cnnic_nonuser_reasons.csv")

    def row(df, year, month):
        return df[(df["year"] == year) & (df["month"] == month)].iloc[0]

    p21 = row(pen, 2021, 12)
    u20, u21 = row(ur, 2020, 12), row(ur, 2021, 12)
    e21 = row(eld, 2021, 12)
    population = p21["users_million"] / (p21["penetration_pct"] / 100.0)
    gap_2021 = (u20["urban_pen_pct"] - u20["rural_pen_pct"]) - 0.2
    skills = why[(why["year"] == 2021) & (why["reason"] == "lack of computer/internet skills")].iloc[0]
    return {
        "access_national": p21["penetration_pct"] / 100.0,
        "access_urban": (u21["rural_pen_pct"] + gap_2021) / 100.0,
        "access_rural": u21["rural_pen_pct"] / 100.0,
        "access_elderly": e21["penetration_60plus_pct"] / 100.0,
        "elderly_share": e21["users_60plus_million"] / (e21["penetration_60plus_pct"] / 100.0) / population,
        "nonuser_low_skill": skills["pct_of_nonusers"] / 100.0,
    }


def population_calibration(pop) -> dict[str, float]:
    """The moments of a population that :func:`calibration_targets` gives targets for."""
    access = pop.access
    elderly = pop.age_group == 2
    return {
        "access_national": float(access.mean()),
        "access_urban": float(safe_share(np.count_nonzero(access & pop.urban), np.count_nonzero(pop.urban))),
        "access_rural": float(safe_share(np.count_nonzero(access & ~pop.urban), np.count_nonzero(~pop.urban))),
        "access_elderly": float(safe_share(np.count_nonzero(access & elderly), np.count_nonzero(elderly))),
        "elderly_share": float(elderly.mean()),
        "nonuser_low_skill": float(safe_share(np.count_nonzero(~access & (pop.literacy < LOW_SKILL_LITERACY)),
                                              np.count_nonzero(~access))),
    }


# -- multi-run summaries --------------------------------------------------------------
FINAL_YEAR_COLUMNS = (
    "adoption_rate", "adoption_urban", "adoption_rural", "adoption_young", "adoption_elderly",
    "gap_urban_rural", "gap_young_elderly",
    "exclusion_rate", "exclusion_rate_urban", "exclusion_rate_rural", "exclusion_rate_young",
    "exclusion_rate_elderly", "exclusion_gap_rural_urban", "exclusion_gap_elderly_young",
    "time_per_need", "time_per_need_rural", "time_per_need_elderly", "ci_time_cost_literacy",
    "ci_unmet_literacy", "visits_per_need", "queue_length", "mean_wait", "mean_literacy", "mean_trust",
)


def final_year_summary(df: pd.DataFrame, columns=None, window: int = 12) -> pd.DataFrame:
    """Per arm: mean and 95 % interval over replicates of each run's mean over the last ``window`` steps.

    Parameters
    ----------
    df : DataFrame
        The long results table of :func:`govsim.runner.run_scenario` (columns
        ``arm``, ``rep``, ``step`` and the outputs).
    columns : list of str, optional
        Outputs to summarise (default :data:`FINAL_YEAR_COLUMNS`, those present).
    window : int
        Steps at the end averaged within each run (12 = the final year).

    Returns
    -------
    DataFrame
        One row per arm × output: ``arm``, ``output``, ``mean``, ``ci_low``,
        ``ci_high``, ``reps``, ``steps`` (first and last step averaged). The
        interval is mean ± t(0.975, R − 1) × sd / √R (zero width with one
        replicate).
    """
    from .runner import final_summary  # runner imports the model, which imports this module

    cols = [c for c in (columns or FINAL_YEAR_COLUMNS) if c in df.columns]
    return final_summary(df, cols, window)
