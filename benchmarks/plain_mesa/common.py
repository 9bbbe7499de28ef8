"""What the plain-Mesa peers share with govsim: the scenario and the initial state.

Both sides of the comparison run one govsim scenario,
``benchmarks/plain_mesa/foundation.toml`` (with :data:`BASS_OVERRIDES` for the
``bass`` rule), and the peers read every parameter from the same loaded
:class:`govsim.Scenario`, so the two implementations cannot drift apart.

The peers start from the initial state of a freshly built (not yet stepped)
:class:`govsim.GovModel` of the same scenario and seed: its citizens (age group,
place, internet access, literacy, privacy concern, trust, satisfaction,
expectation, awareness, adoption) and its social network. The comparison is
therefore about the step dynamics, which is what the two implementations
write differently; the initial draw is govsim's in both.
"""

from __future__ import annotations

from pathlib import Path

import mesa

import govsim

FOUNDATION = Path(__file__).with_name("foundation.toml")

#: the ``bass`` comparison: govsim's bass rule on the foundation scenario, run as
#: the diffusion model alone (``scenario.processes = "diffusion"``: no awareness,
#: needs, service or learning, which the plain Bass peer knows nothing of), one
#: sub-step per step, collecting the one column the peer collects.
BASS_OVERRIDES = {"adoption.rule": "bass", "adoption.substeps": 1, "scenario.processes": "diffusion",
                  "scenario.outputs": "adoption_rate"}


def load_foundation(rule: str = "utility", overrides: dict | None = None) -> govsim.Scenario:
    """The foundation scenario for ``rule`` ("utility" or "bass"), with ``overrides`` on top.

    Parameters
    ----------
    rule : {"utility", "bass"}
    overrides : dict, optional
        Dotted keys, e.g. ``{"citizens.n": 10_000}``.

    Returns
    -------
    govsim.Scenario
    """
    if rule not in ("utility", "bass"):
        raise ValueError(f"rule must be 'utility' or 'bass', got {rule!r}")
    merged = dict(BASS_OVERRIDES) if rule == "bass" else {}
    merged.update(overrides or {})
    return govsim.load_scenario(FOUNDATION, merged)


def initial_govsim(scenario: govsim.Scenario, seed: int) -> govsim.GovModel:
    """A govsim model of ``scenario`` built with ``seed`` and not stepped: the common initial state."""
    return govsim.GovModel(scenario, rng=seed)


def neighbour_lists(model: govsim.GovModel) -> list[list[int]]:
    """Neighbour lists of govsim's network, read through networkx as a Mesa user would.

    Parameters
    ----------
    model : govsim.GovModel

    Returns
    -------
    list of list of int
        ``out[i]`` are the neighbours of citizen i (ascending).
    """
    graph = model.network.to_networkx()
    return [sorted(graph.neighbors(i)) for i in range(graph.number_of_nodes())]


class SynchronousPeer(mesa.Model):
    """What both plain-Mesa peers do the same way: link agents to neighbours, step synchronously, collect.

    A subclass creates its agents (one per citizen, in citizen order) in
    ``self.citizens``, then calls :meth:`link_and_collect`. Each step every
    agent decides from the state at the start of the step
    (``shuffle_do("step")``), then all take their decisions at once
    (``do("advance")``), and the ``DataCollector`` records the rates.
    """

    def link_and_collect(self, initial: govsim.GovModel, flags: tuple[str, ...] = ("adopted",)) -> None:
        """Give every agent its neighbour agents and start collecting the share of agents with each flag.

        Parameters
        ----------
        initial : govsim.GovModel
            The model whose network the agents live on.
        flags : tuple of str
            Boolean agent attributes whose shares are collected: column
            ``adoption_rate`` for ``adopted``, ``<flag>_rate`` for the others.
        """
        self.time_step = 0
        for citizen, nbrs in zip(self.citizens, neighbour_lists(initial), strict=True):
            citizen.neighbours = [self.citizens[j] for j in nbrs]
        reporters = {}
        for flag in flags:
            column = "adoption_rate" if flag == "adopted" else f"{flag}_rate"
            reporters[column] = lambda m, flag=flag: sum(1 for c in m.citizens if getattr(c, flag)) / len(m.citizens)
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)

    def step(self) -> None:
        self.time_step += 1
        self.agents.shuffle_do("step")
        self.agents.do("advance")
        self.datacollector.collect(self)

    def adoption_curve(self) -> list[float]:
        """Adoption rate at steps 0, 1, ... so far."""
        return list(self.datacollector.get_model_vars_dataframe()["adoption_rate"])
