"""Grassroots cadres' time: the one place that computes service capacity.

Each region has a pool of cadres with a time budget of ``cadres.hours_per_step``
hours each per step. Formalism work (check-ins, duplicate data entry, "digital
trace" evidence; :func:`formalism_hours`) is taken first, because it is
enforced; what is left is the capacity for offline and assisted service::

    service_hours[r] = max(0, cadres[r] × H − formalism_hours[r])

Both the channel mechanics (rationing offline and assisted service) and the
governance mechanics (formalism burden) go through :func:`service_hours`, so
there is exactly one definition of what cadres have left.
"""

from __future__ import annotations

import numpy as np

from .config import Param, declare

declare(
    Param("cadres.per_10k_citizens", float, 6.0, "grassroots cadres serving citizens, per 10,000 citizens",
          unit="cadres/10k citizens", low=0.0, high=10_000.0,
          source="assumption: a township service hall staffs a handful of cadres per 10,000 residents"),
    Param("cadres.hours_per_step", float, 168.0, "working hours of one cadre per step (H)",
          unit="hours/step", low=0.0, high=744.0, source="8 hours × 21 working days a month"),
)


def cadre_counts(model) -> np.ndarray:
    """Cadres per region, proportional to the region's citizens (float, may be fractional)."""
    residents = np.bincount(model.citizens.region, minlength=model.n_regions)
    return residents * model.params["cadres.per_10k_citizens"] / 10_000.0


def budget_hours(model) -> np.ndarray:
    """Total cadre hours per region this step (cadres × H)."""
    return cadre_counts(model) * model.params["cadres.hours_per_step"]


def formalism_hours(model) -> np.ndarray:
    """Hours of formalism work per region this step (none before governance mechanics add it)."""
    hook = getattr(model, "formalism_hours", None)
    if hook is None:
        return np.zeros(model.n_regions)
    return np.asarray(hook(), dtype=float)


def service_hours(model) -> np.ndarray:
    """Cadre hours left for offline and assisted service per region, never negative."""
    return np.maximum(budget_hours(model) - formalism_hours(model), 0.0)
