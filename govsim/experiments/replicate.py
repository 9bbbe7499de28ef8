"""Replications: R seeds of one scenario, with the mean and 95 % band per step.

Replicate ``r`` is run ``r`` of the experiment: its seed is
``run_seed(seed, r)``, the same as run ``r`` of ``govsim run --reps R``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .engine import ExperimentResult, run_experiment
from ..model import output_columns
from .outputs import parse_outputs
from .spec import ExperimentSpec, resolve_model, resolve_scenario

__all__ = ["replicate_spec", "replicate"]


def replicate_spec(scenario="baseline", reps: int | None = None, *, steps: int | None = None, seed: int = 0,
                   arm: str | None = None, overrides: Mapping[str, Any] | None = None,
                   outputs: Sequence[str] = (), model=None) -> ExperimentSpec:
    """Validated spec of a replication experiment (see :func:`replicate`).

    Examples
    --------
    >>> spec = replicate_spec("baseline", reps=3, steps=5, overrides={"citizens.n": 200})
    >>> spec.n_runs, spec.task(2).seed == spec.task(2).seed
    (3, True)
    """
    sc = resolve_scenario(scenario, overrides, arm)
    reps = int(sc.values["scenario.replications"]) if reps is None else reps
    steps = sc.steps if steps is None else steps
    outs = parse_outputs(outputs, columns=output_columns(sc.values), steps=steps if isinstance(steps, int) else None)
    resolve_model(model)
    return ExperimentSpec("replicate", sc, steps, seed, reps, [{}], [], outputs=outs, keep_series=True,
                          model=model, arm=arm)


def _finish(store, spec):
    from .plots import bands_figure, save_figure
    from .tables import consolidate_series

    counts = consolidate_series(store, spec, group={"arm": spec.scenario.name})
    figures = []
    if store.folder is not None and counts.get("bands"):
        import pandas as pd

        bands = pd.read_parquet(store.folder / "bands.parquet")
        fig = bands_figure(bands, title=f"{spec.scenario.name}: mean and 95 % band over {spec.reps} seeds")
        figures.append(save_figure(fig, store.folder, "bands.png"))
    return figures, {"rows": counts}


def replicate(scenario="baseline", reps: int | None = None, *, steps: int | None = None, seed: int = 0,
              arm: str | None = None, overrides: Mapping[str, Any] | None = None, outputs: Sequence[str] = (),
              model=None, out: str | Path | None = None, executor=None, workers: int | None = None,
              progress=None) -> ExperimentResult:
    """Run ``reps`` replicate seeds of one scenario.

    Parameters
    ----------
    scenario : Scenario, str or Path
        Scenario (or its name or file).
    reps : int, optional
        Replicates (default ``scenario.replications``).
    steps : int, optional
        Steps per run (default ``scenario.steps``).
    seed : int
        Experiment seed; replicate ``r`` uses ``govsim.seeds.run_seed(seed, r)``.
    arm : str, optional
        Run this arm of the scenario file.
    overrides : dict, optional
        Dotted overrides applied to the scenario.
    outputs : list of str
        Scalar outputs to summarise too (``"mean:adoption_rate:60:120"``...).
    model : str or callable, optional
        Custom model factory (``"module:callable"``); default GovModel.
    out : str or Path, optional
        Experiment folder (streamed, resumable). ``None``: in memory.
    executor : Executor, optional
    workers : int, optional
        Local worker processes (default: CPU count; 1 = in this process).
    progress : None, bool or callable

    Returns
    -------
    ExperimentResult
        Tables ``results`` (long), ``bands`` (mean, lo, hi per step),
        ``summary`` (final-step means with 95 % intervals); figure
        ``bands.png`` when ``out`` is given.

    Examples
    --------
    >>> res = replicate("baseline", reps=2, steps=3, overrides={"citizens.n": 200}, workers=1, progress=False)
    >>> res["bands"]["step"].tolist()
    [0, 1, 2, 3]
    >>> res["results"]["rep"].unique().tolist()
    [0, 1]
    """
    spec = replicate_spec(scenario, reps, steps=steps, seed=seed, arm=arm, overrides=overrides, outputs=outputs,
                          model=model)
    return run_experiment(spec, out=out, executor=executor, workers=workers, progress=progress, finish=_finish,
                          label=f"replicate {spec.scenario.name}")
