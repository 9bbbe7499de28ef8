"""Calibration targets shipped with govsim, and the distance of a run to them.

The baseline scenario starts in December 2018 (step 0; one step is one month).
Its target is the share of the population using online government services,
from CNNIC's users of online government services (``data/cnnic_online_gov_services.csv``)
divided by the population implied by CNNIC's internet users and penetration
(``data/cnnic_penetration.csv``: users / penetration). Both files carry their
sources row by row.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

START = (2018, 12)


def data_path(name: str):
    """Path of a data file shipped in ``govsim/data``."""
    return resources.files("govsim") / "data" / name


def load_data(name: str) -> pd.DataFrame:
    """Read a shipped CSV (e.g. ``"cnnic_penetration.csv"``)."""
    with data_path(name).open("rb") as fh:
        return pd.read_csv(fh)


def step_of(year: int, month: int) -> int:
    """Model step of a year and month (step 0 = December 2018)."""
    return (year - START[0]) * 12 + (month - START[1])


def adoption_targets() -> pd.DataFrame:
    """Target share of the population using online government services, by step.

    Returns
    -------
    DataFrame with columns ``step``, ``year``, ``month``, ``users_million``,
    ``population_million``, ``share``.

    Examples
    --------
    >>> t = adoption_targets()
    >>> int(t["step"].iloc[0]), round(float(t["share"].iloc[0]), 3)
    (0, 0.283)
    """
    gov = load_data("cnnic_online_gov_services.csv")
    pen = load_data("cnnic_penetration.csv").dropna(subset=["penetration_pct"])
    pen = pen.assign(population_million=pen["users_million"] / (pen["penetration_pct"] / 100.0))
    df = gov.merge(pen[["year", "month", "population_million"]], on=["year", "month"], how="inner")
    df = df.assign(step=[step_of(y, m) for y, m in zip(df["year"], df["month"], strict=True)],
                   share=df["users_million"] / df["population_million"])
    return df[["step", "year", "month", "users_million", "population_million", "share"]].reset_index(drop=True)


def calibration_rmse(results: pd.DataFrame, column: str = "adoption_rate") -> float:
    """Root-mean-square distance between a run's ``column`` and the targets it covers."""
    t = adoption_targets()
    t = t[t["step"] <= results["step"].max()]
    sim = results.set_index("step")[column].reindex(t["step"]).to_numpy()
    return float(np.sqrt(np.mean((sim - t["share"].to_numpy()) ** 2)))
