"""The govsim model: wires citizens, network, platforms and governments.

:class:`GovModel` is a :class:`mesa.Model`. Governments and platforms are
Mesa agents (few); citizens are a vectorised :class:`~govsim.citizens.Population`
(one numpy array per attribute) on a CSR :class:`~govsim.networks.Network`.

Order of a step (MODEL.md, "Processes")
---------------------------------------
1. ``events``: scheduled events (policies, shocks) for this step, in file order;
2. ``governments``: the central government, then local governments by region;
   then platforms by creation order;
3. ``quality``: the quality citizens meet online is read off the platforms of
   each region;
4. ``awareness`` spreads (synchronous, from the previous step's awareness);
5. ``adoption``: the adoption rule updates (``bass``/``threshold``: from the
   previous step's adoption, all citizens at once);
6. ``service``: needs arise (Poisson); cadre capacity, what cadres have left
   after formalism work (:func:`govsim.cadres.service_hours`); needs are
   served by channel (choice, encounter, fallback, queues);
7. ``learning`` and attitudes update;
8. ``feedback``: governments take in the step's outcomes (use, evaluation,
   citizens' feedback);
9. ``outputs``: data collection (Mesa DataCollector).

Which processes run
-------------------
``scenario.processes`` selects a schedule (:data:`SCHEDULES`):

``full`` (default)
    every process above.
``citizens``
    the citizen-level model alone: governments and platforms keep their
    initial state (changed only by scheduled events), so quality, budgets,
    apps and formalism hours stay as built; no governance feedback. This is
    the foundation-level model (awareness, channel choice, service, learning).
    The quality citizens meet and the cadres' service hours are therefore
    computed again only in a step after an event or a change of
    ``model.params``, not every step.
``diffusion``
    the adoption rule alone (with scheduled events): no awareness, needs,
    service or learning. For the ``bass`` and ``threshold`` rules (and custom
    rules that decide adoption themselves), e.g. to check a rule against its
    closed form or to compare with another implementation of the same
    diffusion model. The ``utility`` rule decides adoption in the service, so
    it cannot run here.

``scenario.outputs`` (comma-separated column names, empty = all) limits the
columns collected each step to those named (``step`` always); the results
table then has just these columns.

Random streams
--------------
A run is fixed by one seed. ``rng`` (an int, a ``numpy.random.SeedSequence``
or a ``Generator``, from which one 63-bit integer is drawn) seeds a
``SeedSequence`` whose children, spawned in this order, feed independent
streams: ``population`` (initial citizens), ``network`` (the social graph),
``initial`` (initial adopters, awareness, thresholds), ``dynamics`` (awareness,
adoption, needs, channel choice and encounters, drawn in that order each step
with bulk draws of fixed size), ``governments`` (budgets and decisions),
``shocks`` (random shocks) and ``mesa`` (the generator handed to
``mesa.Model``, used by Mesa for agent shuffles). Adding draws to one stream
leaves the others untouched. The seed used is ``model.seed`` and goes into
every manifest.
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from . import channels, governments, metrics
from .cadres import service_hours
from .adoption import get_rule, seed_initial_adopters
from .awareness import seed_awareness, spread_awareness
from .channels import NO_NEED, draw_needs, serve_needs
from .citizens import create_population
from .config import Param, Scenario, ScenarioError, declare, declare_check, load_scenario
from .events import apply_events
from .governments import build_governments
from .learning import update_learning
from .networks import Network, build_network, from_networkx
from .platforms import build_platforms, regional_quality

STREAMS = ("population", "network", "initial", "dynamics", "governments", "shocks", "mesa")

#: the processes of a step, in order, for each value of ``scenario.processes``
SCHEDULES = {
    "full": ("events", "governments", "quality", "awareness", "adoption", "service", "learning", "feedback",
             "outputs"),
    "citizens": ("events", "quality", "awareness", "adoption", "service", "learning", "outputs"),
    "diffusion": ("events", "adoption", "outputs"),
}

declare(
    Param("scenario.processes", str, "full",
          "processes run each step: full (all), citizens (no government or platform dynamics, no feedback), "
          "diffusion (the adoption rule alone; not with the utility rule)",
          choices=tuple(SCHEDULES), source="model design (govsim.model, 'Which processes run')"),
    Param("scenario.outputs", str, "",
          "comma-separated output columns collected each step (empty: all; step is always collected)",
          source="set per experiment"),
)


@declare_check
def _check_processes(values):
    if values["scenario.processes"] == "diffusion":
        from .adoption import get_rule

        if get_rule(values["adoption.rule"]).uses_choice_model:
            raise ScenarioError(f"'diffusion' runs the adoption rule alone, and the {values['adoption.rule']!r} "
                                "rule decides adoption in the service; use bass, threshold or citizens/full",
                                key="scenario.processes")
    output_columns(values)


def output_columns(values) -> list[str]:
    """The columns of ``scenario.outputs`` (all declared columns when empty), ``step`` first, validated.

    Parameters
    ----------
    values : mapping
        Scenario values (``Scenario.values`` or a scenario).

    Examples
    --------
    >>> output_columns({"scenario.outputs": "aware_rate, adoption_rate"})
    ['step', 'adoption_rate', 'aware_rate']
    """
    from .config import _did_you_mean

    asked = [c.strip() for c in values["scenario.outputs"].split(",") if c.strip()]
    known = metrics.output_names()
    for c in asked:
        if c not in known:
            raise ScenarioError(f"unknown output column {c!r}" + _did_you_mean(c, known), key="scenario.outputs")
    return list(metrics.select_outputs(asked or None))

_EMPTY_COUNTS = {"needs": 0, "needs_online": 0, "needs_offline": 0, "needs_unmet": 0,
                 "online_attempts": 0, "online_failures": 0, "hours": 0.0}


def _seed_sequence(rng) -> tuple[np.random.SeedSequence, int]:
    if isinstance(rng, np.random.SeedSequence):
        return rng, int(rng.entropy) if isinstance(rng.entropy, int) else rng.entropy
    if isinstance(rng, np.random.Generator):
        seed = int(rng.integers(0, 2**63 - 1))
    elif rng is None:
        seed = int(np.random.SeedSequence().entropy % (2**63 - 1))
    elif isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng: a seed must be >= 0, got {rng}")
        seed = int(rng)
    else:
        raise TypeError(f"rng: expected an int seed, a SeedSequence or a numpy Generator, got {type(rng).__name__}")
    return np.random.SeedSequence(seed), seed


class _RowCollector(mesa.DataCollector):
    """A :class:`mesa.DataCollector` whose model reporters read ``model.latest``.

    Every column is a scalar (int or float) computed once per step by
    :func:`govsim.metrics.collect`, so the values are appended as they are:
    Mesa's generic ``collect`` calls one reporter per column and deep-copies
    each value, which costs more than computing the whole row.
    """

    def collect(self, model) -> None:
        if hasattr(self, "_collection_steps"):  # Mesa >= 3.4 records the time of each collection
            self._collection_steps.append(model.time)
        row = model.latest
        for var, values in self.model_vars.items():
            values.append(row[var])


class GovModel(mesa.Model):
    """Agent-based model of digital-government adoption.

    Parameters
    ----------
    scenario : Scenario, str or Path, default "baseline"
        A scenario from :func:`govsim.load_scenario`, or a name/path to load.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seed of the run (see "Random streams" in the module docstring). ``None``
        draws fresh entropy; the seed used is kept in ``model.seed``.
    network : Network or networkx.Graph, optional
        Use this social network instead of building the scenario's
        (``network.*`` keys are then ignored). It must have ``citizens.n``
        nodes; node i is citizen i.

    Attributes
    ----------
    config : Scenario
        The govsim scenario of this run (``Model.scenario`` belongs to Mesa).
    citizens : Population
        The vectorised citizens.
    network : Network
        The social network (CSR).
    platforms : list of Platform
    central : CentralGovernment
    local_governments : list of LocalGovernment
    params : dict
        The scenario's parameter values, which scheduled events may change.
    time_step : int
        Steps run so far (0 before the first step).
    datacollector : mesa.DataCollector
        One model reporter per results column (see :mod:`govsim.metrics`).

    Examples
    --------
    >>> import govsim
    >>> model = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 2000}), rng=1)
    >>> df = model.run(12)
    >>> len(df), int(df["step"].iloc[-1])
    (13, 12)
    >>> bool(0.0 <= df["adoption_rate"].iloc[-1] <= 1.0)
    True
    """

    def __init__(self, scenario: Scenario | str = "baseline", rng=None, network=None):
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        seq, seed = _seed_sequence(rng)
        children = dict(zip(STREAMS, seq.spawn(len(STREAMS)), strict=True))
        super().__init__(rng=np.random.default_rng(children["mesa"]))
        # `config`, not `scenario`: Mesa >= 3.4 reserves Model.scenario for its own Scenario class
        self.config = scenario
        self.seed = seed
        self.params = dict(scenario.values)
        self.streams = {name: np.random.default_rng(children[name]) for name in STREAMS if name != "mesa"}
        self.n_regions = int(self.params["regions.n"])
        self.time_step = 0

        self.citizens = create_population(scenario, self.streams["population"])
        if network is None:
            self.network = build_network(scenario, self.citizens, self.streams["network"])
        else:
            if not isinstance(network, Network):
                network = from_networkx(network)
            if network.n != self.citizens.n:
                raise ValueError(f"network: has {network.n} nodes but citizens.n is {self.citizens.n}")
            self.network = network
        self.central, self.local_governments = build_governments(self, self.streams["governments"])
        self.platforms = build_platforms(self)
        channels.setup(self)
        governments.setup(self)

        init = self.streams["initial"]
        self.rule = get_rule(self.params["adoption.rule"])(self, init)
        seed_initial_adopters(self, init)
        seed_awareness(self, init)

        n = self.citizens.n
        self.step_counts = dict(_EMPTY_COUNTS)
        self.step_outcome = np.full(n, NO_NEED, dtype=np.int8)
        self.step_needs = np.zeros(n, dtype=np.int32)
        self.step_hours = np.zeros(n)
        self.schedule = SCHEDULES[self.params["scenario.processes"]]
        self._schedule = tuple(getattr(self, f"_{name}") for name in self.schedule)
        self.quality = regional_quality(self)
        self.output_columns = output_columns(self.params)
        # only the reporters of the chosen columns run (None: all of them)
        self._collect_names = tuple(self.output_columns) if self.params["scenario.outputs"].strip() else None
        self.latest: dict = {}
        self.datacollector = _RowCollector(
            model_reporters={name: (lambda m, name=name: m.latest[name]) for name in self.output_columns}
        )
        self._collect()

    @property
    def step_success(self) -> np.ndarray:
        """Per citizen: needs served online this step (``step_outcome == SERVED_ONLINE``)."""
        return self.step_outcome == channels.SERVED_ONLINE

    # -- the step ------------------------------------------------------------------
    def step(self) -> None:
        """Advance the model by one step (one month); see the module docstring for the order."""
        self.time_step += 1
        mark = self._mark
        if mark is None:
            for process in self._schedule:
                process()
            return
        mark(None)
        for name, process in zip(self.schedule, self._schedule, strict=True):
            process()
            mark(name)

    def _events(self) -> None:
        if apply_events(self, self.time_step):
            self._frozen_params = None  # an event may change platforms and governments: recompute their inputs

    def _governments(self) -> None:
        self.central.step()
        for gov in self.local_governments:
            gov.step()
        for platform in self.platforms:
            platform.step()

    # Without the governments process (schedule "citizens") platforms and governments change only by events
    # and parameters, so quality and the cadres' service hours are kept while neither changed
    # (``_frozen_params``: the parameters they were computed with; None: compute them).
    _frozen_params = None
    _reuse_inputs = False

    def _quality(self) -> None:
        frozen = "governments" not in self.schedule
        self._reuse_inputs = frozen and self._frozen_params is not None and self._frozen_params == self.params
        if not self._reuse_inputs:
            self.quality = regional_quality(self)
            self._frozen_params = dict(self.params) if frozen else None

    def _awareness(self) -> None:
        spread_awareness(self, self.streams["dynamics"])

    def _adoption(self) -> None:
        self.rule.update(self, self.streams["dynamics"])

    def _service(self) -> None:
        needs = draw_needs(self, self.streams["dynamics"])
        if not self._reuse_inputs:
            self.service_capacity = service_hours(self)
        self.step_counts = serve_needs(self, needs, self.quality, self.streams["dynamics"])

    def _learning(self) -> None:
        update_learning(self)

    def _feedback(self) -> None:
        governments.after_service(self)

    def _outputs(self) -> None:
        self._collect()

    _mark = None

    def time_processes(self, on: bool = True) -> dict[str, list[float]]:
        """Time the processes of every following step (seconds per step, by process) for profiling.

        Returns the dict that collects the times, ``{process: [seconds, ...]}``
        (one entry per step); ``on=False`` stops timing. Results are unchanged.
        """
        import time

        times: dict[str, list[float]] = {}
        if not on:
            self._mark = None
            return times
        last = [0.0]

        def mark(name):
            now = time.perf_counter()
            if name is not None:
                times.setdefault(name, []).append(now - last[0])
            last[0] = now

        self._mark = mark
        return times

    def _collect(self) -> None:
        self.latest = metrics.collect(self, self._collect_names)
        self.datacollector.collect(self)

    # -- running -------------------------------------------------------------------
    def run(self, steps: int | None = None) -> pd.DataFrame:
        """Run ``steps`` steps (default ``scenario.steps``) and return :meth:`results`.

        Parameters
        ----------
        steps : int, optional
            Number of steps to run from the current state.

        Returns
        -------
        pandas.DataFrame
            One row per step, including step 0 (the initial state).
        """
        steps = self.config.steps if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        for _ in range(steps):
            self.step()
        return self.results()

    def results(self) -> pd.DataFrame:
        """The results table so far: one row per step, columns as in :mod:`govsim.metrics`."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df = df[self.output_columns]
        df["step"] = df["step"].astype(np.int64)
        return df
