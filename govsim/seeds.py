"""Seeds of runs within an experiment.

Every run of a multi-run command (arms, replications, sweeps, sensitivity
analysis) gets its seed from the experiment seed and the run's index through
numpy's ``SeedSequence`` (``spawn_key=(index,)``), never from the order in
which runs finish or the worker that ran them. So a table is bit-identical
whatever the executor and the number of workers.
"""

from __future__ import annotations

import numpy as np


def run_seed(experiment_seed: int, run_index: int) -> int:
    """The seed of run ``run_index`` of an experiment seeded with ``experiment_seed``.

    Examples
    --------
    >>> run_seed(42, 0) == run_seed(42, 0)
    True
    >>> run_seed(42, 0) != run_seed(42, 1)
    True
    """
    if experiment_seed < 0 or run_index < 0:
        raise ValueError("experiment seed and run index must be >= 0")
    seq = np.random.SeedSequence(int(experiment_seed), spawn_key=(int(run_index),))
    hi, lo = seq.generate_state(2, dtype=np.uint32)
    return int((int(hi) << 31) ^ int(lo))
