"""Evaluation: visible digital metrics, real outcomes, and the gap between them.

"Technology presence is not governance presence" (seed 001). The central
government evaluates each local government r by::

    E_r = w × V_r + (1 − w) × O_r^seen          w = government.metric_weight

Visible metrics V_r (what an evaluation of digital construction counts), the
mean of four components in [0, 1]:

* apps launched: 1 − exp(−P_r / N), P_r the live platforms (portal and apps),
  N = ``government.apps_norm`` (the 7–8 apps of a township cadre score
  1 − 1/e);
* registered users: the share of the region's citizens who use the online
  channel (``adopted``);
* check-ins: 1 − exp(−c_r / (N × h_checkin)), c_r the check-in hours cadres
  actually logged per cadre this step (:mod:`govsim.cadres`). It rises with
  every app: the evaluator literally counts digital traces ("data punching");
* reports filed: the region's reporting compliance κ_r in [0, 1], bought with
  the compliance part of the budget (:mod:`govsim.governments`).

Real outcomes O_r, the mean of three components in [0, 1], computed from the
step's service records for the six groups urban/rural × young/working/elderly
of the region:

* satisfaction: mean satisfaction;
* time saved: 1 − (hours spent per need handled) / (hours of one offline
  visit: ``channels.offline_hours`` + ``channels.rural_travel_hours`` for rural
  groups), clipped to [0, 1];
* equity (served share): 1 − unmet needs / needs resolved this step.

Granularity (``government.information_granularity``, the seeds' "denoising
effect": indices hide individuals):

* ``aggregate``: the region's population means (the groups pooled: large
  groups dominate, an excluded minority barely moves the index);
* ``by_group``: satisfaction and time saved are means over the groups with
  equal weight per group, and equity is the served share of the *worst-off*
  group (a Rawlsian minimum): the elderly and rural citizens are "seen".

The true outcome score (``outcome_score``) is always the by-group form: it is
what citizens experience group by group. Groups without citizens (or without
needs) are left out; a region with no needs (none resolved) this step keeps
the time saved (equity) it showed last, and 0.5 before any service (neutral,
like the initial satisfaction), so that step 0 is not an artefact. ``evaluated_score`` and ``outcome_score`` are the unweighted means over
regions (each region is one evaluation unit), ``presence_gap`` their
difference. The indicators of a step are tallied in one compiled pass over the
citizens (:func:`compute_indicators`), whatever columns are collected.

Money outputs: ``budget_spent`` (all regions' spending this step: upkeep,
quality, launches, training, service capacity and compliance),
``outcome_per_cost`` = outcome_score / (mean spending per region in units of
``government.budget_mean``), ``formalism_cost`` = the money value of the cadre
hours spent on formalism (through ``cadres.payroll``) + compliance spending +
upkeep paid for zombie platforms.
"""

from __future__ import annotations

import numpy as np

from . import cadres
from .channels import NO_NEED, SERVED_OFFLINE, SERVED_ONLINE, UNMET
from .citizens import AGE_GROUPS
from .compiled import jit
from .metrics import declare_output, key_labels, label_bounds, pairwise_sum, register_reporter

try:  # the assisted channel (digital-divide mechanics)
    from .channels import SERVED_ASSISTED
except ImportError:  # pragma: no cover
    SERVED_ASSISTED = 2

N_GROUPS = 2 * len(AGE_GROUPS)  # urban/rural × age group
_RESOLVED = (SERVED_OFFLINE, SERVED_ONLINE, SERVED_ASSISTED, UNMET)
assert sorted(_RESOLVED) == list(range(SERVED_OFFLINE, UNMET + 1))


def group_labels(model) -> np.ndarray:
    """Static label of each citizen: region × 6 + urban × 3 + age group (cached)."""
    return key_labels(model)[0]


def _reference_hours(model) -> np.ndarray:
    """Hours of one offline visit per group (urban, then rural travel added), shape (6,)."""
    p = model.params
    base = float(p.get("channels.offline_hours", 2.0))
    rural = float(p.get("channels.rural_travel_hours", 0.0))
    ref = np.empty(N_GROUPS)
    k = len(AGE_GROUPS)
    ref[:k] = base + rural  # urban = 0 comes first
    ref[k:] = base
    return ref


@jit
def _indicator_kernel(lab, bounds, counts, satisfaction, adopted, active, outcome, handled, aligned, hours,
                      n_regions, ref_rural, ref_urban, first_resolved, unmet_code,
                      prev_time_group, prev_time_agg, prev_equity_group, prev_equity_agg):
    """The indicators per region, rows in the order of :data:`_ROWS` (one call per step).

    Per label (region × 6 + urban × 3 + age): the satisfaction sum and the
    adopters over all citizens (each label's citizens summed in index order,
    as ``np.bincount``), then needs handled, resolved and unmet and hours over
    the citizens with a need (``active``, in order). Then per region the
    group shares, in the order numpy's row sums take (from 0.0, groups in
    order), so the values are those of the array formulas they replace.
    """
    n_keys = counts.size
    sat = np.zeros(n_keys)
    adopt = np.zeros(n_keys)
    if bounds.size == n_keys + 1:
        for k in range(n_keys):
            s = 0.0
            a = 0
            for i in range(bounds[k], bounds[k + 1]):
                s += np.float64(satisfaction[i])
                a += adopted[i]
            sat[k] = s
            adopt[k] = a
    else:
        for i in range(lab.size):
            sat[lab[i]] += np.float64(satisfaction[i])
            adopt[lab[i]] += adopted[i]
    need = np.zeros(n_keys)
    res = np.zeros(n_keys)
    unm = np.zeros(n_keys)
    hrs = np.zeros(n_keys)
    last_resolved = unmet_code
    for j in range(active.size):
        c = active[j]
        k = lab[c]
        h = np.float64(handled[j] if aligned else handled[c])
        o = outcome[c]
        need[k] += h
        if o >= first_resolved and o <= last_resolved:
            res[k] += h
            if o == unmet_code:
                unm[k] += h
        hrs[k] += np.float64(hours[c])

    out = np.empty((8, n_regions))
    g_per = n_keys // n_regions if n_regions else 0
    k_age = g_per // 2
    for r in range(n_regions):
        s_cnt = s_sat = s_ad = s_need = s_res = s_unm = s_hrs = s_ref = 0.0
        sum_sat_g = sum_time_g = 0.0
        n_c = n_n = n_r = 0
        eq_min = np.inf
        for g in range(g_per):
            k = r * g_per + g
            cnt = counts[k]
            ref = ref_rural if g < k_age else ref_urban  # urban flag 0 (rural) comes first
            nr = need[k] * ref
            s_cnt += cnt
            s_sat += sat[k]
            s_ad += adopt[k]
            s_need += need[k]
            s_res += res[k]
            s_unm += unm[k]
            s_hrs += hrs[k]
            s_ref += nr
            if cnt > 0:
                sum_sat_g += sat[k] / cnt
                n_c += 1
            if need[k] > 0:
                x = hrs[k] / nr if nr > 0 else 0.0
                sum_time_g += 1.0 - min(max(x, 0.0), 1.0)
                n_n += 1
            if res[k] > 0:
                eq = 1.0 - unm[k] / res[k]
                if eq < eq_min:
                    eq_min = eq
                n_r += 1
        out[0, r] = s_ad / s_cnt if s_cnt > 0 else 0.0  # users
        out[1, r] = s_sat / s_cnt if s_cnt > 0 else 0.0  # sat_agg
        x = s_hrs / s_ref if s_ref > 0 else 0.0
        out[2, r] = (1.0 - min(max(x, 0.0), 1.0)) if n_n > 0 else prev_time_agg[r]  # time_agg
        out[3, r] = (1.0 - (s_unm / s_res if s_res > 0 else 0.0)) if n_r > 0 else prev_equity_agg[r]
        out[4, r] = sum_sat_g / n_c if n_c > 0 else 0.0  # sat_group
        out[5, r] = sum_time_g / n_n if n_n > 0 else prev_time_group[r]  # time_group
        out[6, r] = eq_min if n_r > 0 else prev_equity_group[r]  # equity_group
        out[7, r] = s_need  # needs
    return out


_ROWS = ("users", "sat_agg", "time_agg", "equity_agg", "sat_group", "time_group", "equity_group", "needs")
_NO_BOUNDS = np.zeros(0, dtype=np.intp)


def compute_indicators(model) -> dict:
    """What governments and the evaluator can see this step, per region (arrays of length regions.n).

    Keys: ``users``, ``sat_agg``, ``time_agg``, ``equity_agg``, ``sat_group``,
    ``time_group``, ``equity_group``, ``needs`` (needs handled this step),
    ``step``. Computed by one compiled call over the citizens (see
    :func:`_indicator_kernel`).
    """
    R = model.n_regions
    pop = model.citizens
    lab, cnt = key_labels(model)
    bounds = label_bounds(model)
    active = getattr(model, "step_active", None)
    if active is None:
        active = np.flatnonzero(model.step_outcome != NO_NEED)
    elif type(active) is not np.ndarray or active.dtype != np.intp:
        active = np.asarray(active, dtype=np.intp)
    rec = getattr(model, "step_record", None)
    handled = rec.get("handled") if isinstance(rec, dict) else None
    aligned = handled is not None and len(handled) == active.size
    if aligned:
        handled = np.asarray(handled)
    else:
        handled = model.step_needs
    p = model.params
    base = float(p.get("channels.offline_hours", 2.0))
    rural = float(p.get("channels.rural_travel_hours", 0.0))
    # a region without needs (or none resolved) this step shows nothing new:
    # keep what was seen last (0.5, neutral like the initial satisfaction, before any service)
    prev = getattr(model, "indicators", None)
    neutral = None

    def old(key: str) -> np.ndarray:
        nonlocal neutral
        if prev is not None and key in prev and len(prev[key]) == R:
            return np.asarray(prev[key], dtype=float)
        if neutral is None:
            neutral = np.full(R, 0.5)
        return neutral

    out = _indicator_kernel(lab, _NO_BOUNDS if bounds is None else bounds, cnt, pop.satisfaction,
                            pop.adopted.view(np.uint8), active, model.step_outcome, handled, aligned,
                            np.asarray(model.step_hours), R, base + rural, base, SERVED_OFFLINE, UNMET,
                            old("time_group"), old("time_agg"), old("equity_group"), old("equity_agg"))
    ind = dict(zip(_ROWS, out))
    ind["step"] = int(model.time_step)
    return ind


def indicators(model) -> dict:
    """The indicators of the current step (computed once per step, then cached on the model)."""
    ind = getattr(model, "indicators", None)
    if ind is None or ind["step"] != model.time_step:
        ind = compute_indicators(model)
        model.indicators = ind
    return ind


def seen_outcomes(model, ind: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(satisfaction, time saved, equity) per region as the granularity in force shows them."""
    if model.params["government.information_granularity"] == "by_group":
        return ind["sat_group"], ind["time_group"], ind["equity_group"]
    return ind["sat_agg"], ind["time_agg"], ind["equity_agg"]


def _checkin_pc(model, split: dict) -> list[float]:
    """Check-in hours actually logged per cadre, per region (formalism served in proportion to demand)."""
    c = cadres.cadre_counts(model).tolist()
    chk, served, demand = split["checkin"].tolist(), split["served"].tolist(), split["demand"].tolist()
    out = []
    for r in range(model.n_regions):
        done = served[r] / demand[r] if demand[r] > 0 else 1.0
        out.append(chk[r] * done / c[r] if c[r] > 0 else 0.0)
    return out


def _cadre_split(model) -> dict:
    split = model.__dict__.get("cadre_time")
    return cadres.cadre_time(model) if split is None else split


def _visible_lists(model, ind: dict) -> tuple[list, list, list, list]:
    """The four visible metrics per region, as lists of floats (see :func:`visible_components`)."""
    p = model.params
    R = model.n_regions
    N = p["government.apps_norm"]
    n_plat = [0.0] * R
    for plat in getattr(model, "platforms", ()):
        n_plat[plat.region] += 1.0
    apps = (1.0 - np.exp(np.array([-x / N for x in n_plat]))).tolist()
    h = p["formalism.checkin_hours"]
    if h > 0:
        scale = N * h
        chk = (1.0 - np.exp(np.array([-x / scale for x in _checkin_pc(model, _cadre_split(model))]))).tolist()
    else:
        chk = [0.0] * R
    kappa = [float(g.compliance) for g in model.local_governments]
    return apps, ind["users"].tolist(), chk, kappa


def visible_components(model, ind: dict) -> dict[str, np.ndarray]:
    """The four visible metrics per region (see the module docstring)."""
    apps, users, chk, kappa = _visible_lists(model, ind)
    return {"apps": np.array(apps), "users": ind["users"], "checkins": np.array(chk), "reports": np.array(kappa)}


def _score_lists(model) -> dict[str, list]:
    """Per-region scores as lists of floats (the arithmetic of :func:`scores`, element by element)."""
    ind = indicators(model)
    apps, users, chk, kappa = _visible_lists(model, ind)
    sat, time, eq = (a.tolist() for a in seen_outcomes(model, ind))
    tsat, ttime, teq = ind["sat_group"].tolist(), ind["time_group"].tolist(), ind["equity_group"].tolist()
    w = float(model.params["government.metric_weight"])
    visible, seen, true, evaluated = [], [], [], []
    for r in range(model.n_regions):
        v = (apps[r] + users[r] + chk[r] + kappa[r]) / 4.0
        o = (sat[r] + time[r] + eq[r]) / 3.0
        visible.append(v)
        seen.append(o)
        true.append((tsat[r] + ttime[r] + teq[r]) / 3.0)
        evaluated.append(w * v + (1.0 - w) * o)
    return {"visible": visible, "outcome_seen": seen, "outcome_true": true, "evaluated": evaluated}


def scores(model) -> dict[str, np.ndarray]:
    """Per-region ``visible``, ``outcome_seen``, ``outcome_true`` and ``evaluated`` scores."""
    return {k: np.array(v, dtype=float) for k, v in _score_lists(model).items()}


# -- outputs ---------------------------------------------------------------------------
_DECLS = [
    ("metric_weight", "share", "weight of visible digital metrics in the evaluation regime in force"),
    ("visible_score", "[0, 1]", "mean over regions of the visible-metric score V (apps, users, check-ins, reports)"),
    ("evaluated_score", "[0, 1]", "mean over regions of the evaluated score E = w V + (1 − w) O_seen"),
    ("outcome_score", "[0, 1]", "mean over regions of the true outcome score (by group: satisfaction, time saved, worst group's served share)"),
    ("presence_gap", "score", "evaluated_score − outcome_score: technology presence vs governance presence"),
    ("budget_spent", "budget units/step", "money spent by all local governments this step"),
    ("outcome_per_cost", "score per budget_mean", "outcome_score / (mean spending per region / government.budget_mean); 0 if nothing spent"),
    ("formalism_cost", "budget units/step", "money value of cadre formalism hours + compliance spending + upkeep of zombie platforms, all regions"),
    ("reporting_compliance", "[0, 1]", "mean over regions of reporting compliance (the 'reports filed' metric)"),
]
for _name, _unit, _doc in _DECLS:
    declare_output(_name, _unit, _doc)
_EVAL_COLUMNS = tuple(d[0] for d in _DECLS)


@register_reporter(columns=_EVAL_COLUMNS)
def _evaluation_outputs(model) -> dict:
    R = model.n_regions
    govs = model.local_governments
    w = float(model.params["government.metric_weight"])
    if R:
        s = _score_lists(model)
        evaluated = pairwise_sum(s["evaluated"]) / R
        outcome = pairwise_sum(s["outcome_true"]) / R
        visible = pairwise_sum(s["visible"]) / R
    else:
        evaluated = outcome = visible = 0.0
    spent = [float(g.spent_step) for g in govs]
    zombie_upkeep = [0.0] * R
    for pl in model.platforms:
        if pl.zombie:
            zombie_upkeep[pl.region] += pl.upkeep * pl.paid_share
    split = _cadre_split(model)
    served, budget = split["served"].tolist(), split["budget"].tolist()
    pay = cadres.payroll(model).tolist()
    hours_money = [(served[r] / budget[r] if budget[r] > 0 else 0.0) * pay[r] for r in range(R)]
    compliance = [float(g.compliance_spend) for g in govs]
    bm = float(model.params["government.budget_mean"])
    per_region = pairwise_sum(spent) / len(spent) if spent else 0.0
    rel = per_region / bm if bm > 0 else 0.0
    return {
        "metric_weight": w,
        "visible_score": visible,
        "evaluated_score": evaluated,
        "outcome_score": outcome,
        "presence_gap": evaluated - outcome,
        "budget_spent": pairwise_sum(spent),
        "outcome_per_cost": outcome / rel if rel > 0 else 0.0,
        "formalism_cost": pairwise_sum(hours_money) + pairwise_sum(compliance) + pairwise_sum(zombie_upkeep),
        "reporting_compliance": pairwise_sum([float(g.compliance) for g in govs]) / len(govs) if govs else 0.0,
    }
