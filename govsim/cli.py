"""Command-line interface: ``govsim`` (also ``python -m govsim``).

Commands
--------
``govsim run SCENARIO [--set key=value ...] [--steps N] [--seed S] [--reps R] [--arm NAME ...] [--out DIR]``
    Run a scenario as it is. Without arms and with one replicate: one run,
    writing ``results.parquet``/``.csv`` (one row per step), ``manifest.json``
    and ``summary.png``. With arms or ``--reps`` > 1: every arm × replicate,
    writing the long ``results`` table, ``bands`` (mean and 95 % interval per
    step), ``summary`` (each run's mean over its last ``scenario.summary_window``
    steps — the final year by default — averaged over replicates with 95 %
    intervals, every output; ``summary.md`` and the printed table show the
    ``scenario.summary`` columns), ``manifest.json`` and ``figure.png``
    (``scenario.report`` columns with 95 % bands).
``govsim params [PREFIX]``
    List the parameters (key, default, allowed values, unit, meaning).

Bad input (unknown key, wrong type, value out of range, missing or unparsable
file, bad option) prints one line to stderr and exits with status 2, writing
nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import ScenarioError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise ScenarioError(f"{self.prog}: {message}")


def parse_sets(items: list[str] | None) -> dict:
    """Parse ``--set key=value`` items into typed dotted overrides."""
    from .config import parse_value

    out = {}
    for item in items or []:
        if "=" not in item:
            raise ScenarioError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip()
        out[key] = parse_value(key, value)
    return out


REPORT_COLUMNS = ["adoption_rate", "adoption_rural", "adoption_elderly", "online_need_share",
                  "exclusion_rate", "time_per_need"]


def _output_columns(scenario, key: str, default: list[str]) -> list[str]:
    """The comma-separated output columns of scenario key ``key`` (``default`` when empty), validated."""
    from .config import _did_you_mean
    from .metrics import output_names

    from .model import output_columns

    text = scenario.values.get(key, "")
    collected = output_columns(scenario.values)
    asked = [c.strip() for c in text.split(",") if c.strip()]
    known = output_names()
    for c in asked:
        if c not in known:
            raise ScenarioError(f"unknown output column {c!r}" + _did_you_mean(c, known), key=key)
        if c not in collected:
            raise ScenarioError(f"column {c!r} is not collected: add it to scenario.outputs", key=key)
    return asked or [c for c in default if c in collected]


def report_columns(scenario) -> list[str]:
    """Columns for multi-run figures: ``scenario.report`` or :data:`REPORT_COLUMNS`."""
    return _output_columns(scenario, "scenario.report", REPORT_COLUMNS)


def summary_columns(scenario) -> list[str]:
    """Columns of the printed summary: ``scenario.summary``, else adoption_rate and the report columns."""
    return _output_columns(scenario, "scenario.summary", list(dict.fromkeys(["adoption_rate", *report_columns(scenario)])))


def _progress_printer(label: str):
    start = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if total <= 1:
            return
        el = time.monotonic() - start
        eta = el / done * (total - done)
        msg = f"{label}: {done}/{total} runs, {el:.0f}s elapsed, ETA {eta:.0f}s"
        if tty:
            print("\r" + msg, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(msg, file=sys.stderr, flush=True)

    return show


def cmd_run(args) -> int:
    from . import metrics, plotting, results, runner
    from .config import load_scenario

    scenario = load_scenario(args.scenario, parse_sets(args.set))
    if args.steps is not None and args.steps < 1:
        raise ScenarioError(f"--steps must be >= 1, got {args.steps}")
    if args.reps is not None and args.reps < 1:
        raise ScenarioError(f"--reps must be >= 1, got {args.reps}")
    if args.seed < 0:
        raise ScenarioError(f"--seed must be >= 0, got {args.seed}")
    for arm in args.arm or []:
        scenario.arm(arm)  # validates the name before anything runs
    summary_columns(scenario)  # validates scenario.report and scenario.summary before anything runs
    steps = args.steps or scenario.steps
    multi = bool(scenario.arms) or (args.reps or 1) > 1
    reps = args.reps or (scenario.values["scenario.replications"] if scenario.arms else 1)
    out = Path(args.out) if args.out else Path("results") / scenario.name.replace("/", "_")

    from .model import GovModel
    from .seeds import run_seed

    if not multi:
        seed = run_seed(args.seed, 0)
        df = GovModel(scenario, rng=seed).run(steps)
        with results.atomic_folder(out) as tmp:
            results.write_table(df, tmp, "results")
            results.write_json(tmp / "manifest.json", results.manifest(
                scenario, command="run", experiment_seed=args.seed, runs=[{"index": 0, "seed": seed}],
                steps=steps, columns={o.name: {"unit": o.unit, "doc": o.doc} for o in metrics.outputs() if o.name in df}))
            fig = plotting.plot_summary(df, title=scenario.name)
            fig.savefig(tmp / "summary.png", dpi=110)
        final = df.iloc[-1]
        shown = ", ".join(f"{c} {final[c]:.3f}" for c in ("adoption_rate", "online_need_share") if c in df)
        print(f"{scenario.name}: {steps} steps, seed {args.seed}; final {shown or 'step ' + str(steps)}; wrote {out}/")
        return 0

    df = runner.run_scenario(scenario, args.seed, steps, reps, args.arm, progress=_progress_printer(scenario.name))
    bands = runner.band_table(df)
    cols = report_columns(scenario)
    window = min(int(scenario.values["scenario.summary_window"]), steps)
    summary = runner.final_summary(df, [c for c in df.columns if c not in (*runner.ID_COLUMNS, "step")], window)
    table = runner.summary_markdown(summary, summary_columns(scenario))
    heading = (f"{scenario.name}: mean over steps {summary['steps'].iloc[0]} of each run, "
               f"95 % interval over {reps} seeds")
    plan = runner.run_plan(scenario, reps, args.arm)
    with results.atomic_folder(out) as tmp:
        results.write_table(df, tmp, "results")
        results.write_table(bands, tmp, "bands")
        results.write_table(summary, tmp, "summary")
        (tmp / "summary.md").write_text(f"{heading}\n\n{table}\n", encoding="utf-8")
        results.write_json(tmp / "manifest.json", results.manifest(
            scenario, command="run", experiment_seed=args.seed, steps=steps, reps=reps,
            runs=[{"index": i, "arm": a, "rep": r, "seed": run_seed(args.seed, i)} for i, a, r in plan],
            columns={o.name: {"unit": o.unit, "doc": o.doc} for o in metrics.outputs() if o.name in df}))
        fig = plotting.plot_bands(bands, cols, title=f"{scenario.name}: mean and 95 % band over {reps} seeds")
        fig.savefig(tmp / "figure.png", dpi=110)
    print(heading)
    print(table)
    print(f"wrote {out}/")
    return 0


def cmd_params(args) -> int:
    from .config import iter_params

    for p in iter_params():
        if args.prefix and not p.key.startswith(args.prefix):
            continue
        print(f"{p.key} = {p.default!r}  [{p.allowed()}; {p.unit}]  {p.doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="govsim", description="Agent-based simulation of digital-government adoption.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"govsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario (every arm, with replicates when it has arms)")
    run.add_argument("scenario", help="scenario name (e.g. baseline) or path to a TOML file")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    run.add_argument("--steps", type=int, help="number of steps (default: scenario.steps)")
    run.add_argument("--seed", type=int, default=0, help="experiment seed (default 0)")
    run.add_argument("--reps", type=int, help="replicate seeds per arm (default 1, or scenario.replications with arms)")
    run.add_argument("--arm", action="append", help="run only this arm (repeatable)")
    run.add_argument("--out", help="output folder (default results/<scenario>)")
    run.set_defaults(func=cmd_run)

    params = sub.add_parser("params", help="list the scenario parameters")
    params.add_argument("prefix", nargs="?", default="", help="only keys starting with this")
    params.set_defaults(func=cmd_params)

    try:
        from .experiments.cli import add_commands
    except ImportError:
        pass
    else:
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        msg = str(exc).replace("\n", " ")
        print(f"govsim: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("govsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
