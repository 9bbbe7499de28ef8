"""Experiments: replications, sweeps and global sensitivity analysis.

Results stream to disk as runs finish (Parquet parts and a JSON manifest), a
crashed experiment resumes where it stopped, and runs execute serially, in
local processes or on a Dask cluster with bit-identical results: run ``i``'s
seed is ``govsim.seeds.run_seed(seed, i)`` whatever runs it.

Examples
--------
>>> from govsim import experiments as ex
>>> res = ex.replicate("baseline", reps=2, steps=3, overrides={"citizens.n": 200}, workers=1, progress=False)
>>> res.counts["done"]
2

Public API
----------
:func:`replicate`, :func:`sweep`, :func:`sensitivity` run experiments (with
``out=DIR`` to stream to disk and resume). :func:`replicate_spec`,
:func:`sweep_spec`, :func:`sa_spec` build validated specs and
:func:`run_experiment` runs one. :func:`parse_output` parses scalar output
specs. :class:`SerialExecutor`, :class:`ProcessExecutor`,
:class:`DaskExecutor` and :func:`make_executor` choose where runs execute.
:func:`analyse` computes Sobol, Morris or eFAST indices with the noise floor
from a sample and its outputs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "replicate": "replicate",
    "replicate_spec": "replicate",
    "sweep": "sweep",
    "sweep_spec": "sweep",
    "sensitivity": "sa",
    "sa_spec": "sa",
    "analyse": "sa",
    "SAParam": "sa",
    "run_experiment": "engine",
    "ExperimentResult": "engine",
    "ExperimentSpec": "spec",
    "Task": "spec",
    "grid_points": "spec",
    "parse_grid": "spec",
    "read_samples": "spec",
    "ScalarOutput": "outputs",
    "parse_output": "outputs",
    "parse_outputs": "outputs",
    "Executor": "executors",
    "SerialExecutor": "executors",
    "ProcessExecutor": "executors",
    "DaskExecutor": "executors",
    "make_executor": "executors",
    "DiskStore": "store",
    "MemoryStore": "store",
    "read_manifest": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'govsim.experiments' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


# ``replicate`` and ``sweep`` name both a submodule and its main function. The
# first import of a submodule sets the package attribute of that name to the
# module, so with a lazy export ``from govsim.experiments.replicate import
# replicate_spec`` (or running ``govsim replicate``) would turn
# ``govsim.experiments.replicate`` into the module. Imported here, the functions
# win: a submodule already imported is never set again.
from .replicate import replicate, replicate_spec  # noqa: E402
from .sweep import sweep, sweep_spec  # noqa: E402
