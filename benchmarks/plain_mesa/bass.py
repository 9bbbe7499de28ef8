"""Bass diffusion, one Mesa agent per citizen (the plain-Mesa peer of govsim's ``bass`` rule).

A citizen who has not adopted adopts this step with probability
``min(adoption.p + adoption.q × (share of adopted neighbours), 1)``, the share
read from the neighbours' state at the start of the step (synchronous, as in
govsim's :class:`govsim.adoption.BassRule` with ``adoption.substeps = 1``).
Adoption is permanent.
"""

from __future__ import annotations

import mesa

from govsim import Scenario

try:  # run as benchmarks/plain_mesa/bass.py or imported as plain_mesa.bass
    from .common import SynchronousPeer
except ImportError:  # pragma: no cover
    from common import SynchronousPeer


class BassCitizen(mesa.Agent):
    """A citizen who adopts with probability p + q × (share of adopted neighbours)."""

    def __init__(self, model: BassModel, adopted: bool):
        super().__init__(model)
        self.neighbours: list[BassCitizen] = []
        self.adopted = adopted
        self._next = adopted

    def step(self) -> None:
        if self.adopted:
            self._next = True
            return
        neighbours = self.neighbours
        share = sum(1 for other in neighbours if other.adopted) / len(neighbours) if neighbours else 0.0
        self._next = self.random.random() < self.model.p + self.model.q * share

    def advance(self) -> None:
        self.adopted = self._next


class BassModel(SynchronousPeer):
    """Plain-Mesa Bass model on govsim's network.

    Parameters
    ----------
    scenario : govsim.Scenario
        Normally ``load_foundation("bass", ...)``; ``adoption.p`` and
        ``adoption.q`` are read from it.
    initial : govsim.GovModel
        A govsim model of the same scenario, built and not stepped: the initial
        adopters and the social network are taken from it.
    rng : int, optional
        Seed of Mesa's generators.

    Examples
    --------
    >>> from plain_mesa.common import initial_govsim, load_foundation
    >>> sc = load_foundation("bass", {"citizens.n": 300})
    >>> peer = BassModel(sc, initial_govsim(sc, 1), rng=1)
    >>> for _ in range(3):
    ...     peer.step()
    >>> curve = peer.adoption_curve()
    >>> len(curve), curve == sorted(curve)
    (4, True)
    """

    def __init__(self, scenario: Scenario, initial, rng: int | None = None):
        super().__init__(rng=rng)
        if scenario["adoption.substeps"] != 1:
            raise ValueError("the plain-Mesa Bass peer runs one sub-step per step (adoption.substeps = 1)")
        self.p, self.q = scenario["adoption.p"], scenario["adoption.q"]
        adopted = initial.citizens.adopted
        self.citizens = [BassCitizen(self, bool(adopted[i])) for i in range(initial.citizens.n)]
        self.link_and_collect(initial)
