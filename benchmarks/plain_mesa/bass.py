"""Bass diffusion, one Mesa agent per citizen (the plain-Mesa peer of govsim's ``bass`` rule)."""

from __future__ import annotations

import mesa
import networkx as nx


class BassCitizen(mesa.Agent):
    """A citizen who adopts with probability p + q × (share of adopted neighbours)."""

    def __init__(self, model, node: int):
        super().__init__(model)
        self.node = node
        self.adopted = False
        self._next = False

    def step(self) -> None:
        neighbours = self.model.neighbours[self.node]
        if self.adopted:
            self._next = True
            return
        share = sum(self.model.citizens[j].adopted for j in neighbours) / len(neighbours) if neighbours else 0.0
        self._next = self.random.random() < self.model.p + self.model.q * share

    def advance(self) -> None:
        self.adopted = self._next


class BassModel(mesa.Model):
    """Plain-Mesa Bass model on a networkx graph.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes 0..n-1.
    p, q : float
        Bass coefficients per step.
    rng : int
        Seed.
    """

    def __init__(self, graph: nx.Graph, p: float, q: float, rng: int | None = None):
        super().__init__(rng=rng)
        self.p, self.q = p, q
        self.neighbours = [list(graph.neighbors(i)) for i in range(graph.number_of_nodes())]
        self.citizens = [BassCitizen(self, i) for i in range(graph.number_of_nodes())]
        self.datacollector = mesa.DataCollector(
            model_reporters={"adoption_rate": lambda m: sum(c.adopted for c in m.citizens) / len(m.citizens)})
        self.datacollector.collect(self)

    def step(self) -> None:
        self.agents.shuffle_do("step")
        self.agents.do("advance")
        self.datacollector.collect(self)
