"""Foundation benchmark: time per step and peak memory by population size.

Each size runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own. Prints a Markdown table; ``--sizes`` and
``--steps`` change the sizes and the number of steps timed.

Usage: python benchmarks/bench_model.py [--sizes 10000 100000 1000000] [--steps 120] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
import govsim
t_import = time.perf_counter() - t0
n, steps, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sc = govsim.load_scenario("baseline", {"citizens.n": n, "network.kind": kind})
t0 = time.perf_counter()
m = govsim.GovModel(sc, rng=1)
t_build = time.perf_counter() - t0
t0 = time.perf_counter()
net_only = govsim.networks.build_network(sc, m.citizens, np.random.default_rng(0))
t_net = time.perf_counter() - t0
del net_only
t0 = time.perf_counter()
for _ in range(steps):
    m.step()
t_steps = time.perf_counter() - t0
x = m.citizens.adopted.astype(np.float32)
A = m.network.to_scipy() if m.network.kind != "complete" else None
t_spmv = float("nan")
if A is not None:
    A @ x
    t0 = time.perf_counter()
    for _ in range(20):
        A @ x
    t_spmv = (time.perf_counter() - t0) / 20
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "steps": steps, "import_s": t_import, "build_s": t_build, "network_s": t_net,
                  "step_s": t_steps / steps, "total_s": t_steps, "spmv_s": t_spmv, "peak_mb": peak}))
"""


def measure(n: int, steps: int, kind: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(steps), kind],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3, help="runs per size; medians are reported")
    ap.add_argument("--kind", default="homophily")
    args = ap.parse_args(argv)
    import numpy

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {numpy.__version__}; network {args.kind}, {args.steps} steps; medians of {args.repeats} runs\n")
    print("| citizens | model build (s) | network build (s) | time/step (ms) | total (s) | A@x (ms) | step / A@x | peak memory (MB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        runs = [measure(n, args.steps, args.kind) for _ in range(args.repeats)]
        med = {k: median([r[k] for r in runs]) for k in runs[0]}
        ratio = med["step_s"] / med["spmv_s"] if med["spmv_s"] == med["spmv_s"] else float("nan")
        print(f"| {n:,} | {med['build_s']:.2f} | {med['network_s']:.2f} | {1000 * med['step_s']:.1f} | "
              f"{med['total_s']:.1f} | {1000 * med['spmv_s']:.2f} | {ratio:.1f} | {med['peak_mb']:.0f} |", flush=True)
    print(f"\nimport govsim: {med['import_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
