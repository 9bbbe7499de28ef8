"""Executors: run tasks serially, in local processes or on a Dask cluster.

Every executor has the same interface: :meth:`Executor.run` takes a job and an
iterable of tasks and yields one :class:`~govsim.experiments.jobs.Outcome` per
task *as runs finish*, keeping a bounded number of tasks in flight, so the
driver's memory does not grow with the number of runs. The order of
completion never matters: results are keyed by run index and consolidated in
index order.

- :class:`SerialExecutor`: in this process (``--workers 1``).
- :class:`ProcessExecutor`: a persistent pool of ``spawn``-ed worker processes
  (``--workers N``, the default with N = CPU count). The job is sent once to
  each worker; each task carries only its index, seed and overrides. If a
  worker process dies, the runs in flight are resubmitted to a fresh pool (up
  to ``retries`` times each).
- :class:`DaskExecutor`: a Dask distributed cluster, existing
  (``--scheduler tcp://HOST:PORT``) or started here (``--dask-local N``, on
  127.0.0.1 without a dashboard). The job is scattered to every worker once;
  tasks are submitted with ``retries`` so runs on a worker that dies are
  rerun elsewhere. Dask is the ``dask`` extra.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from ..errors import ScenarioError
from .jobs import Outcome, execute
from .spec import Task

__all__ = ["Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor", "default_workers"]


def default_workers() -> int:
    """Worker processes used by default: the number of CPUs available.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Executor:
    """Base class: ``run(job, tasks)`` yields Outcomes as runs finish."""

    name = "executor"
    workers = 1

    def run(self, job: Callable, tasks: Iterable[Task]) -> Iterator[Outcome]:
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-ready description for the manifest."""
        return {"executor": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release workers and connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SerialExecutor(Executor):
    """Run every task in this process, one after the other.

    Examples
    --------
    >>> from govsim.experiments.spec import Task
    >>> ex = SerialExecutor()
    >>> [o.tables for o in ex.run(lambda t: t.index * 10, [Task(i, i, 0, 0, {}) for i in range(3)])]
    [0, 10, 20]
    """

    name = "serial"

    def run(self, job, tasks):
        for task in tasks:
            yield execute(job, task)


# -- local processes ----------------------------------------------------------------------
_WORKER_JOBS: dict = {}


def one_thread_per_worker() -> None:
    """Keep the model on one thread in this process (a worker among others that fill the cores).

    The model may run large neighbour sums on two threads
    (``govsim.networks.PARALLEL_MIN_NNZ``); with as many worker processes as
    cores, those threads only compete with the other workers. Results are the
    same to the bit either way.
    """
    import sys

    try:
        from .. import networks
    except ImportError:  # pragma: no cover
        return
    if hasattr(networks, "PARALLEL_MIN_NNZ"):
        networks.PARALLEL_MIN_NNZ = sys.maxsize


def _init_worker(single_thread: bool = False) -> None:
    """Pool workers ignore Ctrl-C (the driver handles it and shuts the pool down)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if single_thread:
        one_thread_per_worker()


def _run_in_worker(token: str, payload: bytes, task: Task) -> Outcome:
    """Run ``task`` in a pool worker; the job is unpickled once per worker and experiment."""
    job = _WORKER_JOBS.get(token)
    if job is None:
        import pickle

        if len(_WORKER_JOBS) >= 4:
            _WORKER_JOBS.pop(next(iter(_WORKER_JOBS)))
        job = _WORKER_JOBS[token] = pickle.loads(payload)
    return execute(job, task)


def _worker_died(index: int, detail: str) -> Outcome:
    return Outcome(index, False, error={"type": "WorkerDied", "message": detail, "traceback": ""})


class ProcessExecutor(Executor):
    """A persistent pool of ``workers`` spawned processes.

    The pool survives between experiments (use it as a context manager, or
    call :meth:`close`). Each task carries the pickled job, which every
    worker unpickles once per experiment.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    retries : int
        How many times a run is resubmitted when its worker process dies.
    inflight : int, optional
        Maximum tasks submitted but not yet finished (default ``4 × workers``).

    Examples
    --------
    Keep one pool for several experiments (workers start once):

    >>> from govsim import experiments as ex
    >>> with ProcessExecutor(2) as pool:  # doctest: +SKIP
    ...     a = ex.replicate("baseline", reps=4, steps=3, executor=pool, progress=False)
    ...     b = ex.sweep("baseline", grid={"adoption.p": [0.01, 0.05]}, steps=3, executor=pool, progress=False)
    >>> a.ok and b.ok  # doctest: +SKIP
    True
    """

    name = "processes"

    def __init__(self, workers: int | None = None, retries: int = 2, inflight: int | None = None):
        self.workers = int(workers or default_workers())
        if self.workers < 1:
            raise ScenarioError(f"--workers must be >= 1, got {self.workers}")
        self.retries = int(retries)
        self.inflight = int(inflight or 4 * self.workers)
        self._pool = None

    def _new_pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._shutdown_pool()
        # mesa forces the global start method to "spawn"; an explicit context
        # keeps this independent of whatever the global setting is.
        ctx = multiprocessing.get_context("spawn")
        # as many workers as cores (or more): each keeps the model on one thread
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self.workers >= default_workers(),))
        return self._pool

    def pids(self) -> list[int]:
        """Process ids of the current workers (for tests and monitoring)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return sorted(p.pid for p in procs.values() if p.pid)

    def run(self, job, tasks):
        import pickle
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = self._pool if self._pool is not None else self._new_pool()
        token = uuid.uuid4().hex
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        source = iter(tasks)
        retry: deque[Task] = deque()
        attempts: dict[int, int] = {}
        running: dict = {}

        def requeue(task: Task):
            n = attempts.get(task.index, 0) + 1
            attempts[task.index] = n
            if n > self.retries:
                return _worker_died(task.index, f"worker process died {n} times running this run")
            retry.append(task)
            return None

        def submit_more():
            while len(running) < self.inflight:
                if retry:
                    task = retry.popleft()
                else:
                    task = next(source, None)
                    if task is None:
                        return
                running[pool.submit(_run_in_worker, token, payload, task)] = task

        try:
            submit_more()
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    task = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        failed = requeue(task)
                        if failed is not None:
                            yield failed
                        continue
                    yield outcome
                if broken:
                    # a broken pool fails every future it holds; keep the runs
                    # that finished, requeue the others on a fresh pool
                    wait(list(running))
                    for fut, task in list(running.items()):
                        running.pop(fut)
                        if fut.exception() is None:
                            yield fut.result()
                        else:
                            failed = requeue(task)
                            if failed is not None:
                                yield failed
                    pool = self._new_pool()
                submit_more()
        finally:
            for fut in running:
                fut.cancel()

    def _shutdown_pool(self):
        if self._pool is not None:
            try:
                self._pool.shutdown(wait=True, cancel_futures=True)
            except Exception:  # noqa: BLE001 - a broken pool may fail to shut down cleanly
                pass
            self._pool = None

    def close(self):
        self._shutdown_pool()


# -- Dask -----------------------------------------------------------------------------------
def _dask_run(job, task: Task, single_thread: bool = False) -> Outcome:
    if single_thread:
        one_thread_per_worker()
    return execute(job, task)


def _require_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ScenarioError("Dask is not installed: pip install 'govsim[dask]'", key="scheduler") from None
    return distributed


class DaskExecutor(Executor):
    """Run tasks on a Dask distributed cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler (``tcp://127.0.0.1:8786``).
    local_workers : int, optional
        Start a LocalCluster of this many single-threaded worker processes on
        127.0.0.1, without a dashboard (used when ``scheduler`` is None).
    retries : int
        Retries of a task whose worker died (passed to ``Client.submit``; the
        scheduler also reschedules tasks of lost workers).
    inflight : int, optional
        Maximum tasks submitted but unfinished (default ``4 ×`` worker threads).
    timeout : float
        Seconds to wait for the scheduler and the first worker.

    Examples
    --------
    A cluster started by hand, on loopback only::

        dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard --dashboard-address 127.0.0.1:0
        dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 --host 127.0.0.1 \\
            --no-dashboard --dashboard-address 127.0.0.1:0

    >>> from govsim import experiments as ex
    >>> with DaskExecutor("tcp://127.0.0.1:8786") as dx:  # doctest: +SKIP
    ...     res = ex.replicate("baseline", reps=8, executor=dx, out="results/rep")
    >>> with DaskExecutor(local_workers=2) as dx:  # doctest: +SKIP
    ...     dx.describe()
    {'executor': 'dask', 'workers': 2, 'scheduler': 'LocalCluster(127.0.0.1)'}
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None, retries: int = 3,
                 inflight: int | None = None, timeout: float = 60.0):
        _require_distributed()
        from distributed import Client

        self.retries = int(retries)
        self._cluster = None
        self._single_thread = False  # an existing cluster's workers keep their own settings
        self.scheduler = scheduler
        if scheduler is None:
            from distributed import LocalCluster

            n = int(local_workers or default_workers())
            if n < 1:
                raise ScenarioError(f"--dask-local must be >= 1, got {n}")
            # no dashboard; the scheduler's small HTTP server (health checks) on a
            # random loopback port rather than the fixed 8787
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address=None,
                                         scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            self.client = Client(self._cluster, timeout=timeout)
            self._single_thread = n >= default_workers()
        else:
            try:
                self.client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise ScenarioError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}",
                                    key="scheduler") from None
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            self.close()
            raise ScenarioError(f"no Dask worker joined the scheduler within {timeout:g}s", key="scheduler") from None
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.inflight = int(inflight or 4 * self.workers)
        self._session = uuid.uuid4().hex[:10]

    def describe(self):
        return {"executor": self.name, "workers": self.workers,
                "scheduler": self.scheduler or "LocalCluster(127.0.0.1)"}

    def worker_pids(self) -> dict:
        """Worker address -> process id (for tests and monitoring)."""
        return self.client.run(os.getpid)

    def run(self, job, tasks):
        from distributed import as_completed

        client = self.client
        job_future = client.scatter(job, broadcast=True, hash=False)
        source = iter(tasks)
        attempt: dict[int, int] = {}
        by_key: dict[str, Task] = {}
        pending: dict = {}

        def submit(task: Task):
            n = attempt.get(task.index, 0)
            key = f"govsim-run-{self._session}-{task.index}-{n}"
            fut = client.submit(_dask_run, job_future, task, self._single_thread, key=key, pure=False,
                                retries=self.retries)
            by_key[fut.key] = task
            pending[fut.key] = fut
            return fut

        initial = []
        for _ in range(self.inflight):
            task = next(source, None)
            if task is None:
                break
            initial.append(submit(task))
        ac = as_completed(initial)
        try:
            for fut in ac:
                task = by_key.pop(fut.key)
                pending.pop(fut.key, None)
                try:
                    outcome = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, lost data, cancelled...
                    n = attempt.get(task.index, 0) + 1
                    attempt[task.index] = n
                    if n <= self.retries:
                        ac.add(submit(task))
                        fut.release()
                        continue
                    outcome = _worker_died(task.index, f"{type(exc).__name__}: {exc}")
                fut.release()
                yield outcome
                nxt = next(source, None)
                if nxt is not None:
                    ac.add(submit(nxt))
        finally:
            ac.clear()
            if pending:
                try:
                    client.cancel(list(pending.values()))
                except Exception:  # noqa: BLE001
                    pass
            try:
                client.cancel([job_future])
            except Exception:  # noqa: BLE001
                pass

    def close(self):
        client = getattr(self, "client", None)
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
            self.client = None
        if self._cluster is not None:
            try:
                self._cluster.close()
            except Exception:  # noqa: BLE001
                pass
            self._cluster = None


def make_executor(workers: int | None = None, scheduler: str | None = None, dask_local: int | None = None,
                  retries: int = 2) -> Executor:
    """The executor for the command-line options.

    ``scheduler`` -> :class:`DaskExecutor` on that cluster; ``dask_local`` ->
    :class:`DaskExecutor` on a new LocalCluster; ``workers == 1`` ->
    :class:`SerialExecutor`; otherwise :class:`ProcessExecutor` with
    ``workers`` processes (default: CPU count).

    Examples
    --------
    >>> make_executor(workers=1).name
    'serial'
    """
    if scheduler is not None and dask_local is not None:
        raise ScenarioError("give either --scheduler or --dask-local, not both")
    if scheduler is not None or dask_local is not None:
        return DaskExecutor(scheduler=scheduler, local_workers=dask_local, retries=max(retries, 1))
    if workers is not None and workers < 1:
        raise ScenarioError(f"--workers must be >= 1, got {workers}")
    n = workers or default_workers()
    if n == 1:
        return SerialExecutor()
    return ProcessExecutor(n, retries=retries)


def check_executor_options(workers: int | None, scheduler: str | None, dask_local: int | None) -> None:
    """Validate executor options before anything is written (no connection made).

    Examples
    --------
    >>> check_executor_options(2, None, None)
    >>> check_executor_options(None, "localhost", None)
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: scheduler: --scheduler expects an address like tcp://HOST:PORT, got 'localhost'
    """
    if scheduler is not None and dask_local is not None:
        raise ScenarioError("give either --scheduler or --dask-local, not both")
    if workers is not None and workers < 1:
        raise ScenarioError(f"--workers must be >= 1, got {workers}")
    if dask_local is not None and dask_local < 1:
        raise ScenarioError(f"--dask-local must be >= 1, got {dask_local}")
    if scheduler is not None or dask_local is not None:
        _require_distributed()
    if scheduler is not None and "://" not in scheduler and ":" not in scheduler:
        raise ScenarioError(f"--scheduler expects an address like tcp://HOST:PORT, got {scheduler!r}",
                            key="scheduler")
