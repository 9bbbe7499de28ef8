"""Scheduled events: policies and shocks at given steps (MODEL.md step 1).

A scenario lists events as an array of tables::

    [[events]]
    step = 48
    type = "set"
    key = "government.metric_weight"
    value = 0.2

Each event type is registered with :func:`register_event`, naming its fields
(type, required or default) and the function that applies it to the model.
Events whose ``step`` equals the step being run are applied first in that step,
in the order they are listed in the file.

Built-in type ``set``: from its step on, parameter ``key`` takes ``value``
(validated against the parameter's declaration). Parameters that fix the
model's structure (population, regions, network, adoption rule) cannot be set
during a run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import ScenarioError, _did_you_mean, declare_list_section, get_param

STRUCTURAL_PREFIXES = ("citizens.", "regions.", "network.", "scenario.", "adoption.rule",
                       "adoption.initial", "awareness.initial")


@dataclass(frozen=True)
class EventType:
    """A registered event type: its fields and how it acts on the model."""

    name: str
    fields: Mapping[str, tuple[type, Any]]  # field -> (type, default; ... = required)
    apply: Callable[[Any, Mapping[str, Any]], None]
    doc: str = ""


_EVENT_TYPES: dict[str, EventType] = {}
REQUIRED = ...


def register_event(name: str, fields: Mapping[str, tuple[type, Any]], apply: Callable, doc: str = "") -> None:
    """Register an event type.

    Parameters
    ----------
    name : str
        Value of the event's ``type`` field.
    fields : dict
        field name -> (python type, default), default ``...`` if required.
        ``step`` and ``type`` are implicit.
    apply : callable
        ``apply(model, event)`` performs the event.
    doc : str
        One-line meaning, shown in the docs.
    """
    _EVENT_TYPES[name] = EventType(name, dict(fields), apply, doc)


def event_types() -> dict[str, EventType]:
    """The registered event types by name."""
    return dict(_EVENT_TYPES)


def _check_field(where: str, ftype: type, value: Any) -> Any:
    if ftype is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if ftype is object:
        return value
    if not isinstance(value, ftype) or (ftype in (int, float) and isinstance(value, bool)):
        raise ScenarioError(f"expected {ftype.__name__}, got {value!r}", key=where)
    return value


def validate_events(raw: Any, values: Mapping[str, Any]) -> tuple:
    """Validate the ``[[events]]`` list of a scenario (see the module docstring)."""
    if isinstance(raw, tuple):
        raw = list(raw)
    if not isinstance(raw, list):
        raise ScenarioError("expected an array of tables [[events]]", key="events")
    out = []
    for i, ev in enumerate(raw):
        where = f"events[{i}]"
        if not isinstance(ev, Mapping):
            raise ScenarioError("expected a table", key=where)
        etype = ev.get("type")
        if etype not in _EVENT_TYPES:
            allowed = ", ".join(sorted(_EVENT_TYPES))
            hint = _did_you_mean(str(etype), _EVENT_TYPES)
            raise ScenarioError(f"unknown event type {etype!r}; allowed: {allowed}{hint}", key=f"{where}.type")
        spec = _EVENT_TYPES[etype]
        step = ev.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ScenarioError(f"expected an integer step >= 1, got {step!r}", key=f"{where}.step")
        clean = {"step": step, "type": etype}
        for k, v in ev.items():
            if k in ("step", "type"):
                continue
            if k not in spec.fields:
                allowed = ", ".join(["step", "type", *spec.fields])
                raise ScenarioError(f"unknown field for a {etype!r} event; allowed: {allowed}"
                                    + _did_you_mean(k, spec.fields), key=f"{where}.{k}")
            clean[k] = _check_field(f"{where}.{k}", spec.fields[k][0], v)
        for k, (_t, default) in spec.fields.items():
            if k not in clean:
                if default is REQUIRED:
                    raise ScenarioError(f"a {etype!r} event needs field {k!r}", key=f"{where}.{k}")
                clean[k] = default
        if etype == "set":
            key = clean["key"]
            get_param(key)
            if key.startswith(STRUCTURAL_PREFIXES):
                raise ScenarioError(f"{key!r} fixes the model's structure and cannot be set during a run",
                                    key=f"{where}.key")
            clean["value"] = get_param(key).validate(clean["value"])
        out.append(clean)
    return tuple(out)


def apply_events(model, step: int) -> list[dict]:
    """Apply the events scheduled for ``step``; return them."""
    events = model.config.events
    cached = model.__dict__.get("_events_by_step")
    if cached is None or cached[0] is not events:  # the scenario's events, indexed by step once
        by_step: dict = {}
        for ev in events:
            by_step.setdefault(ev["step"], []).append(ev)
        cached = (events, by_step)
        model.__dict__["_events_by_step"] = cached
    due = list(cached[1].get(step, ()))
    for ev in due:
        _EVENT_TYPES[ev["type"]].apply(model, ev)
    return due


def _apply_set(model, ev) -> None:
    model.params[ev["key"]] = ev["value"]


register_event("set", {"key": (str, REQUIRED), "value": (object, REQUIRED)}, _apply_set,
               "from its step on, parameter `key` takes `value`")
declare_list_section("events", validate_events)
