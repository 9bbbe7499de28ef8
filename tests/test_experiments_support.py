"""Helpers importable by worker processes (spawned pools, Dask workers, CLI subprocesses).

Not tests: models and functions the experiment tests run in other processes,
which import them by module name (``test_experiments_support:FailingModel``).
"""

import numpy as np

import govsim


class FailingModel(govsim.GovModel):
    """GovModel that raises for ``adoption.p`` above 0.04 (an injected failure)."""

    def run(self, steps=None):
        p = self.params["adoption.p"]
        if p > 0.04:
            raise RuntimeError(f"injected failure at adoption.p={p}")
        return super().run(steps)


def ishigami(x1, x2, x3, a=7.0, b=0.1):
    """The Ishigami–Homma function (Ishigami & Homma 1990)."""
    return float(np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1))


def ishigami_indices(a=7.0, b=0.1):
    """Analytic first-order and total Sobol indices of the Ishigami function."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": {"x1": v1 / v, "x2": v2 / v, "x3": 0.0},
            "ST": {"x1": (v1 + v13) / v, "x2": v2 / v, "x3": v13 / v}}


def noisy_linear(x1, x2, seed):
    """x1 plus heavy noise; x2 has no effect at all."""
    return float(x1 + np.random.default_rng(seed).normal(0.0, 0.5))
