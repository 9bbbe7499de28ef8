"""Typed, validated scenario configuration.

Every model parameter is declared once, as a :class:`Param` with a dotted key
(``"adoption.rule"``), a type, a default, an allowed range or set of choices, a
unit and a one-line meaning. Each module declares the parameters of its own
concept with :func:`declare` (``networks`` declares ``network.*``, ``adoption``
declares ``adoption.*`` ...), so the schema grows with the model and the ODD
parameter table in ``docs/odd.md`` is generated from it (see
:func:`parameter_table_markdown`).

A :class:`Scenario` is the fully resolved, validated set of values: defaults,
overlaid by a TOML file, overlaid by dotted overrides. Anything invalid raises
:class:`govsim.ScenarioError` naming the dotted key and what is allowed.

Scenario files
--------------
A scenario file is TOML. Its tables are the parameter sections; nested tables
and dotted keys are equivalent::

    [scenario]
    name = "baseline"
    steps = 120

    [network]
    kind = "homophily"
    mean_degree = 10

    [adoption]
    rule = "bass"
    p = 0.03

Two tables are special. ``[arms.NAME]`` holds named variants of the scenario,
each a set of overrides (``[arms.digital_only] "channels.offline_open" = false``).
``[[events]]`` is a list of scheduled events (see :mod:`govsim.events`).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ScenarioError

__all__ = [
    "Param",
    "Scenario",
    "declare",
    "get_param",
    "iter_params",
    "load_scenario",
    "parse_value",
    "parameter_table_markdown",
    "scenario_search_path",
]

_TYPE_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string"}


@dataclass(frozen=True)
class Param:
    """Declaration of one scenario parameter.

    Parameters
    ----------
    key : str
        Dotted key, ``section.name`` (``"citizens.n"``).
    type : {int, float, bool, str}
        Element type. Lists are declared with ``length``.
    default : object
        Default value (must itself be valid).
    doc : str
        One-line meaning.
    unit : str
        Unit of measurement (``"-"`` for dimensionless, ``"share"`` for [0, 1]).
    low, high : float, optional
        Inclusive bounds for numbers (each element of a list).
    choices : tuple of str, optional
        Allowed values of a string parameter.
    length : int, optional
        If given, the value is a list of exactly this many elements.
    source : str
        Where the default comes from (citation, data file, or "assumption: why").
    sum_to_one : bool
        For list parameters holding shares: the elements must sum to 1.

    Examples
    --------
    >>> p = Param("citizens.n", int, 1000, "number of citizens", unit="citizens", low=1)
    >>> p.validate(50)
    50
    >>> p.validate(0)
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: citizens.n: must be >= 1, got 0
    """

    key: str
    type: type
    default: Any
    doc: str
    unit: str = "-"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    source: str = ""
    sum_to_one: bool = False

    # -- validation -----------------------------------------------------------
    def allowed(self) -> str:
        """Describe the allowed values in a few words."""
        if self.choices is not None:
            what = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            what = _TYPE_NAMES[self.type]
            if self.low is not None and self.high is not None:
                what += f" in [{_fmt(self.low)}, {_fmt(self.high)}]"
            elif self.low is not None:
                what += f" >= {_fmt(self.low)}"
            elif self.high is not None:
                what += f" <= {_fmt(self.high)}"
        if self.length is not None:
            what = f"a list of {self.length} values, each {what}"
            if self.sum_to_one:
                what += ", summing to 1"
        return what

    def _element(self, value: Any) -> Any:
        t = self.type
        bad = ScenarioError(
            f"expected {self.allowed()}, got {value!r} ({type(value).__name__})", key=self.key
        )
        if t is bool:
            if not isinstance(value, bool):
                raise bad
            return value
        if isinstance(value, bool):
            raise bad
        if t is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise bad
        elif t is float:
            if not isinstance(value, (int, float)):
                raise bad
            value = float(value)
            if not math.isfinite(value):
                raise ScenarioError(f"must be finite, got {value!r}", key=self.key)
        elif t is str:
            if not isinstance(value, str):
                raise bad
            if self.choices is not None and value not in self.choices:
                hint = _did_you_mean(value, self.choices)
                raise ScenarioError(f"expected {self.allowed()}, got {value!r}{hint}", key=self.key)
            return value
        if self.low is not None and value < self.low:
            raise ScenarioError(f"must be >= {_fmt(self.low)}, got {_fmt(value)}", key=self.key)
        if self.high is not None and value > self.high:
            raise ScenarioError(f"must be <= {_fmt(self.high)}, got {_fmt(value)}", key=self.key)
        return value

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the declared type, or raise ScenarioError."""
        if self.length is None:
            return self._element(value)
        if not isinstance(value, (list, tuple)) or len(value) != self.length:
            raise ScenarioError(f"expected {self.allowed()}, got {value!r}", key=self.key)
        out = tuple(self._element(v) for v in value)
        if self.sum_to_one and abs(sum(out) - 1.0) > 1e-6:
            raise ScenarioError(f"values must sum to 1, got {sum(out):.6g}", key=self.key)
        return out


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- the registry ---------------------------------------------------------------
_REGISTRY: dict[str, Param] = {}
_CHECKS: list[Callable[[Mapping[str, Any]], None]] = []
_LIST_SECTIONS: dict[str, Callable[[Any, Mapping[str, Any]], tuple]] = {}


def declare(*params: Param) -> None:
    """Add parameters to the schema (called by each module at import).

    Re-declaring a key with an identical declaration is a no-op (module reloads);
    a conflicting re-declaration is an error.
    """
    for p in params:
        old = _REGISTRY.get(p.key)
        if old is not None and old != p:
            raise ValueError(f"parameter {p.key!r} declared twice with different specs")
        p.validate(p.default)  # a default must itself be valid
        _REGISTRY[p.key] = p


def declare_check(check: Callable[[Mapping[str, Any]], None]) -> Callable:
    """Register a cross-parameter check ``check(values)`` raising ScenarioError."""
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def declare_list_section(name: str, validator: Callable[[Any, Mapping[str, Any]], tuple]) -> None:
    """Register a top-level array-of-tables section (such as ``[[events]]``)."""
    _LIST_SECTIONS[name] = validator


def get_param(key: str) -> Param:
    """Return the declaration of ``key``, or raise ScenarioError with a suggestion.

    Examples
    --------
    >>> import govsim
    >>> get_param("adoption.rule").default
    'utility'
    >>> get_param("adoption.rul")
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: adoption.rul: unknown parameter (did you mean 'adoption.rule'?)
    """
    _ensure_loaded()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ScenarioError(
            "unknown parameter" + _did_you_mean(key, _REGISTRY), key=key
        ) from None


def iter_params() -> list[Param]:
    """All declared parameters, sorted by key."""
    _ensure_loaded()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def _ensure_loaded() -> None:
    # The schema is declared by the modules of the package; importing govsim
    # imports them all. This guards direct use of govsim.config.
    import govsim  # noqa: F401


# -- parsing ----------------------------------------------------------------------
def parse_value(key: str, text: str) -> Any:
    """Parse a command-line string (``--set key=value``) into ``key``'s type.

    Examples
    --------
    >>> parse_value("citizens.n", "2000")
    2000
    >>> parse_value("channels.offline_open", "false")
    False
    """
    p = get_param(key)
    parts = [s.strip() for s in text.split(",")] if p.length is not None else [text.strip()]
    out = []
    for s in parts:
        if p.type is bool:
            low = s.lower()
            if low in ("true", "1", "yes", "on"):
                out.append(True)
            elif low in ("false", "0", "no", "off"):
                out.append(False)
            else:
                raise ScenarioError(f"expected {p.allowed()}, got {s!r}", key=key)
        elif p.type in (int, float):
            try:
                v = float(s) if p.type is float else int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise ScenarioError(f"expected {p.allowed()}, got {s!r}", key=key) from None
                if p.type is int and not f.is_integer():
                    raise ScenarioError(f"expected {p.allowed()}, got {s!r}", key=key) from None
                v = int(f)
            out.append(v)
        else:
            out.append(s)
    value = out if p.length is not None else out[0]
    return p.validate(value)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested TOML tables into dotted keys (lists stay values)."""
    flat: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            flat.update(_flatten(v, key + "."))
        else:
            flat[key] = v
    return flat


def _validate_values(raw: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """Validate dotted ``raw`` values and lay them over ``base``."""
    values = dict(base)
    for key, v in raw.items():
        values[key] = get_param(key).validate(v)
    for check in _CHECKS:
        check(values)
    return values


def defaults() -> dict[str, Any]:
    """The default value of every declared parameter, by dotted key."""
    return {p.key: p.default for p in iter_params()}


# -- Scenario -----------------------------------------------------------------------
class _Section:
    """Attribute view of one section: ``scenario.citizens.n``."""

    def __init__(self, values: Mapping[str, Any], prefix: str):
        self._values = values
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        key = f"{self._prefix}.{name}"
        if key in self._values:
            return self._values[key]
        if any(k.startswith(key + ".") for k in self._values):
            return _Section(self._values, key)
        raise AttributeError(f"no parameter {key!r}")

    def __repr__(self) -> str:
        items = {k: v for k, v in self._values.items() if k.startswith(self._prefix + ".")}
        return f"<section {self._prefix}: {items}>"


@dataclass(frozen=True)
class Scenario:
    """A validated, fully resolved scenario.

    Parameters are read by dotted key (``scenario["citizens.n"]``) or as
    attributes (``scenario.citizens.n``). A Scenario is immutable: derive
    variants with :meth:`with_overrides` or :meth:`arm`.

    Attributes
    ----------
    name : str
        Scenario name (``scenario.name``), with ``/arm`` appended for an arm.
    values : dict
        Every parameter's value by dotted key (defaults included).
    arms : dict
        Named variants: arm name -> validated dotted overrides.
    events : tuple of dict
        Scheduled events, validated (see :mod:`govsim.events`).
    source : str or None
        The file the scenario was read from.

    Examples
    --------
    >>> import govsim
    >>> sc = govsim.load_scenario("baseline", overrides={"citizens.n": 500})
    >>> sc["citizens.n"], sc.citizens.n
    (500, 500)
    >>> sc.with_overrides({"adoption.rule": "bass"}).adoption.rule
    'bass'
    """

    name: str
    values: Mapping[str, Any]
    arms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    events: tuple = ()
    source: str | None = None
    arm_name: str | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in self.values:
            get_param(key)  # raises with a suggestion
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("values",):
            raise AttributeError(name)
        values = object.__getattribute__(self, "values")
        if any(k.startswith(name + ".") for k in values):
            return _Section(values, name)
        raise AttributeError(f"Scenario has no section {name!r}")

    @property
    def steps(self) -> int:
        """Default number of steps (``scenario.steps``)."""
        return int(self.values["scenario.steps"])

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Scenario:
        """Return a copy with dotted ``overrides`` applied and validated."""
        if not overrides:
            return self
        values = _validate_values(dict(overrides), self.values)
        events = _validate_lists({"events": self.events}, values).get("events", ())
        return Scenario(self.name, values, self.arms, events, self.source, self.arm_name)

    def arm(self, name: str) -> Scenario:
        """Return the scenario with arm ``name``'s overrides applied."""
        if name not in self.arms:
            allowed = ", ".join(sorted(self.arms)) or "none defined"
            raise ScenarioError(
                f"unknown arm {name!r}; allowed: {allowed}{_did_you_mean(name, self.arms)}",
                key="arms",
            )
        sc = self.with_overrides(self.arms[name])
        return Scenario(f"{self.name}/{name}", sc.values, {}, sc.events, self.source, name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: name, every parameter value, arms and events."""
        return {
            "name": self.name,
            "arm": self.arm_name,
            "source": self.source,
            "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(self.values.items())},
            "arms": {a: dict(o) for a, o in self.arms.items()},
            "events": [dict(e) for e in self.events],
        }


def _validate_lists(sections: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, tuple]:
    out = {}
    for name, raw in sections.items():
        validator = _LIST_SECTIONS.get(name)
        if validator is None:
            raise ScenarioError("unknown section" + _did_you_mean(name, _LIST_SECTIONS), key=name)
        out[name] = validator(raw, values)
    return out


def scenario_search_path() -> list[Path]:
    """Folders searched for a scenario given by name: ``./scenarios``, then govsim's own copies."""
    paths = [Path.cwd() / "scenarios"]
    repo = Path(__file__).resolve().parent.parent / "scenarios"
    if repo not in paths:
        paths.append(repo)
    paths.append(Path(str(resources.files("govsim") / "scenarios")))
    return paths


def _resolve_path(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    if p.suffix == ".toml" or p.exists() or "/" in str(path_or_name):
        if not p.is_file():
            raise ScenarioError(f"scenario file not found: {str(p)!r}", key=None)
        return p
    for folder in scenario_search_path():
        cand = folder / f"{path_or_name}.toml"
        if cand.is_file():
            return cand
    known = sorted({f.stem for d in scenario_search_path() if d.is_dir() for f in d.glob("*.toml")})
    raise ScenarioError(
        f"no scenario named {str(path_or_name)!r}; known: {', '.join(known)}"
        + _did_you_mean(str(path_or_name), known)
    )


def load_scenario(
    path_or_name: str | Path | Mapping[str, Any] = "baseline",
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """Load, validate and resolve a scenario.

    Parameters
    ----------
    path_or_name : str, Path or dict
        A TOML file path, a scenario name (``"baseline"`` finds
        ``scenarios/baseline.toml`` in the working directory, or the copy
        packaged with govsim), or an already-parsed nested dict.
    overrides : dict, optional
        Dotted keys to override after the file, e.g.
        ``{"adoption.rule": "bass", "citizens.n": 20000}``.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Unknown key (with a did-you-mean suggestion), wrong type, value out of
        range, missing or unparsable file.

    Examples
    --------
    >>> import govsim
    >>> sc = govsim.load_scenario("baseline", {"adoption.rule": "bass"})
    >>> sc["adoption.rule"]
    'bass'
    >>> govsim.load_scenario("baseline", {"citizens.nn": 5})
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: citizens.nn: unknown parameter (did you mean 'citizens.n'?)
    """
    _ensure_loaded()
    source = None
    if isinstance(path_or_name, Mapping):
        data = dict(path_or_name)
    else:
        path = _resolve_path(path_or_name)
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"cannot parse {path.name}: {exc}") from None
        except OSError as exc:
            raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    arms_raw = data.pop("arms", {})
    lists_raw = {k: data.pop(k) for k in list(data) if k in _LIST_SECTIONS}
    for k, v in list(data.items()):
        if isinstance(v, list) and v and isinstance(v[0], Mapping):
            raise ScenarioError("unknown section" + _did_you_mean(k, _LIST_SECTIONS), key=k)
    flat = _flatten(data)
    values = _validate_values(flat, defaults())
    if not isinstance(arms_raw, Mapping):
        raise ScenarioError("expected a table of named arms", key="arms")
    arms = {}
    for arm, table in arms_raw.items():
        if not isinstance(table, Mapping):
            raise ScenarioError("expected a table of overrides", key=f"arms.{arm}")
        arm_flat = _flatten(table)
        _validate_values(arm_flat, values)  # check now, apply on demand
        arms[arm] = {k: get_param(k).validate(v) for k, v in arm_flat.items()}
    lists = _validate_lists(lists_raw, values) if lists_raw else {}
    if "events" in _LIST_SECTIONS and "events" not in lists:
        lists["events"] = ()
    name = values.get("scenario.name") or (Path(source).stem if source else "custom")
    sc = Scenario(name, values, arms, lists.get("events", ()), source)
    if overrides:
        sc = sc.with_overrides(overrides)
    return sc


# -- documentation ----------------------------------------------------------------
def parameter_table_markdown() -> str:
    """The parameter table of ``docs/odd.md``, generated from the schema.

    One row per parameter: key, type, default, allowed values, unit, meaning
    and source. A test checks that the docs contain exactly this table.
    """
    lines = [
        "| key | type | default | allowed | unit | meaning | source |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in iter_params():
        t = _TYPE_NAMES[p.type] + (f"[{p.length}]" if p.length else "")
        d = p.default
        if isinstance(d, tuple):
            d = ", ".join(_fmt(x) for x in d)
        elif isinstance(d, bool):
            d = str(d).lower()
        elif isinstance(d, float):
            d = _fmt(d)
        cells = [f"`{p.key}`", t, f"`{d}`", p.allowed(), p.unit, p.doc, p.source or "—"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


declare(
    Param("scenario.name", str, "", "scenario name (defaults to the file name)", source="scenario file"),
    Param("scenario.description", str, "", "one-line description of the scenario", source="scenario file"),
    Param("scenario.steps", int, 120, "default number of steps a run lasts (one step = one month)",
          unit="steps", low=1, high=100_000, source="MODEL.md: one step is one month; 120 = ten years"),
    Param("scenario.report", str, "",
          "comma-separated output columns shown in multi-run figures (empty: a default set)",
          source="scenario file"),
    Param("scenario.summary", str, "",
          "comma-separated output columns of the printed final-period summary table of multi-run commands "
          "(empty: adoption_rate and the report columns)",
          source="scenario file"),
    Param("scenario.summary_window", int, 12,
          "steps at the end of each run averaged in the final-period summary (12 = the final year)",
          unit="steps", low=1, high=100_000, source="assumption: a year smooths month-to-month noise"),
    Param("scenario.replications", int, 10, "default number of replicate seeds for multi-run commands",
          unit="runs", low=1, high=100_000, source="assumption: 10 seeds give 95 % bands of usable width"),
)
