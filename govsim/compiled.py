"""Compiled kernels: numba's ``njit`` with the settings every govsim kernel uses.

A step of the model is a handful of passes over the citizen arrays. Written
as numpy expressions, each pass is many calls, each with its own temporaries
and a fixed cost of about a microsecond, which dominates at 10^4 citizens and
costs memory bandwidth at 10^6. The processes that loop over citizens
(awareness, adoption, needs and service, learning, the output tallies) are
therefore written as loops compiled by numba (:func:`jit`), one call per
process and step.

Settings, and why:

- ``cache=True``: compiled once per machine and Python, into ``__pycache__``
  beside the source (numba falls back to its user cache directory when that is
  not writable); later processes load the machine code.
- no ``fastmath``: IEEE arithmetic in the order written, so a kernel gives
  the same bits on every run, worker and executor.
- ``error_model="numpy"``: a division by zero gives inf or nan as in numpy
  instead of raising (and costs no check).
- single-threaded (no ``parallel``): runs are parallel across processes
  (:mod:`govsim.experiments`), and a run's results must not depend on the
  number of threads.

The random numbers are drawn by numpy (``Generator`` of the ``dynamics``
stream, in bulk) and handed to the kernels, so the streams and their order are
those documented in :mod:`govsim.model`.

Examples
--------
>>> import numpy as np
>>> from govsim.compiled import jit
>>> @jit(cache=False)  # cache=False for code without a source file (a doctest, a notebook)
... def total(x):
...     s = 0.0
...     for v in x:
...         s += v
...     return s
>>> total(np.arange(4.0))
6.0
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["count_true", "jit"]

_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def jit(func=None, **options):
    """``numba.njit`` with govsim's settings (see the module docstring); usable as ``@jit`` or ``@jit(...)``."""
    merged = {**_OPTIONS, **options}
    if func is None:
        return lambda f: numba.njit(**merged)(f)
    return numba.njit(**merged)(func)


@jit
def count_true(flags):  # pragma: no cover - compiled
    """Number of True entries of a boolean array (``np.count_nonzero`` without its call overhead).

    Examples
    --------
    >>> import numpy as np
    >>> int(count_true(np.array([True, False, True])))
    2
    """
    b8 = flags.view(np.uint8)
    total = 0
    for i in range(b8.size):  # branch-free: vectorised
        total += b8[i]
    return total
