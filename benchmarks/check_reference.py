"""Bit-identity check of model results against saved reference tables.

``python benchmarks/check_reference.py save DIR`` runs a fixed set of small
scenarios (baseline at 3,000 citizens; every arm of digital_divide and
formalism at 3,000; the bass and threshold rules) and pickles each results
table to DIR; ``python benchmarks/check_reference.py check DIR`` reruns them
and compares with ``pandas.testing.assert_frame_equal(check_exact=True)``.
Used to keep optimisations result-preserving.
"""

from __future__ import annotations

import pathlib
import sys

import pandas as pd

import govsim
from govsim.config import load_scenario

ROOT = pathlib.Path(__file__).resolve().parents[1]
N = 3000
STEPS = 120


def cases():
    yield "baseline", load_scenario("baseline", {"citizens.n": N}), 1
    yield "baseline_s2", load_scenario("baseline", {"citizens.n": N}), 7
    for name in ("digital_divide", "formalism"):
        base = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        for arm in base.arms:
            sc = base.with_overrides({"citizens.n": N}).arm(arm)
            yield f"{name}_{arm}", sc, 3
    yield "bass", load_scenario("baseline", {"citizens.n": N, "adoption.rule": "bass"}), 2
    yield "threshold", load_scenario("baseline", {"citizens.n": N, "adoption.rule": "threshold",
                                                  "adoption.initial_share": 0.05}), 2
    yield "shocks", load_scenario(ROOT / "scenarios" / "shocks.toml", {"citizens.n": N}), 4


def main(argv):
    mode, out = argv[1], pathlib.Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, sc, seed in cases():
        df = govsim.GovModel(sc, rng=seed).run(STEPS)
        f = out / f"{name}.pkl"
        if mode == "save":
            df.to_pickle(f)
            print("saved", name)
        else:
            ref = pd.read_pickle(f)
            try:
                pd.testing.assert_frame_equal(df, ref, check_exact=True)
                print("ok  ", name)
            except AssertionError as e:
                bad += 1
                print("DIFF", name, str(e).splitlines()[:6])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
