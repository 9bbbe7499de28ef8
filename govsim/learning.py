"""Learning and attitudes (MODEL.md step 7).

* Literacy grows by use: a successful online encounter moves L towards 1 by
  ``learning.by_use × (1 − L)`` (diminishing returns).
* Literacy grows from neighbours: L moves towards the mean literacy of the
  citizen's neighbours by ``learning.from_neighbours`` of the gap, when that
  mean is higher (relatives and friends teach; nobody unlearns from them).
* Satisfaction follows the outcome: it moves by ``learning.satisfaction_rate``
  towards 1 (served online), 0.5 (served offline) or 0 (unmet).
* Trust follows satisfaction: it moves by ``learning.trust_rate`` towards the
  citizen's satisfaction.

All updates are convex combinations of values in [0, 1], so literacy,
satisfaction and trust stay in [0, 1].
"""

from __future__ import annotations

import numpy as np

from .channels import SERVED_OFFLINE, SERVED_ONLINE, UNMET
from .config import Param, declare

declare(
    Param("learning.by_use", float, 0.05, "share of the gap to full literacy closed by one successful online use",
          unit="share/use", low=0.0, high=1.0, source="assumption: learning by doing, months to proficiency"),
    Param("learning.from_neighbours", float, 0.01,
          "share of the gap to the neighbours' mean literacy closed per step (when they know more)",
          unit="share/step", low=0.0, high=1.0, source="assumption: family help ('digital feedback', seed 000)"),
    Param("learning.satisfaction_rate", float, 0.3, "speed at which satisfaction follows service outcomes",
          unit="share/step", low=0.0, high=1.0, source="assumption: expectation confirmation (Bhattacherjee 2001)"),
    Param("learning.trust_rate", float, 0.05, "speed at which trust follows satisfaction", unit="share/step",
          low=0.0, high=1.0, source="assumption: trust moves slowly (Carter & Bélanger 2005)"),
)

_OUTCOME_SCORE = {SERVED_ONLINE: 1.0, SERVED_OFFLINE: 0.5, UNMET: 0.0}


def update_learning(model) -> None:
    """Apply this step's learning and attitude updates in place."""
    p = model.params
    pop = model.citizens
    outcome = model.step_outcome
    lit = pop.literacy
    used = outcome == SERVED_ONLINE
    lit[used] += np.float32(p["learning.by_use"]) * (1.0 - lit[used])
    rate = p["learning.from_neighbours"]
    if rate > 0:
        gap = model.network.neighbour_share(lit) - lit
        np.add(lit, np.float32(rate) * np.maximum(gap, 0.0), out=lit, casting="unsafe")
    np.clip(lit, 0.0, 1.0, out=lit)

    had = outcome >= 0
    score = np.select([outcome == SERVED_ONLINE, outcome == SERVED_OFFLINE], [1.0, 0.5], 0.0)
    a = p["learning.satisfaction_rate"]
    pop.satisfaction[had] += np.float32(a) * (score[had] - pop.satisfaction[had])
    pop.trust += np.float32(p["learning.trust_rate"]) * (pop.satisfaction - pop.trust)
