"""Benchmarks of the experiment layer (govsim.experiments).

1. Throughput, runs per second, of the baseline scenario (10,000 citizens ×
   120 steps by default) run serially, in 2 local processes and on a local
   Dask cluster of 2 workers. Two numbers each: over the whole command
   (including starting the workers and consolidating) and in steady state
   (between the first and the last finished run).
2. Peak memory (max RSS) of the driver process for 1,000 and 10,000 runs of a
   small scenario (200 citizens, 24 steps: every output column, so parts
   like the baseline's, only shorter); each measured in a fresh process. It
   must stay flat: results stream to disk, nothing accumulates.
3. The time a Sobol analysis of 8 parameters with N=512 (9,216 runs, second
   order, no dummy) would take at the measured throughput; ``--sobol-full``
   runs it.

Usage::

    python benchmarks/experiments_bench.py                 # everything (~10 min on 2 cores)
    python benchmarks/experiments_bench.py --runs 8 --citizens 2000   # quicker throughput
    python benchmarks/experiments_bench.py --skip-memory
    python benchmarks/experiments_bench.py --sobol-full    # the 9,216-run Sobol analysis itself
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOBOL_PARAMS = [
    "awareness.p=0.001:0.02",
    "awareness.q=0.02:0.3",
    "platform.coverage=0.4:1.0",
    "platform.usability=0.3:0.9",
    "platform.integration=0.2:0.9",
    "utility.b_si=0.5:3.0",
    "utility.b_ee=1.0:6.0",
    "learning.by_use=0.01:0.1",
]


def _timed_replicate(reps: int, citizens: int, steps: int, executor, out: Path) -> dict:
    from govsim import experiments as ex

    stamps = []
    t0 = time.perf_counter()
    ex.replicate("baseline", reps=reps, steps=steps, overrides={"citizens.n": citizens}, executor=executor,
                 out=out, progress=lambda done, total: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 and stamps[-1] > stamps[0] else None
    return {"runs": reps, "wall_s": round(wall, 2), "runs_per_s": round(reps / wall, 3),
            "steady_runs_per_s": round(steady, 3) if steady else None}


def throughput(reps: int, citizens: int, steps: int, workers: int = 2) -> dict:
    from govsim.experiments.executors import DaskExecutor, ProcessExecutor, SerialExecutor

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out["serial"] = _timed_replicate(reps, citizens, steps, SerialExecutor(), tmp / "serial")
        t0 = time.perf_counter()
        with ProcessExecutor(workers) as pool:
            out[f"processes_{workers}"] = _timed_replicate(reps, citizens, steps, pool, tmp / "procs")
        out[f"processes_{workers}"]["incl_pool_start_s"] = round(time.perf_counter() - t0, 2)
        try:
            t0 = time.perf_counter()
            with DaskExecutor(local_workers=workers) as dx:
                start = time.perf_counter() - t0
                out[f"dask_local_{workers}"] = _timed_replicate(reps, citizens, steps, dx, tmp / "dask")
            out[f"dask_local_{workers}"]["cluster_start_s"] = round(start, 2)
        except Exception as exc:  # noqa: BLE001 - dask is an optional extra
            out[f"dask_local_{workers}"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def memory_child(runs: int, citizens: int, steps: int, workers: int) -> None:
    """Run ``runs`` replicates into a temporary folder; print the driver's peak RSS (MiB) as JSON."""
    from govsim import experiments as ex
    from govsim.experiments.executors import ProcessExecutor

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp, ProcessExecutor(workers) as pool:
        t0 = time.perf_counter()
        res = ex.replicate("baseline", reps=runs, steps=steps, overrides={"citizens.n": citizens}, executor=pool,
                           out=Path(tmp) / "exp", progress=False)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (Path(tmp) / "exp").rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"runs": runs, "done": res.counts["done"], "peak_rss_mib": round(peak / 1024, 1),
                      "rss_after_import_mib": round(base / 1024, 1), "wall_s": round(wall, 1),
                      "folder_mib": round(size / 2**20, 1)}))


def memory(run_counts, citizens: int, steps: int, workers: int) -> list[dict]:
    rows = []
    for n in run_counts:
        proc = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--citizens", str(citizens),
                               "--steps", str(steps), "--workers", str(workers)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", flush=True)
    return rows


def sobol_full(workers: int, out: Path) -> dict:
    from govsim import experiments as ex

    t0 = time.perf_counter()
    res = ex.sensitivity("baseline", SOBOL_PARAMS, ["final:adoption_rate"], method="sobol", n=512, dummy=False,
                         second_order=True, workers=workers, out=out)
    wall = time.perf_counter() - t0
    return {"runs": res.spec.n_runs, "wall_s": round(wall, 1), "wall_min": round(wall / 60, 1),
            "runs_per_s": round(res.spec.n_runs / wall, 3), "ok": res.ok}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16, help="runs per executor for the throughput (default 16)")
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-runs", default="1000,10000")
    ap.add_argument("--memory-citizens", type=int, default=200)
    ap.add_argument("--memory-steps", type=int, default=24,
                    help="steps of the memory runs (default 24: the model's per-step cost makes 10,000 runs of "
                         "120 steps take ~45 min on 2 cores)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--sobol-full", action="store_true", help="run the 9,216-run Sobol analysis")
    ap.add_argument("--sobol-out", default="benchmarks/out/sobol-8x512")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.citizens, args.steps, args.workers)
        return 0

    import govsim

    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "govsim": govsim.__version__}}
    if not args.skip_throughput:
        print(f"throughput: baseline, {args.citizens} citizens × {args.steps} steps, {args.runs} runs each",
              flush=True)
        tp = throughput(args.runs, args.citizens, args.steps, args.workers)
        report["throughput"] = {"citizens": args.citizens, "steps": args.steps, **tp}
        for k, v in tp.items():
            print(f"  {k:14s} {v}", flush=True)
        serial = tp["serial"]["steady_runs_per_s"] or tp["serial"]["runs_per_s"]
        best = max((v.get("steady_runs_per_s") or 0) for v in tp.values())
        est = 9216 / best / 60 if best else float("nan")
        report["sobol_8x512_estimate_min"] = round(est, 1)
        print(f"  Sobol 8 params N=512 (9,216 runs) at {best:.2f} runs/s: ~{est:.0f} min "
              f"(target < 15 min); serial would take ~{9216 / serial / 60:.0f} min", flush=True)
    if not args.skip_memory:
        counts = [int(x) for x in args.memory_runs.split(",") if x]
        print(f"driver peak memory: replicate with {args.memory_citizens} citizens × {args.memory_steps} steps, "
              f"{args.workers} processes", flush=True)
        report["memory"] = memory(counts, args.memory_citizens, args.memory_steps, args.workers)
    if args.sobol_full:
        print("Sobol analysis, 8 parameters, N=512, second order, no dummy (9,216 runs)", flush=True)
        report["sobol_full"] = sobol_full(args.workers, Path(args.sobol_out))
        print(f"  {report['sobol_full']}", flush=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
