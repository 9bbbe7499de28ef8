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
difference.

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
from .metrics import adopters_by_key, declare_output, key_labels, mean_of, register_reporter, safe_share

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


def _segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of integer ``values`` over the slices ``bounds[k]:bounds[k + 1]`` (float64, exact)."""
    c = np.empty(values.size + 1, dtype=np.int64)
    c[0] = 0
    np.cumsum(values, dtype=np.int64, out=c[1:])
    return (c[bounds[1:]] - c[bounds[:-1]]).astype(float)


def compute_indicators(model) -> dict:
    """What governments and the evaluator can see this step, per region (arrays of length regions.n).

    Keys: ``users``, ``sat_agg``, ``time_agg``, ``equity_agg``, ``sat_group``,
    ``time_group``, ``equity_group``, ``needs`` (needs handled this step),
    ``step``.
    """
    R = model.n_regions
    pop = model.citizens
    lab, cnt = key_labels(model)
    size = R * N_GROUPS
    sat = np.bincount(lab, weights=pop.satisfaction, minlength=size)
    adopt = adopters_by_key(model)

    active = getattr(model, "step_active", None)
    if active is None:
        active = np.flatnonzero(model.step_outcome != NO_NEED)
    active = np.asarray(active, dtype=np.intp)
    outcome = model.step_outcome[active]
    rec = getattr(model, "step_record", None)
    if isinstance(rec, dict) and "handled" in rec and len(rec["handled"]) == active.size:
        h_raw = np.asarray(rec["handled"])
    else:
        h_raw = model.step_needs[active]
    hours = np.asarray(model.step_hours)[active].astype(float)
    la = lab[active]
    resolved = (outcome >= SERVED_OFFLINE) & (outcome <= UNMET)  # the codes of _RESOLVED are 0 .. 3
    unmet = outcome == UNMET
    if h_raw.dtype.kind in "iub" and la.size and bool(np.all(la[1:] >= la[:-1])):
        # labels in order (citizens are numbered by block): exact integer sums per label from cumulative sums
        bounds = np.searchsorted(la, np.arange(size + 1))
        need, res, unm = (_segment_sums(v, bounds) for v in (h_raw, h_raw * resolved, h_raw * unmet))
    else:
        handled = h_raw.astype(float)
        need = np.bincount(la, weights=handled, minlength=size)
        res = np.bincount(la, weights=handled * resolved, minlength=size)
        unm = np.bincount(la, weights=handled * unmet, minlength=size)
    hrs = np.bincount(la, weights=hours, minlength=size)
    ref = np.tile(_reference_hours(model), R)

    shape = (R, N_GROUPS)
    cnt2, sat2, need2, res2, unm2, hrs2 = (a.reshape(shape) for a in (cnt, sat, need, res, unm, hrs))
    ref2 = ref.reshape(shape)
    # by group
    sat_g = safe_share(sat2, cnt2)
    time_g = 1.0 - np.clip(safe_share(hrs2, need2 * ref2), 0.0, 1.0)
    eq_g = 1.0 - safe_share(unm2, res2)
    has_c = cnt2 > 0
    has_n = need2 > 0
    has_r = res2 > 0
    sat_group = safe_share(np.where(has_c, sat_g, 0.0).sum(1), has_c.sum(1))
    time_group = safe_share(np.where(has_n, time_g, 0.0).sum(1), has_n.sum(1))
    equity_group = np.where(has_r.any(1), np.where(has_r, eq_g, np.inf).min(1), 0.0)
    # aggregate
    sat_agg = safe_share(sat2.sum(1), cnt2.sum(1))
    time_agg = 1.0 - np.clip(safe_share(hrs2.sum(1), (need2 * ref2).sum(1)), 0.0, 1.0)
    equity_agg = 1.0 - safe_share(unm2.sum(1), res2.sum(1))
    # a region without needs (or none resolved) this step shows nothing new:
    # keep what was seen last (0.5, neutral like the initial satisfaction, before any service)
    prev = getattr(model, "indicators", None)
    no_need, no_res = ~has_n.any(1), ~has_r.any(1)

    def carry(key: str, value: np.ndarray, empty: np.ndarray) -> np.ndarray:
        old = prev[key] if prev is not None and key in prev and len(prev[key]) == R else np.full(R, 0.5)
        return np.where(empty, old, value)

    time_group, time_agg = carry("time_group", time_group, no_need), carry("time_agg", time_agg, no_need)
    equity_group = carry("equity_group", equity_group, no_res)
    equity_agg = carry("equity_agg", equity_agg, no_res)
    return {
        "step": int(model.time_step),
        "users": safe_share(adopt.reshape(shape).sum(1), cnt2.sum(1)),
        "sat_agg": np.asarray(sat_agg, dtype=float), "time_agg": np.asarray(time_agg, dtype=float),
        "equity_agg": np.asarray(equity_agg, dtype=float),
        "sat_group": np.asarray(sat_group, dtype=float), "time_group": np.asarray(time_group, dtype=float),
        "equity_group": np.asarray(equity_group, dtype=float),
        "needs": need2.sum(1),
    }


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


def visible_components(model, ind: dict) -> dict[str, np.ndarray]:
    """The four visible metrics per region (see the module docstring)."""
    p = model.params
    N = p["government.apps_norm"]
    n_plat = cadres.platform_counts(model)
    split = model.__dict__.get("cadre_time")
    if split is None:
        split = cadres.cadre_time(model)
    c = cadres.cadre_counts(model)
    done = safe_share(split["served"], split["demand"])
    done = np.where(split["demand"] > 0, done, 1.0)
    chk_pc = safe_share(split["checkin"] * done, c)
    h = p["formalism.checkin_hours"]
    v_chk = 1.0 - np.exp(-chk_pc / (N * h)) if h > 0 else np.zeros(model.n_regions)
    kappa = np.array([g.compliance for g in model.local_governments])
    return {"apps": 1.0 - np.exp(-n_plat / N), "users": ind["users"], "checkins": np.asarray(v_chk, dtype=float),
            "reports": kappa}


def scores(model) -> dict[str, np.ndarray]:
    """Per-region ``visible``, ``outcome_seen``, ``outcome_true`` and ``evaluated`` scores."""
    ind = indicators(model)
    vis = visible_components(model, ind)
    V = (vis["apps"] + vis["users"] + vis["checkins"] + vis["reports"]) / 4.0
    seen = sum(seen_outcomes(model, ind)) / 3.0
    true = (ind["sat_group"] + ind["time_group"] + ind["equity_group"]) / 3.0
    w = float(model.params["government.metric_weight"])
    return {"visible": V, "outcome_seen": seen, "outcome_true": true, "evaluated": w * V + (1.0 - w) * seen}


# -- outputs ---------------------------------------------------------------------------
for _name, _unit, _doc in [
    ("metric_weight", "share", "weight of visible digital metrics in the evaluation regime in force"),
    ("visible_score", "[0, 1]", "mean over regions of the visible-metric score V (apps, users, check-ins, reports)"),
    ("evaluated_score", "[0, 1]", "mean over regions of the evaluated score E = w V + (1 − w) O_seen"),
    ("outcome_score", "[0, 1]", "mean over regions of the true outcome score (by group: satisfaction, time saved, worst group's served share)"),
    ("presence_gap", "score", "evaluated_score − outcome_score: technology presence vs governance presence"),
    ("budget_spent", "budget units/step", "money spent by all local governments this step"),
    ("outcome_per_cost", "score per budget_mean", "outcome_score / (mean spending per region / government.budget_mean); 0 if nothing spent"),
    ("formalism_cost", "budget units/step", "money value of cadre formalism hours + compliance spending + upkeep of zombie platforms, all regions"),
    ("reporting_compliance", "[0, 1]", "mean over regions of reporting compliance (the 'reports filed' metric)"),
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _evaluation_outputs(model) -> dict:
    s = scores(model)
    govs = model.local_governments
    spent = np.array([g.spent_step for g in govs]) if govs else np.zeros(0)
    zombie_upkeep = np.zeros(model.n_regions)
    for pl in model.platforms:
        if pl.zombie:
            zombie_upkeep[pl.region] += pl.upkeep * pl.paid_share
    split = model.__dict__.get("cadre_time")
    if split is None:
        split = cadres.cadre_time(model)
    hours_money = safe_share(split["served"], split["budget"]) * cadres.payroll(model)
    compliance = np.array([g.compliance_spend for g in govs]) if govs else np.zeros(0)
    evaluated = mean_of(s["evaluated"]) if model.n_regions else 0.0
    outcome = mean_of(s["outcome_true"]) if model.n_regions else 0.0
    bm = float(model.params["government.budget_mean"])
    per_region = mean_of(spent) if spent.size else 0.0
    rel = per_region / bm if bm > 0 else 0.0
    return {
        "metric_weight": float(model.params["government.metric_weight"]),
        "visible_score": mean_of(s["visible"]) if model.n_regions else 0.0,
        "evaluated_score": evaluated,
        "outcome_score": outcome,
        "presence_gap": evaluated - outcome,
        "budget_spent": float(spent.sum()),
        "outcome_per_cost": outcome / rel if rel > 0 else 0.0,
        "formalism_cost": float(np.sum(hours_money) + compliance.sum() + zombie_upkeep.sum()),
        "reporting_compliance": mean_of([g.compliance for g in govs]) if govs else 0.0,
    }
