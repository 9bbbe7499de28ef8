"""Governments: the central government and one local government per region (Mesa agents).

The central government sets the evaluation regime (``government.metric_weight``:
the weight on visible digital metrics versus real outcomes). Each local
government owns its region's platforms, budget and technical capacity.
"""

from __future__ import annotations

import mesa
import numpy as np

from .config import Param, declare

declare(
    Param("government.metric_weight", float, 0.5,
          "weight of visible digital metrics (apps, registrations, check-ins, reports) vs real outcomes in local evaluation",
          unit="share", low=0.0, high=1.0, source="MODEL.md; 0.5 = balanced regime"),
    Param("government.budget_mean", float, 100.0, "mean fiscal budget for digital services per region per step",
          unit="budget units/step", low=0.0, high=1e9, source="assumption: a unit of account; only ratios matter"),
    Param("government.budget_inequality", float, 0.5,
          "spread of regional budgets: budgets are the mean times lognormal(0, this) normalised to the mean",
          unit="-", low=0.0, high=3.0, source="assumption: provincial fiscal capacity differs severalfold"),
)


class CentralGovernment(mesa.Agent):
    """Sets the evaluation regime for local governments.

    Attributes
    ----------
    metric_weight : float
        Weight on visible digital metrics, read from the scenario each step so
        that scheduled ``set`` events can change it.
    """

    def __init__(self, model):
        super().__init__(model)

    @property
    def metric_weight(self) -> float:
        return float(self.model.params["government.metric_weight"])

    def step(self) -> None:
        """Policy is applied by scheduled events (govsim.events) before this step."""


class LocalGovernment(mesa.Agent):
    """The government of one region.

    Attributes
    ----------
    region : int
    budget : float
        Budget per step (budget units).
    capacity : float
        Technical capacity in [0, 1] (higher budgets go with higher capacity).
    """

    def __init__(self, model, region: int, budget: float, capacity: float):
        super().__init__(model)
        self.region = int(region)
        self.budget = float(budget)
        self.capacity = float(capacity)

    def step(self) -> None:
        """Decisions each planning period (filled in by the governance mechanics)."""


def build_governments(model, rng: np.random.Generator):
    """The central government and one local government per region, with unequal budgets."""
    central = CentralGovernment(model)
    n = model.n_regions
    sigma = model.params["government.budget_inequality"]
    raw = rng.lognormal(0.0, sigma, size=n) if sigma > 0 else np.ones(n)
    budgets = model.params["government.budget_mean"] * raw / raw.mean()
    capacity = budgets / (budgets + budgets.mean())  # 0.5 at the mean budget, saturating
    locals_ = [LocalGovernment(model, r, budgets[r], capacity[r]) for r in range(n)]
    return central, locals_


def setup(model) -> None:
    """Create governance state kept across steps (none yet)."""


def after_service(model) -> None:
    """Governments take in the step's service outcomes (nothing yet)."""
