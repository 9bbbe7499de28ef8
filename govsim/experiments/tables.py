"""Final tables of replications and sweeps, consolidated by streaming.

:func:`consolidate_series` reads the per-run parts in run-index order, once,
and writes:

``results``
    the long table: ``run, point, rep, seed, <swept keys>, step, <outputs>``
    (CSV too when it has at most :data:`~govsim.experiments.store.CSV_MAX_ROWS` rows);
``bands``
    mean and 95 % interval per step of every output, per design point:
    ``<col>_mean``, ``<col>_lo``, ``<col>_hi`` (mean ± t(0.975, n−1)·sd/√n
    over the n replicates that finished, as in :func:`govsim.runner.band_table`),
    and ``n``;
``summary``
    the final-step mean and interval of every output per design point
    (``output, mean, ci_low, ci_high, reps``), plus the scalar outputs asked
    for (``final:...``, ``mean:...:A:B``, ``first_step:...``);
``scalars``
    one row per run with the scalar outputs (when some were asked for).

Runs of one design point are consecutive in index order, so only one point's
replicates are in memory at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .jobs import ID_COLUMNS
from .spec import ExperimentSpec
from .store import CSV_MAX_ROWS

__all__ = ["consolidate_series", "interval"]


def interval(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and 95 % t-interval half-width along ``axis`` (zero width for one value).

    Examples
    --------
    >>> m, h, n = interval(np.array([1.0, 2.0, 3.0]))
    >>> float(m), round(float(h), 4), n
    (2.0, 2.4841, 3)
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    if n > 1:
        half = stats.t.ppf(0.975, n - 1) * x.std(axis=axis, ddof=1) / np.sqrt(n)
    else:
        half = np.zeros_like(mean)
    return mean, half, n


class _Welford:
    """Running mean and sum of squared deviations (Welford 1962), added in a fixed order."""

    def __init__(self):
        self.n = 0
        self.mean = None
        self.m2 = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=float)
        self.n += 1
        if self.mean is None:
            self.mean = x.copy()
            self.m2 = np.zeros_like(x)
            return
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    def interval(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Mean and 95 % t-interval half-width (zero width for one value)."""
        if self.n > 1:
            sd = np.sqrt(np.maximum(self.m2, 0.0) / (self.n - 1))
            half = stats.t.ppf(0.975, self.n - 1) * sd / np.sqrt(self.n)
        else:
            half = np.zeros_like(self.mean)
        return self.mean, half, self.n


def consolidate_series(store, spec: ExperimentSpec, group: dict | None = None) -> dict:
    """Stream the ``series`` parts into the final tables (see the module docstring).

    Parameters
    ----------
    store : DiskStore or MemoryStore
    spec : ExperimentSpec
    group : dict, optional
        Constant columns put first in ``bands`` and ``summary`` (replications
        use ``{"arm": scenario name}``); sweeps use the point and its values.

    Returns
    -------
    dict
        Row counts of the tables written.

    Notes
    -----
    Means and variances per step are accumulated run by run (Welford's
    algorithm, in run-index order), so memory holds one design point's
    accumulators, never its runs, and the result does not depend on the
    executor.
    """
    design = [] if spec.kind == "replicate" else list(spec.design_columns)
    skip = set(ID_COLUMNS) | set(design) | {"step"}
    rows_est = spec.n_runs * (spec.steps + 1)
    results = store.sink("results", csv=rows_est <= CSV_MAX_ROWS)
    bands = store.sink("bands")
    summary = store.sink("summary")
    scalars = store.sink("scalars") if spec.outputs else None
    sinks = [s for s in (results, bands, summary, scalars) if s is not None]
    state: dict = {"point": None, "cols": None, "steps": None, "acc": None, "sacc": None}

    def flush():
        acc = state["acc"]
        if acc is None or acc.n == 0:
            return
        point, cols, steps = state["point"], state["cols"], state["steps"]
        mean, half, n = acc.interval()
        head = dict(group or {})
        if spec.kind != "replicate":
            head = {"point": np.int64(point), **{k: spec.points[point][k] for k in design}}
        b = {k: [v] * len(steps) for k, v in head.items()}
        b["step"] = steps
        b["n"] = np.full(len(steps), n, dtype=np.int64)
        for j, c in enumerate(cols):
            b[f"{c}_mean"] = mean[:, j]
            b[f"{c}_lo"] = mean[:, j] - half[:, j]
            b[f"{c}_hi"] = mean[:, j] + half[:, j]
        bands.write(pd.DataFrame(b))
        srow = {k: [v] * len(cols) for k, v in head.items()}
        srow.update({"output": cols, "mean": mean[-1], "ci_low": mean[-1] - half[-1],
                     "ci_high": mean[-1] + half[-1], "reps": np.full(len(cols), n, dtype=np.int64)})
        frames = [pd.DataFrame(srow)]
        if state["sacc"] is not None:
            m, h, _ = state["sacc"].interval()
            extra = {k: [v] * len(spec.outputs) for k, v in head.items()}
            extra.update({"output": [o.spec for o in spec.outputs], "mean": m, "ci_low": m - h, "ci_high": m + h,
                          "reps": np.full(len(spec.outputs), n, dtype=np.int64)})
            frames.append(pd.DataFrame(extra))
        summary.write(pd.concat(frames, ignore_index=True))
        state["acc"] = state["sacc"] = None

    try:
        for index, part in store.stream("series"):
            results.write(part)
            df = part if isinstance(part, pd.DataFrame) else part.to_pandas()
            point = index // spec.reps
            if point != state["point"]:
                flush()
                state["point"] = point
            if state["cols"] is None:
                state["cols"] = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
                                 and not pd.api.types.is_bool_dtype(df[c])]
            steps = df["step"].to_numpy()
            if state["acc"] is None:
                state["acc"] = _Welford()
                state["steps"] = steps
                state["sacc"] = _Welford() if spec.outputs else None
            elif not np.array_equal(steps, state["steps"]):
                raise ValueError(f"runs of point {point} have different steps")
            state["acc"].add(df[state["cols"]].to_numpy(dtype=float))
            if spec.outputs:
                vals = [float(o.evaluate(df)) for o in spec.outputs]
                state["sacc"].add(np.array(vals))
                row = {k: df[k].iloc[0] for k in (*ID_COLUMNS, *design)}
                row.update({o.spec: v for o, v in zip(spec.outputs, vals)})
                scalars.write(pd.DataFrame([row]))
        flush()
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    counts = {}
    for name, s in (("results", results), ("bands", bands), ("summary", summary), ("scalars", scalars)):
        if s is not None:
            s.close()
            counts[name] = s.n_rows
    return counts
