"""Policies of the central government: scheduled events (MODEL.md step 1).

Registered event types (fields are checked when the scenario is loaded; a bad
value raises a one-line :class:`govsim.ScenarioError` naming
``events[i].field``):

* ``cap_apps`` (``max_apps``, ``region`` = -1 for all): from its step on, a
  region may run at most ``max_apps`` departmental apps (the portal is not
  counted). Apps beyond the cap are retired at once, least used first (use
  rate, then the newest first), and no app is launched while the region is at
  its cap. Reference: the 2024 rule of one grassroots app per central
  department (``regs_2024_max_grassroots_apps_per_central_dept`` in
  ``govsim/data/formalism_indicators.csv``). A later ``cap_apps`` replaces an
  earlier one.
* ``merge_reporting`` (``region``): "one form" (一表通): from its step on the
  region's departments share one report form, so cadres fill one app's worth of
  forms instead of one per platform (:mod:`govsim.cadres`). Pilots report more
  than 60 % less data filling (``yibiaotong_data_filling_reduction``); with
  seven platforms the model's cut in forms is 6/7.
* ``shift_to_outcomes`` (``metric_weight``): from its step on the evaluation
  weight on visible metrics is ``metric_weight`` (the December 2023 opinions on
  preventing "formalism on the fingertips": ``opinions_2023_articles``). It
  changes the local governments' next decisions and at once the digital-trace
  evidence demanded of cadres.

Every event type of this module and of :mod:`govsim.shocks` also takes an
optional ``arms`` field, a list of arm names: the event then happens only in
runs of those arms of the scenario (``[]``, the default, means every run).
This is how one scenario file compares, say, a policy arm with a no-policy
arm. Names are compared with the arm being run (``Scenario.arm_name``).

The generic ``set`` event changes any other parameter (e.g.
``government.information_granularity``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import platforms
from .errors import ScenarioError
from .events import REQUIRED, register_event


class _FieldMeta(type):
    """Metaclass of event-field types: ``isinstance(value, T)`` runs T's check."""

    def __instancecheck__(cls, value: Any) -> bool:
        return bool(cls._check(value))


def field_type(name: str, check: Callable[[Any], bool]) -> type:
    """An event-field type named ``name`` (shown in error messages) accepting values for which ``check`` is true.

    Examples
    --------
    >>> Share = field_type("number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
    >>> isinstance(0.3, Share), isinstance(1.5, Share), isinstance(True, Share)
    (True, False, False)
    """
    return _FieldMeta(name, (), {"_check": staticmethod(check)})


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


SHARE = field_type("number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
POSITIVE = field_type("number > 0", lambda v: _is_number(v) and v > 0)
NONNEG_INT = field_type("integer >= 0", lambda v: _is_int(v) and v >= 0)
POSITIVE_INT = field_type("integer >= 1", lambda v: _is_int(v) and v >= 1)
REGION = field_type("region index >= 0, or -1 for all regions", lambda v: _is_int(v) and v >= -1)
ARMS = field_type("list of arm names", lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v))


def in_arms(apply: Callable) -> Callable:
    """Wrap an event's ``apply`` so that it acts only in the arms its ``arms`` field lists (all if empty)."""

    def wrapped(model, ev) -> None:
        arms = ev.get("arms") or ()
        if arms and getattr(model.config, "arm_name", None) not in arms:
            return
        apply(model, ev)

    wrapped.__doc__ = apply.__doc__
    return wrapped


def regions_of(model, event: dict) -> list[int]:
    """The regions an event applies to (``region`` = -1: all), checked against ``regions.n``."""
    r = int(event.get("region", -1))
    if r == -1:
        return list(range(model.n_regions))
    if r >= model.n_regions:
        raise ScenarioError(f"region {r} does not exist (regions.n = {model.n_regions})",
                            key=f"events[{event.get('type')} at step {event.get('step')}].region")
    return [r]


def _apply_cap_apps(model, ev) -> None:
    cap = int(ev["max_apps"])
    for r in regions_of(model, ev):
        model.app_cap[r] = cap
        apps = [pl for pl in model.platforms if pl.region == r and pl.kind == "app"]
        excess = len(apps) - cap
        if excess > 0:
            apps.sort(key=lambda pl: (pl.use_rate, -pl.created, pl.unique_id))
            for pl in apps[:excess]:
                platforms.retire(model, pl)


def _apply_merge_reporting(model, ev) -> None:
    for r in regions_of(model, ev):
        model.reports_merged[r] = True


def _apply_shift_to_outcomes(model, ev) -> None:
    model.params["government.metric_weight"] = float(ev["metric_weight"])


register_event("cap_apps", {"max_apps": (NONNEG_INT, REQUIRED), "region": (REGION, -1), "arms": (ARMS, [])},
               in_arms(_apply_cap_apps),
               "from its step on, at most `max_apps` departmental apps per region (excess retired, least used first)")
register_event("merge_reporting", {"region": (REGION, -1), "arms": (ARMS, [])}, in_arms(_apply_merge_reporting),
               "'one form': the region's departments share one report form from this step on")
register_event("shift_to_outcomes", {"metric_weight": (SHARE, REQUIRED), "arms": (ARMS, [])},
               in_arms(_apply_shift_to_outcomes),
               "the evaluation weight on visible metrics becomes `metric_weight` (Dec 2023 anti-formalism opinions)")
