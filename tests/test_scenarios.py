"""Every shipped scenario runs as it is through the CLI; the studies script stays in step with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import govsim
from govsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))


def test_the_issue_scenarios_are_shipped():
    assert {"baseline", "digital_divide", "formalism", "capacity_mismatch", "data_sharing", "shocks",
            "participation"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_runs_every_arm_with_figure_and_summary(name, tmp_path, capsys):
    scenario = govsim.load_scenario(name)
    out = tmp_path / name
    assert main(["run", name, "--reps", "2", "--steps", "6", "--set", "citizens.n=400", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "results.parquet")
    arms = list(scenario.arms) or [scenario.name]
    assert sorted(df["arm"].unique()) == sorted(arms)
    assert len(df) == len(arms) * 2 * 7 and not df.isna().any().any()
    assert (out / "figure.png").stat().st_size > 10_000
    table = (out / "summary.md").read_text()
    assert all(f"| {a} |" in table for a in arms)
    assert "95 % interval over 2 seeds" in capsys.readouterr().out


def _reproduce(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "experiments" / "reproduce.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_reproduce_lists_studies_of_shipped_scenarios():
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import reproduce
    finally:
        sys.path.pop(0)
    for study in reproduce.STUDIES:
        assert study.args[1] in SCENARIOS, study.name
    for p in reproduce.SOBOL_PARAMS:  # every swept key is a real parameter with bounds inside its range
        key, bounds = p.split("=")
        low, high = (float(x) for x in bounds.split(":"))
        param = govsim.config.get_param(key)
        param.validate(low), param.validate(high)
        assert low < high
    listed = _reproduce("--list")
    assert listed.returncode == 0 and all(s.name in listed.stdout for s in reproduce.STUDIES)


def test_reproduce_dry_run_and_unknown_study():
    dry = _reproduce("--dry-run", "--quick", "digital_divide")
    assert dry.returncode == 0 and "govsim run digital_divide --reps 2" in dry.stdout
    bad = _reproduce("digital_divid")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown study 'digital_divid'" in bad.stderr


@pytest.mark.slow  # 320 runs, about a minute
def test_reproduce_quick_sobol_study_runs(tmp_path):
    done = _reproduce("--quick", "--out", str(tmp_path), "sobol_baseline")
    assert done.returncode == 0, done.stderr[-2000:]
    assert any((tmp_path / "sobol_baseline").glob("*.png"))
