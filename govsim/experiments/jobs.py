"""The work of one run, as executed in a worker.

A *job* is a small picklable object sent once to each worker (the base
scenario, steps, outputs); a :class:`~govsim.experiments.spec.Task` is sent per
run (index, point, replicate, seed, overrides). :func:`execute` runs
``job(task)`` and never raises for an error of the run itself: it returns an
:class:`Outcome` carrying either the run's tables or the error, so that a
failing run is recorded and the others go on.

Tables are encoded to Parquet bytes in the worker (``encode=True``), so the
driver only writes bytes to disk and its memory and CPU stay small.
"""

from __future__ import annotations

import inspect
import io
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .outputs import ScalarOutput
from .spec import Task

ID_COLUMNS = ("run", "point", "rep", "seed")


@dataclass
class Outcome:
    """Result of one run: ``tables`` on success, ``error`` (a dict) on failure."""

    index: int
    ok: bool
    tables: Mapping[str, Any] | None = None
    error: dict | None = None
    seconds: float = 0.0


def encode_table(df: pd.DataFrame) -> bytes:
    """Parquet bytes of ``df`` without the pandas index metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _ids(task: Task) -> dict:
    return {"run": np.int64(task.index), "point": np.int64(task.point), "rep": np.int64(task.rep),
            "seed": np.int64(task.seed)}


def _design_values(task: Task, design_columns: Sequence[str]) -> dict:
    return {c: task.overrides[c] for c in design_columns}


def _default_factory(scenario, rng):
    from ..model import GovModel

    return GovModel(scenario, rng=rng)


class ModelJob:
    """Run the model for one task; return its per-step and/or scalar tables.

    Parameters
    ----------
    scenario : Scenario
        Base scenario; each task's overrides are applied to it.
    steps : int
    design_columns : list of str
        Keys copied into the tables as columns (the varied parameters).
    outputs : list of ScalarOutput
        Scalars computed in the worker (a one-row ``scalars`` table).
    series : bool
        Return the per-step table (``series``).
    model : str or callable, optional
        Custom factory ``factory(scenario, rng=seed)`` with ``.run(steps)``;
        ``"module:callable"`` is imported in the worker.
    encode : bool
        Return Parquet bytes instead of DataFrames.
    """

    def __init__(self, scenario, steps: int, design_columns: Sequence[str], outputs: Sequence[ScalarOutput] = (),
                 series: bool = True, model: str | Callable | None = None, encode: bool = True):
        if not series and outputs and model is None:
            # only the scalars are kept: GovModel collects just the columns they read (the run is the same;
            # collection does not feed back into the dynamics)
            scenario = scenario.with_overrides({"scenario.outputs": ",".join(sorted({o.column for o in outputs}))})
        self.scenario = scenario
        self.steps = int(steps)
        self.design_columns = list(design_columns)
        self.outputs = list(outputs)
        self.series = bool(series)
        self.model = model
        self.encode = encode
        self._factory = None

    def __getstate__(self):
        state = dict(self.__dict__)
        if isinstance(self.model, str):
            state["_factory"] = None
        return state

    def factory(self) -> Callable:
        """The model factory (resolved and cached in the worker)."""
        if self._factory is None:
            if self.model is None:
                self._factory = _default_factory
            else:
                from .spec import resolve_model

                self._factory = resolve_model(self.model)[0]
        return self._factory

    def __call__(self, task: Task) -> dict:
        sc = self.scenario.with_overrides(dict(task.overrides)) if task.overrides else self.scenario
        df = self.factory()(sc, rng=task.seed).run(self.steps)
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"the model's run() returned {type(df).__name__}, expected a pandas DataFrame")
        out = {}
        head = {**_ids(task), **_design_values(task, self.design_columns)}
        if self.outputs:
            row = dict(head)
            for o in self.outputs:
                row[o.spec] = float(o.evaluate(df))
            out["scalars"] = pd.DataFrame([row])
        if self.series:
            series = df.reset_index(drop=True)
            front = pd.DataFrame({k: [v] * len(series) for k, v in head.items()})
            for k in ID_COLUMNS:
                front[k] = front[k].astype(np.int64)
            out["series"] = pd.concat([front, series], axis=1)
        if self.encode:
            out = {k: encode_table(v) for k, v in out.items()}
        return out


class FunctionJob:
    """Call a plain Python function of the parameters for one task.

    ``func(**params)`` returns a number, or a mapping of output name -> number.
    If ``func`` accepts a ``seed`` keyword, it receives the run's seed (so a
    stochastic function is reproducible).

    Examples
    --------
    >>> from govsim.experiments.spec import Task
    >>> job = FunctionJob(lambda x1, x2: x1 + 2 * x2, ["x1", "x2"], ["y"])
    >>> job(Task(0, 0, 0, 1, {"x1": 1.0, "x2": 0.5}))["scalars"][["run", "x1", "x2", "y"]].to_dict("records")
    [{'run': 0, 'x1': 1.0, 'x2': 0.5, 'y': 2.0}]
    """

    def __init__(self, func: Callable, keys: Sequence[str], outputs: Sequence[str], encode: bool = False):
        self.func = func
        self.keys = list(keys)
        self.outputs = list(outputs)
        self.encode = encode
        self.pass_seed = _accepts_seed(func)

    def __call__(self, task: Task) -> dict:
        kwargs = {k: task.overrides[k] for k in self.keys}
        if self.pass_seed:
            kwargs["seed"] = task.seed
        value = self.func(**kwargs)
        row = {**_ids(task), **{k: task.overrides[k] for k in self.keys}}
        if isinstance(value, Mapping):
            missing = [o for o in self.outputs if o not in value]
            if missing:
                raise KeyError(f"the function returned no output {missing[0]!r} (it returned {sorted(value)})")
            for o in self.outputs:
                row[o] = float(value[o])
        else:
            if len(self.outputs) != 1:
                raise TypeError(f"the function returned one number but {len(self.outputs)} outputs are expected")
            row[self.outputs[0]] = float(value)
        df = pd.DataFrame([row])
        return {"scalars": encode_table(df) if self.encode else df}


def _accepts_seed(func: Callable) -> bool:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    return "seed" in sig.parameters


def execute(job: Callable, task: Task) -> Outcome:
    """Run ``job(task)``; an exception becomes an error :class:`Outcome`.

    Examples
    --------
    >>> from govsim.experiments.spec import Task
    >>> out = execute(lambda task: 1 / 0, Task(3, 3, 0, 123, {}))
    >>> out.index, out.ok, out.error["type"], out.error["message"]
    (3, False, 'ZeroDivisionError', 'division by zero')
    """
    t0 = time.perf_counter()
    try:
        tables = job(task)
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the others go on
        return Outcome(task.index, False, error={
            "type": type(exc).__name__,
            "message": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            "traceback": traceback.format_exc(),
        }, seconds=time.perf_counter() - t0)
    return Outcome(task.index, True, tables=tables, seconds=time.perf_counter() - t0)
