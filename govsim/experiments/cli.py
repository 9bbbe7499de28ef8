"""Command line of the experiments: ``govsim replicate``, ``govsim sweep``, ``govsim sa``.

``govsim replicate SCENARIO --reps R``
    R seeds of one scenario: ``results`` (long), ``bands`` (mean and 95 %
    interval per step of every output), ``summary``, ``bands.png``.
``govsim sweep SCENARIO --grid key=v1,v2 ... | --samples FILE [--reps R]``
    A full grid over dotted keys (``key=start:stop:num`` for an even range),
    or every row of a CSV/Parquet table of parameter sets: ``design``,
    ``results``, ``bands``, ``summary`` per point, ``sweep.png``.
``govsim sa SCENARIO --method sobol|morris|fast --param key=low:high ... --output SPEC ... --n N [--reps R]``
    Global sensitivity analysis: ``design``, ``scalars``, ``indices`` (with
    the noise floor), ``noise``, and ``sobol_*.png`` / ``morris_*.png`` /
    ``fast_*.png``.

All take ``--out DIR`` (default ``results/<command>-<scenario>``), ``--seed``,
``--set key=value``, ``--steps``, and where to run: ``--workers N`` (local
processes, default: CPU count; 1 runs in this process), ``--scheduler
tcp://HOST:PORT`` (an existing Dask cluster) or ``--dask-local N`` (a Dask
LocalCluster on 127.0.0.1). Re-running the same command resumes an
interrupted experiment; a different experiment into the same ``--out`` is
refused. Exit status: 0 when every run finished, 1 when some failed (they are
named), 2 for bad input (nothing is written).
"""

from __future__ import annotations

import sys
from pathlib import Path

OUTPUT_HELP = ("scalar output: COL or final:COL, at:COL:T, mean:COL[:A:B], min:/max:COL[:A:B], "
               "first_step:COL>=LEVEL (repeatable)")


def _common(p, reps_default: str) -> None:
    p.add_argument("scenario", help="scenario name (e.g. baseline) or path to a TOML file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--arm", help="use this arm of the scenario file")
    p.add_argument("--steps", type=int, help="steps per run (default: scenario.steps)")
    p.add_argument("--seed", type=int, default=0, help="experiment seed (default 0); run i uses run_seed(seed, i)")
    p.add_argument("--reps", type=int, help=f"replicate seeds {reps_default}")
    p.add_argument("--out", help="experiment folder (default results/<command>-<scenario>); re-run to resume")
    p.add_argument("--model", metavar="MODULE:CALLABLE",
                   help="custom model factory called as f(scenario, rng=seed) with .run(steps) (default GovModel)")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, help="local worker processes (default: CPU count; 1 = no subprocess)")
    ex.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster")
    ex.add_argument("--dask-local", type=int, metavar="N", help="start a Dask LocalCluster of N workers on 127.0.0.1")
    p.add_argument("--quiet", action="store_true", help="no progress bar or lines")


_WHERE = """\
where the runs execute:
  default / --workers N         N local worker processes (default: the CPU count; 1: in this process)
  --dask-local N                a Dask LocalCluster of N workers on 127.0.0.1 (needs govsim[dask])
  --scheduler tcp://HOST:PORT   an existing Dask cluster

Results stream to --out as runs finish; re-running the same command resumes
(finished runs are not recomputed). Exit status: 0 all runs finished, 1 some
runs failed (they are named; see OUT/errors/), 2 bad input (nothing written).
Tutorial: docs/experiments.md."""

_EPILOGS = {
    "replicate": """\
examples:
  govsim replicate baseline --reps 10 --out results/rep-baseline
  govsim replicate baseline --reps 10 --set citizens.n=2000 --output mean:exclusion_rate:60:120

writes results, bands (mean and 95 % interval per step of every output),
summary (final values with 95 % intervals), bands.png and manifest.json.

""",
    "sweep": """\
examples:
  govsim sweep baseline --grid platform.usability=0.3,0.6,0.9 --grid channels.offline_open=true,false --reps 4
  govsim sweep baseline --grid awareness.q=0.05:0.4:8 --output final:adoption_rate
  govsim sweep baseline --samples design.parquet --reps 3    # one column per dotted key, one row per set

writes design, results, bands and summary per point, scalars (with --output),
sweep.png and manifest.json.

""",
    "sa": """\
examples:
  govsim sa baseline --method sobol --param utility.b_si=0.5:3 --param platform.coverage=0.4:1 \\
      --output final:adoption_rate --output 'first_step:adoption_rate>=0.5' --n 256 --reps 2
  govsim sa baseline --method morris --param awareness.p=0.001:0.02 --param awareness.q=0.02:0.3 \\
      --output mean:time_per_need:1:72 --n 20

A dummy parameter that the model never sees sets the noise floor: an index is
marked * when its lower confidence bound is above the dummy's. Writes design,
scalars, indices (with floor and above_floor), noise, and sobol_*.png /
fast_*.png / morris_*.png.

""",
}


def add_commands(subparsers) -> None:
    """Add ``replicate``, ``sweep`` and ``sa`` to govsim's sub-command parsers."""
    import argparse
    import textwrap

    def parser(name: str, help: str, description: str):
        return subparsers.add_parser(name, help=help, description=textwrap.fill(description, 79),
                                     epilog=_EPILOGS[name] + _WHERE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)

    rep = parser("replicate", "R replicate seeds of one scenario, with 95 %% bands per step",
                 "Run R replicate seeds of one scenario; report the mean and 95 % interval per step of every "
                 "output.")
    _common(rep, "(default: scenario.replications)")
    rep.add_argument("--output", action="append", metavar="SPEC", help=OUTPUT_HELP)
    rep.set_defaults(func=cmd_replicate)

    sw = parser("sweep", "run a grid or a table of parameter sets",
                "Run a scenario over a full grid of dotted keys, or over every row of a CSV/Parquet table of "
                "parameter sets, with R replicate seeds per point.")
    _common(sw, "per point (default 1)")
    g = sw.add_mutually_exclusive_group(required=True)
    g.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                   help="values of a dotted key (repeatable; full factorial); KEY=START:STOP:NUM for a range")
    g.add_argument("--samples", metavar="FILE", help="CSV or Parquet table: one column per dotted key, one row per set")
    sw.add_argument("--output", action="append", metavar="SPEC", help=OUTPUT_HELP)
    sw.set_defaults(func=cmd_sweep)

    sa = parser("sa", "global sensitivity analysis (Sobol, Morris, eFAST) with a noise floor",
                "Global sensitivity analysis through SALib of scalar outputs of a scenario with respect to "
                "numeric parameters with bounds; indices with bootstrap intervals and a noise floor.")
    _common(sa, "per sample point (default 1; the mean is analysed)")
    sa.add_argument("--method", choices=["sobol", "morris", "fast"], default="sobol", help="default sobol")
    sa.add_argument("--param", action="append", required=True, metavar="KEY=LOW:HIGH",
                    help="a numeric parameter and its bounds (repeatable)")
    sa.add_argument("--output", action="append", required=True, metavar="SPEC", help=OUTPUT_HELP)
    sa.add_argument("--n", type=int, help="base sample size: sobol N (power of 2, default 256), "
                                          "morris trajectories (default 20), fast N per parameter (default 256)")
    sa.add_argument("--no-dummy", action="store_true", help="leave out the dummy parameter (no noise floor)")
    sa.add_argument("--no-second-order", action="store_true",
                    help="sobol: first and total indices only (N·(D+2) runs instead of N·(2D+2))")
    sa.add_argument("--levels", type=int, default=4, help="morris grid levels (default 4)")
    sa.add_argument("--M", type=int, default=4, help="eFAST interference parameter (default 4)")
    sa.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the intervals (default 1000)")
    sa.add_argument("--series", action="store_true", help="also keep every run's per-step table")
    sa.set_defaults(func=cmd_sa)


def _executor_factory(args):
    from .executors import check_executor_options, make_executor

    check_executor_options(args.workers, args.scheduler, args.dask_local)
    return lambda: make_executor(args.workers, args.scheduler, args.dask_local)


def _out(args, kind: str, name: str) -> Path:
    if args.out:
        return Path(args.out)
    return Path("results") / f"{kind}-{name.replace('/', '_')}"


def _overrides(args) -> dict:
    from ..cli import parse_sets

    return parse_sets(args.set)


def _n(count: int, word: str) -> str:
    """``"1 seed"``, ``"2 seeds"``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report(res, out: Path) -> int:
    if res.failed:
        print(f"govsim: {res.failure_summary()}", file=sys.stderr)
        print(f"wrote {out}/ ({res.counts['done']} of {res.counts['total']} runs finished)")
        return 1
    print(f"wrote {out}/")
    return 0


def cmd_replicate(args) -> int:
    from .engine import run_experiment
    from .replicate import _finish, replicate_spec

    spec = replicate_spec(args.scenario, args.reps, steps=args.steps, seed=args.seed, arm=args.arm,
                          overrides=_overrides(args), outputs=args.output or [], model=args.model)
    factory = _executor_factory(args)
    out = _out(args, "replicate", spec.scenario.name)
    res = run_experiment(spec, out=out, finish=_finish, progress=False if args.quiet else None,
                         label=f"replicate {spec.scenario.name}", executor_factory=factory)
    if res.counts["done"]:
        s = res.table("summary")
        for col in ("adoption_rate", *[o.spec for o in spec.outputs]):
            row = s[s["output"] == col]
            if len(row):
                r = row.iloc[0]
                print(f"{spec.scenario.name}: final {col} {r['mean']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}] "
                      f"over {_n(int(r['reps']), 'seed')}" if col == "adoption_rate" else
                      f"{spec.scenario.name}: {col} {r['mean']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}]")
    return _report(res, out)


def cmd_sweep(args) -> int:
    from .engine import run_experiment
    from .spec import parse_grid
    from .sweep import _finish, design_table, sweep_spec

    grid = parse_grid(args.grid) if args.grid else None
    reps = 1 if args.reps is None else args.reps  # --reps 0 is an error, not the default
    spec = sweep_spec(args.scenario, grid=grid, samples=args.samples, reps=reps, steps=args.steps,
                      seed=args.seed, arm=args.arm, overrides=_overrides(args), outputs=args.output or [],
                      model=args.model)
    factory = _executor_factory(args)
    out = _out(args, "sweep", spec.scenario.name)
    res = run_experiment(spec, out=out, finish=_finish, design=design_table(spec),
                         progress=False if args.quiet else None,
                         label=f"sweep {spec.scenario.name}", executor_factory=factory)
    print(f"{spec.scenario.name}: {_n(spec.n_points, 'point')} × {_n(spec.reps, 'seed')} = "
          f"{_n(spec.n_runs, 'run')}")
    return _report(res, out)


def cmd_sa(args) -> int:
    from .sa import run_spec, sa_spec

    n = args.n if args.n is not None else {"sobol": 256, "morris": 20, "fast": 256}[args.method]
    reps = 1 if args.reps is None else args.reps  # --reps 0 is an error, not the default
    spec = sa_spec(args.scenario, args.param, args.output, method=args.method, n=n, reps=reps,
                   steps=args.steps, seed=args.seed, dummy=not args.no_dummy,
                   second_order=not args.no_second_order, levels=args.levels, M=args.M,
                   num_resamples=args.resamples, overrides=_overrides(args), arm=args.arm,
                   keep_series=args.series, model_factory=args.model)
    factory = _executor_factory(args)
    out = _out(args, "sa", spec.scenario.name)
    res = run_spec(spec, out=out, progress=False if args.quiet else None,
                   label=f"sa {args.method} {spec.scenario.name}", executor_factory=factory)
    print(f"{spec.scenario.name}: {args.method}, {len(spec.sa_params)} parameters"
          f"{' + dummy' if spec.sa['dummy'] else ''}, {_n(spec.n_points, 'point')} × {_n(spec.reps, 'seed')} = "
          f"{_n(spec.n_runs, 'run')}")
    if (out / "indices.parquet").exists() and not res.failed:
        _print_indices(res.table("indices"))
    elif "analysis" in res.info:
        print(f"analysis {res.info['analysis']}")
    return _report(res, out)


def _print_indices(ind) -> None:
    import pandas as pd

    main = ["S1", "ST"] if "ST" in set(ind["index"]) else ["mu_star", "sigma"]
    for name, g in ind.groupby("output", sort=False):
        print(f"{name}:")
        for p, gp in g.groupby("parameter", sort=False):
            cells = []
            for k in main:
                r = gp[gp["index"] == k]
                if not len(r):
                    continue
                r = r.iloc[0]
                conf = "" if pd.isna(r["conf"]) else f" ± {r['conf']:.3f}"
                flagged = not (bool(r["is_dummy"]) or pd.isna(r["above_floor"]) or pd.isna(r["conf"]))
                mark = " *" if flagged and bool(r["above_floor"]) else "  "
                cells.append(f"{k} {r['value']:7.3f}{conf}{mark}")
            label = f"{p} (noise floor)" if bool(gp["is_dummy"].iloc[0]) else p
            print(f"  {label:38s} " + "   ".join(cells))
    print("  (* = above the noise floor set by the dummy parameter)")

