"""The govsim command line: outputs of a run, and one-line errors with exit 2 on bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from govsim.cli import main


def test_run_writes_table_manifest_and_figure(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "baseline", "--set", "citizens.n=500", "--steps", "6", "--seed", "3", "--out", str(out)])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest.json", "results.csv", "results.parquet", "summary.png"]
    df = pd.read_parquet(out / "results.parquet")
    assert list(df["step"]) == list(range(7))
    pd.testing.assert_frame_equal(df, pd.read_csv(out / "results.csv"), check_dtype=False)
    man = json.loads((out / "manifest.json").read_text())
    assert man["experiment_seed"] == 3 and man["runs"][0]["seed"] > 0
    assert man["scenario"]["parameters"]["citizens.n"] == 500
    assert {"govsim", "mesa", "numpy"} <= set(man["versions"])
    assert "git_commit" in man and "adoption_rate" in man["columns"]
    assert (out / "summary.png").stat().st_size > 10_000


def test_run_is_reproducible_from_the_cli(tmp_path):
    args = ["run", "baseline", "--set", "citizens.n=300", "--steps", "4", "--seed", "11"]
    main(args + ["--out", str(tmp_path / "a")])
    main(args + ["--out", str(tmp_path / "b")])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "results.parquet"))


def test_run_with_arms_and_reps(tmp_path):
    f = tmp_path / "arms.toml"
    f.write_text('[scenario]\nname = "two"\nreplications = 2\n[citizens]\nn = 300\n'
                 '[arms.open]\n"channels.offline_open" = true\n[arms.closed]\n"channels.offline_open" = false\n')
    out = tmp_path / "o"
    assert main(["run", str(f), "--steps", "4", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert set(df["arm"]) == {"open", "closed"} and set(df["rep"]) == {0, 1} and len(df) == 2 * 2 * 5
    summary = pd.read_parquet(out / "summary.parquet")
    closed = summary[(summary["arm"] == "closed") & (summary["output"] == "needs_unmet")]
    assert float(closed["mean"].iloc[0]) > 0
    bands = pd.read_parquet(out / "bands.parquet")
    assert (bands["adoption_rate_lo"] <= bands["adoption_rate_mean"] + 1e-12).all()
    assert (out / "figure.png").exists() and (out / "manifest.json").exists()
    # replicate r of arm a uses run_seed(seed, a_index * reps + r): the same as a single run with that seed
    from govsim.seeds import run_seed

    man = json.loads((out / "manifest.json").read_text())
    assert [r["seed"] for r in man["runs"]] == [run_seed(0, i) for i in range(4)]


def test_summary_averages_the_final_window_of_each_run(tmp_path, capsys):
    f = tmp_path / "arms.toml"
    f.write_text('[scenario]\nname = "w"\nreplications = 3\nsummary_window = 3\nsummary = "adoption_rate,needs"\n'
                 '[citizens]\nn = 300\n[arms.a]\n[arms.b]\n"channels.offline_open" = false\n')
    out = tmp_path / "o"
    assert main(["run", str(f), "--steps", "6", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    df = pd.read_parquet(out / "results.parquet")
    summary = pd.read_parquet(out / "summary.parquet").set_index(["arm", "output"])
    # by hand: each run's mean over steps 4..6, then the mean over the 3 replicates
    per_run = df[df["step"] >= 4].groupby(["arm", "rep"])["needs"].mean()
    assert summary.loc[("b", "needs"), "mean"] == pytest.approx(per_run.loc["b"].mean())
    assert summary.loc[("b", "needs"), "steps"] == "4-6"
    half = summary.loc[("b", "needs"), "ci_high"] - summary.loc[("b", "needs"), "mean"]
    from scipy import stats

    assert half == pytest.approx(stats.t.ppf(0.975, 2) * per_run.loc["b"].std(ddof=1) / 3 ** 0.5)
    table = (out / "summary.md").read_text()
    assert "| arm | adoption_rate | needs |" in table and table.count("\n| ") == 4  # header, rule, two arms
    assert "| arm | adoption_rate | needs |" in printed and "mean over steps 4-6" in printed


BAD = [
    (["--set", "citizens.nn=5"], "citizens.nn: unknown parameter (did you mean 'citizens.n'?)"),
    (["--set", "citizens.n=many"], "citizens.n: expected integer"),
    (["--set", "adoption.p=3"], "adoption.p: must be <= 1"),
    (["--set", "adoption.rule=bas"], "did you mean 'bass'"),
    (["--set", "citizens.n"], "--set expects key=value"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--steps", "x"], "invalid int value"),
    (["--arm", "nope"], "unknown arm 'nope'"),
    (["--set", "scenario.summary=adoption_rat"], "scenario.summary: unknown output column 'adoption_rat'"),
    (["--bogus"], "unrecognized arguments"),
    (["--set", "scenario.outputs=adoption_rate,mean_trst"], "scenario.outputs: unknown output column 'mean_trst'"),
    (["--set", "scenario.outputs=adoption_rate", "--set", "scenario.report=mean_trust"],
     "scenario.report: column 'mean_trust' is not collected: add it to scenario.outputs"),
    (["--set", "scenario.processes=diffusion"], "scenario.processes: 'diffusion' runs the adoption rule alone"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    code = main(["run", "baseline", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("govsim: error:")
    assert message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    ("[citizens]\nnn = 3\n", "citizens.nn: unknown parameter"),
    ("[citizens]\nn = -3\n", "citizens.n: must be >= 1"),
    ("[citizens]\nn = 'ten'\n", "citizens.n: expected integer"),
    ("[citizens\nn = 3\n", "cannot parse"),
    ("[network]\nkind = 'smallworld'\n", "network.kind: expected one of"),
    ("[[evnts]]\nstep = 1\n", "evnts: unknown section (did you mean 'events'?)"),
])
def test_bad_scenario_files(tmp_path, capsys, content, message):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_python_dash_m_govsim(tmp_path):
    res = subprocess.run([sys.executable, "-m", "govsim", "run", "baseline", "--set", "citizens.nn=1",
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == ["govsim: error: citizens.nn: unknown parameter (did you mean 'citizens.n'?)"]
    res = subprocess.run([sys.executable, "-m", "govsim", "params", "adoption.threshold"], capture_output=True, text=True)
    assert res.returncode == 0 and "adoption.threshold.distribution" in res.stdout


def test_existing_output_is_replaced_only_on_success(tmp_path):
    out = tmp_path / "o"
    assert main(["run", "baseline", "--set", "citizens.n=200", "--steps", "2", "--out", str(out)]) == 0
    before = (out / "results.parquet").read_bytes()
    assert main(["run", "baseline", "--set", "citizens.n=0", "--out", str(out)]) == 2
    assert (out / "results.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temporary leftovers


@pytest.mark.parametrize("reps", [1, 2])
def test_run_collects_only_the_chosen_outputs(tmp_path, capsys, reps):
    out = tmp_path / "out"
    code = main(["run", "baseline", "--set", "citizens.n=400", "--set", "scenario.outputs=exclusion_rate,adoption_rate",
                 "--steps", "3", "--reps", str(reps), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    df = pd.read_parquet(out / "results.parquet")
    assert [c for c in df.columns if c not in ("arm", "rep", "seed", "run")] == ["step", "adoption_rate",
                                                                                "exclusion_rate"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["columns"]) == ["adoption_rate", "exclusion_rate", "step"]
