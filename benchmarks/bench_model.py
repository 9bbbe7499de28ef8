"""Foundation benchmark: time per step and peak memory by population size.

Each size runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own. Prints a Markdown table; ``--sizes`` and
``--steps`` change the sizes and the number of steps timed.

``--phases`` adds, per size, the time per step of each process of the step
(:meth:`govsim.GovModel.time_processes`, measured over further steps after
the timed ones): where the time goes.

Usage: python benchmarks/bench_model.py [--sizes 10000 100000 1000000] [--steps 120] [--repeats 3] [--phases]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
import govsim
t_import = time.perf_counter() - t0
n, steps, kind, phases = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sc = govsim.load_scenario("baseline", {"citizens.n": n, "network.kind": kind})
govsim.GovModel(sc.with_overrides({"citizens.n": 500}), rng=0).run(2)  # load the compiled kernels first
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
by_process = {}
if phases:
    times = m.time_processes()
    for _ in range(phases):
        m.step()
    by_process = {k: float(np.median(v)) for k, v in times.items()}
print(json.dumps({"n": n, "steps": steps, "import_s": t_import, "build_s": t_build, "network_s": t_net,
                  "step_s": t_steps / steps, "total_s": t_steps, "spmv_s": t_spmv, "peak_mb": peak,
                  "phases": by_process}))
"""


def measure(n: int, steps: int, kind: str, phases: int = 0) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(steps), kind, str(phases)],
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
    ap.add_argument("--phases", type=int, nargs="?", const=10, default=0,
                    help="also time each process of the step over this many further steps (default 10)")
    args = ap.parse_args(argv)
    import numpy

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {numpy.__version__}; network {args.kind}, {args.steps} steps; medians of {args.repeats} runs\n")
    print("| citizens | model build (s) | network build (s) | time/step (ms) | total (s) | A@x (ms) | step / A@x | peak memory (MB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    phase_rows: dict = {}
    for n in args.sizes:
        runs = [measure(n, args.steps, args.kind, args.phases) for _ in range(args.repeats)]
        med = {k: median([r[k] for r in runs]) for k in runs[0] if k != "phases"}
        if args.phases:
            phase_rows[n] = {k: median([r["phases"][k] for r in runs]) for k in runs[0]["phases"]}
        ratio = med["step_s"] / med["spmv_s"] if med["spmv_s"] == med["spmv_s"] else float("nan")
        print(f"| {n:,} | {med['build_s']:.2f} | {med['network_s']:.2f} | {1000 * med['step_s']:.1f} | "
              f"{med['total_s']:.1f} | {1000 * med['spmv_s']:.2f} | {ratio:.1f} | {med['peak_mb']:.0f} |", flush=True)
    print(f"\nimport govsim: {med['import_s']:.2f} s")
    if phase_rows:
        sizes = list(phase_rows)
        print("\nTime per step by process (ms, median over the profiled steps):\n")
        print("| process | " + " | ".join(f"{n:,}" for n in sizes) + " |")
        print("| --- | " + " | ".join("---:" for _ in sizes) + " |")
        for name in phase_rows[sizes[0]]:
            print(f"| {name} | " + " | ".join(f"{1000 * phase_rows[n].get(name, float('nan')):.2f}" for n in sizes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
