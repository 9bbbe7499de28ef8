"""Running a scenario file as it is: every arm, with replicate seeds.

``govsim run`` uses :func:`run_scenario`: one run per (arm, replicate), each
seeded by :func:`govsim.seeds.run_seed` from the experiment seed and the run's
index, and a long results table with columns ``arm``, ``rep``, ``seed`` before
the model's outputs. :func:`band_table` gives the mean and 95 % interval per
step and :func:`final_summary` the means over the last steps of each run
(the final year by default in ``govsim run``) with 95 % intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .config import Scenario
from .model import GovModel
from .seeds import run_seed

ID_COLUMNS = ("arm", "rep", "seed")


def run_plan(scenario: Scenario, reps: int, arms: list[str] | None = None) -> list[tuple[int, str, int]]:
    """The (run index, arm, replicate) of every run, in a fixed order."""
    arm_names = list(arms) if arms is not None else (list(scenario.arms) or [""])
    return [(i * reps + r, a, r) for i, a in enumerate(arm_names) for r in range(reps)]


def run_one(scenario: Scenario, arm: str, seed: int, steps: int) -> pd.DataFrame:
    """Run one arm of ``scenario`` with ``seed`` for ``steps`` steps."""
    sc = scenario.arm(arm) if arm else scenario
    return GovModel(sc, rng=seed).run(steps)


def run_scenario(scenario: Scenario, seed: int, steps: int | None = None, reps: int = 1,
                 arms: list[str] | None = None, progress=None) -> pd.DataFrame:
    """Run every arm of ``scenario`` ``reps`` times and return the long table.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        Experiment seed; run ``i`` uses ``run_seed(seed, i)``.
    steps : int, optional
        Steps per run (default ``scenario.steps``).
    reps : int
        Replicates per arm.
    arms : list of str, optional
        Arms to run (default: all; the base scenario when it has none).
    progress : callable, optional
        Called as ``progress(done, total)`` after each run.

    Examples
    --------
    >>> import govsim
    >>> sc = govsim.load_scenario("baseline", {"citizens.n": 300})
    >>> df = run_scenario(sc, seed=1, steps=3, reps=2)
    >>> sorted(df["rep"].unique().tolist()), len(df)
    ([0, 1], 8)
    """
    steps = scenario.steps if steps is None else steps
    plan = run_plan(scenario, reps, arms)
    frames = []
    for k, (index, arm, rep) in enumerate(plan):
        s = run_seed(seed, index)
        df = run_one(scenario, arm, s, steps)
        df.insert(0, "seed", np.int64(s))
        df.insert(0, "rep", rep)
        df.insert(0, "arm", arm or scenario.name)
        frames.append(df)
        if progress is not None:
            progress(k + 1, len(plan))
    return pd.concat(frames, ignore_index=True)


def _ci_halfwidth(sd: pd.Series, n: pd.Series) -> pd.Series:
    tcrit = pd.Series(np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), 0.0), index=sd.index)
    return (tcrit * sd.fillna(0.0) / np.sqrt(n)).fillna(0.0)


def band_table(df: pd.DataFrame, columns: list[str] | None = None, by: tuple[str, ...] = ("arm", "step")) -> pd.DataFrame:
    """Mean and 95 % confidence interval of the mean per ``by`` group.

    Columns ``<col>_mean``, ``<col>_lo``, ``<col>_hi`` for each output column;
    the interval is mean ± t(0.975, R−1) × sd / √R over the R replicates
    (zero width with one replicate).
    """
    cols = columns or [c for c in df.columns if c not in (*ID_COLUMNS, *by) and pd.api.types.is_numeric_dtype(df[c])]
    g = df.groupby(list(by), sort=False)[cols]
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    out = {}
    for c in cols:
        half = _ci_halfwidth(sd[c], n[c])
        out[f"{c}_mean"] = mean[c]
        out[f"{c}_lo"] = mean[c] - half
        out[f"{c}_hi"] = mean[c] + half
    return pd.DataFrame(out).reset_index()


def final_summary(df: pd.DataFrame, columns: list[str], window: int = 1) -> pd.DataFrame:
    """Per arm: mean and 95 % interval over replicates of each run's mean over its last ``window`` steps.

    Parameters
    ----------
    df : DataFrame
        A long results table (columns ``arm``, ``rep``, ``step`` and outputs),
        as from :func:`run_scenario`.
    columns : list of str
        Outputs to summarise.
    window : int, default 1
        Steps at the end of each run averaged within the run before the
        replicates are compared (1 = the final step, 12 = the final year).

    Returns
    -------
    DataFrame
        One row per arm × output: ``arm``, ``output``, ``mean``, ``ci_low``,
        ``ci_high``, ``reps``, ``steps`` (first and last step averaged). The
        interval is mean ± t(0.975, R − 1) × sd / √R over the R replicates
        (zero width with one replicate).

    Examples
    --------
    >>> rows = [{"arm": "a", "rep": r, "step": t, "x": float(r + t)} for r in range(3) for t in range(4)]
    >>> s = final_summary(pd.DataFrame(rows), ["x"], window=2)
    >>> s[["arm", "output", "mean", "reps", "steps"]].to_dict("records")
    [{'arm': 'a', 'output': 'x', 'mean': 3.5, 'reps': 3, 'steps': '2-3'}]
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    last_step = int(df["step"].max())
    first = max(int(df["step"].min()), last_step - window + 1)
    per_run = df[df["step"] >= first].groupby(["arm", "rep"], sort=False)[list(columns)].mean()
    rows = []
    for arm, g in per_run.groupby(level="arm", sort=False):
        r = len(g)
        for c in columns:
            x = g[c].to_numpy(dtype=float)
            m = float(x.mean())
            half = float(stats.t.ppf(0.975, r - 1) * x.std(ddof=1) / np.sqrt(r)) if r > 1 else 0.0
            rows.append({"arm": arm, "output": c, "mean": m, "ci_low": m - half, "ci_high": m + half,
                         "reps": r, "steps": f"{first}-{last_step}"})
    return pd.DataFrame(rows)


def summary_markdown(summary: pd.DataFrame, columns: list[str], digits: int = 3) -> str:
    """A wide Markdown table of :func:`final_summary`: one row per arm, ``mean [ci_low, ci_high]`` per column.

    Examples
    --------
    >>> s = pd.DataFrame([{"arm": "a", "output": "x", "mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}])
    >>> print(summary_markdown(s, ["x"]))
    | arm | x |
    | --- | ---: |
    | a | 0.500 [0.400, 0.600] |
    """
    lines = ["| arm | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    by = {(r.arm, r.output): r for r in summary.itertuples(index=False)}
    for arm in dict.fromkeys(summary["arm"]):
        cells = []
        for c in columns:
            r = by.get((arm, c))
            cells.append("" if r is None else f"{r.mean:.{digits}f} [{r.ci_low:.{digits}f}, {r.ci_high:.{digits}f}]")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
