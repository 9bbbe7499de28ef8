"""Reproduce the studies (and their figures) of govsim's scenarios in one command.

Each study is one ``govsim`` command line: a scenario run with its arms and
replicate seeds (``govsim run``), or an experiment (``govsim replicate``,
``govsim sa``). Its tables, figures and manifest (resolved parameters, seeds,
versions) go to ``results/studies/<study>/``. The seed of every study is fixed
here, so a rerun reproduces the same tables bit for bit (on the same versions;
see the manifests).

Usage
-----
``python experiments/reproduce.py``                       all studies, full size
``python experiments/reproduce.py digital_divide shocks`` some studies
``python experiments/reproduce.py --quick``               small and short (a smoke run, minutes)
``python experiments/reproduce.py --list``                what each study is and where it writes
``python experiments/reproduce.py --dry-run``             print the commands only

``make figures`` runs all studies; ``make figures-quick`` the quick variant.
Experiments (``govsim sa``/``replicate``) resume where they stopped when rerun.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 2026


@dataclass(frozen=True)
class Study:
    """One study: a govsim command line and what it shows.

    Attributes
    ----------
    name : str
        Folder name under the output root.
    about : str
        The question the study answers (one line).
    args : list of str
        The ``govsim`` arguments, without ``--out`` and ``--seed``.
    quick : list of str
        Extra arguments for ``--quick`` (fewer citizens, steps, seeds or samples).
    """

    name: str
    about: str
    args: list[str]
    quick: list[str] = field(default_factory=list)


QUICK_RUN = ["--reps", "2", "--steps", "24", "--set", "citizens.n=1500"]

#: Eight parameters of the baseline for the global sensitivity analysis, with
#: plausible ranges around their calibrated values (docs/odd.md, section 8).
SOBOL_PARAMS = [
    "awareness.p=0.005:0.05",
    "awareness.q=0.05:0.3",
    "utility.asc_online=-6:-3",
    "utility.b_ee=2:6",
    "utility.b_si=0.5:3",
    "learning.by_use=0.01:0.1",
    "platform.usability=0.4:0.8",
    "network.homophily.mixing=0.1:0.6",
]

STUDIES = [
    Study("baseline", "national adoption path, Dec 2018 onwards, against the CNNIC series",
          ["replicate", "baseline", "--reps", "10"], QUICK_RUN),
    Study("digital_divide", "who is excluded when services go online, and what closes the gaps",
          ["run", "digital_divide"], QUICK_RUN),
    Study("formalism", "metric-driven vs outcome-driven evaluation, many apps vs one platform, the 2023 policy",
          ["run", "formalism"], QUICK_RUN),
    Study("data_sharing", "duplicate data entry and 'run at most once'",
          ["run", "data_sharing"], QUICK_RUN),
    Study("capacity_mismatch", "ambition beyond technical capacity",
          ["run", "capacity_mismatch"], QUICK_RUN),
    Study("shocks", "outages, a privacy breach and a demand surge",
          ["run", "shocks"], QUICK_RUN),
    Study("participation", "feedback on/off and aggregate vs by-group indicators",
          ["run", "participation"], QUICK_RUN),
    Study("sobol_baseline", "which parameters drive adoption in 2024 (Sobol indices with a noise floor)",
          ["sa", "baseline", "--method", "sobol", "--n", "512", "--steps", "72",
           "--output", "final:adoption_rate", "--output", "final:gap_young_elderly",
           *[a for p in SOBOL_PARAMS for a in ("--param", p)]],
          ["--n", "16", "--steps", "12", "--set", "citizens.n=1000"]),
]


def command(study: Study, out: Path, quick: bool) -> list[str]:
    """The full command line of ``study`` writing to ``out``."""
    args = list(study.args) + (list(study.quick) if quick else [])
    return [sys.executable, "-m", "govsim", *args, "--seed", str(SEED), "--out", str(out / study.name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="*", help="studies to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small and short runs (smoke test)")
    parser.add_argument("--out", default=str(ROOT / "results" / "studies"), help="output root")
    parser.add_argument("--list", action="store_true", help="list the studies and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)
    known = {s.name: s for s in STUDIES}
    unknown = [s for s in args.studies if s not in known]
    if unknown:
        print(f"reproduce: unknown study {unknown[0]!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    chosen = [known[s] for s in args.studies] or STUDIES
    out = Path(args.out)
    if args.list:
        for s in chosen:
            print(f"{s.name:18s} {s.about}\n{'':18s} -> {out / s.name}/")
        return 0
    failed = []
    for s in chosen:
        cmd = command(s, out, args.quick)
        print("$ " + shlex.join(["govsim", *cmd[3:]]), flush=True)
        if args.dry_run:
            continue
        t0 = time.monotonic()
        rc = subprocess.call(cmd, cwd=ROOT)
        print(f"  {s.name}: exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(s.name)
    if failed:
        print(f"reproduce: failed studies: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
