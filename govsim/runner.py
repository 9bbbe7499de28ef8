"""Running a scenario file as it is: every arm, with replicate seeds.

``govsim run`` uses :func:`run_scenario`: one run per (arm, replicate), each
seeded by :func:`govsim.seeds.run_seed` from the experiment seed and the run's
index, and a long results table with columns ``arm``, ``rep``, ``seed`` before
the model's outputs. :func:`band_table` gives the mean and 95 % interval per
step and :func:`final_summary` the final-step means with 95 % intervals.
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


def final_summary(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Final-step mean and 95 % interval of ``columns`` per arm (one row per arm × column)."""
    last = df[df["step"] == df["step"].max()]
    rows = []
    for arm, g in last.groupby("arm", sort=False):
        for c in columns:
            x = g[c].to_numpy(dtype=float)
            m = float(x.mean())
            half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0
            rows.append({"arm": arm, "output": c, "mean": m, "ci_low": m - half, "ci_high": m + half,
                         "reps": len(x)})
    return pd.DataFrame(rows)
