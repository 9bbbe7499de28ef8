"""Experiment specs: what to run, validated up front, serialisable, hashed.

An experiment is a list of *design points* (dotted overrides of a base
scenario; one empty point for replications), each run with ``reps`` replicate
seeds. Run ``i`` is point ``i // reps``, replicate ``i % reps``, and its seed is
``govsim.seeds.run_seed(seed, i)``: it depends on nothing but the experiment
seed and the run's index, so results do not depend on the executor, the
number of workers or the order in which runs finish.

An :class:`ExperimentSpec` is fully validated when built (every key, value and
design point), so that bad input is reported before anything is written. Its
:attr:`~ExperimentSpec.hash` covers everything that changes the runs (scenario
values, steps, seed, reps, design points, outputs computed in the workers,
custom model) and nothing that does not (executor, workers, analysis options),
so that re-running a command into the same folder resumes it, and running a
different experiment into it is refused.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..seeds import run_seed
from .outputs import ScalarOutput

__all__ = [
    "ExperimentSpec",
    "Task",
    "resolve_scenario",
    "resolve_model",
    "grid_points",
    "parse_grid",
    "read_samples",
    "validate_points",
    "canonical_json",
]

FORMAT = 1
KINDS = ("replicate", "sweep", "sa")


@dataclass(frozen=True)
class Task:
    """One run: its index, design point, replicate, seed and overrides."""

    index: int
    point: int
    rep: int
    seed: int
    overrides: Mapping[str, Any]


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace (the input of hashes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _plain(value: Any) -> Any:
    """numpy scalars -> python, tuples -> lists (JSON-ready)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class ExperimentSpec:
    """A validated experiment.

    Build it with :func:`govsim.experiments.replicate_spec`,
    :func:`~govsim.experiments.sweep_spec` or :func:`~govsim.experiments.sa_spec`
    rather than directly.

    Attributes
    ----------
    kind : {"replicate", "sweep", "sa"}
    scenario : Scenario or None
        The base scenario (arm and ``--set`` overrides applied); ``None`` when
        the runs call a plain Python function.
    steps : int
        Steps per run.
    seed : int
        Experiment seed.
    reps : int
        Replicate seeds per design point.
    points : list of dict
        Design points (dotted overrides), validated.
    design_columns : list of str
        The keys the design varies, in column order.
    outputs : list of ScalarOutput
        Scalar outputs (computed in the workers for ``sa``, at consolidation
        otherwise).
    keep_series : bool
        Keep the per-step table of every run (always for replicate and sweep).
    model : str or None
        ``"module:callable"`` of a custom model factory (default GovModel).
    function : callable or None
        Plain function of the parameters (``sa`` only).
    sa : dict or None
        Sensitivity-analysis design (method, parameters and bounds, N, ...).
    analysis : dict
        Options that do not change the runs (bootstrap resamples, confidence
        level); not part of the hash.
    arm : str or None
        Arm of the scenario file the base scenario is.

    Examples
    --------
    >>> from govsim.experiments import sweep_spec
    >>> from govsim.seeds import run_seed
    >>> spec = sweep_spec("baseline", grid={"adoption.p": [0.01, 0.05]}, reps=3, seed=7)
    >>> spec.n_runs, spec.task(4).point, spec.task(4).rep, spec.task(4).overrides
    (6, 1, 1, {'adoption.p': 0.05})
    >>> spec.task(4).seed == run_seed(7, 4)
    True
    """

    kind: str
    scenario: Any
    steps: int
    seed: int
    reps: int
    points: list[dict]
    design_columns: list[str]
    outputs: list[ScalarOutput] = field(default_factory=list)
    keep_series: bool = True
    model: Any = None
    function: Callable | None = None
    function_outputs: list[str] = field(default_factory=list)
    sa: dict | None = None
    analysis: dict = field(default_factory=dict)
    arm: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        _check_int("--seed", self.seed, 0)
        _check_int("--reps", self.reps, 1)
        _check_int("--steps", self.steps, 1)
        if not self.points:
            raise ScenarioError("the experiment has no design points")
        self._hash: str | None = None

    # -- the plan ------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        """Number of design points."""
        return len(self.points)

    @property
    def n_runs(self) -> int:
        """Number of runs: points × reps."""
        return len(self.points) * self.reps

    @property
    def primary_table(self) -> str:
        """The per-run table whose part marks a run as finished."""
        return "scalars" if self.kind == "sa" else "series"

    def seeds(self) -> np.ndarray:
        """The seed of every run, by index (int64)."""
        return np.array([run_seed(self.seed, i) for i in range(self.n_runs)], dtype=np.int64)

    def task(self, index: int) -> Task:
        """The :class:`Task` of run ``index``."""
        point, rep = divmod(int(index), self.reps)
        return Task(int(index), point, rep, run_seed(self.seed, index), self.points[point])

    def tasks(self, skip: Iterable[int] = ()) -> Iterator[Task]:
        """Tasks of every run not in ``skip``, in index order (lazily)."""
        skip = set(skip)
        for i in range(self.n_runs):
            if i not in skip:
                yield self.task(i)

    # -- serialisation ------------------------------------------------------------
    def design_sha256(self) -> str:
        """Hash of the design points (and the SA sample matrix)."""
        h = hashlib.sha256()
        h.update(canonical_json([{k: _plain(v) for k, v in p.items()} for p in self.points]).encode())
        return h.hexdigest()

    def identity(self) -> dict:
        """What defines the runs: the input of :attr:`hash`."""
        sc = None
        if self.scenario is not None:
            d = self.scenario.to_dict()
            sc = {"parameters": d["parameters"], "events": d["events"], "arm": self.arm}
        return {
            "format": FORMAT,
            "kind": self.kind,
            "scenario": sc,
            "steps": self.steps,
            "seed": self.seed,
            "reps": self.reps,
            "n_points": self.n_points,
            "design_columns": list(self.design_columns),
            "design_sha256": self.design_sha256(),
            "outputs": [o.spec for o in self.outputs] if self.kind == "sa" else [],
            "function_outputs": list(self.function_outputs),
            "keep_series": bool(self.keep_series),
            "model": self.model if self.model is None or isinstance(self.model, str) else _callable_name(self.model),
            "function": _callable_name(self.function) if self.function is not None else None,
            "sa": self.sa,
        }

    @property
    def hash(self) -> str:
        """Stable hash of :meth:`identity` (hex, 16 characters)."""
        if self._hash is None:
            self._hash = hashlib.sha256(canonical_json(self.identity()).encode()).hexdigest()[:16]
        return self._hash

    def to_json(self) -> dict:
        """JSON-ready description for the manifest (design points stored separately)."""
        d = self.identity()
        d["outputs"] = [o.spec for o in self.outputs]
        d["analysis"] = dict(self.analysis)
        d["spec_hash"] = self.hash
        d.update(self.extra)
        return d


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ScenarioError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ScenarioError(f"{name} must be >= {low}, got {value}")


def _callable_name(fn: Callable) -> str:
    mod = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{mod}:{name}"


# -- scenarios and models --------------------------------------------------------------
def resolve_scenario(scenario, overrides: Mapping[str, Any] | None = None, arm: str | None = None):
    """A Scenario from a Scenario, a name or a path, with ``arm`` and ``overrides`` applied.

    Examples
    --------
    >>> sc = resolve_scenario("baseline", {"citizens.n": 300})
    >>> sc["citizens.n"]
    300
    """
    from ..config import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if arm:
        sc = sc.arm(arm)
    if overrides:
        sc = sc.with_overrides(dict(overrides))
    return sc


def resolve_model(model: str | Callable | None) -> tuple[Callable | None, str | None]:
    """Resolve a custom model factory given as ``"module:callable"`` or a callable.

    The factory is called as ``factory(scenario, rng=seed)`` and must return an
    object whose ``run(steps)`` returns the per-step table (as
    :class:`govsim.GovModel` does; a GovModel subclass qualifies).

    Returns
    -------
    (callable or None, str or None)
        The factory and its ``"module:qualname"`` (``None`` for the default).
    """
    if model is None:
        return None, None
    if callable(model):
        return model, _callable_name(model)
    text = str(model)
    if ":" not in text:
        raise ScenarioError(f"--model expects MODULE:CALLABLE, got {text!r}", key="model")
    mod_name, _, attr = text.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ScenarioError(f"--model: cannot import module {mod_name!r} ({exc})", key="model") from None
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ScenarioError(f"--model: module {mod_name!r} has no attribute {attr!r}", key="model")
    if not callable(obj):
        raise ScenarioError(f"--model: {text!r} is not callable", key="model")
    return obj, text


# -- design points -------------------------------------------------------------------
def _sweepable(key: str):
    from ..config import get_param

    p = get_param(key)
    if p.length is not None:
        raise ScenarioError(f"list parameters cannot be swept ({p.allowed()}); define arms in the scenario "
                            "file instead", key=key)
    return p


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """Parse ``--grid key=v1,v2,...`` items (or ``key=start:stop:num`` for an even range).

    Examples
    --------
    >>> parse_grid(["adoption.p=0.01,0.03", "citizens.n=100:300:3"])
    {'adoption.p': [0.01, 0.03], 'citizens.n': [100, 200, 300]}
    """
    from ..config import parse_value

    grid: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError(f"--grid expects key=v1,v2,..., got {item!r}", key="grid")
        key, _, text = item.partition("=")
        key = key.strip()
        p = _sweepable(key)
        if key in grid:
            raise ScenarioError("given twice in --grid", key=key)
        text = text.strip()
        if not text:
            raise ScenarioError("--grid needs at least one value", key=key)
        if text.count(":") == 2 and p.type in (int, float) and "," not in text:
            a, b, n = (s.strip() for s in text.split(":"))
            try:
                n = int(n)
                start, stop = float(a), float(b)
            except ValueError:
                raise ScenarioError(f"--grid expects start:stop:num, got {text!r}", key=key) from None
            if n < 1:
                raise ScenarioError(f"--grid range needs num >= 1, got {n}", key=key)
            vals = np.linspace(start, stop, n).tolist()
            if p.type is int:
                if any(not float(v).is_integer() for v in vals):
                    raise ScenarioError(f"--grid range {text!r} does not give integers", key=key)
                vals = [int(v) for v in vals]
            values = [p.validate(v) for v in vals]
        else:
            values = [parse_value(key, v) for v in text.split(",")]
        if len(set(map(repr, values))) != len(values):
            raise ScenarioError(f"--grid has a repeated value: {text!r}", key=key)
        grid[key] = values
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict]:
    """Full factorial over ``grid`` (the last key varies fastest).

    Examples
    --------
    >>> grid_points({"a.x": [1, 2], "b.y": ["u", "v"]})
    [{'a.x': 1, 'b.y': 'u'}, {'a.x': 1, 'b.y': 'v'}, {'a.x': 2, 'b.y': 'u'}, {'a.x': 2, 'b.y': 'v'}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def read_samples(path: str | Path) -> list[dict]:
    """Read a table of parameter sets (CSV or Parquet; one column per dotted key).

    Cells are converted to each key's type and validated; an empty cell is an
    error. Returns one dict of overrides per row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "design.csv"
    >>> _ = path.write_text("adoption.p,adoption.rule\\n0.01,bass\\n0.02,utility\\n")
    >>> read_samples(path)
    [{'adoption.p': 0.01, 'adoption.rule': 'bass'}, {'adoption.p': 0.02, 'adoption.rule': 'utility'}]
    """
    from ..config import parse_value

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"samples file not found: {str(path)!r}", key="samples")
    suffix = path.suffix.lower()
    rows: list[dict] = []
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a usage error
            raise ScenarioError(f"cannot read samples file {path.name}: {exc}", key="samples") from None
        cols = table.column_names
        params = {c: _sweepable(c) for c in cols}
        data = table.to_pydict()
        for r in range(table.num_rows):
            row = {}
            for c in cols:
                v = data[c][r]
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    raise ScenarioError(f"samples row {r + 1}: empty value", key=c)
                if isinstance(v, str):
                    row[c] = parse_value(c, v)
                else:
                    try:
                        row[c] = params[c].validate(v)
                    except ScenarioError as exc:
                        raise ScenarioError(f"samples row {r + 1}: {exc.message}", key=c) from None
            rows.append(row)
    elif suffix in (".csv", ".txt", ".tsv"):
        try:
            with open(path, newline="") as fh:
                reader = csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ",")
                header = next(reader, None)
                if not header:
                    raise ScenarioError(f"samples file {path.name} is empty", key="samples")
                header = [h.strip() for h in header]
                for c in header:
                    _sweepable(c)
                if len(set(header)) != len(header):
                    raise ScenarioError(f"samples file {path.name} repeats a column", key="samples")
                for r, cells in enumerate(reader, start=1):
                    if not cells or all(not c.strip() for c in cells):
                        continue
                    if len(cells) != len(header):
                        raise ScenarioError(f"samples row {r}: expected {len(header)} values, got {len(cells)}",
                                            key="samples")
                    row = {}
                    for c, cell in zip(header, cells, strict=True):
                        if not cell.strip():
                            raise ScenarioError(f"samples row {r}: empty value", key=c)
                        try:
                            row[c] = parse_value(c, cell)
                        except ScenarioError as exc:
                            raise ScenarioError(f"samples row {r}: {exc.message}", key=c) from None
                    rows.append(row)
        except OSError as exc:
            raise ScenarioError(f"cannot read samples file {path}: {exc.strerror}", key="samples") from None
    else:
        raise ScenarioError(f"samples file must be .csv or .parquet, got {path.name!r}", key="samples")
    if not rows:
        raise ScenarioError(f"samples file {path.name} has no rows", key="samples")
    return rows


def validate_points(scenario, points: Sequence[Mapping[str, Any]], label: str = "point") -> list[dict]:
    """Validate every design point against ``scenario`` (types, ranges, cross-checks).

    Raises ScenarioError naming the point (1-based) and the key at fault.

    Examples
    --------
    >>> sc = resolve_scenario("baseline")
    >>> validate_points(sc, [{"adoption.p": 0.02}, {"adoption.p": 2.0}])
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: adoption.p: point 2: must be <= 1, got 2
    """
    out = []
    for i, p in enumerate(points):
        clean = {}
        for k, v in p.items():
            param = _sweepable(k)
            try:
                clean[k] = param.validate(_plain(v))
            except ScenarioError as exc:
                raise ScenarioError(f"{label} {i + 1}: {exc.message}", key=k) from None
        try:
            scenario.with_overrides(clean)
        except ScenarioError as exc:
            raise ScenarioError(f"{label} {i + 1}: {exc.message}", key=exc.key) from None
        out.append(clean)
    return out
