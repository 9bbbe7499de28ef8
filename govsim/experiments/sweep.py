"""Sweeps: a full grid over dotted keys, or any table of parameter sets.

Point ``p`` replicate ``r`` is run ``p * reps + r`` with seed
``run_seed(seed, p * reps + r)``. Every point is validated against the
scenario before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ScenarioError
from .engine import ExperimentResult, run_experiment
from ..model import output_columns
from .outputs import parse_outputs
from .spec import ExperimentSpec, _sweepable, grid_points, read_samples, resolve_model, resolve_scenario, \
    validate_points

__all__ = ["sweep_spec", "sweep"]


def sweep_spec(scenario="baseline", grid: Mapping[str, Sequence[Any]] | None = None,
               points: Sequence[Mapping[str, Any]] | None = None, samples: str | Path | None = None, *,
               reps: int = 1, steps: int | None = None, seed: int = 0, arm: str | None = None,
               overrides: Mapping[str, Any] | None = None, outputs: Sequence[str] = (), model=None) -> ExperimentSpec:
    """Validated spec of a sweep (give exactly one of ``grid``, ``points``, ``samples``).

    Examples
    --------
    >>> spec = sweep_spec("baseline", grid={"adoption.p": [0.01, 0.05], "awareness.q": [0.1, 0.3]}, reps=2)
    >>> spec.n_points, spec.n_runs, spec.design_columns
    (4, 8, ['adoption.p', 'awareness.q'])
    """
    given = [x is not None for x in (grid, points, samples)]
    if sum(given) != 1:
        raise ScenarioError("a sweep needs exactly one of a grid, a list of points or a samples file")
    sc = resolve_scenario(scenario, overrides, arm)
    if grid is not None:
        if not grid:
            raise ScenarioError("the grid is empty", key="grid")
        clean = {}
        for k, vals in grid.items():
            p = _sweepable(k)
            vals = list(vals)
            if not vals:
                raise ScenarioError("--grid needs at least one value", key=k)
            clean[k] = [p.validate(v) for v in vals]
        pts = grid_points(clean)
    elif samples is not None:
        pts = read_samples(samples)
    else:
        pts = [dict(p) for p in points]
        if not pts:
            raise ScenarioError("the list of points is empty", key="points")
    keys = list(pts[0])
    for i, p in enumerate(pts):
        if list(p) != keys and set(p) != set(keys):
            raise ScenarioError(f"point {i + 1} sets keys {sorted(p)}, point 1 sets {sorted(keys)}", key="points")
    pts = validate_points(sc, [{k: p[k] for k in keys} for p in pts])
    steps = sc.steps if steps is None else steps
    outs = parse_outputs(outputs, columns=output_columns(sc.values), steps=steps if isinstance(steps, int) else None)
    resolve_model(model)
    return ExperimentSpec("sweep", sc, steps, seed, reps, pts, keys, outputs=outs, keep_series=True, model=model,
                          arm=arm)


def design_table(spec: ExperimentSpec) -> pd.DataFrame:
    """One row per design point: ``point`` and the swept keys.

    Examples
    --------
    >>> design_table(sweep_spec("baseline", grid={"adoption.p": [0.01, 0.05]})).to_dict("list")
    {'point': [0, 1], 'adoption.p': [0.01, 0.05]}
    """
    d = {"point": list(range(spec.n_points))}
    for k in spec.design_columns:
        d[k] = [p[k] for p in spec.points]
    return pd.DataFrame(d)


def _finish(store, spec):
    from .plots import report_columns, save_figure, sweep_figure
    from .tables import consolidate_series

    counts = consolidate_series(store, spec)
    figures = []
    if store.folder is not None and counts.get("summary"):
        summary = pd.read_parquet(store.folder / "summary.parquet")
        outs = [o.spec for o in spec.outputs] or report_columns(list(dict.fromkeys(summary["output"])))
        fig = sweep_figure(summary, spec.design_columns, outs,
                           title=f"{spec.scenario.name}: sweep of {spec.n_points} points × {spec.reps} seeds")
        figures.append(save_figure(fig, store.folder, "sweep.png"))
    return figures, {"rows": counts}


def sweep(scenario="baseline", grid: Mapping[str, Sequence[Any]] | None = None,
          points: Sequence[Mapping[str, Any]] | None = None, samples: str | Path | None = None, *,
          reps: int = 1, steps: int | None = None, seed: int = 0, arm: str | None = None,
          overrides: Mapping[str, Any] | None = None, outputs: Sequence[str] = (), model=None,
          out: str | Path | None = None, executor=None, workers: int | None = None,
          progress=None) -> ExperimentResult:
    """Run a scenario over a grid or a table of parameter sets.

    Parameters
    ----------
    scenario : Scenario, str or Path
    grid : dict, optional
        Dotted key -> list of values; the full factorial is run (last key fastest).
    points : list of dict, optional
        Explicit parameter sets.
    samples : str or Path, optional
        CSV or Parquet file, one column per dotted key, one row per set.
    reps : int
        Replicate seeds per point.
    steps, seed, arm, overrides, outputs, model, out, executor, workers, progress
        As in :func:`govsim.experiments.replicate`.

    Returns
    -------
    ExperimentResult
        Tables ``design``, ``results``, ``bands`` and ``summary`` (per point),
        ``scalars`` (if ``outputs``); figure ``sweep.png``.

    Examples
    --------
    >>> res = sweep("baseline", grid={"adoption.rule": ["bass", "utility"]}, steps=2,
    ...             overrides={"citizens.n": 200}, workers=1, progress=False)
    >>> res["summary"].query("output == 'adoption_rate'")["adoption.rule"].tolist()
    ['bass', 'utility']
    """
    spec = sweep_spec(scenario, grid, points, samples, reps=reps, steps=steps, seed=seed, arm=arm,
                      overrides=overrides, outputs=outputs, model=model)
    return run_experiment(spec, out=out, executor=executor, workers=workers, progress=progress, finish=_finish,
                          design=design_table(spec), label=f"sweep {spec.scenario.name}")
