"""Benchmarks of the experiment layer (govsim.experiments).

1. Throughput, runs per second, of the baseline scenario (10,000 citizens ×
   120 steps by default) run serially, in 2 local processes and on a local
   Dask cluster of 2 workers (``govsim replicate`` through the Python API,
   results streamed to a temporary folder). Two numbers each: over the whole
   experiment (starting the workers, running, consolidating the tables) and in
   steady state (after the first round of runs, one per worker).
2. Peak memory (max RSS) of the driver process for 1,000 and 10,000 runs, each
   measured in a fresh process with 2 worker processes. To make 10,000 runs
   feasible it uses a tiny configuration (200 citizens × 6 steps by default):
   what is measured is the driver's bookkeeping per run (tasks, outcomes,
   parts, manifest, consolidation), which does not depend on the model's
   size. It must stay flat: results stream to disk, nothing accumulates.
3. The time a Sobol analysis of 8 parameters with N=512 (9,216 runs: second
   order, no dummy) would take, extrapolated from the measured 2-process
   steady throughput, against the target of 15 minutes. ``--sobol-full``
   runs it.

The script prints a Markdown section ready to paste into docs/performance.md
and writes it to ``benchmarks/results/experiments.md`` (``--md``), with the
raw numbers as JSON (``--json``).

Usage::

    python benchmarks/experiments_bench.py                        # everything (~10-20 min on 2 cores)
    python benchmarks/experiments_bench.py --runs 8 --citizens 2000   # quicker throughput
    python benchmarks/experiments_bench.py --skip-memory
    python benchmarks/experiments_bench.py --sobol-full           # also the 9,216-run Sobol analysis itself
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
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOBOL_RUNS = 9216
TARGET_MIN = 15.0
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


# -- throughput ------------------------------------------------------------------------------------
def _timed_replicate(reps: int, citizens: int, steps: int, executor, out: Path, seed: int) -> dict:
    """Run ``reps`` replicates; whole-experiment and steady-state runs per second.

    The steady rate counts the runs finished after the first round (one run
    per worker) over the time from the end of that round to the last run:
    ``(n - w) / (t[n] - t[w])``, unbiased when the w workers finish in step.
    """
    from govsim import experiments as ex

    stamps = []
    t0 = time.perf_counter()
    res = ex.replicate("baseline", reps=reps, steps=steps, seed=seed, overrides={"citizens.n": citizens},
                       executor=executor, out=out, progress=lambda done, total: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    if not res.ok:
        raise RuntimeError(f"benchmark runs failed: {res.failure_summary()}")
    w = max(1, int(getattr(executor, "workers", 1)))
    steady = None
    if len(stamps) > w + 1 and stamps[-1] > stamps[w - 1]:
        steady = (len(stamps) - w) / (stamps[-1] - stamps[w - 1])
    return {"runs": reps, "wall_s": round(wall, 2), "runs_per_s": round(reps / wall, 3),
            "steady_runs_per_s": round(steady, 3) if steady else None,
            "first_run_s": round(stamps[0] - t0, 2) if stamps else None}


def throughput(reps: int, citizens: int, steps: int, workers: int = 2, dask: bool = True, repeats: int = 1) -> dict:
    """Runs per second of each executor; with ``repeats`` > 1, the best (fastest steady) of each."""
    best: dict = {}
    for k in range(repeats):
        if repeats > 1:
            print(f"  repeat {k + 1} of {repeats}", flush=True)
        res = _throughput_once(reps, citizens, steps, workers, dask)
        for name, r in res.items():
            if name == "identical_tables":
                best[name] = best.get(name, True) and r
            elif name not in best or "error" in best[name] or (
                    (r.get("steady_runs_per_s") or 0) > (best[name].get("steady_runs_per_s") or 0)):
                best[name] = r
    if repeats > 1:
        best["repeats"] = repeats
    return best


def _throughput_once(reps: int, citizens: int, steps: int, workers: int, dask: bool) -> dict:
    from govsim.experiments.executors import DaskExecutor, ProcessExecutor, SerialExecutor

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("  serial ...", flush=True)
        out["serial"] = _timed_replicate(reps, citizens, steps, SerialExecutor(), tmp / "serial", 0)
        print(f"    {out['serial']}", flush=True)
        print(f"  {workers} processes ...", flush=True)
        t0 = time.perf_counter()
        with ProcessExecutor(workers) as pool:
            r = _timed_replicate(reps, citizens, steps, pool, tmp / "procs", 0)
        r["incl_pool_start_s"] = round(time.perf_counter() - t0, 2)
        out[f"processes_{workers}"] = r
        print(f"    {r}", flush=True)
        if dask:
            print(f"  Dask LocalCluster of {workers} workers ...", flush=True)
            try:
                t0 = time.perf_counter()
                with DaskExecutor(local_workers=workers) as dx:
                    start = time.perf_counter() - t0
                    r = _timed_replicate(reps, citizens, steps, dx, tmp / "dask", 0)
                r["cluster_start_s"] = round(start, 2)
            except Exception as exc:  # noqa: BLE001 - dask is an optional extra
                r = {"error": f"{type(exc).__name__}: {exc}"}
            out[f"dask_local_{workers}"] = r
            print(f"    {r}", flush=True)
        # the three executors ran the same seeds: their tables must be identical
        names = [n for n in ("serial", "procs", "dask") if (tmp / n / "results.parquet").exists()]
        ref = (tmp / "serial" / "results.parquet").read_bytes()
        out["identical_tables"] = all((tmp / n / "results.parquet").read_bytes() == ref for n in names)
    return out


# -- memory ------------------------------------------------------------------------------------------
def _rss_kib() -> dict:
    """Current and peak resident memory of this process (KiB), from /proc/self/status.

    ``VmHWM`` is the peak of this process image only; ``ru_maxrss`` is not
    usable here, as Linux carries it across ``exec`` from the forked parent.
    """
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    if "VmHWM" not in out:  # not Linux: the best available
        out["VmHWM"] = out["VmRSS"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def memory_child(runs: int, citizens: int, steps: int, workers: int) -> None:
    """Run ``runs`` replicates into a temporary folder; print the driver's peak RSS (MiB) as JSON."""
    from govsim import experiments as ex
    from govsim.experiments import engine, replicate, sa, sweep, tables  # noqa: F401 - imports before the baseline
    from govsim.experiments.executors import ProcessExecutor

    base = _rss_kib()
    with tempfile.TemporaryDirectory() as tmp, ProcessExecutor(workers) as pool:
        t0 = time.perf_counter()
        res = ex.replicate("baseline", reps=runs, steps=steps, overrides={"citizens.n": citizens}, executor=pool,
                           out=Path(tmp) / "exp", progress=False)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (Path(tmp) / "exp").rglob("*") if p.is_file())
    end = _rss_kib()  # the driver only: the workers are other processes
    print(json.dumps({"runs": runs, "done": res.counts["done"], "peak_rss_mib": round(end["VmHWM"] / 1024, 1),
                      "rss_after_import_mib": round(base["VmRSS"] / 1024, 1),
                      "rss_at_end_mib": round(end["VmRSS"] / 1024, 1), "wall_s": round(wall, 1),
                      "runs_per_s": round(runs / wall, 1), "folder_mib": round(size / 2**20, 1)}))


def memory(run_counts, citizens: int, steps: int, workers: int) -> list[dict]:
    rows = []
    for n in run_counts:
        print(f"  {n} runs ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--citizens", str(citizens),
                               "--steps", str(steps), "--workers", str(workers)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"memory run of {n} failed:\n{proc.stderr[-2000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"    {rows[-1]}", flush=True)
    return rows


# -- the Sobol analysis itself --------------------------------------------------------------------
def sobol_full(workers: int, citizens: int, steps: int, out: Path) -> dict:
    from govsim import experiments as ex

    t0 = time.perf_counter()
    res = ex.sensitivity("baseline", SOBOL_PARAMS, ["final:adoption_rate"], method="sobol", n=512, dummy=False,
                         second_order=True, steps=steps, overrides={"citizens.n": citizens}, workers=workers,
                         out=out)
    wall = time.perf_counter() - t0
    return {"runs": res.spec.n_runs, "wall_s": round(wall, 1), "wall_min": round(wall / 60, 1),
            "runs_per_s": round(res.spec.n_runs / wall, 3), "ok": res.ok, "ran": res.ran}


# -- report ----------------------------------------------------------------------------------------
def _git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return res.stdout.strip() + (" (uncommitted changes)" if dirty else "") if res.returncode == 0 else "unknown"


def machine() -> dict:
    import govsim

    def ver(pkg):
        from importlib import metadata

        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "python": platform.python_version(),
            "cpus": cpus, "govsim": govsim.__version__, "commit": _git_commit(), "mesa": ver("mesa"),
            "numpy": ver("numpy"), "distributed": ver("distributed"),
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2)}


def sobol_estimate(tp: dict, workers: int) -> dict:
    """Extrapolate the 9,216-run Sobol analysis from the measured 2-process throughput."""
    r = tp.get(f"processes_{workers}", {})
    rate = r.get("steady_runs_per_s") or r.get("runs_per_s")
    if not rate:
        return {}
    # fixed costs (starting the pool, the first runs, consolidating) = wall time - runs at the steady rate
    fixed = max(0.0, r["incl_pool_start_s"] - r["runs"] / rate)
    est_s = SOBOL_RUNS / rate + fixed
    need = SOBOL_RUNS / (TARGET_MIN * 60 - fixed) if TARGET_MIN * 60 > fixed else float("inf")
    per_run = workers / rate
    return {"runs": SOBOL_RUNS, "rate_runs_per_s": rate, "fixed_s": round(fixed, 1), "estimate_s": round(est_s),
            "estimate_min": round(est_s / 60, 1), "target_min": TARGET_MIN, "meets_target": est_s <= TARGET_MIN * 60,
            "rate_needed_runs_per_s": round(need, 2), "worker_s_per_run": round(per_run, 3),
            "worker_s_per_run_needed": round(workers / need, 3) if need else None}


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["## Experiments: throughput and memory", "",
             f"Measured by `benchmarks/experiments_bench.py` on {m['date']}: {m['cpus']} CPUs "
             f"(shared with other work: 1-minute load average {m['load_avg_1min_at_start']} at the start, "
             f"{m.get('load_avg_1min_at_end', '?')} at the end), Python {m['python']}, "
             f"Mesa {m['mesa']}, numpy {m['numpy']}, distributed {m['distributed']}, govsim {m['govsim']} at "
             f"commit {m['commit']}. Timings on a shared machine are noisy; rerun the script to regenerate "
             "this section.", ""]
    tp = report.get("throughput")
    if tp:
        lines += [f"### Throughput: baseline scenario, {tp['citizens']:,} citizens × {tp['steps']} steps", "",
                  f"`govsim replicate` of {tp['serial']['runs']} runs per executor, results streamed to disk"
                  + (f", best of {tp['repeats']} measurements each. " if tp.get("repeats") else ". ") +
                  "*Whole experiment*: from the call to the final tables, including starting the workers and "
                  "consolidating; *steady state*: the runs finished after each worker's first run, over the time "
                  "from the end of that first round to the last run.", "",
                  "| executor | runs | wall time (s) | runs/s, whole experiment | runs/s, steady state | "
                  "speed-up vs serial (steady) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        serial = tp["serial"].get("steady_runs_per_s") or tp["serial"]["runs_per_s"]
        labels = {"serial": "serial (`--workers 1`)"}
        for k, v in tp.items():
            if not isinstance(v, dict):
                continue
            label = labels.get(k) or (f"{k.split('_')[-1]} processes (`--workers {k.split('_')[-1]}`)"
                                      if k.startswith("processes") else
                                      f"Dask LocalCluster, {k.split('_')[-1]} workers (`--dask-local "
                                      f"{k.split('_')[-1]}`)")
            if "error" in v:
                lines.append(f"| {label} | – | – | – | – | {v['error']} |")
                continue
            steady = v.get("steady_runs_per_s")
            extra = ""
            if "incl_pool_start_s" in v:
                extra = f" (pool start included: {v['incl_pool_start_s']:.1f} s)"
            if "cluster_start_s" in v:
                extra = f" (+ {v['cluster_start_s']:.1f} s to start the cluster)"
            lines.append(f"| {label} | {v['runs']} | {v['wall_s']:.1f}{extra} | {v['runs_per_s']:.2f} | "
                         f"{steady if steady is not None else float('nan'):.2f} | "
                         f"{(steady or 0) / serial:.2f}× |")
        lines += ["", "The tables written by the three executors were "
                  + ("bit-identical." if tp.get("identical_tables") else "**not** identical (a bug)."), ""]
    est = report.get("sobol_estimate")
    full = report.get("sobol_full")
    if est and full:
        lines += ["### Sobol analysis of 8 parameters, N = 512", "",
                  f"N·(2D+2) = 512 × 18 = {full['runs']:,} runs (second-order indices, no dummy) of the baseline "
                  f"at {report['throughput']['citizens']:,} citizens × {report['throughput']['steps']} steps, "
                  f"`govsim sa --method sobol` through the Python API on {2} processes, run in full "
                  f"(`--sobol-full`): **{full['wall_min']:.1f} minutes** ({full['runs_per_s']:.2f} runs/s, "
                  f"{'all runs done' if full.get('ok') else 'some runs failed'}); the target of "
                  f"{est['target_min']:.0f} minutes is " + ("**met**." if full["wall_s"] <= est["target_min"] * 60
                                                            else "**not met**."),
                  "",
                  f"(Extrapolating from the `replicate` throughput above, {est['rate_runs_per_s']:.2f} runs/s, would "
                  f"say {est['estimate_min']:.0f} minutes: a replication keeps every column of every step, while "
                  "`sa` keeps one scalar per run and so collects only the columns its outputs read.)", ""]
        est = None
    if est:
        ok = est["meets_target"]
        lines += ["### Sobol analysis of 8 parameters, N = 512", "",
                  f"N·(2D+2) = 512 × 18 = {est['runs']:,} runs (second-order indices, no dummy; with the dummy "
                  "parameter it would be 512 × 20 = 10,240). At the measured 2-process steady throughput of "
                  f"{est['rate_runs_per_s']:.2f} runs/s ({est['worker_s_per_run']:.2f} s of a worker per run) "
                  f"plus {est['fixed_s']:.0f} s of fixed costs, it would take about **{est['estimate_min']:.0f} "
                  f"minutes** on this 2-core machine: the target of {est['target_min']:.0f} minutes is "
                  + ("**met**." if ok else
                     f"**not met**. Meeting it needs {est['rate_needed_runs_per_s']:.1f} runs/s, i.e. at most "
                     f"{est['worker_s_per_run_needed']:.2f} s per run of {report['throughput']['citizens']:,} "
                     f"citizens × {report['throughput']['steps']} steps on each of the 2 cores: the per-run cost "
                     "is the model's step time, not the experiment layer's overhead."), ""]
    if full and est is not None:
        lines += [f"Measured (`--sobol-full`): {full['runs']:,} runs in {full['wall_min']:.1f} min "
                  f"({full['runs_per_s']:.2f} runs/s).", ""]
    mem = report.get("memory")
    if mem:
        mc = report["memory_config"]
        lines += ["### Driver memory", "",
                  f"Peak resident memory (max RSS) of the driver process, `govsim replicate` with "
                  f"{mc['workers']} worker processes, each count in a fresh process. To make 10,000 runs feasible "
                  f"these use a tiny configuration, **{mc['citizens']} citizens × {mc['steps']} steps**: the "
                  "driver's cost per run (task, outcome, Parquet part, manifest, streamed consolidation) does "
                  "not depend on the model's size, which lives in the workers."
                  + (f" (Measured {mc['measured']}.)" if mc.get("measured") else ""), "",
                  "| runs | driver peak RSS (MiB) | RSS after imports (MiB) | RSS at the end (MiB) | "
                  "wall time (s) | runs/s | experiment folder (MiB) |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in mem:
            lines.append(f"| {r['runs']:,} | {r['peak_rss_mib']:.0f} | {r['rss_after_import_mib']:.0f} | "
                         f"{r['rss_at_end_mib']:.0f} | {r['wall_s']:.0f} | {r['runs_per_s']:.0f} | "
                         f"{r['folder_mib']:.1f} |")
        if len(mem) >= 2:
            a, b = mem[0], mem[-1]
            growth = b["peak_rss_mib"] - a["peak_rss_mib"]
            lines += ["", f"From {a['runs']:,} to {b['runs']:,} runs the driver's peak grows by {growth:+.0f} MiB "
                      f"({growth / a['peak_rss_mib'] * 100:+.0f} %) while the runs are "
                      f"{b['runs'] / a['runs']:.0f}× as many: memory stays flat."]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="runs per executor for the throughput (default 20)")
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-runs", default="1000,10000")
    ap.add_argument("--memory-citizens", type=int, default=200)
    ap.add_argument("--memory-steps", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure the throughput this many times and keep each executor's fastest (default 1)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--memory-from", metavar="JSON",
                    help="take the memory rows from a previous --json report instead of measuring them")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--sobol-full", action="store_true", help="also run the 9,216-run Sobol analysis")
    ap.add_argument("--sobol-out", default="benchmarks/out/sobol-8x512")
    ap.add_argument("--md", default=str(HERE / "results" / "experiments.md"),
                    help="write the Markdown section here (default benchmarks/results/experiments.md; '' = don't)")
    ap.add_argument("--json", default="",
                    help="write the raw numbers here ('' = don't)")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.citizens, args.steps, args.workers)
        return 0

    report = {"machine": machine()}
    if not args.skip_throughput:
        print(f"throughput: baseline, {args.citizens} citizens × {args.steps} steps, {args.runs} runs each",
              flush=True)
        tp = throughput(args.runs, args.citizens, args.steps, args.workers, dask=not args.skip_dask,
                        repeats=args.repeats)
        report["throughput"] = {"citizens": args.citizens, "steps": args.steps, **tp}
        report["sobol_estimate"] = sobol_estimate(tp, args.workers)
        print(f"  Sobol estimate: {report['sobol_estimate']}", flush=True)
    if args.memory_from:
        prev = json.loads(Path(args.memory_from).read_text())
        report["memory_config"], report["memory"] = prev["memory_config"], prev["memory"]
        report["memory_config"]["measured"] = prev["machine"]["date"]
    elif not args.skip_memory:
        counts = [int(x) for x in args.memory_runs.split(",") if x]
        print(f"driver peak memory: replicate with {args.memory_citizens} citizens × {args.memory_steps} steps, "
              f"{args.workers} processes", flush=True)
        report["memory_config"] = {"citizens": args.memory_citizens, "steps": args.memory_steps,
                                   "workers": args.workers}
        report["memory"] = memory(counts, args.memory_citizens, args.memory_steps, args.workers)
    if args.sobol_full:
        print(f"Sobol analysis, 8 parameters, N=512, second order, no dummy ({SOBOL_RUNS:,} runs)", flush=True)
        report["sobol_full"] = sobol_full(args.workers, args.citizens, args.steps, Path(args.sobol_out))
        print(f"  {report['sobol_full']}", flush=True)
    report["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    md = markdown(report)
    print()
    print(md)
    for path, text in ((args.md, md), (args.json, json.dumps(report, indent=2) + "\n")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
