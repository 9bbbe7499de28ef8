"""Grassroots cadres' time and the formalism burden: the one place that computes service capacity.

Each region has a pool of cadres (``cadres.per_10k_citizens`` per 10,000
residents) with a time budget of H = ``cadres.hours_per_step`` hours each per
step. Part of that time goes to *formalism work* ("formalism on the
fingertips": seed 001; reported figures in ``govsim/data/formalism_indicators.csv``);
what is left is the capacity for offline and assisted service, which the
channel mechanics ration (:func:`service_hours` is the only definition of it).

Formalism hours demanded
------------------------
Per cadre and step, in region r with P_r live platforms (the integrated portal
and every departmental app, see :mod:`govsim.platforms`)::

    checkin_r = P_r × h_checkin
    entry_r   = forms_r × h_entry × (1 − D_r)
    trace_r   = w × h_trace

* **Check-ins** (``formalism.checkin_hours`` per app): every platform a cadre
  must keep alive asks for daily log-ins, check-ins, "study" and likes, whether
  or not citizens use it. The default, 2.8 h per app per month, is 40 minutes a
  day over five apps (8 minutes per app per day, 21 working days): the village
  cadre of the ``village_deputy_secretary_apps`` row.
* **Duplicate data entry** (``formalism.entry_hours`` per report form): each
  platform (department) asks for its own report form or ledger each step
  (``formalism.forms_per_app`` forms per app), so forms_r = P_r × forms_per_app;
  after a ``merge_reporting`` policy ("one form", 一表通) the region files one
  app's worth of forms, forms_r = forms_per_app. Only the data that is *not*
  shared across departments has to be typed again: D_r in [0, 1] is the
  region's data sharing, the mean integration level of its platforms
  (:func:`govsim.platforms.data_sharing`). The (1 − D) factor is the "let
  data run more" mechanism of seeds 002 and 004 applied to cadres: it is linear
  because each shared data item removes one re-typing.
* **Digital-trace evidence** (``formalism.trace_hours`` at w = 1): photographs,
  screenshots, work-group posts and logs produced to prove work to evaluators.
  It is demanded by the evaluation regime, so it is proportional to the central
  government's weight on visible metrics w = ``government.metric_weight``
  (:mod:`govsim.governments`): an outcome-only regime (w = 0) demands none.

With the defaults (a portal with I = 0.5 plus six departmental apps with
I = 0.2, so D = 1.7/7 ≈ 0.24, and w = 0.5) a cadre spends 19.6 + 15.9 + 12 ≈
47.5 h a month on formalism, about 2.3 h a working day: the "about 2 hours a
day" reported for a township with 7–8 apps per cadre
(``daily_time_on_app_traces_xinchang``).

Served first, capped at H
-------------------------
Formalism is enforced (inspections, rankings, 24-hour response in work groups),
so it is served before any citizen::

    formalism_served_r = min(cadres_r × (checkin_r + entry_r + trace_r), cadres_r × H)
    service_hours_r    = cadres_r × H − formalism_served_r + extra_cadre_hours_r  (>= 0)

The demand beyond H cannot be met and is recorded as unserved formalism
(``formalism_unserved_hours``); the evaluator then sees fewer check-ins done
(the ``checkins`` component of the visible score in :mod:`govsim.evaluation`).
Formalism components are served in proportion (each at the share served/demand).
``extra_cadre_hours`` are service hours that local governments buy with the
offline/assisted part of their budget (``model.extra_cadre_hours``, hours per
step per region, written by :mod:`govsim.governments`): hired service staff
and "digital helpers", who are not subject to formalism work.

Money
-----
Cadre time is converted to money through ``cadres.payroll``, the cost of the
whole cadre time budget of a region of average size per step, so that money
figures do not depend on ``citizens.n`` (the simulated citizens are a sample;
cadres scale with it, budgets do not)::

    money value of hours h in region r = h / (cadres_r × H) × payroll × residents_r / mean residents

This gives the cadre-time part of ``formalism_cost`` and the hours bought by
service spending (:func:`hours_per_budget_unit`).
"""

from __future__ import annotations

import numpy as np

from .config import Param, declare

_FI = "govsim/data/formalism_indicators.csv"

declare(
    Param("cadres.per_10k_citizens", float, 6.0, "grassroots cadres serving citizens, per 10,000 citizens",
          unit="cadres/10k citizens", low=0.0, high=10_000.0,
          source="assumption: a township service hall staffs a handful of cadres per 10,000 residents"),
    Param("cadres.hours_per_step", float, 168.0, "working hours of one cadre per step (H)",
          unit="hours/step", low=0.0, high=744.0, source="8 hours × 21 working days a month"),
    Param("cadres.payroll", float, 250.0,
          "money cost of the whole cadre time budget of a region of average size, per step (scales with residents)",
          unit="budget units/step", low=0.0, high=1e12,
          source="assumption: the digital budget (government.budget_mean = 100) is about 40 % of the grassroots payroll"),
    Param("formalism.checkin_hours", float, 2.8,
          "hours per cadre per step of check-ins, log-ins and 'study' demanded by each live platform",
          unit="hours/app/step", low=0.0, high=744.0,
          source=f">= 40 min/day over 5 apps = 8 min/app/day × 21 days ({_FI}: village_deputy_secretary_apps)"),
    Param("formalism.forms_per_app", float, 1.0,
          "report forms (ledgers) per step each platform's department asks every cadre to fill",
          unit="forms/app/step", low=0.0, high=100.0,
          source=f"assumption: one monthly ledger per department; repeated form filling is named by 42.03 % of the 2020 survey ({_FI}: repeated_form_filling_ledgers)"),
    Param("formalism.entry_hours", float, 3.0,
          "hours per cadre to fill one report form when no data is shared across departments",
          unit="hours/form", low=0.0, high=744.0,
          source=f"assumption: set so that the default region totals about 2 h/day of formalism ({_FI}: daily_time_on_app_traces_xinchang)"),
    Param("formalism.trace_hours", float, 24.0,
          "hours per cadre per step of 'digital trace' evidence (photos, logs, work-group posts) demanded when metric_weight = 1",
          unit="hours/step", low=0.0, high=744.0,
          source=f"assumption: about 1 h/day at a fully metric-driven regime; 41.85 % of the 2020 survey name work groups used as showcases ({_FI}: work_groups_as_showcase)"),
)


_PLATFORMS = []


def _pl():
    """:mod:`govsim.platforms`, imported on first use (it imports this module; importing it here at import
    time would change the order in which the output columns are declared)."""
    if not _PLATFORMS:
        from . import platforms

        _PLATFORMS.append(platforms)
    return _PLATFORMS[0]


def residents(model) -> np.ndarray:
    """Citizens per region (static; computed once and cached on the model)."""
    cached = model.__dict__.get("_residents")
    if cached is None or len(cached) != model.n_regions:
        cached = np.bincount(model.citizens.region, minlength=model.n_regions).astype(float)
        model.__dict__["_residents"] = cached
        model.__dict__["_residents_list"] = cached.tolist()
    return cached


def _residents_list(model) -> list:
    """:func:`residents` as a list of Python floats (cached with it)."""
    cached = model.__dict__.get("_residents_list")
    if cached is None or len(cached) != model.n_regions:
        residents(model)
        cached = model.__dict__["_residents_list"]
    return cached


def cadre_counts(model) -> np.ndarray:
    """Cadres per region, proportional to the region's citizens (float, may be fractional)."""
    return residents(model) * model.params["cadres.per_10k_citizens"] / 10_000.0


def budget_hours(model) -> np.ndarray:
    """Total cadre hours per region this step (cadres × H)."""
    return cadre_counts(model) * model.params["cadres.hours_per_step"]


def payroll(model) -> np.ndarray:
    """Money cost of each region's cadre time budget per step (``cadres.payroll`` × relative size)."""
    res = residents(model)
    mean = res.mean() if res.size else 0.0
    rel = res / mean if mean > 0 else np.zeros_like(res)
    return model.params["cadres.payroll"] * rel


def _hours_per_budget_unit_list(model) -> list:
    """:func:`hours_per_budget_unit` as Python floats, cached while its inputs (parameters) are unchanged."""
    p = model.params
    tag = (p["cadres.per_10k_citizens"], p["cadres.hours_per_step"], p["cadres.payroll"], model.n_regions)
    cached = model.__dict__.get("_hours_per_budget_unit")
    if cached is not None and cached[0] == tag:  # residents are static: the same inputs give the same hours
        return cached[1]
    pay = payroll(model)
    hours = budget_hours(model)
    out = np.divide(hours, pay, out=np.zeros_like(hours), where=pay > 0).tolist()
    model.__dict__["_hours_per_budget_unit"] = (tag, out)
    return out


def hours_per_budget_unit(model) -> np.ndarray:
    """Cadre hours one budget unit buys in each region (0 where the payroll or the pool is empty)."""
    return np.array(_hours_per_budget_unit_list(model), dtype=float)


def platform_counts(model) -> np.ndarray:
    """Live platforms (portal and apps) per region."""
    return np.array(_pl().layout(model).n_plat, dtype=float)


_SPLIT = ("budget", "checkin", "entry", "trace", "demand", "served", "unserved", "extra", "service")


def formalism_demand(model) -> dict[str, np.ndarray]:
    """Formalism hours demanded per region this step, by component (totals over the region's cadres).

    Returns
    -------
    dict
        ``checkin``, ``entry``, ``trace`` and their sum ``demand``: arrays of
        hours per region (see the module docstring for the equations).
    """
    out = _time_lists(model)
    return {k: np.array(out[k], dtype=float) for k in ("checkin", "entry", "trace", "demand")}


def _time_lists(model) -> dict[str, list]:
    """:func:`cadre_time` as lists of Python floats per region (one loop over the regions, the same arithmetic)."""
    p = model.params
    n = model.n_regions
    lay = _pl().layout(model)
    per10k, H = p["cadres.per_10k_citizens"], p["cadres.hours_per_step"]
    merged = getattr(model, "reports_merged", None)
    merged = [False] * n if merged is None else np.asarray(merged).tolist()
    extra = getattr(model, "extra_cadre_hours", None)
    extra = [0.0] * n if extra is None else np.asarray(extra, dtype=float).tolist()
    fpa, h_chk, h_entry = p["formalism.forms_per_app"], p["formalism.checkin_hours"], p["formalism.entry_hours"]
    h_trace = p["formalism.trace_hours"]
    w = float(p["government.metric_weight"])
    out = {k: [0.0] * n for k in _SPLIT}
    budget_, checkin_, entry_, trace_, demand_, served_, unserved_, extra_, service_ = (out[k] for k in _SPLIT)
    for r, (res, n_plat, mrg, sh, ex) in enumerate(zip(_residents_list(model), lay.n_plat, merged, _pl()._sharing(lay),
                                                        extra)):
        c = res * per10k / 10_000.0
        forms = (min(n_plat, 1.0) if mrg else n_plat) * fpa
        ch = c * n_plat * h_chk
        en = c * forms * h_entry * (1.0 - sh)
        tr = c * w * h_trace
        d = ch + en + tr
        b = c * H
        sv = min(d, b)
        ex = max(ex, 0.0)
        budget_[r], checkin_[r], entry_[r], trace_[r], demand_[r] = b, ch, en, tr, d
        served_[r], unserved_[r], extra_[r], service_[r] = sv, d - sv, ex, max(b - sv, 0.0) + ex
    return out


def cadre_time(model) -> dict[str, np.ndarray]:
    """The full split of cadre time per region this step.

    Returns
    -------
    dict of arrays (hours per region)
        ``budget`` (cadres × H), ``checkin``, ``entry``, ``trace`` and ``demand``
        (demanded formalism), ``served`` (formalism done: demand capped at the
        budget), ``unserved`` (demand beyond the budget), ``extra`` (service
        hours bought by local governments) and ``service`` (what is left for
        offline and assisted service, never negative).
    """
    lists = _time_lists(model)
    return {k: np.array(lists[k], dtype=float) for k in _SPLIT}


def formalism_hours(model) -> np.ndarray:
    """Formalism hours actually done per region this step (demand capped at cadres × H)."""
    return cadre_time(model)["served"]


def service_hours(model) -> np.ndarray:
    """Cadre hours left for offline and assisted service per region, never negative.

    ``cadres × H − formalism served + extra_cadre_hours``. The model calls this
    once per step, before needs are served, and keeps the result as
    ``model.service_capacity``; the breakdown is kept as ``model.cadre_time``
    (see :func:`cadre_time`) for the outputs. The few numbers per region are
    computed as Python floats (the same float64 operations as the array
    equations), then stored as small arrays.
    """
    lists = _time_lists(model)
    table = np.array([lists[k] for k in _SPLIT], dtype=float)  # one array, a row per entry
    split = dict(zip(_SPLIT, table))
    model.cadre_time = split
    model.__dict__["_cadre_time_lists"] = (split, lists)
    return split["service"]


# -- outputs ---------------------------------------------------------------------------
from .metrics import declare_output, register_reporter, safe_share  # noqa: E402

for _name, _unit, _doc in [
    ("formalism_hours_per_cadre", "hours/cadre/step", "formalism hours done per cadre this step (check-ins + duplicate entry + traces, capped at H)"),
    ("formalism_share", "share", "formalism hours done as a share of the cadres' time budget (all regions)"),
    ("checkin_hours", "hours/cadre/step", "check-in hours done per cadre this step"),
    ("duplicate_entry_hours", "hours/cadre/step", "duplicate data-entry hours done per cadre this step"),
    ("trace_hours", "hours/cadre/step", "'digital trace' evidence hours done per cadre this step"),
    ("formalism_unserved_hours", "hours/cadre/step", "formalism demanded beyond the time budget H, per cadre (not done)"),
    ("service_capacity_hours", "hours/cadre/step", "hours per cadre left for offline and assisted service, bought extra hours included"),
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _cadre_outputs(model) -> dict:
    split = model.__dict__.get("cadre_time")
    if split is None:
        split = cadre_time(model)
    cached = model.__dict__.get("_cadre_time_lists")
    if cached is not None and cached[0] is split:
        s = cached[1]
    else:
        s = {k: np.asarray(split[k], dtype=float).tolist() for k in ("budget", "checkin", "entry", "trace", "demand",
                                                                      "served", "unserved", "service")}
    np_sum = _pl().np_sum  # sums over regions in numpy's order (the same bits as np.sum)
    per10k = model.params["cadres.per_10k_citizens"]
    cadres = [x * per10k / 10_000.0 for x in _residents_list(model)]
    served, demand = s["served"], s["demand"]
    done = [sv / d if d > 0 else 1.0 for sv, d in zip(served, demand)]
    if len(cadres) < 8:  # numpy adds fewer than 8 numbers in order: one loop for every sum
        t_c = t_sv = t_b = t_ch = t_en = t_tr = t_un = t_se = 0.0
        for c, sv, b, ch, en, tr, un, se, dn in zip(cadres, served, s["budget"], s["checkin"], s["entry"],
                                                    s["trace"], s["unserved"], s["service"], done):
            t_c += c
            t_sv += sv
            t_b += b
            t_ch += ch * dn
            t_en += en * dn
            t_tr += tr * dn
            t_un += un
            t_se += se
    else:
        t_c, t_sv, t_b, t_un, t_se = (np_sum(x) for x in (cadres, served, s["budget"], s["unserved"], s["service"]))
        t_ch, t_en, t_tr = (np_sum([x * dn for x, dn in zip(s[k], done)]) for k in ("checkin", "entry", "trace"))
    share = safe_share
    hours = float(model.params["cadres.hours_per_step"])
    # served <= budget = cadres x hours holds region by region; the ratio of the totals can overshoot it only by
    # rounding (cadre counts near the float underflow), so the bound is restored
    per_cadre = min(share(t_sv, t_c), hours)
    return {
        "formalism_hours_per_cadre": per_cadre,
        "formalism_share": share(t_sv, t_b),
        "checkin_hours": share(t_ch, t_c),
        "duplicate_entry_hours": share(t_en, t_c),
        "trace_hours": share(t_tr, t_c),
        "formalism_unserved_hours": share(t_un, t_c),
        "service_capacity_hours": share(t_se, t_c),
    }
