"""Running an experiment: store, executor, progress, consolidation.

:func:`run_experiment` is what every command uses: it checks the output
folder (refusing a different experiment, writing nothing), locks it, reads the
runs already finished, runs the others through an executor, writes each run
as it finishes, then consolidates the final tables and figures with the
command's ``finish`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .executors import Executor, make_executor
from .jobs import FunctionJob, ModelJob
from .progress import Progress
from .spec import ExperimentSpec
from .store import DiskStore, MemoryStore

__all__ = ["ExperimentResult", "run_experiment", "make_job"]


@dataclass
class ExperimentResult:
    """What an experiment produced.

    Attributes
    ----------
    spec : ExperimentSpec
    out : Path or None
        The experiment folder (None when kept in memory).
    counts : dict
        ``total``, ``done``, ``failed``, ``pending`` runs.
    failed : dict
        Failed runs: index -> error record (type, message, traceback, seed...).
    figures : list of Path
        Figures written.
    info : dict
        Command-specific details (e.g. the noise floor of a sensitivity analysis).
    ran : int
        Runs computed by this call (the others were already in ``out``).

    Examples
    --------
    >>> from govsim.experiments import replicate
    >>> res = replicate("baseline", reps=2, steps=2, overrides={"citizens.n": 200}, workers=1, progress=False)
    >>> res.ok, res.tables()
    (True, ['bands', 'results', 'summary'])
    >>> res["summary"].query("output == 'adoption_rate'")[["mean", "ci_low", "ci_high", "reps"]].shape
    (1, 4)
    """

    spec: ExperimentSpec
    out: Path | None
    counts: dict
    failed: dict
    figures: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    _memory: dict = field(default_factory=dict, repr=False)
    ran: int = 0

    @property
    def ok(self) -> bool:
        """True when every run finished without error."""
        return not self.failed and self.counts.get("pending", 0) == 0

    def tables(self) -> list[str]:
        """Names of the final tables available."""
        if self.out is None:
            return sorted(self._memory)
        return sorted(p.stem for p in self.out.glob("*.parquet"))

    def table(self, name: str) -> pd.DataFrame:
        """A final table as a DataFrame (``results``, ``bands``, ``summary``, ``indices``...)."""
        if name in self._memory:
            return self._memory[name]
        if self.out is not None:
            p = self.out / f"{name}.parquet"
            if p.exists():
                return pd.read_parquet(p)
        raise KeyError(f"no table {name!r}; available: {', '.join(self.tables()) or 'none'}")

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def failure_summary(self) -> str:
        """One line naming the failed runs."""
        if not self.failed:
            return ""
        idx = sorted(self.failed)
        shown = ", ".join(str(i) for i in idx[:20]) + (", ..." if len(idx) > 20 else "")
        first = self.failed[idx[0]]
        where = f"; see {self.out / 'errors'}/" if self.out is not None else ""
        return (f"{len(idx)} of {self.counts['total']} runs failed: {shown} "
                f"(run {idx[0]}: {first.get('type')}: {first.get('message')}){where}")


def make_job(spec: ExperimentSpec, encode: bool):
    """The job sent to the workers for ``spec`` (a :class:`ModelJob` or :class:`FunctionJob`).

    Examples
    --------
    >>> from govsim.experiments import replicate_spec
    >>> type(make_job(replicate_spec("baseline", reps=2, steps=2), encode=True)).__name__
    'ModelJob'
    """
    if spec.function is not None:
        return FunctionJob(spec.function, spec.design_columns, spec.function_outputs, encode=encode)
    in_worker = spec.outputs if spec.kind == "sa" else []
    return ModelJob(spec.scenario, spec.steps, spec.design_columns if spec.kind != "replicate" else [],
                    outputs=in_worker, series=spec.keep_series or spec.kind != "sa", model=spec.model,
                    encode=encode)


def run_experiment(spec: ExperimentSpec, out: str | Path | None = None, executor: Executor | None = None,
                   workers: int | None = None, progress: Any = None, finish: Callable | None = None,
                   design: pd.DataFrame | None = None, label: str | None = None,
                   executor_factory: Callable[[], Executor] | None = None) -> ExperimentResult:
    """Run (or resume) ``spec``, streaming results to ``out``.

    Parameters
    ----------
    spec : ExperimentSpec
    out : str or Path, optional
        Experiment folder. If it holds this experiment already, only the
        missing (and failed) runs are computed. ``None`` keeps everything in
        memory.
    executor : Executor, optional
        Where to run (not closed here). Default: ``make_executor(workers)``
        (local processes; serial for ``workers=1``), created only if there is
        something to run and closed at the end.
    workers : int, optional
    progress : None, bool or callable
        See :class:`~govsim.experiments.progress.Progress`.
    finish : callable, optional
        ``finish(store, spec) -> (figures, info)`` consolidates the final tables.
    design : DataFrame, optional
        Design table written to ``design.parquet``.
    label : str, optional
        Label of the progress bar or lines.
    executor_factory : callable, optional
        Called to create the executor (and closed at the end) when there is
        something to run and ``executor`` is None.

    Returns
    -------
    ExperimentResult

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from govsim.experiments import replicate_spec
    >>> spec = replicate_spec("baseline", reps=2, steps=2, overrides={"citizens.n": 200})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "exp"
    >>> res = run_experiment(spec, out=out, workers=1, progress=False)
    >>> res.counts
    {'total': 2, 'done': 2, 'failed': 0, 'pending': 0}
    >>> sorted(p.name for p in (out / "parts" / "series").iterdir())
    ['run-000000.parquet', 'run-000001.parquet']
    >>> run_experiment(spec, out=out, workers=1, progress=False).ran   # resumed: nothing left to run
    0
    """
    store = DiskStore(out, spec) if out is not None else MemoryStore(spec)
    store.check()
    todo = spec.n_runs
    if isinstance(store, DiskStore):
        todo -= len(store.scan())
    own = None
    if todo > 0 and executor is None:
        own = executor_factory() if executor_factory is not None else make_executor(workers)
        executor = own
    figures, info, ran = [], {}, 0
    try:
        with store.lock():
            done = store.open()
            if design is not None and isinstance(store, DiskStore):
                store.write_design(design)
            elif design is not None:
                store.final["design"] = design
            if executor is not None:
                store.extra["executor"] = executor.describe()
            prog = Progress(spec.n_runs, initial=len(done), label=label or spec.kind, mode=progress)
            status = "interrupted"
            try:
                if len(done) < spec.n_runs:
                    job = make_job(spec, encode=store.encodes)
                    for outcome in executor.run(job, spec.tasks(skip=done)):
                        store.record(outcome)
                        ran += 1
                        prog.update(outcome.ok)
                status = "consolidating"
            finally:
                prog.close()
                store.write_manifest(status)
            if finish is not None:
                figures, info = finish(store, spec)
            c = store.counts()
            final = "complete" if c["failed"] == 0 and c["pending"] == 0 else "incomplete"
            store.write_manifest(final, session={"computed": ran, "already_done": len(done)},
                                 **({"result": info} if info else {}))
    finally:
        if own is not None:
            own.close()
    memory = dict(store.final) if isinstance(store, MemoryStore) else {}
    return ExperimentResult(spec, Path(out) if out is not None else None, store.counts(), store.failed(),
                            figures=figures, info=info, _memory=memory, ran=ran)
