"""Service platforms: few Mesa agents, one or more per region.

A :class:`Platform` is an integrated "one network" portal or a single
department's app (MODEL.md, "Platforms"). Its quality attributes drive the
online channel: coverage C (share of service types online), usability U,
integration I (share of cross-department data shared), reliability (1 − the
probability of an outage in a step) and security (1 − the probability of a
breach in a step).

:func:`regional_quality` turns the platforms of each region into the per-region
arrays the vectorised citizen processes index by ``citizens.region``.
"""

from __future__ import annotations

import mesa
import numpy as np

from .config import Param, declare

QUALITY = ("coverage", "usability", "integration", "reliability", "security")

declare(
    Param("platform.coverage", float, 0.6, "share of service types that can be completed online (C)",
          unit="share", low=0.0, high=1.0,
          source="assumption: UN OSI for China rose from 0.61 (2014) to 0.91 (2020) (govsim/data/un_egdi_china.csv); 0.6 at the start"),
    Param("platform.usability", float, 0.6, "usability of the platform (U), scales the effort a user needs",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption"),
    Param("platform.integration", float, 0.5, "share of cross-department data shared (I)", unit="share",
          low=0.0, high=1.0, source="assumption: partial integration before the 'one network' reforms"),
    Param("platform.reliability", float, 0.97, "probability that the platform works in a step (each online attempt fails with 1 - reliability)",
          unit="probability", low=0.0, high=1.0, source="assumption: roughly one outage-month every three years"),
    Param("platform.security", float, 0.99, "probability of no data breach in a step", unit="probability",
          low=0.0, high=1.0, source="assumption"),
)


class Platform(mesa.Agent):
    """A service platform (Mesa agent).

    Parameters
    ----------
    model : GovModel
    region : int
        Owner region (its local government).
    kind : {"portal", "app"}
        Integrated portal or a single department's app.
    **quality : float
        Initial ``coverage``, ``usability``, ``integration``, ``reliability``,
        ``security``.

    Examples
    --------
    >>> import govsim
    >>> m = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 200}), rng=0)
    >>> p = m.platforms[0]
    >>> p.kind, 0 <= p.coverage <= 1
    ('portal', True)
    """

    def __init__(self, model, region: int, kind: str = "portal", **quality: float):
        super().__init__(model)
        self.region = int(region)
        self.kind = kind
        for name in QUALITY:
            setattr(self, name, float(quality[name]))
        self.online = True  # False while an outage shock lasts
        self.uses = 0  # needs served online this step

    def step(self) -> None:
        """Platforms change through investment and shocks (governance mechanics)."""


def build_platforms(model) -> list[Platform]:
    """One integrated portal per region, with the scenario's quality."""
    q = {name: model.params[f"platform.{name}"] for name in QUALITY}
    return [Platform(model, r, "portal", **q) for r in range(model.n_regions)]


def regional_quality(model) -> dict[str, np.ndarray]:
    """Per-region arrays of the quality citizens meet online.

    Where a region runs several platforms, a citizen's need goes to the best
    covering one: coverage, usability, integration and security are use-weighted
    means and reliability is that of the working platforms (an outage sets it to 0).
    Regions without a platform get zeros.
    """
    n = model.n_regions
    out = {name: np.zeros(n) for name in QUALITY}
    weight = np.zeros(n)
    for p in model.platforms:
        w = p.coverage + 1e-12
        for name in QUALITY:
            value = getattr(p, name)
            if name == "reliability" and not p.online:
                value = 0.0  # an outage (a scheduled shock) fails every online attempt
            out[name][p.region] += w * value
        weight[p.region] += w
    has = weight > 0
    for name in QUALITY:
        out[name][has] /= weight[has]
    out["coverage"] = np.minimum(out["coverage"], 1.0)
    return out
